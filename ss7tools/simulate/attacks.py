"""Attacks against the home network, as foreign-originated TCAP dialogues.

Each attack family (:mod:`ss7tools.attack_families`: its name, which is
its label, and its MAP operations) runs campaigns: an attacker GT (inside
a roaming partner's range when spoofed, else from a hostile range) sends
``campaign`` requests about one victim, spaced by ``spacing_s`` on average,
so a low rate can be spread over time.  Every message of an attack
dialogue, the home network's answers and the side effects it triggers (a
cancelLocation to the real VLR, a roaming number asked from the attacker's
VLR) carries the attack's label.

How each family runs here:

- location_tracking: sendRoutingInfo (+ provideRoamingNumber),
  sendRoutingInfoForSM, provideSubscriberInfo, anyTimeInterrogation,
  sendRoutingInfoForGprs
- interception: updateLocation (+ insertSubscriberData, cancelLocation to
  the real VLR) from a foreign VLR; insertSubscriberData with call
  forwarding to the attacker sent to the serving VLR
- fraud: registerSS + activateSS (unconditional forwarding), anyTimeModification
- dos: purgeMS to the HLR, cancelLocation to the serving VLR
- info_theft: sendIMSI, sendAuthenticationInfo for home IMSIs
- sms_spoofing: sendRoutingInfoForSM then mt-forwardSM with a spoofed SMSC

A family's ``stealth`` (a share of its campaigns) makes the attacker act
more like the node it pretends to be: requests spaced four times wider; a
rogue VLR authenticates (sendAuthenticationInfo) before its updateLocation;
a tracker follows its sendRoutingInfoForSM with a silent SMS
(mt-forwardSM), as an SMSC would; a spoofed SMS claims the attacker's own
GT as its SMSC (only the originator inside the SMS is forged).
"""

from ss7tools.attack_families import (DOS, FRAUD, INFO_THEFT, INTERCEPTION,
                                      LOCATION_TRACKING, SMS_SPOOFING)
from ss7tools.simulate.procedures import (exchange, hlr_route, is_home,
                                          location_update,
                                          normal_dialogues_per_second, vectors)
from ss7tools.simulate.world import Node

TRACKING_METHODS = ("sendRoutingInfo", "sendRoutingInfoForSM", "provideSubscriberInfo",
                    "anyTimeInterrogation", "sendRoutingInfoForGprs")
SGSN_ADDRESS = b"\x04\x0a\x14\x00\x07"


class Attacker:
    """An attacker GT and the carrier its messages arrive through."""

    def __init__(self, gt, pc, ip):
        self.gt, self.pc, self.ip = gt, pc, ip
        self._nodes = {}

    def node(self, kind):
        node = self._nodes.get(kind)
        if node is None:
            node = self._nodes[kind] = Node("attacker", kind, self.gt, self.pc, self.ip)
        return node


def attacker_pools(sim, spec):
    """(spoofed, hostile) attacker lists for one attack type."""
    world, rng = sim.world, sim.rng
    spoofed, hostile = [], []
    carriers = list(world.carriers.values())
    for _ in range(spec["attackers"]):
        partner = rng.choice(world.partners)
        prefix = partner.hlr.gt[:-5]
        spoofed.append(Attacker(prefix + "5%04d" % rng.randrange(10000),
                                partner.hlr.pc, partner.hlr.ip))
        prefixes = world.hostile_prefixes or [p.hlr.gt[:-5] for p in world.partners]
        ip, pc = rng.choice(carriers)
        hostile.append(Attacker(rng.choice(prefixes) + "%05d" % rng.randrange(100000), pc, ip))
    return spoofed, hostile


def pick_victim(sim, at_home_vlr=False, tries=40):
    home, rng, subs = sim.world.home, sim.rng, sim.subscribers
    for _ in range(tries):
        sub = rng.choice(subs)
        if sub.network is not home:
            continue
        if at_home_vlr and not (sub.on and is_home(sub.vlr)):
            continue
        return sub
    return None


def attacker_number(sim):
    prefixes = sim.world.hostile_prefixes or ["882"]
    prefix = sim.rng.choice(prefixes)
    return prefix + "%0*d" % (12 - len(prefix), sim.rng.randrange(10 ** (12 - len(prefix))))


# -- the attacks: generators (sim, victim, attacker, variant) ------------------
def location_tracking(sim, victim, attacker, method, stealthy=False):
    hlr = sim.world.home.hlr
    label = sim.label(LOCATION_TRACKING.name, victim, attacker.gt)
    vlr = victim.hlr_vlr
    if method == "sendRoutingInfo":
        gmsc = attacker.node("gmsc")
        d = sim.dialogue(gmsc, hlr, label, victim.msisdn)
        d.begin("sendRoutingInfo", {"msisdn": victim.msisdn, "gmsc": gmsc.gt})
        yield sim.latency()
        if vlr is None or vlr.network is None:
            d.end_error("sendRoutingInfo", "absentSubscriber")
            return
        msrn = sim.msrn(vlr)
        answered = yield from exchange(
            sim, hlr, vlr, "provideRoamingNumber",
            {"imsi": victim.imsi, "msc": vlr.gt, "msisdn": victim.msisdn, "gmsc": gmsc.gt},
            {"msrn": msrn}, sim.label(LOCATION_TRACKING.name, victim, attacker.gt),
            error=None if victim.on else "absentSubscriber")
        yield sim.latency()
        if answered:
            d.end_result("sendRoutingInfo", {"imsi": victim.imsi, "msrn": msrn})
        else:
            d.end_error("sendRoutingInfo", "absentSubscriber")
    elif method == "sendRoutingInfoForSM":
        located = yield from exchange(
            sim, attacker.node("smsc"), hlr, "sendRoutingInfoForSM",
            {"msisdn": victim.msisdn, "smsc": attacker.gt},
            {"imsi": victim.imsi, "msc": vlr.gt if vlr else hlr.gt}, label,
            error="absentSubscriberSM" if vlr is None else None, called=(victim.msisdn, 1))
        if stealthy and located and vlr.network is not None:
            yield sim.latency() * 3
            yield from exchange(sim, attacker.node("smsc"), vlr, "mt-forwardSM",
                                {"imsi": victim.imsi, "smsc": attacker.gt}, {},
                                sim.label(LOCATION_TRACKING.name, victim, attacker.gt),
                                error=None if victim.on else "absentSubscriberSM")
    elif method == "provideSubscriberInfo":
        target = victim.vlr if is_home(victim.vlr) else sim.world.home.vlrs[0]
        yield from exchange(sim, attacker.node("hlr"), target, "provideSubscriberInfo",
                            {"imsi": victim.imsi}, {"vlr": target.gt, "cgi": sim.cgi(target)},
                            label, error=None if target is victim.vlr else "unidentifiedSubscriber")
    elif method == "anyTimeInterrogation":
        located = vlr is not None and vlr.network is not None
        blocked = sim.rng.random() < 0.5 or not located
        yield from exchange(
            sim, attacker.node("gsmscf"), hlr, "anyTimeInterrogation",
            {"msisdn": victim.msisdn, "gsmscf": attacker.gt},
            {"vlr": vlr.gt, "cgi": sim.cgi(vlr)} if located else {}, label,
            error="ati-NotAllowed" if blocked else None, called=(victim.msisdn, 1))
    else:
        yield from exchange(sim, attacker.node("gmsc"), hlr, "sendRoutingInfoForGprs",
                            {"imsi": victim.imsi, "ggsn": attacker.gt},
                            {"sgsn_ip": SGSN_ADDRESS}, label, called=hlr_route(victim))


def recover_registration(sim, victim, rogue):
    """The victim's phone registers again from where it really is."""
    if victim.on and victim.vlr is not None and victim.hlr_vlr is rogue:
        yield from location_update(sim, victim, victim.vlr)


def interception(sim, victim, attacker, method, stealthy=False):
    hlr = sim.world.home.hlr
    label = sim.label(INTERCEPTION.name, victim, attacker.gt)
    if method == "insertSubscriberData":
        yield from exchange(sim, attacker.node("hlr"), victim.vlr, "insertSubscriberData",
                            {"imsi": victim.imsi, "msisdn": victim.msisdn,
                             "ftn": attacker_number(sim)}, {}, label, variant="forwarding")
        return
    rogue = attacker.node("vlr")
    gt, np = hlr_route(victim)
    if stealthy:
        yield from exchange(sim, rogue, hlr, "sendAuthenticationInfo", {"imsi": victim.imsi},
                            vectors(sim, 1), label, variant=1, called=(gt, np))
        yield sim.latency()
    d = sim.dialogue(rogue, hlr, label, gt, np)
    d.begin("updateLocation", {"imsi": victim.imsi, "msc": rogue.gt, "vlr": rogue.gt})
    yield sim.latency()
    d.continue_invoke("insertSubscriberData", {"imsi": victim.imsi, "msisdn": victim.msisdn},
                      "updateLocation")
    yield sim.latency()
    d.continue_result("insertSubscriberData", {})
    yield sim.latency()
    d.end_result_after_continue("updateLocation", {"hlr": hlr.gt})
    old, victim.hlr_vlr = victim.hlr_vlr, rogue
    if old is not None and old is not rogue:
        yield sim.latency()
        yield from exchange(sim, hlr, old, "cancelLocation", {"imsi": victim.imsi}, {},
                            sim.label(INTERCEPTION.name, victim, attacker.gt))
    sim.start(recover_registration(sim, victim, rogue), sim.rng.uniform(300.0, 1800.0))


def fraud(sim, victim, attacker, method, stealthy=False):
    hlr = sim.world.home.hlr
    ftn = attacker_number(sim)
    if method == "anyTimeModification":
        yield from exchange(sim, attacker.node("gsmscf"), hlr, "anyTimeModification",
                            {"msisdn": victim.msisdn, "gsmscf": attacker.gt, "ftn": ftn},
                            {}, sim.label(FRAUD.name, victim, attacker.gt),
                            called=(victim.msisdn, 1))
        return
    vlr = attacker.node("vlr")
    registered = yield from exchange(sim, vlr, hlr, "registerSS", {"ftn": ftn}, {"ftn": ftn},
                                     sim.label(FRAUD.name, victim, attacker.gt),
                                     called=hlr_route(victim))
    if registered:
        yield sim.latency() * 4
        yield from exchange(sim, vlr, hlr, "activateSS", {}, {"ftn": ftn},
                            sim.label(FRAUD.name, victim, attacker.gt), called=hlr_route(victim))


def dos(sim, victim, attacker, method, stealthy=False):
    label = sim.label(DOS.name, victim, attacker.gt)
    if method == "purgeMS":
        rogue = attacker.node("vlr")
        done = yield from exchange(sim, rogue, sim.world.home.hlr, "purgeMS",
                                   {"imsi": victim.imsi, "vlr": rogue.gt}, {}, label,
                                   called=hlr_route(victim))
        if done:
            victim.hlr_vlr = None        # the HLR now answers calls with absentSubscriber
        return
    vlr = victim.vlr
    done = yield from exchange(sim, attacker.node("hlr"), vlr, "cancelLocation",
                               {"imsi": victim.imsi}, {}, label, variant="subscriptionWithdraw")
    if done and vlr is victim.vlr:
        victim.hlr_vlr = vlr
        sim.start(location_update(sim, victim, vlr), sim.rng.uniform(60.0, 900.0))


def info_theft(sim, victim, attacker, method, stealthy=False):
    hlr = sim.world.home.hlr
    label = sim.label(INFO_THEFT.name, victim, attacker.gt)
    if method == "sendIMSI":
        yield from exchange(sim, attacker.node("vlr"), hlr, "sendIMSI",
                            {"msisdn": victim.msisdn}, {"imsi": victim.imsi}, label,
                            called=(victim.msisdn, 1))
    else:
        count = 2
        yield from exchange(sim, attacker.node("vlr"), hlr, "sendAuthenticationInfo",
                            {"imsi": victim.imsi}, vectors(sim, count), label,
                            variant=count, called=hlr_route(victim))


def sms_spoofing(sim, victim, attacker, method, stealthy=False):
    hlr = sim.world.home.hlr
    node = attacker.node("smsc")
    # the SMSC address claimed in the message: a partner's or our own, or
    # (stealthy) the attacker's own
    claimed = (attacker.gt if stealthy else sim.world.home.smsc.gt if method == "home"
               else sim.rng.choice(sim.world.partners).smsc.gt)
    vlr = victim.hlr_vlr
    if vlr is None or vlr.network is None:
        return
    located = yield from exchange(
        sim, node, hlr, "sendRoutingInfoForSM", {"msisdn": victim.msisdn, "smsc": claimed},
        {"imsi": victim.imsi, "msc": vlr.gt}, sim.label(SMS_SPOOFING.name, victim, attacker.gt),
        called=(victim.msisdn, 1))
    if located:
        yield sim.latency() * 3
        yield from exchange(sim, node, vlr, "mt-forwardSM",
                            {"imsi": victim.imsi, "smsc": claimed}, {},
                            sim.label(SMS_SPOOFING.name, victim, attacker.gt))


# attack family name -> (generator, variants, victim must be at a home VLR);
# in the families' order, the order their sources start
ATTACKS = {family.name: run for family, run in (
    (LOCATION_TRACKING, (location_tracking, TRACKING_METHODS, False)),
    (INTERCEPTION, (interception, ("updateLocation", "insertSubscriberData"), True)),
    (FRAUD, (fraud, ("registerSS", "anyTimeModification"), False)),
    (DOS, (dos, ("purgeMS", "cancelLocation"), True)),
    (INFO_THEFT, (info_theft, ("sendIMSI", "sendAuthenticationInfo"), False)),
    (SMS_SPOOFING, (sms_spoofing, ("partner", "home"), False)),
)}


def campaign(sim, name, spec, pools):
    run, methods, at_home = ATTACKS[name]
    rng = sim.rng
    attacker = rng.choice(pools[0] if rng.random() < spec["spoof"] else pools[1])
    method = rng.choice(methods)
    victim = pick_victim(sim, at_home)
    if victim is None:
        return
    # drawn only when asked for: a world without stealth keeps its traffic
    stealthy = spec.get("stealth", 0.0) > 0 and rng.random() < spec["stealth"]
    for i in range(spec["campaign"]):
        if at_home and not is_home(victim.vlr):
            return
        yield from run(sim, victim, attacker, method, stealthy)
        if i + 1 < spec["campaign"]:
            spacing = spec["spacing_s"] * (4 if stealthy else 1)
            yield rng.expovariate(1.0 / spacing) if spacing > 0 else sim.latency()


def source(sim, name, spec):
    rate = spec["share"] * normal_dialogues_per_second(sim) / spec["campaign"]
    if rate <= 0:
        return
    pools = attacker_pools(sim, spec)
    while True:
        yield sim.rng.expovariate(rate)
        sim.start(campaign(sim, name, spec, pools))


def start_sources(sim):
    for name in ATTACKS:
        sim.start(source(sim, name, sim.attacks[name]))
