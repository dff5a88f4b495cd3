"""The home network as detection knows it: a small YAML file.

::

    home:
      name: home
      country: DE            # ISO 3166 alpha-2
      mcc: "262"
      mnc: "42"
      cc: "49"               # E.164 country code and national destination
      ndc: "172"             # code: E.214 mobile global titles start so
      gt_prefixes: ["49172"] # the network's GT (and E.164 number) ranges
      vlrs:                  # where its VLRs are (travel speed)
        - {gt: "491720001001", lat: 52.52, lon: 13.40}
    partners:                # roaming and SMS interworking partners
      - {name: fr, country: FR, mcc: "208", mnc: "91", cc: "33", ndc: "6",
         gt_prefixes: ["336"], vlrs: [{gt: "336090001001", lat: 48.86, lon: 2.35}]}

A partner without ``vlrs`` may give ``location: [lat, lon]`` (where its
subscribers usually are); without either its location is unknown.  A GT
is *home*, *partner* (one of the partners) or *other*; the country of an
*other* GT comes from its E.164 country code.  ``ss7tools simulate
--network-out`` writes this file for a simulated world;
``networks/default.yaml`` is the simulator's default world.
"""

import math
import os

import phonenumbers
import yaml

from ..errors import NetworkFileError

HOME, PARTNER, OTHER, NONE = 0, 1, 2, 3
ORIGIN_NAMES = ("home", "partner", "other", "none")
ORIGIN_CODES = {name: code for code, name in enumerate(ORIGIN_NAMES)}
DEFAULT_NETWORK = os.path.join(os.path.dirname(__file__), "networks", "default.yaml")
EARTH_RADIUS_KM = 6371.0
_CACHE_MAX = 65536


class GtInfo:
    """What a GT says: ``origin`` (HOME/PARTNER/OTHER/NONE), the network
    name (None for other), its country, and a location (lat, lon) or None."""

    __slots__ = ("origin", "network", "country", "location")

    def __init__(self, origin, network, country, location):
        self.origin, self.network, self.country, self.location = origin, network, country, location

    def __repr__(self):
        return "GtInfo(%s, %r, %r, %r)" % (ORIGIN_NAMES[self.origin], self.network,
                                          self.country, self.location)


NO_GT = GtInfo(NONE, None, None, None)


def distance_km(a, b):
    """Great-circle distance between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class _Operator:
    __slots__ = ("name", "country", "mcc", "mnc", "cc", "ndc", "prefixes", "vlrs",
                 "location", "origin")


def _fail(source, key, problem):
    raise NetworkFileError("%s: %s: %s" % (source, key, problem))


def _digits(spec, key, where, source, low, high):
    if not isinstance(spec, dict) or key not in spec:
        _fail(source, where, "missing %r" % key)
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        _fail(source, "%s.%s" % (where, key), "expected digits, got %r" % (value,))
    value = str(value)
    if not value.isdigit() or not low <= len(value) <= high:
        _fail(source, "%s.%s" % (where, key), "expected %d to %d digits, got %r"
              % (low, high, value))
    return value


def _point(value, where, source):
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)
            or not -90 <= value[0] <= 90 or not -180 <= value[1] <= 180):
        _fail(source, where, "expected [latitude, longitude] in degrees, got %r" % (value,))
    return float(value[0]), float(value[1])


def _operator(spec, where, source, origin):
    if not isinstance(spec, dict):
        _fail(source, where, "expected a mapping")
    unknown = set(spec) - {"name", "country", "mcc", "mnc", "cc", "ndc", "gt_prefixes",
                           "vlrs", "location"}
    if unknown:
        _fail(source, "%s.%s" % (where, sorted(map(str, unknown))[0]), "unknown key")
    op = _Operator()
    op.origin = origin
    op.name = str(spec.get("name") or where)
    country = spec.get("country")
    if not isinstance(country, str) or len(country) != 2 or not country.isalpha():
        _fail(source, where + ".country", "expected a two-letter country code, got %r"
              % (country,))
    op.country = country.upper()
    op.mcc = _digits(spec, "mcc", where, source, 3, 3)
    op.mnc = _digits(spec, "mnc", where, source, 2, 3)
    op.cc = _digits(spec, "cc", where, source, 1, 3)
    op.ndc = _digits(spec, "ndc", where, source, 1, 5)
    prefixes = spec.get("gt_prefixes")
    if not isinstance(prefixes, list) or not prefixes:
        _fail(source, where + ".gt_prefixes", "expected a list of digit prefixes")
    op.prefixes = []
    for i, prefix in enumerate(prefixes):
        prefix = str(prefix)
        if isinstance(prefixes[i], bool) or not prefix.isdigit() or len(prefix) > 15:
            _fail(source, "%s.gt_prefixes[%d]" % (where, i), "expected digits, got %r"
                  % (prefixes[i],))
        op.prefixes.append(prefix)
    op.vlrs = {}
    vlrs = spec.get("vlrs", [])
    if not isinstance(vlrs, list):
        _fail(source, where + ".vlrs", "expected a list")
    for i, vlr in enumerate(vlrs):
        here = "%s.vlrs[%d]" % (where, i)
        gt = _digits(vlr, "gt", here, source, 3, 15)
        op.vlrs[gt] = _point([vlr.get("lat"), vlr.get("lon")], here + ".lat/lon", source)
    op.location = None
    if "location" in spec:
        op.location = _point(spec["location"], where + ".location", source)
    elif op.vlrs:
        op.location = next(iter(op.vlrs.values()))
    return op


class Network:
    """A network description, loaded and checked (:class:`NetworkFileError`
    names the file, the key and the problem)."""

    def __init__(self, data, source="<network>"):
        if not isinstance(data, dict):
            _fail(source, "(top)", "the network must be a mapping with home and partners")
        unknown = set(data) - {"home", "partners"}
        if unknown:
            _fail(source, sorted(map(str, unknown))[0], "unknown key")
        if "home" not in data:
            _fail(source, "home", "missing")
        self.source = source
        self.home = _operator(data["home"], "home", source, HOME)
        partners = data.get("partners") or []
        if not isinstance(partners, list):
            _fail(source, "partners", "expected a list")
        self.partners = [_operator(p, "partners[%d]" % i, source, PARTNER)
                         for i, p in enumerate(partners)]
        self._prefixes = {}
        self._plmns = {}
        for op in [self.home] + self.partners:
            for prefix in op.prefixes:
                other = self._prefixes.get(prefix)
                if other is not None and other is not op:
                    _fail(source, op.name + ".gt_prefixes", "prefix %s is also %s's"
                          % (prefix, other.name))
                self._prefixes[prefix] = op
            plmn = op.mcc + op.mnc
            if plmn in self._plmns:
                _fail(source, op.name + ".mnc", "MCC/MNC %s/%s is also %s's"
                      % (op.mcc, op.mnc, self._plmns[plmn].name))
            self._plmns[plmn] = op
        self._lengths = sorted({len(p) for p in self._prefixes}, reverse=True)
        self.gt_cache = {}   # GT digits -> GtInfo (read directly by the feature pass)
        self._imsi_cache = {}
        self.by_name = {op.name: op for op in [self.home] + self.partners}

    @classmethod
    def load(cls, path=None):
        path = path or DEFAULT_NETWORK
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = "line %d" % (mark.line + 1) if mark is not None else "(top)"
            raise NetworkFileError("%s: %s: not valid YAML: %s"
                                   % (path, where, getattr(exc, "problem", exc)))
        except UnicodeDecodeError as exc:
            raise NetworkFileError("%s: (top): not UTF-8 text: %s" % (path, exc))
        return cls(data, path)

    def operator_of_gt(self, gt):
        for length in self._lengths:
            op = self._prefixes.get(gt[:length])
            if op is not None:
                return op
        return None

    def gt(self, gt):
        """The :class:`GtInfo` of GT digits (cached)."""
        if not gt:
            return NO_GT
        info = self.gt_cache.get(gt)
        if info is not None:
            return info
        op = self.operator_of_gt(gt)
        if op is not None:
            location = op.vlrs.get(gt, op.location)
            info = GtInfo(op.origin, op.name, op.country, location)
        else:
            info = GtInfo(OTHER, None, _country_of_number(gt), None)
        if len(self.gt_cache) >= _CACHE_MAX:
            self.gt_cache.clear()
        self.gt_cache[gt] = info
        return info

    def imsi(self, imsi):
        """``(origin, network name)`` of an IMSI by its MCC/MNC."""
        if not imsi:
            return NONE, None
        found = self._imsi_cache.get(imsi[:6])
        if found is None:
            op = self._plmns.get(imsi[:5]) or self._plmns.get(imsi[:6])
            found = (op.origin, op.name) if op is not None else (OTHER, None)
            if len(self._imsi_cache) >= _CACHE_MAX:
                self._imsi_cache.clear()
            self._imsi_cache[imsi[:6]] = found
        return found

    def mgt_imsi(self, gt):
        """The IMSI an E.214 mobile global title (cc + ndc + MSIN) stands
        for, for a network this file knows; None for any other GT.  Rows
        do not keep the numbering plan, so a GT is taken for an MGT when
        it makes a 15-digit IMSI (an MSISDN or a node GT is shorter)."""
        op = self.operator_of_gt(gt)
        if op is None:
            return None
        head = op.cc + op.ndc
        if not gt.startswith(head) or gt in op.vlrs:
            return None
        msin = gt[len(head):]
        imsi = op.mcc + op.mnc + msin
        if len(imsi) != 15:
            return None
        return imsi


def _country_of_number(digits):
    """ISO country of an E.164 number by its country code ('ZZ' unknown)."""
    for length in (1, 2, 3):
        region = phonenumbers.region_code_for_country_code(int(digits[:length])) \
            if digits[:length].isdigit() else "ZZ"
        if region != "ZZ":
            return region
    return "ZZ"
