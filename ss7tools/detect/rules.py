"""Firewall rules in YAML: loading, checking and matching.

A rule file::

    version: 1
    rules:
      - name: fs11-cat1-from-interconnect     # unique; names the verdict
        action: alert                         # alert | drop | allow
        family: location_tracking             # optional: an attack family, or inherit
        description: free text
        when:                                 # every condition must hold
          category: [1]
          calling: [partner, other]

Rules are tried in order and the first whose conditions all hold decides
(first match wins); a message no rule matches is left to the model, or
allowed.  The conditions (:data:`CONDITIONS`) read the message, its FS.11
category, the network file's view of its GTs and IMSI, and the state kept
per subscriber and per GT (see :mod:`ss7tools.detect.features`).  A file
with an error is refused with :class:`~ss7tools.errors.RuleError`:
``FILE:LINE: problem``.
"""

import re

import yaml

from ..attack_families import BY_NAME as FAMILIES
from ..errors import RuleError
from ..map_catalogue import CAP_OPERATION_NAMES, MAP_BY_NAME
from ..rows import COLUMN_INDEX
from .features import FEATURE_INDEX, TCAP_TYPES
from .network import ORIGIN_CODES
from .state import RATE_HISTORY

ACTIONS = ("alert", "drop", "allow")
INHERIT = "inherit"
MAX_FILE_BYTES = 1 << 20
MAX_RULES = 10000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")
_COMPARISONS = {"lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
                "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
                "eq": lambda a, b: a == b, "ne": lambda a, b: a != b}
_OPERATIONS = set(MAP_BY_NAME) | set(CAP_OPERATION_NAMES.values())


class Rule:
    """A loaded rule: ``match(ctx)`` is its conditions' conjunction."""

    __slots__ = ("name", "action", "family", "description", "line", "conditions", "inherit_from")

    def __init__(self, name, action, family, description, line, conditions, inherit_from):
        self.name, self.action, self.family = name, action, family
        self.description, self.line = description, line
        self.conditions, self.inherit_from = conditions, inherit_from

    def match(self, ctx):
        for condition in self.conditions:
            if not condition(ctx):
                return False
        return True

    def __repr__(self):
        return "Rule(%r, %r)" % (self.name, self.action)


class RuleSet:
    """Rules in file order; ``first_match(ctx)`` the rule that decides, or None.

    Most rules name the calling and called GTs' origins and whether the
    message is a request, and most messages are our own nodes': the rules
    are indexed by those three, so a message is tried only against the
    rules it can satisfy (in file order, with those tests already passed)."""

    def __init__(self, rules, source):
        self.rules, self.source = tuple(rules), source
        self._index = {}
        origins = tuple(ORIGIN_CODES.values())
        for key in ((calling, called, request) for calling in origins for called in origins
                    for request in (False, True)):
            candidates = []
            for rule in self.rules:
                rest = _rest(rule.conditions, *key)
                if rest is not None:
                    candidates.append((rule, rest))
            self._index[key] = tuple(candidates)
        self._all = tuple((rule, rule.conditions) for rule in self.rules)
        #: the (window, above) of the rate conditions, for the feature pass
        self.rate_queries = tuple(sorted({c.rate_query for rule in self.rules
                                          for c in rule.conditions
                                          if hasattr(c, "rate_query")}))

    def first_match(self, ctx):
        key = (ctx.calling.origin, ctx.called.origin, ctx.request)
        for rule, conditions in self._index.get(key, self._all):
            for condition in conditions:
                if not condition(ctx):
                    break
            else:
                return rule
        return None

    def __len__(self):
        return len(self.rules)


def _rest(conditions, calling, called, request):
    """The conditions still to test for a message of these origins and
    request flag (None: the rule cannot match it)."""
    rest = []
    for condition in conditions:
        codes = getattr(condition, "calling_origins", None)
        if codes is not None:
            if calling not in codes:
                return None
            continue
        codes = getattr(condition, "called_origins", None)
        if codes is not None:
            if called not in codes:
                return None
            continue
        wanted = getattr(condition, "request_is", None)
        if wanted is not None:
            if request is not wanted:
                return None
            continue
        rest.append(condition)
    return tuple(rest)


def _one_line(text):
    return " ".join(str(text).split())


# -- reading YAML with line numbers ------------------------------------------
class _Reader:
    def __init__(self, source):
        self.source = source

    def fail(self, node, problem):
        line = node.start_mark.line + 1 if node is not None else 1
        raise RuleError("%s:%d: %s" % (self.source, line, _one_line(problem)))

    def scalar(self, node, what):
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, "%s: expected a single value" % what)
        return yaml.SafeLoader("").construct_scalar(node) if node.tag == "tag:yaml.org,2002:str" \
            else _construct(node, self, what)

    def mapping(self, node, what):
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, "%s: expected a mapping" % what)
        seen = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.fail(key_node, "%s: keys must be plain names" % what)
            key = key_node.value
            if key in seen:
                self.fail(key_node, "%s: duplicate key %r" % (what, key))
            seen[key] = (key_node, value_node)
        return seen

    def sequence(self, node, what):
        """A list (a single value counts as a list of one)."""
        if isinstance(node, yaml.SequenceNode):
            for item in node.value:
                if not isinstance(item, yaml.ScalarNode):
                    self.fail(item, "%s: expected a list of single values" % what)
            return [(item, self.scalar(item, what)) for item in node.value]
        return [(node, self.scalar(node, what))]


def _construct(node, reader, what):
    try:
        return yaml.SafeLoader("").construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, OverflowError) as exc:
        reader.fail(node, "%s: %s" % (what, exc))


def _check_tree(node, reader, seen=None, depth=0):
    """No anchors/aliases (a node reached twice) and no deep nesting."""
    if seen is None:
        seen = set()
    if depth > 20:
        reader.fail(node, "nested too deeply")
    if id(node) in seen:
        reader.fail(node, "anchors and aliases are not allowed in rule files")
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _check_tree(key, reader, seen, depth + 1)
            _check_tree(value, reader, seen, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_tree(item, reader, seen, depth + 1)


# -- conditions ----------------------------------------------------------------
def _bool(reader, node, what):
    value = reader.scalar(node, what)
    if not isinstance(value, bool):
        reader.fail(node, "%s: expected true or false, got %r" % (what, value))
    return value


def _number(reader, node, what, low=None, high=None, integer=False):
    value = reader.scalar(node, what)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        reader.fail(node, "%s: expected a number, got %r" % (what, value))
    if integer and not isinstance(value, int):
        reader.fail(node, "%s: expected a whole number, got %r" % (what, value))
    if (low is not None and value < low) or (high is not None and value > high):
        reader.fail(node, "%s: %r is out of range (%s to %s)" % (what, value, low, high))
    return value


def _names(reader, node, what, allowed):
    values = set()
    for item, value in reader.sequence(node, what):
        if not isinstance(value, str) or value not in allowed:
            reader.fail(item, "%s: unknown value %r (known: %s)"
                        % (what, value, ", ".join(sorted(map(str, allowed)))))
        values.add(value)
    return values


def _comparison(reader, node, what, allow_unknown=True):
    """``{lt|le|gt|ge|eq|ne: number, unknown: bool}`` -> (tests, unknown)."""
    items = reader.mapping(node, what)
    tests = []
    unknown = False
    for key, (key_node, value_node) in items.items():
        if key == "unknown" and allow_unknown:
            unknown = _bool(reader, value_node, what + ".unknown")
        elif key in _COMPARISONS:
            tests.append((_COMPARISONS[key], _number(reader, value_node, "%s.%s" % (what, key))))
        else:
            reader.fail(key_node, "%s: unknown comparison %r (known: %s)"
                        % (what, key, ", ".join(sorted(_COMPARISONS) + ["unknown"])))
    if not tests:
        reader.fail(node, "%s: needs a comparison (lt, le, gt, ge, eq or ne)" % what)
    return tests, unknown


def _vector_test(index, tests, unknown):
    def test(ctx):
        value = ctx.vector[index]
        if value == -1:
            return unknown
        for compare, bound in tests:
            if not compare(value, bound):
                return False
        return True
    return test


def _c_operation(reader, node, what):
    names = frozenset(_names(reader, node, what, _OPERATIONS))
    return lambda ctx: ctx.op in names


def _c_category(reader, node, what):
    values = set()
    for item, value in reader.sequence(node, what):
        if isinstance(value, bool) or value not in (0, 1, 2, 3):
            reader.fail(item, "%s: an FS.11 category is 1, 2 or 3 (0: none), got %r"
                        % (what, value))
        values.add(value)
    values = frozenset(values)
    return lambda ctx: ctx.category in values


def _c_origin(attribute):
    def compile_(reader, node, what):
        codes = frozenset(ORIGIN_CODES[n] for n in _names(reader, node, what, ORIGIN_CODES))
        if attribute == "calling":
            def test(ctx):
                return ctx.calling.origin in codes
            test.calling_origins = codes   # RuleSet's index
            return test
        if attribute == "called":
            def test(ctx):
                return ctx.called.origin in codes
            test.called_origins = codes   # RuleSet's index
            return test
        return lambda ctx: ctx.vector[6] in codes
    return compile_


def _c_flag(attribute):
    def compile_(reader, node, what):
        wanted = _bool(reader, node, what)
        if attribute == "request":
            def test(ctx):
                return ctx.request is wanted
            test.request_is = wanted   # RuleSet's index
            return test
        return lambda ctx: ctx.interconnect is wanted
    return compile_


def _c_tristate(index):
    def compile_(reader, node, what):
        wanted = 1 if _bool(reader, node, what) else 0
        return lambda ctx: ctx.vector[index] == wanted
    return compile_


def _c_vlr_country(reader, node, what):
    value = reader.scalar(node, what)
    codes = {"same": 1, "differs": 0, "unknown": -1}
    if value not in codes:
        reader.fail(node, "%s: expected same, differs or unknown, got %r" % (what, value))
    code = codes[value]
    return lambda ctx: ctx.vector[9] == code


def _c_feature_named(name):
    index = FEATURE_INDEX[name]

    def compile_(reader, node, what):
        return _vector_test(index, *_comparison(reader, node, what))
    return compile_


def _c_features(reader, node, what):
    tests = []
    for key, (key_node, value_node) in reader.mapping(node, what).items():
        if key not in FEATURE_INDEX:
            reader.fail(key_node, "%s: unknown feature %r" % (what, key))
        tests.append(_vector_test(FEATURE_INDEX[key],
                                  *_comparison(reader, value_node, "%s.%s" % (what, key))))

    def test(ctx):
        for t in tests:
            if not t(ctx):
                return False
        return True
    return test


def _c_rate(reader, node, what):
    items = reader.mapping(node, what)
    for key, (key_node, _) in items.items():
        if key not in ("window", "above"):
            reader.fail(key_node, "%s: unknown key %r (window, above)" % (what, key))
    if "window" not in items or "above" not in items:
        reader.fail(node, "%s: needs window (seconds) and above (a count)" % what)
    window = _number(reader, items["window"][1], what + ".window", 0.001, 86400.0)
    above = _number(reader, items["above"][1], what + ".above", 1, RATE_HISTORY - 2,
                    integer=True)

    query = (window, above)

    def test(ctx):
        # the feature pass answered it when it saw the message (the request
        # times move on as later messages come)
        hits = ctx.rate_hits
        return hits is not None and hits[query]
    test.rate_query = query   # RuleSet.rate_queries
    return test


def _c_subscriber_flagged(reader, node, what):
    seconds = _number(reader, node, what, 0, 10 * 86400)

    def test(ctx):
        sub = ctx.sub
        return (sub is not None and sub.flagged_at is not None
                and ctx.time - sub.flagged_at <= seconds)
    return test


def _c_gt_flagged(reader, node, what):
    seconds = _number(reader, node, what, 0, 10 * 86400)

    def test(ctx):
        gt = ctx.external_gt
        if gt is None:
            return False
        state = ctx.flags.get(gt)
        return state is not None and state.flagged_at is not None \
            and ctx.time - state.flagged_at <= seconds
    return test


def _c_tcap(reader, node, what):
    names = frozenset(_names(reader, node, what, TCAP_TYPES))
    return lambda ctx: ctx.tcap in names


def _c_columns(reader, node, what):
    tests = []
    for key, (key_node, value_node) in reader.mapping(node, what).items():
        if key not in COLUMN_INDEX:
            reader.fail(key_node, "%s: unknown column %r" % (what, key))
        index = COLUMN_INDEX[key]
        here = "%s.%s" % (what, key)
        if isinstance(value_node, yaml.MappingNode):
            spec = reader.mapping(value_node, here)
            if set(spec) != {"prefix"}:
                reader.fail(value_node, "%s: expected {prefix: [...]}" % here)
            prefixes = tuple(str(v) for _, v in reader.sequence(spec["prefix"][1], here))
            if not prefixes:
                reader.fail(value_node, "%s: empty prefix list" % here)
            tests.append(lambda ctx, i=index, p=prefixes:
                         ctx.row[i] is not None and str(ctx.row[i]).startswith(p))
        else:
            values = frozenset("" if v is None else str(v)
                               for _, v in reader.sequence(value_node, here))
            tests.append(lambda ctx, i=index, v=values:
                         ("" if ctx.row[i] is None else str(ctx.row[i])) in v)

    def test(ctx):
        for t in tests:
            if not t(ctx):
                return False
        return True
    return test


#: condition name -> (compiler, what it tests); documented in the README
CONDITIONS = {
    "operation": (_c_operation, "the operation (catalogue names) is one of these"),
    "category": (_c_category, "the operation's FS.11 category is one of these (0: none)"),
    "calling": (_c_origin("calling"), "the calling GT is home, partner, other or none"),
    "called": (_c_origin("called"), "the called GT is home, partner, other or none"),
    "imsi": (_c_origin("imsi"), "the subscriber's IMSI is home, partner, other or none"),
    "request": (_c_flag("request"), "the message opens a dialogue with an invoke"),
    "interconnect": (_c_flag("interconnect"), "a request from outside the home network"),
    "tcap": (_c_tcap, "the TCAP message type is one of these"),
    "calling_is_subscriber_home": (
        _c_tristate(FEATURE_INDEX["calling_is_subscriber_home"]),
        "the calling GT is (true) or is not (false) in the IMSI's home network"),
    "calling_is_vlr": (_c_tristate(FEATURE_INDEX["calling_is_vlr"]),
                       "the calling GT is (not) the subscriber's known VLR"),
    "calling_vs_vlr_country": (_c_vlr_country, "the calling GT's country against the "
                               "subscriber's VLR's: same, differs or unknown"),
    "smsc_matches_calling": (_c_tristate(FEATURE_INDEX["smsc_matches_calling"]),
                             "an SMS operation's SMSC address is (not) the calling "
                             "GT's network"),
    "since_location_update": (_c_feature_named("since_location_update"),
                              "seconds since the subscriber's last updateLocation"),
    "since_seen": (_c_feature_named("since_seen"),
                   "seconds since the last evidence of where the subscriber is"),
    "travel_speed_kmh": (_c_feature_named("travel_speed_kmh"),
                         "speed from the subscriber's last location to the calling GT"),
    "rate": (_c_rate, "more than `above` requests of this operation from this calling "
                      "GT within `window` seconds (this one included)"),
    "subscriber_flagged_within": (_c_subscriber_flagged,
                                  "the subscriber had an alert or drop within seconds"),
    "gt_flagged_within": (_c_gt_flagged, "the message's outside GT had an alert or drop "
                                         "within seconds"),
    "columns": (_c_columns, "parsed columns equal a value, one of values, or "
                            "{prefix: [...]}"),
    "features": (_c_features, "comparisons on any feature of the feature pass"),
}


def _rule(reader, node, index, names):
    what = "rules[%d]" % index
    items = reader.mapping(node, what)
    for key, (key_node, _) in items.items():
        if key not in ("name", "action", "family", "description", "when"):
            reader.fail(key_node, "%s: unknown key %r (name, action, family, description, "
                                  "when)" % (what, key))
    if "name" not in items:
        reader.fail(node, "%s: missing name" % what)
    name = reader.scalar(items["name"][1], what + ".name")
    if not isinstance(name, str) or not _NAME.match(name):
        reader.fail(items["name"][1], "%s.name: expected letters, digits, _.:- (at most 80), "
                                      "got %r" % (what, name))
    what = "rule %s" % name
    if name in names:
        reader.fail(items["name"][1], "%s: the name is used twice" % what)
    names.add(name)
    if "action" not in items:
        reader.fail(node, "%s: missing action (%s)" % (what, ", ".join(ACTIONS)))
    action = reader.scalar(items["action"][1], what + ".action")
    if action not in ACTIONS:
        reader.fail(items["action"][1], "%s: action must be one of %s, got %r"
                    % (what, ", ".join(ACTIONS), action))
    family = None
    if "family" in items:
        family = reader.scalar(items["family"][1], what + ".family")
        if family != INHERIT and family not in FAMILIES:
            reader.fail(items["family"][1], "%s: unknown family %r (known: %s, inherit)"
                        % (what, family, ", ".join(FAMILIES)))
    description = ""
    if "description" in items:
        description = str(reader.scalar(items["description"][1], what + ".description"))
    conditions = []
    inherit_from = None
    if "when" in items:
        when_node = items["when"][1]
        if not (isinstance(when_node, yaml.ScalarNode) and when_node.value in ("", "~", "null")):
            for key, (key_node, value_node) in reader.mapping(when_node, what + ".when").items():
                if key not in CONDITIONS:
                    reader.fail(key_node, "%s: unknown condition %r" % (what, key))
                conditions.append(CONDITIONS[key][0](reader, value_node,
                                                     "%s: %s" % (what, key)))
                if key in ("subscriber_flagged_within", "gt_flagged_within"):
                    inherit_from = inherit_from or key
    if family == INHERIT and inherit_from is None:
        reader.fail(items["family"][1], "%s: family inherit needs subscriber_flagged_within "
                                        "or gt_flagged_within" % what)
    return Rule(name, action, family, description, node.start_mark.line + 1, tuple(conditions),
                inherit_from)


def parse_rules(text, source="<rules>"):
    """A :class:`RuleSet` from rule file text; :class:`RuleError` if invalid."""
    reader = _Reader(source)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RuleError("%s:1: not UTF-8 text (%s)" % (source, exc.reason))
    if len(text) > MAX_FILE_BYTES:
        raise RuleError("%s:1: larger than %d octets" % (source, MAX_FILE_BYTES))
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise RuleError("%s:%d: not valid YAML: %s" % (source, line, _one_line(problem)))
    except RecursionError:
        raise RuleError("%s:1: nested too deeply" % source)
    if root is None:
        raise RuleError("%s:1: empty file (expected a mapping with rules)" % source)
    _check_tree(root, reader)
    top = reader.mapping(root, "the file")
    for key, (key_node, _) in top.items():
        if key not in ("version", "rules"):
            reader.fail(key_node, "unknown key %r (version, rules)" % key)
    if "version" in top:
        version = reader.scalar(top["version"][1], "version")
        if version != 1:
            reader.fail(top["version"][1], "version %r is not supported (1)" % (version,))
    if "rules" not in top:
        reader.fail(root, "missing rules")
    rules_node = top["rules"][1]
    if not isinstance(rules_node, yaml.SequenceNode):
        reader.fail(rules_node, "rules: expected a list of rules")
    if len(rules_node.value) > MAX_RULES:
        reader.fail(rules_node, "rules: more than %d" % MAX_RULES)
    names = set()
    rules = [_rule(reader, item, i, names) for i, item in enumerate(rules_node.value)]
    return RuleSet(rules, source)


def load_rules(path):
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise RuleError("%s:1: cannot read: %s" % (path, exc.strerror or exc))
    return parse_rules(data, str(path))

