"""The simulated world: the home network whose SIGTRAN links are captured,
roaming partners reached through international carriers, and subscribers.

Loaded from YAML (``default_world.yaml`` ships with the package); every
value is checked here so that a bad file fails with :class:`WorldError`
naming the field, before any traffic is generated.
"""

import calendar
import math
import os
import time
from dataclasses import dataclass, field

import yaml

from ss7tools.attack_families import ATTACK_TYPES
from ss7tools.encode.sccp import SSN_GSMSCF, SSN_HLR, SSN_MSC, SSN_VLR
from ss7tools.errors import WorldError

DEFAULT_WORLD = os.path.join(os.path.dirname(__file__), "default_world.yaml")
HOLDOUT_WORLD = os.path.join(os.path.dirname(__file__), "holdout_world.yaml")
RATE_NAMES = ("authentication", "mt_call", "mt_sms", "mo_sms", "ussd",
              "camel_psi", "subscription_change", "switch_off", "switch_on")
BEHAVIOUR_SHARES = ("timeout_share", "abort_share", "sms_absent_share",
                    "call_absent_share", "unknown_subscriber_share", "foreign_sms_share")
EARTH_RADIUS_KM = 6371.0


@dataclass(eq=False)
class Node:
    """A signalling node: its GT, and the point code / IP address its
    messages carry on the captured links (a carrier's for foreign nodes)."""
    name: str
    kind: str            # hlr, vlr, smsc, gsmscf, gmsc
    gt: str
    pc: int
    ip: str
    network: "Network" = None
    lat: float = 0.0
    lon: float = 0.0

    @property
    def ssn(self):
        return {"hlr": SSN_HLR, "vlr": SSN_VLR, "gsmscf": SSN_GSMSCF}.get(self.kind, SSN_MSC)


@dataclass(eq=False)
class Network:
    name: str
    country: str
    mcc: str
    mnc: str
    cc: str
    ndc: str
    msisdn_digits: int
    home: bool
    hlr: Node = None
    smsc: Node = None
    gsmscf: Node = None
    gmsc: Node = None
    vlrs: list = field(default_factory=list)
    msrn_prefix: str = ""

    def imsi(self, number):
        width = 15 - len(self.mcc) - len(self.mnc)
        return "%s%s%0*d" % (self.mcc, self.mnc, width, number % 10 ** width)

    def msisdn(self, number):
        width = self.msisdn_digits - len(self.cc) - len(self.ndc)
        return "%s%s%0*d" % (self.cc, self.ndc, width, number % 10 ** width)

    def msisdn_space(self):
        return 10 ** (self.msisdn_digits - len(self.cc) - len(self.ndc))

    def mgt(self, imsi):
        """E.214 mobile global title for routing on an IMSI."""
        return (self.cc + self.ndc + imsi[len(self.mcc) + len(self.mnc):])[:15]


class Subscriber:
    """A subscriber's identities and where it is.  ``vlr`` is where the
    phone is registered (None while switched off and purged); ``hlr_vlr`` is
    what its HLR believes (an attacker's node after an interception);
    ``last_move`` when it last changed VLR, ``last_seen`` when the phone
    was last active (authenticated, sent or received a call or SMS) where it
    is: a trip abroad starts after both."""

    __slots__ = ("index", "imsi", "msisdn", "network", "vlr", "hlr_vlr",
                 "on", "last_move", "last_seen")

    def __init__(self, index, imsi, msisdn, network):
        self.index, self.imsi, self.msisdn, self.network = index, imsi, msisdn, network
        self.vlr = self.hlr_vlr = None
        self.on = True
        self.last_move = self.last_seen = -1e9

    @property
    def roaming(self):
        return self.vlr is not None and self.vlr.network is not self.network


def distance_km(a, b):
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _get(mapping, key, where, kind=None):
    if not isinstance(mapping, dict) or key not in mapping:
        raise WorldError("%s: missing %r" % (where, key))
    value = mapping[key]
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is not None and not isinstance(value, kind):
        raise WorldError("%s.%s: expected %s, got %r" % (where, key, kind.__name__, value))
    return value


def _non_negative(mapping, key, where):
    value = _get(mapping, key, where, float)
    if value < 0:
        raise WorldError("%s.%s: must not be negative" % (where, key))
    return value


def _share(mapping, key, where):
    value = _non_negative(mapping, key, where)
    if value > 1:
        raise WorldError("%s.%s: a share is at most 1" % (where, key))
    return value


def _digits(mapping, key, where, low=1, high=15):
    value = str(_get(mapping, key, where))
    if not value.isdigit() or not low <= len(value) <= high:
        raise WorldError("%s.%s: expected %d-%d digits, got %r" % (where, key, low, high, value))
    return value


def _node(spec, name, kind, where):
    pc = _get(spec, "pc", where, int)
    if not 0 <= pc < 1 << 14:
        raise WorldError("%s.pc: %d is not a 14-bit point code" % (where, pc))
    return Node(name, kind, _digits(spec, "gt", where, 5), pc, str(_get(spec, "ip", where)),
                lat=float(spec.get("lat", 0.0)), lon=float(spec.get("lon", 0.0)))


def _network(spec, home, where):
    net = Network(
        str(_get(spec, "name", where)), str(_get(spec, "country", where)),
        _digits(spec, "mcc", where, 3, 3), _digits(spec, "mnc", where, 2, 3),
        _digits(spec, "cc", where, 1, 3), _digits(spec, "ndc", where, 1, 4),
        _get(spec, "msisdn_digits", where, int), home)
    if not len(net.cc) + len(net.ndc) + 4 <= net.msisdn_digits <= 15:
        raise WorldError("%s.msisdn_digits: %d leaves no room for numbers"
                         % (where, net.msisdn_digits))
    return net


class World:
    def __init__(self, data, source="<world>"):
        if not isinstance(data, dict):
            raise WorldError("%s: the world must be a mapping" % source)
        start = str(_get(data, "start", "world"))
        try:
            self.start = float(calendar.timegm(time.strptime(start, "%Y-%m-%dT%H:%M:%SZ")))
        except ValueError:
            raise WorldError("world.start: expected YYYY-MM-DDTHH:MM:SSZ, got %r" % start)
        self.carriers = {}
        for i, spec in enumerate(_get(data, "carriers", "world", list)):
            where = "carriers[%d]" % i
            pc = _get(spec, "pc", where, int)
            self.carriers[_get(spec, "name", where)] = (str(_get(spec, "ip", where)), pc)
        if not self.carriers:
            raise WorldError("carriers: at least one is needed")
        self.home = self._home(_get(data, "home", "world", dict))
        self.partners = [self._partner(spec, "partners[%d]" % i)
                         for i, spec in enumerate(_get(data, "partners", "world", list))]
        if not self.partners:
            raise WorldError("partners: at least one is needed")
        self.hostile_prefixes = [str(p) for p in data.get("hostile_gt_prefixes", [])]
        if not all(p.isdigit() for p in self.hostile_prefixes):
            raise WorldError("hostile_gt_prefixes: digits only")
        population = _get(data, "population", "world", dict)
        self.population = {k: _share(population, k, "population") for k in (
            "home", "outbound_roamers", "inbound_roamers", "switched_off")}
        rates = _get(data, "rates", "world", dict)
        self.rates = {k: _non_negative(rates, k, "rates") for k in RATE_NAMES}
        self.mobility = dict(_get(data, "mobility", "world", dict))
        for key in ("vlr_changes_per_day", "trips_per_day", "ground_speed_kmh",
                    "flight_speed_kmh", "airport_overhead_s"):
            self.mobility[key] = _get(self.mobility, key, "mobility", float)
        self.mobility["purge_after_s"] = [float(x) for x in _get(
            self.mobility, "purge_after_s", "mobility", list)]
        profile = _get(data, "daily_profile", "world", list)
        if len(profile) != 24 or not all(isinstance(x, (int, float)) and x >= 0 for x in profile):
            raise WorldError("daily_profile: expected 24 non-negative factors")
        self.daily_profile = [float(x) for x in profile]
        self.behaviour = dict(_get(data, "behaviour", "world", dict))
        for key in BEHAVIOUR_SHARES + ("retry_after_s", "bundle_window_s"):
            value = _get(self.behaviour, key, "behaviour", float)
            if value < 0 or (key in BEHAVIOUR_SHARES and value > 1):
                raise WorldError("behaviour.%s: %r is out of range" % (key, value))
            self.behaviour[key] = value
        latency = _get(self.behaviour, "latency_s", "behaviour", list)
        if len(latency) != 2 or not 0 <= latency[0] <= latency[1]:
            raise WorldError("behaviour.latency_s: expected [low, high] seconds")
        sack_every = self.behaviour.setdefault("sack_every", 2)
        if not isinstance(sack_every, int) or sack_every < 0:
            raise WorldError("behaviour.sack_every: expected a count >= 0 (0: no SACKs)")
        self.behaviour["streams"] = _get(self.behaviour, "streams", "behaviour", int)
        if not 1 <= self.behaviour["streams"] <= 0xFFFF:
            raise WorldError("behaviour.streams: expected 1..65535")
        self.attacks = {}
        for name, spec in (data.get("attacks") or {}).items():
            if name not in ATTACK_TYPES:
                raise WorldError("attacks.%s: unknown attack (known: %s)"
                                 % (name, ", ".join(ATTACK_TYPES)))
            where = "attacks." + name
            self.attacks[name] = {
                "share": _non_negative(spec, "share", where),
                "spoof": _share(spec, "spoof", where),
                "attackers": max(1, _get(spec, "attackers", where, int)),
                "campaign": max(1, _get(spec, "campaign", where, int)),
                "spacing_s": _get(spec, "spacing_s", where, float),
                "stealth": _share(spec, "stealth", where) if "stealth" in spec else 0.0}
        for name in ATTACK_TYPES:
            self.attacks.setdefault(name, {"share": 0.0, "spoof": 0.5, "attackers": 1,
                                           "campaign": 1, "spacing_s": 0.0, "stealth": 0.0})

    def _home(self, spec):
        net = _network(spec, True, "home")
        net.msrn_prefix = _digits(spec, "msrn_prefix", "home", 3, 12)
        for kind in ("hlr", "smsc", "gsmscf", "gmsc"):
            node = _node(_get(spec, kind, "home", dict), "home-" + kind, kind, "home." + kind)
            node.network = net
            setattr(net, kind, node)
        for i, vspec in enumerate(_get(spec, "vlrs", "home", list)):
            node = _node(vspec, "home-vlr-%s" % vspec.get("name", i), "vlr",
                         "home.vlrs[%d]" % i)
            node.network = net
            net.vlrs.append(node)
        if len(net.vlrs) < 2:
            raise WorldError("home.vlrs: at least two are needed")
        return net

    def _partner(self, spec, where):
        net = _network(spec, False, where)
        prefix = _digits(spec, "gt_prefix", where, 3, 10)
        carrier = str(_get(spec, "carrier", where))
        if carrier not in self.carriers:
            raise WorldError("%s.carrier: unknown carrier %r" % (where, carrier))
        ip, pc = self.carriers[carrier]
        net.msrn_prefix = prefix + "9"

        def node(kind, suffix, lat=0.0, lon=0.0):
            return Node("%s-%s" % (net.name, kind), kind, prefix + suffix, pc, ip,
                        net, lat, lon)
        net.hlr, net.smsc = node("hlr", "00100"), node("smsc", "00200")
        net.gsmscf, net.gmsc = node("gsmscf", "00300"), node("gmsc", "00400")
        cities = _get(spec, "cities", where, list)
        if not cities:
            raise WorldError("%s.cities: at least one is needed" % where)
        for i, (lat, lon) in enumerate(cities):
            vlr = node("vlr", "%05d" % (1001 + i), float(lat), float(lon))
            vlr.name = "%s-vlr-%d" % (net.name, i)
            net.vlrs.append(vlr)
        return net

    def network_description(self):
        """The home network as a firewall knows it (the network file of
        ``ss7tools detect --network``): identities, GT prefixes (node
        ranges and E.164 number ranges), VLR locations, and the roaming
        partners with their GT prefixes and a location for each.  Nothing
        of the attackers."""
        home = self.home

        def identity(net):
            return {"name": net.name, "country": net.country, "mcc": net.mcc, "mnc": net.mnc,
                    "cc": net.cc, "ndc": net.ndc}
        home_prefixes = sorted({home.cc + home.ndc} | {
            os.path.commonprefix([n.gt for n in [home.hlr, home.smsc, home.gsmscf,
                                                 home.gmsc] + home.vlrs])})
        description = {"home": dict(identity(home), gt_prefixes=home_prefixes, vlrs=[
            {"gt": v.gt, "lat": v.lat, "lon": v.lon} for v in home.vlrs])}
        description["partners"] = [dict(
            identity(net), gt_prefixes=sorted({net.hlr.gt[:-5], net.cc + net.ndc}),
            vlrs=[{"gt": v.gt, "lat": v.lat, "lon": v.lon} for v in net.vlrs])
            for net in self.partners]
        return description

    @classmethod
    def load(cls, path=None):
        path = path or DEFAULT_WORLD
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f)
        except yaml.YAMLError as exc:
            raise WorldError("%s: not valid YAML: %s" % (path, exc))
        return cls(data, path)

    def hour_factor(self, t):
        """Daily rhythm at simulated time ``t`` (seconds from start)."""
        return self.daily_profile[int((self.start + t) // 3600) % 24]

    def populate(self, count, rng):
        """``count`` subscribers: home ones spread over the home VLRs (some
        abroad), inbound roamers from the partners in home VLRs."""
        if count < 1:
            raise WorldError("subscribers: at least one is needed")
        share = self.population
        inbound = int(round(count * share["inbound_roamers"]))
        home_count = count - inbound
        outbound = int(round(count * share["outbound_roamers"]))
        home = self.home
        subscribers = []
        numbers = rng.sample(range(home.msisdn_space()), home_count)
        for i, number in enumerate(numbers):
            sub = Subscriber(i, home.imsi(number * 7 + 1000003), home.msisdn(number), home)
            if i < outbound:
                partner = rng.choice(self.partners)
                sub.vlr = rng.choice(partner.vlrs)
            else:
                sub.vlr = rng.choice(home.vlrs)
            subscribers.append(sub)
        taken = set()
        for j in range(inbound):
            partner = self.partners[j % len(self.partners)]
            number = rng.randrange(partner.msisdn_space())
            while (partner.name, number) in taken:
                number = rng.randrange(partner.msisdn_space())
            taken.add((partner.name, number))
            sub = Subscriber(home_count + j, partner.imsi(number * 7 + 1000003),
                             partner.msisdn(number), partner)
            sub.vlr = rng.choice(home.vlrs)
            subscribers.append(sub)
        for sub in subscribers:
            sub.hlr_vlr = sub.vlr
            if rng.random() < share["switched_off"]:
                sub.on = False
        return subscribers
