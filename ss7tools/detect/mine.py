"""``ss7tools mine``: a few human-readable firewall rules learnt from
labelled traffic, in the rule file format, run by the same engine.

A shallow decision tree (at most ``2 * max_rules`` leaves) separates the
attack requests from the normal ones among the requests from outside the
home network (the rows :func:`ss7tools.detect.train.collect` makes), on
:data:`MINING_FEATURES` only (roles and relations, not the training
world's volumes), fitted on all inputs but the last; each leaf where
attacks are the majority, matching attacks of several inputs, becomes a
candidate, and the candidates are kept best first within a false-positive
budget on the last input's normal requests.  A rule is the conditions on its
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


#: the features mining may use: the operation, the roles of the parties
#: (home, partner, the subscriber's own home network, its VLR and the
#: VLR's country), physical and protocol facts (travel speed, a silent
#: SMS, the SMSC address) and shares.  Not the counts, ages and times
#: whose scale is the training world's (how long the pass ran, how busy a
#: GT is): a rule on them fits that world's volumes and fails in another.
MINING_FEATURES = ("op_code", "fs11_category", "calling_origin", "called_origin",
                   "imsi_origin", "calling_is_subscriber_home", "location_known",
                   "calling_in_vlr_country", "calling_is_vlr", "travel_speed_kmh",
                   "gt_failed_share", "smsc_matches_calling", "silent_sms", "sms_class",
                   "since_silent_sms", "op_rate_60s", "gt_delivery_share", "since_sai_same_gt")
#: a rule must match attacks in this many training inputs (seeds) at least
MIN_INPUTS = 2
#: the normal requests of the validation part the kept rules may match, together
FALSE_POSITIVE_BUDGET = 0.002
MIN_SUPPORT = 5
#: the tree's leaves per rule asked for (most leaves are normal traffic)
LEAVES_PER_RULE = 2
#: trees fitted in turn, each on what the rules kept so far leave uncovered;
#: one: the later rounds' rules (all within the budget on the training
#: world's validation part) flagged 1.2% of the holdout world's normal
#: subscribers in bench/detect_eval.py --quick, the first round's none
ROUNDS = 1


def _split(groups):
    """(fit, validation) masks: the last input is the validation part when
    there are several, else every fourth request."""
    import numpy as np
    groups = np.asarray(groups)
    inputs = sorted(set(groups.tolist()))
    if len(inputs) >= 2:
        validation = groups == inputs[-1]
    else:
        validation = (np.arange(len(groups)) % 4) == 3
    return ~validation, validation


def _matches(X, ranges):
    import numpy as np
    hit = np.ones(len(X), dtype=bool)
    for f, (low, high) in ranges.items():
        column = X[:, f]
        if low is not None:
            hit &= column > low
        if high is not None:
            hit &= column <= high
    return hit


def mine_collected(collected, max_rules=MAX_RULES, log=None, inputs=1):
    """:func:`mine` on what :func:`ss7tools.detect.train.collect` gave.

    A tree fitted on all inputs but the last (the fit part) proposes a
    rule per attack leaf; a rule is kept if it matches attacks of at least
    :data:`MIN_INPUTS` of the fit part's inputs, and the kept rules, best
    first, may together match at most :data:`FALSE_POSITIVE_BUDGET` of
    the normal requests of the last input (the validation part).  Up to
    :data:`ROUNDS` trees in turn, each on the fit part's requests the rules
    kept so far do not match (sequential covering)."""
    import numpy as np
    from sklearn.tree import DecisionTreeClassifier
    X, y, groups, counts = collected
    X, y, groups = np.asarray(X, dtype=float), np.asarray(y), np.asarray(groups)
    attack = (y != 0).astype(int)
    columns = [FEATURES.index(name) for name in MINING_FEATURES]
    fit, validation = _split(groups)
    if attack[fit].sum() == 0 or attack[fit].sum() == fit.sum():
        fit = np.ones(len(y), dtype=bool)
    total_attacks = int(attack.sum())
    fit_inputs = len(set(groups[fit].tolist()))
    need_inputs = min(MIN_INPUTS, fit_inputs)
    normal_validation = validation & (attack == 0)
    budget = FALSE_POSITIVE_BUDGET * int(normal_validation.sum())
    seen_ops = set(int(c) for c in X[:, FEATURES.index("op_code")] if c >= 0)
    candidates = []
    flagged = np.zeros(len(y), dtype=bool)
    dropped = 0
    # sequential covering: each round's tree learns what the rules kept so
    # far leave uncovered of the fit part
    for _round in range(ROUNDS):
        left = fit & ~flagged
        if len(candidates) >= max_rules or not attack[left].any() or attack[left].all():
            break
        tree = DecisionTreeClassifier(max_leaf_nodes=LEAVES_PER_RULE * max_rules,
                                      min_samples_leaf=MIN_SUPPORT, random_state=0).fit(
                                          X[left][:, columns], attack[left])
        proposed = []
        for _leaf, path in _paths(tree):
            ranges = {columns[f]: bounds for f, bounds in _ranges(path).items()}
            members = _matches(X, ranges)
            in_fit = members & left
            hits, size = int(attack[in_fit].sum()), int(in_fit.sum())
            if not size or hits * 2 <= size or hits < MIN_SUPPORT:
                continue
            if len(set(groups[in_fit & (attack == 1)].tolist())) < need_inputs:
                continue
            proposed.append((hits / size, hits, ranges, members))
        proposed.sort(key=lambda c: (-c[0], -c[1]))
        added = 0
        for _precision, _hits, ranges, members in proposed:
            if len(candidates) >= max_rules:
                break
            together = flagged | members
            if int((together & normal_validation).sum()) > budget:
                dropped += 1
                continue
            flagged = together
            added += 1
            hits, size = int(attack[members].sum()), int(members.sum())
            families = [ATTACK_TYPES[c - 1] for c in y[members] if c]
            family = max(set(families), key=families.count)
            valid_hits = int((members & validation & (attack == 1)).sum())
            valid_false = int((members & normal_validation).sum())
            candidates.append((hits / size, hits, size, family, ranges, valid_hits,
                               valid_false))
        if not added:
            break
    lines = ["# ss7tools mined rules: learnt by `ss7tools mine` from %d labelled inputs" %
             inputs,
             "# (%d requests from outside the home network, %d of them attacks)."
             % (len(y), total_attacks),
             "# Each rule: a leaf of a shallow decision tree (fitted on all inputs but the",
             "# last, on features of roles and relations, not of the training world's",
             "# volumes) where attacks are the majority, matching attacks in at least %d"
             % need_inputs,
             "# inputs; together the rules match at most %.1f%% of the last input's normal"
             % (100 * FALSE_POSITIVE_BUDGET),
             "# requests (%d rules over that budget left out).  Support = attack requests"
             % dropped,
             "# it matches, precision and recall on all the training data.  First match",
             "# wins; the last two rules are not mined: they follow what an alert sets",
             "# off (see the default rules).",
             "version: 1", "rules:"]
    for number, (precision, hits, size, family, ranges, valid_hits,
                 valid_false) in enumerate(candidates, 1):
        lines.append("  # support %d, precision %.3f, recall %.3f; validation part: %d "
                     "attacks, %d normal requests matched" % (
                         hits, precision, hits / total_attacks if total_attacks else 0.0,
                         valid_hits, valid_false))
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
        log("%d rules mined from %d requests (%d attacks); %d over the validation "
            "false-positive budget left out" % (len(candidates), len(y), total_attacks,
                                                dropped))
    follow = default_rules_text().split("rules:\n", 1)[1]
    follow = follow.split("  - name: no-agreement", 1)[0]
    return "\n".join(lines) + "\n\n" + follow.rstrip() + "\n", counts
