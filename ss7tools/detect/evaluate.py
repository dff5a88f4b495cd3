"""Scoring verdicts against the simulator's labels, per message and per
subscriber, per attack family.

Per message: a message is labelled with its attack family or ``normal``;
predicted with the family of its verdict when flagged (``unknown`` when
the verdict names none), else ``normal``.  Per subscriber: the victims of
each family (the labels' victim IMSI/MSISDN) against the families of the
per-subscriber summary.  For each family, precision and recall count a hit
only when the family is the right one; ``detected`` is the share of its
messages or victims flagged at all (any family).  ``any`` is attack
against normal, whatever the family.  The normal subscribers are those
seen in the traffic that no attack touched; ``normal_flagged`` is the
share of them the summary lists.
"""

from ..attack_families import ATTACK_TYPES, NORMAL_LABEL

ANY = "any"


def _prf(tp, fp, fn):
    precision = tp / (tp + fp) if tp + fp else (1.0 if not fn else 0.0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


class Scorer:
    """Feed ``add(verdict, label_entry)`` per message, then ``result(summary,
    msisdn_to_imsi)``."""

    def __init__(self):
        self.pairs = {}        # (truth, predicted) -> messages
        self.victims = {f: set() for f in ATTACK_TYPES}
        self.victim_msisdn = {}
        self.seen = set()

    def add(self, v, label):
        truth = label["label"] if label is not None else NORMAL_LABEL
        predicted = (v.family or "unknown") if v.action != "allow" else NORMAL_LABEL
        key = (truth, predicted)
        self.pairs[key] = self.pairs.get(key, 0) + 1
        if v.imsi or v.msisdn:
            self.seen.add(v.imsi or v.msisdn)
        if label is not None and truth != NORMAL_LABEL:
            imsi, msisdn = label.get("victim_imsi") or None, label.get("victim_msisdn") or None
            victim = imsi or msisdn
            if victim and truth in self.victims:
                self.victims[truth].add(victim)
                if imsi and msisdn:
                    self.victim_msisdn[msisdn] = imsi

    def message_scores(self):
        scores = {}
        for family in ATTACK_TYPES + (ANY,):
            tp = fp = fn = detected = total = 0
            for (truth, predicted), n in self.pairs.items():
                if family == ANY:
                    t, p = truth != NORMAL_LABEL, predicted != NORMAL_LABEL
                else:
                    t, p = truth == family, predicted == family
                    if t:
                        total += n
                        if predicted != NORMAL_LABEL:
                            detected += n
                tp += n if t and p else 0
                fp += n if p and not t else 0
                fn += n if t and not p else 0
            precision, recall, f1 = _prf(tp, fp, fn)
            scores[family] = {"precision": precision, "recall": recall, "f1": f1,
                              "support": tp + fn,
                              "detected": (detected / total if total else 1.0)
                              if family != ANY else recall}
        return scores

    def subscriber_scores(self, summary, msisdn_to_imsi=None):
        mapping = dict(msisdn_to_imsi or {})
        mapping.update(self.victim_msisdn)

        def resolve(key):
            return mapping.get(key, key)

        flagged = {}
        for key, entry in summary.merged(mapping).items():
            flagged[resolve(key)] = summary.families(entry)
        victims = {f: {resolve(k) for k in keys} for f, keys in self.victims.items()}
        all_victims = set().union(*victims.values()) if victims else set()
        seen = {resolve(k) for k in self.seen}
        normal = seen - all_victims
        scores = {}
        for family in ATTACK_TYPES:
            truth = victims[family]
            predicted = {k for k, fams in flagged.items() if family in fams}
            tp, fp, fn = len(truth & predicted), len(predicted - truth), len(truth - predicted)
            precision, recall, f1 = _prf(tp, fp, fn)
            scores[family] = {"precision": precision, "recall": recall, "f1": f1,
                              "support": len(truth),
                              "detected": (len(truth & set(flagged)) / len(truth)
                                           if truth else 1.0)}
        predicted_any = set(flagged)
        tp = len(all_victims & predicted_any)
        precision, recall, f1 = _prf(tp, len(predicted_any - all_victims),
                                     len(all_victims - predicted_any))
        scores[ANY] = {"precision": precision, "recall": recall, "f1": f1,
                       "support": len(all_victims), "detected": recall}
        normal_flagged = len(normal & predicted_any)
        scores["normal_subscribers"] = len(normal)
        scores["normal_flagged"] = normal_flagged / len(normal) if normal else 0.0
        scores["normal_flagged_count"] = normal_flagged
        return scores

    def confusion(self):
        """``(labels, matrix)``: rows truth, columns predicted."""
        names = (NORMAL_LABEL,) + ATTACK_TYPES + ("unknown",)
        matrix = [[self.pairs.get((t, p), 0) for p in names] for t in names[:-1]]
        return names, matrix


def format_table(title, scores, stream, subscriber=False):
    stream.write("%s\n" % title)
    stream.write("  %-18s %9s %9s %9s %9s %9s\n" % ("family", "precision", "recall", "F1",
                                                   "detected", "support"))
    for family in ATTACK_TYPES + (ANY,):
        s = scores[family]
        stream.write("  %-18s %9.3f %9.3f %9.3f %9.3f %9d\n" % (
            family, s["precision"], s["recall"], s["f1"], s["detected"], s["support"]))
    if subscriber:
        stream.write("  normal subscribers flagged: %d of %d (%.3f%%)\n" % (
            scores["normal_flagged_count"], scores["normal_subscribers"],
            100.0 * scores["normal_flagged"]))
