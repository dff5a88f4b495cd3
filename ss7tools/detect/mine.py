"""``ss7tools mine``: a few human-readable firewall rules learnt from
labelled traffic, in the rule file format, run by the same engine.

A shallow decision tree (at most ``2 * max_rules`` leaves) separates the
attack requests from the normal ones among the requests from outside the
home network (the rows :func:`ss7tools.detect.train.collect` makes); each
leaf where attacks are the majority becomes a rule: the conditions on its
path, merged per feature into a range and written as the engine's named
conditions where one exists (operation lists for operation codes, origin
names, FS.11 categories), else as ``features`` comparisons.  Rules are
ordered by precision, at most ``max_rules`` kept, each with its support,
precision and recall on the training data in a comment.  The two rules
that follow an attack's consequences (not learnt: they need the flags
earlier alerts set) close the file.
"""

from ..attack_families import ATTACK_TYPES
from ..map_catalogue import MAP_BY_CODE
from .defaults import default_rules_text
from .features import FEATURES, TCAP_TYPES
from .network import ORIGIN_NAMES
from .train import collect

MAX_RULES = 20
_ORIGIN_FEATURES = {"calling_origin": "calling", "called_origin": "called",
                    "imsi_origin": "imsi"}
_TCAP_NAMES = {code: name for name, code in TCAP_TYPES.items()}


def _paths(tree):
    """``[(leaf, [(feature, is_le, threshold)])]`` of a fitted tree."""
    t = tree.tree_
    out = []
    stack = [(0, [])]
    while stack:
        node, path = stack.pop()
        if t.children_left[node] < 0:
            out.append((node, path))
            continue
        f, thr = int(t.feature[node]), float(t.threshold[node])
        stack.append((t.children_left[node], path + [(f, True, thr)]))
        stack.append((t.children_right[node], path + [(f, False, thr)]))
    return out


def _ranges(path):
    """feature index -> [low, high): value > low and value <= high."""
    ranges = {}
    for f, is_le, thr in path:
        low, high = ranges.get(f, (None, None))
        if is_le:
            high = thr if high is None else min(high, thr)
        else:
            low = thr if low is None else max(low, thr)
        ranges[f] = (low, high)
    return ranges


def _inside(value, low, high):
    return (low is None or value > low) and (high is None or value <= high)


def _condition(name, low, high, seen_values):
    """``(key, YAML text)`` of one feature's range."""
    if name == "op_code":
        names = sorted(MAP_BY_CODE[c].name for c in seen_values
                       if c in MAP_BY_CODE and _inside(c, low, high))
        return "operation", "[%s]" % ", ".join(names)
    if name in _ORIGIN_FEATURES:
        names = [ORIGIN_NAMES[c] for c in range(len(ORIGIN_NAMES)) if _inside(c, low, high)]
        return _ORIGIN_FEATURES[name], "[%s]" % ", ".join(names)
    if name == "fs11_category":
        return "category", "[%s]" % ", ".join(str(c) for c in range(4) if _inside(c, low, high))
    if name == "tcap_type":
        return "tcap", "[%s]" % ", ".join(_TCAP_NAMES[c] for c in sorted(_TCAP_NAMES)
                                          if _inside(c, low, high))
    parts = []
    if low is not None:
        parts.append("gt: %s" % _number(low))
    if high is not None:
        parts.append("le: %s" % _number(high))
    # a range that takes in -1 (unknown) matches unknown values too
    if _inside(-1, low, high):
        parts.append("unknown: true")
    return "features." + name, "{%s}" % ", ".join(parts)


def _number(value):
    return ("%.6g" % value).rstrip("0").rstrip(".") if "." in "%.6g" % value else "%.6g" % value


def mine(inputs, network, max_rules=MAX_RULES, log=None):
    """The mined rule file's text, and the inputs' counts."""
    return mine_collected(collect(inputs, network), max_rules, log, len(inputs))


def mine_collected(collected, max_rules=MAX_RULES, log=None, inputs=1):
    """:func:`mine` on what :func:`ss7tools.detect.train.collect` gave."""
    import numpy as np
    from sklearn.tree import DecisionTreeClassifier
    X, y, _groups, counts = collected
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    attack = (y != 0).astype(int)
    tree = DecisionTreeClassifier(max_leaf_nodes=2 * max_rules, min_samples_leaf=5,
                                  random_state=0).fit(X, attack)
    leaves = tree.apply(X)
    total_attacks = int(attack.sum())
    seen_ops = set(int(c) for c in X[:, FEATURES.index("op_code")] if c >= 0)
    candidates = []
    for leaf, path in _paths(tree):
        members = leaves == leaf
        hits = int(attack[members].sum())
        size = int(members.sum())
        if not size or hits * 2 <= size:
            continue
        families = [ATTACK_TYPES[c - 1] for c in y[members] if c]
        family = max(set(families), key=families.count)
        candidates.append((hits / size, hits, size, family, _ranges(path)))
    candidates.sort(key=lambda c: (-c[0], -c[1]))
    candidates = candidates[:max_rules]
    lines = ["# ss7tools mined rules: learnt by `ss7tools mine` from %d labelled inputs" %
             inputs,
             "# (%d requests from outside the home network, %d of them attacks)."
             % (len(y), total_attacks),
             "# Each rule: a leaf of a shallow decision tree where attacks are the majority;",
             "# support = attack requests it matches, precision and recall on the training",
             "# data.  First match wins; the last two rules are not mined: they follow what",
             "# an alert sets off (see the default rules).",
             "version: 1", "rules:"]
    for number, (precision, hits, size, family, ranges) in enumerate(candidates, 1):
        lines.append("  # support %d, precision %.3f, recall %.3f" % (
            hits, precision, hits / total_attacks if total_attacks else 0.0))
        lines.append("  - name: mined-%02d" % number)
        lines.append("    action: alert")
        lines.append("    family: %s" % family)
        lines.append("    description: mined from labelled traffic (%s in most of its "
                     "matches)" % family)
        lines.append("    when:")
        lines.append("      interconnect: true")
        plain, features = [], []
        for f, (low, high) in sorted(ranges.items()):
            key, text = _condition(FEATURES[f], low, high, seen_ops)
            if key.startswith("features."):
                features.append("        %s: %s" % (key[len("features."):], text))
            else:
                plain.append("      %s: %s" % (key, text))
        lines.extend(plain)
        if features:
            lines.append("      features:")
            lines.extend(features)
    if log is not None:
        log("%d rules mined from %d requests (%d attacks)" % (len(candidates), len(y),
                                                            total_attacks))
    follow = default_rules_text().split("rules:\n", 1)[1]
    follow = follow.split("  - name: no-agreement", 1)[0]
    return "\n".join(lines) + "\n\n" + follow.rstrip() + "\n", counts
