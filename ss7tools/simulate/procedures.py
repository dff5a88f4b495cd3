"""Normal procedures as generator functions over simulated time.

Each yields the delay to its next step and sends complete TCAP dialogues
through :class:`~ss7tools.simulate.engine.Dialogue`.  Messages whose two
ends are both outside the home network are not on the captured links; the
engine drops them, so procedures are written as the network runs them.

MAP operations (TS 29.002) per procedure:

- location update: sendAuthenticationInfo, updateLocation with
  insertSubscriberData inside the dialogue, cancelLocation to the old VLR
- authentication: sendAuthenticationInfo (1-2 quintuplets)
- purge: purgeMS when a switched-off subscriber's record is dropped
- MT call: sendRoutingInfo, provideRoamingNumber
- MT SMS: sendRoutingInfoForSM, mt-forwardSM, reportSM-DeliveryStatus
- MO SMS: mo-forwardSM; USSD: processUnstructuredSS-Request
- subscription change: insertSubscriberData from the HLR to the serving VLR
- CAMEL location: anyTimeInterrogation from the gsmSCF, provideSubscriberInfo
  from the HLR to the VLR
"""

from ss7tools.attack_families import INTERCEPTION
from ss7tools.simulate.engine import NP_E214
from ss7tools.simulate.world import distance_km

# two quintuplets fill a UDT (255 octets of user data); VLRs ask for 1-2 here
VECTOR_COUNTS = (1, 1, 2)


def is_home(node):
    return node is not None and node.network is not None and node.network.home


def label_towards(sim, sub, node):
    """A fresh label for a dialogue with ``node``: an attacker's node (one
    an interception registered) makes it part of that attack."""
    if node.network is None:
        return sim.label(INTERCEPTION.name, sub, node.gt)
    return sim.label()


def hlr_route(sub):
    """Called GT of a first message to a subscriber's HLR: E.214 from abroad."""
    return sub.network.mgt(sub.imsi), NP_E214


def exchange(sim, initiator, responder, op, values, result, label,
             variant=None, error=None, called=None, retry=True):
    """A begin/end dialogue; returns True when answered with a result.
    ``result`` the result slot values, ``error`` an error name to answer
    with instead.  Timeouts are retried once with a fresh transaction."""
    called_gt, called_np = called or (None, 1)
    d = sim.dialogue(initiator, responder, label, called_gt, called_np)
    d.begin(op, dict(values), variant)
    fate = sim.fate()
    if fate == "timeout":
        if not retry:
            return False
        yield sim.behaviour["retry_after_s"]
        return (yield from exchange(sim, initiator, responder, op, values, result,
                                    label, variant, error, called, retry=False))
    yield sim.latency()
    if fate == "abort":
        d.abort()
        return False
    if error is not None:
        d.end_error(op, error)
        return False
    d.end_result(op, dict(result), variant)
    return True


def vectors(sim, count):
    values = {}
    for i in range(count):
        values["rand%d" % i] = sim.random_bytes(16)
        values["xres%d" % i] = sim.random_bytes(8)
        values["ck%d" % i] = sim.random_bytes(16)
        values["ik%d" % i] = sim.random_bytes(16)
        values["autn%d" % i] = sim.random_bytes(16)
    return values


def authenticate(sim, sub, vlr, label=None):
    sub.last_seen = sim.now
    count = sim.rng.choice(VECTOR_COUNTS)
    hlr = sub.network.hlr
    unknown = sim.rng.random() < sim.behaviour["unknown_subscriber_share"]
    return (yield from exchange(
        sim, vlr, hlr, "sendAuthenticationInfo", {"imsi": sub.imsi},
        vectors(sim, count), label or sim.label(), variant=count,
        error="unknownSubscriber" if unknown else None,
        called=hlr_route(sub) if not is_home(vlr) or not is_home(hlr) else None))


def cancel_location(sim, sub, old_vlr, label=None):
    label = label or label_towards(sim, sub, old_vlr)
    yield from exchange(sim, sub.network.hlr, old_vlr, "cancelLocation",
                        {"imsi": sub.imsi}, {}, label)


def location_update(sim, sub, new_vlr, label=None, authenticate_first=True):
    """SAI, then updateLocation with insertSubscriberData, then cancelLocation
    to the VLR the HLR had before."""
    label = label or sim.label()
    hlr = sub.network.hlr
    if authenticate_first:
        yield from authenticate(sim, sub, new_vlr)
        yield sim.latency()
    roaming = not (is_home(new_vlr) and is_home(hlr))
    called_gt, np = hlr_route(sub) if roaming else (None, 1)
    d = sim.dialogue(new_vlr, hlr, label, called_gt, np)
    d.begin("updateLocation", {"imsi": sub.imsi, "msc": new_vlr.gt, "vlr": new_vlr.gt})
    fate = sim.fate()
    if fate == "timeout":
        return False
    yield sim.latency()
    if fate == "abort":
        d.abort()
        return False
    if sim.rng.random() < sim.behaviour["unknown_subscriber_share"]:
        d.end_error("updateLocation", "roamingNotAllowed" if roaming else "unknownSubscriber")
        return False
    d.continue_invoke("insertSubscriberData", {"imsi": sub.imsi, "msisdn": sub.msisdn},
                      "updateLocation")
    yield sim.latency()
    d.continue_result("insertSubscriberData", {})
    yield sim.latency()
    d.end_result_after_continue("updateLocation", {"hlr": hlr.gt})
    old = sub.hlr_vlr
    sub.hlr_vlr = new_vlr
    if old is not None and old is not new_vlr:
        yield sim.latency()
        yield from cancel_location(sim, sub, old)
    return True


def purge(sim, sub, vlr):
    """``vlr`` drops the record of ``sub``, still switched off there."""
    if vlr is None or sub.on or sub.vlr is not vlr:
        return
    sub.vlr = None
    yield from exchange(sim, vlr, sub.network.hlr, "purgeMS",
                        {"imsi": sub.imsi, "vlr": vlr.gt}, {}, sim.label())
    if sub.hlr_vlr is vlr:
        sub.hlr_vlr = None


def mt_call(sim, sub):
    hlr = sub.network.hlr
    vlr = sub.hlr_vlr
    if not is_home(hlr):
        # inbound roamer: its home network asks our VLR for a roaming number
        if vlr is None or not is_home(vlr):
            return
        absent = not sub.on or sim.rng.random() < sim.behaviour["call_absent_share"]
        yield from exchange(sim, hlr, vlr, "provideRoamingNumber",
                            {"imsi": sub.imsi, "msc": vlr.gt, "msisdn": sub.msisdn,
                             "gmsc": sub.network.gmsc.gt},
                            {"msrn": sim.msrn(vlr)}, sim.label(),
                            error="absentSubscriber" if absent else None)
        return
    label = sim.label()
    gmsc = sim.world.home.gmsc
    d = sim.dialogue(gmsc, hlr, label, sub.msisdn)
    d.begin("sendRoutingInfo", {"msisdn": sub.msisdn, "gmsc": gmsc.gt})
    yield sim.latency()
    if vlr is None:
        d.end_error("sendRoutingInfo", "absentSubscriber")
        return
    msrn = sim.msrn(vlr)
    absent = not sub.on or sim.rng.random() < sim.behaviour["call_absent_share"]
    answered = yield from exchange(
        sim, hlr, vlr, "provideRoamingNumber",
        {"imsi": sub.imsi, "msc": vlr.gt, "msisdn": sub.msisdn, "gmsc": gmsc.gt},
        {"msrn": msrn}, label_towards(sim, sub, vlr),
        error="absentSubscriber" if absent else None)
    yield sim.latency()
    if answered:
        sub.last_seen = sim.now
        d.end_result("sendRoutingInfo", {"imsi": sub.imsi, "msrn": msrn})
    else:
        d.end_error("sendRoutingInfo", "absentSubscriber")


def mt_sms(sim, sub, smsc=None, label=None):
    vlr = sub.hlr_vlr
    if not is_home(sub.network.hlr):
        # inbound roamer: the partner's SMSC delivers straight to our MSC
        if vlr is None or not is_home(vlr):
            return
        absent = not sub.on or sim.rng.random() < sim.behaviour["sms_absent_share"]
        yield from exchange(sim, sub.network.smsc, vlr, "mt-forwardSM",
                            {"imsi": sub.imsi, "smsc": sub.network.smsc.gt}, {},
                            sim.label(), error="absentSubscriberSM" if absent else None)
        return
    if smsc is None:
        # international SMS: a partner's SMSC asks our HLR and delivers itself
        foreign = sim.rng.random() < sim.behaviour["foreign_sms_share"]
        smsc = sim.rng.choice(sim.world.partners).smsc if foreign else sim.world.home.smsc
    label = label or sim.label()
    hlr = sub.network.hlr
    located = yield from exchange(
        sim, smsc, hlr, "sendRoutingInfoForSM", {"msisdn": sub.msisdn, "smsc": smsc.gt},
        {"imsi": sub.imsi, "msc": vlr.gt if vlr else hlr.gt}, label,
        error="absentSubscriberSM" if vlr is None else None, called=(sub.msisdn, 1))
    if not located:
        return
    yield sim.latency()
    absent = not sub.on or sim.rng.random() < sim.behaviour["sms_absent_share"]
    delivered = yield from exchange(
        sim, smsc, vlr, "mt-forwardSM", {"imsi": sub.imsi, "smsc": smsc.gt}, {},
        label if vlr.network is not None else label_towards(sim, sub, vlr), error="absentSubscriberSM" if absent else None)
    if delivered:
        sub.last_seen = sim.now
    else:
        yield sim.latency()
        yield from exchange(sim, smsc, hlr, "reportSM-DeliveryStatus",
                            {"msisdn": sub.msisdn, "smsc": smsc.gt}, {}, label,
                            variant="absentSubscriber")


def mo_sms(sim, sub):
    if sub.vlr is None or not sub.on:
        return
    sub.last_seen = sim.now
    smsc = sub.network.smsc
    yield from exchange(sim, sub.vlr, smsc, "mo-forwardSM",
                        {"msisdn": sub.msisdn, "smsc": smsc.gt}, {}, sim.label())


def ussd(sim, sub):
    if sub.vlr is None or not sub.on:
        return
    sub.last_seen = sim.now
    yield from exchange(sim, sub.vlr, sub.network.hlr, "processUnstructuredSS-Request",
                        {"msisdn": sub.msisdn}, {}, sim.label())


def camel_location(sim, sub):
    """The gsmSCF asks the HLR (ATI); the HLR asks the serving VLR (PSI)."""
    home = sim.world.home
    vlr = sub.hlr_vlr
    if sub.network is not home or vlr is None or vlr.network is None:
        return
    label = sim.label()
    d = sim.dialogue(home.gsmscf, home.hlr, label)
    d.begin("anyTimeInterrogation", {"msisdn": sub.msisdn, "gsmscf": home.gsmscf.gt})
    yield sim.latency()
    cgi = sim.cgi(vlr)
    answered = yield from exchange(sim, home.hlr, vlr, "provideSubscriberInfo",
                                   {"imsi": sub.imsi}, {"vlr": vlr.gt, "cgi": cgi}, label)
    yield sim.latency()
    if answered:
        d.end_result("anyTimeInterrogation", {"vlr": vlr.gt, "cgi": cgi})
    else:
        d.end_error("anyTimeInterrogation", "systemFailure")


def subscription_change(sim, sub):
    """The operator changes a subscription: the HLR sends the new data
    (standalone insertSubscriberData) to the VLR serving the subscriber."""
    vlr = sub.hlr_vlr
    if vlr is None or vlr.network is None:
        return
    yield from exchange(sim, sub.network.hlr, vlr, "insertSubscriberData",
                        {"imsi": sub.imsi, "msisdn": sub.msisdn}, {}, sim.label())


# -- mobility and power ---------------------------------------------------
def travel_time(sim, old, new):
    mob = sim.world.mobility
    km = distance_km(old, new)
    if old.network is new.network:
        return km / mob["ground_speed_kmh"] * 3600.0
    return km / mob["flight_speed_kmh"] * 3600.0 + mob["airport_overhead_s"]


def move(sim, sub, trip):
    """Move ``sub`` to another VLR in its country or (``trip``) abroad or
    home, when enough simulated time has passed to travel there."""
    old = sub.vlr
    if old is None or not sub.on or old.network is None:
        return
    world = sim.world
    if not trip:
        choices = [v for v in old.network.vlrs if v is not old]
    elif old.network is not sub.network:
        choices = sub.network.vlrs               # back home
    elif sub.network.home:
        choices = sim.rng.choice(world.partners).vlrs
    else:
        choices = world.home.vlrs               # a partner's subscriber visits us
    if not choices:
        return
    new = sim.rng.choice(choices)
    # a phone active at home minutes ago cannot register abroad now (a move
    # between regions of one country may happen at their border at any time)
    since = sub.last_move if old.network is new.network else max(sub.last_move, sub.last_seen)
    if sim.now - since < travel_time(sim, old, new):
        return                                   # could not have got there yet
    sub.vlr, sub.last_move = new, sim.now
    yield from location_update(sim, sub, new)


def switch_off(sim, sub):
    if not sub.on or sub.vlr is None:
        return
    sub.on = False
    vlr = sub.vlr
    low, high = sim.world.mobility["purge_after_s"]
    yield sim.rng.uniform(low, high)
    yield from purge(sim, sub, vlr)     # unless it came back on or moved meanwhile


def switch_on(sim, sub):
    if sub.on:
        return
    sub.on = True
    if sub.vlr is None:
        # purged: a full location update in the region it was last seen
        last = sub.hlr_vlr if is_home(sub.hlr_vlr) or (
            sub.hlr_vlr is not None and sub.hlr_vlr.network is not None) else None
        sub.vlr = last or sim.rng.choice(sub.network.vlrs
                                                if not sub.network.home
                                                else sim.world.home.vlrs)
        yield from location_update(sim, sub, sub.vlr)
    else:
        yield from authenticate(sim, sub, sub.vlr)


def authentication(sim, sub):
    if sub.vlr is None or not sub.on:
        return
    yield from authenticate(sim, sub, sub.vlr)


# -- sources ---------------------------------------------------------------
def poisson(sim, per_hour, action, rhythm=True):
    """Start ``action(sim, sub)`` for random subscribers at ``per_hour`` per
    subscriber, thinned by the daily profile."""
    peak = max(sim.world.daily_profile) if rhythm else 1.0
    rate = per_hour * len(sim.subscribers) * peak / 3600.0
    if rate <= 0:
        return
    rng, subs = sim.rng, sim.subscribers
    while True:
        yield rng.expovariate(rate)
        if rhythm and rng.random() * peak > sim.world.hour_factor(sim.now):
            continue
        sim.start(action(sim, rng.choice(subs)))


PROCEDURES = {
    "authentication": authentication, "mt_call": mt_call, "mt_sms": mt_sms,
    "mo_sms": mo_sms, "ussd": ussd, "camel_psi": camel_location,
    "subscription_change": subscription_change,
    "switch_off": switch_off, "switch_on": switch_on,
}


def start_sources(sim):
    world = sim.world
    for name, action in PROCEDURES.items():
        sim.start(poisson(sim, world.rates[name], action))
    mob = world.mobility
    sim.start(poisson(sim, mob["vlr_changes_per_day"] / 24.0,
                      lambda s, sub: move(s, sub, False), rhythm=False))
    sim.start(poisson(sim, mob["trips_per_day"] / 24.0,
                      lambda s, sub: move(s, sub, True), rhythm=False))


def normal_dialogues_per_second(sim):
    """Rough rate of normal dialogues (attack shares are relative to it)."""
    world = sim.world
    per_hour = sum(world.rates[n] for n in ("authentication", "mo_sms", "ussd",
                                           "subscription_change"))
    per_hour += 2 * (world.rates["mt_call"] + world.rates["mt_sms"] + world.rates["camel_psi"])
    per_hour += 2 * (world.mobility["vlr_changes_per_day"] + world.mobility["trips_per_day"]) / 24
    return per_hour * len(sim.subscribers) / 3600.0
