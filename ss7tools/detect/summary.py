"""The per-subscriber summary of a detection run: which subscribers were
attacked, by which attack family, when (first and last alert), from which
attacker GTs.

A subscriber's family is decided per attacker GT, from the whole episode
rather than one message: the family whose attacker operations
(:attr:`~ss7tools.attack_families.AttackFamily.attacker_operations`) cover
most of the requests that GT itself sent about the subscriber (a
cancelLocation from outside is denial of service; the cancelLocation our
HLR sends after a rogue updateLocation is that interception's
consequence); then the family whose operations cover most of all the
flagged operations of the episode, the attacker's and what they set off
(a sendRoutingInfoForSM followed by an mt-forwardSM is SMS spoofing, a
sendRoutingInfoForSM alone tracking); ties go to the family the verdicts
named most.
"""

from ..attack_families import ATTACK_FAMILIES

SUMMARY_COLUMNS = ("subscriber", "imsi", "msisdn", "attacked", "families", "first_alert",
                   "last_alert", "alerts", "drops", "attacker_gts", "rules")


class _Entry:
    __slots__ = ("imsi", "msisdn", "first", "last", "alerts", "drops", "by_gt", "rules")

    def __init__(self):
        self.imsi = self.msisdn = None
        self.first = self.last = None
        self.alerts = self.drops = 0
        self.by_gt = {}     # attacker GT -> [ops, ops it sent, {family: votes}]
        self.rules = {}


class Summary:
    """``add(verdict)`` for every verdict; ``rows(msisdn_to_imsi)`` at the end."""

    def __init__(self):
        self.entries = {}
        self.subscribers_seen = set()

    def add(self, v):
        key = v.imsi or v.msisdn
        if key is None:
            return
        if v.action == "allow":
            return
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = _Entry()
        entry.imsi = entry.imsi or v.imsi
        entry.msisdn = entry.msisdn or v.msisdn
        if entry.first is None or v.time < entry.first:
            entry.first = v.time
        if entry.last is None or v.time > entry.last:
            entry.last = v.time
        if v.action == "drop":
            entry.drops += 1
        else:
            entry.alerts += 1
        entry.rules[v.rule] = entry.rules.get(v.rule, 0) + 1
        group = entry.by_gt.get(v.attacker_gt)
        if group is None:
            group = entry.by_gt[v.attacker_gt] = [set(), set(), {}]
        if v.op is not None:
            group[0].add(v.op)
            if v.request and v.attacker_gt is not None and v.calling_gt == v.attacker_gt:
                group[1].add(v.op)
        if v.family is not None:
            group[2][v.family] = group[2].get(v.family, 0) + 1

    def merged(self, msisdn_to_imsi=None):
        """Entries keyed by IMSI where one is known for an MSISDN key."""
        mapping = msisdn_to_imsi or {}
        merged = {}
        for key, entry in self.entries.items():
            imsi = entry.imsi or mapping.get(key)
            target_key = imsi or key
            other = merged.get(target_key)
            if other is None:
                if imsi and not entry.imsi:
                    entry.imsi = imsi
                merged[target_key] = entry
                continue
            other.msisdn = other.msisdn or entry.msisdn
            other.first = min(other.first, entry.first)
            other.last = max(other.last, entry.last)
            other.alerts += entry.alerts
            other.drops += entry.drops
            for rule, count in entry.rules.items():
                other.rules[rule] = other.rules.get(rule, 0) + count
            for gt, (ops, sent, votes) in entry.by_gt.items():
                group = other.by_gt.setdefault(gt, [set(), set(), {}])
                group[0].update(ops)
                group[1].update(sent)
                for family, count in votes.items():
                    group[2][family] = group[2].get(family, 0) + count
        return merged

    def families(self, entry):
        """The attack families of an entry (one per attacker GT, see the module)."""
        found = set()
        for ops, sent, votes in entry.by_gt.values():
            family = resolve_family(ops, votes, sent)
            if family is not None:
                found.add(family)
        return found

    def rows(self, msisdn_to_imsi=None):
        """Summary rows (:data:`SUMMARY_COLUMNS`), attacked subscribers first seen first."""
        out = []
        for key, entry in sorted(self.merged(msisdn_to_imsi).items(),
                                 key=lambda item: (item[1].first, item[0])):
            out.append((key, entry.imsi or "", entry.msisdn or "", "yes",
                        " ".join(sorted(self.families(entry))), "%.6f" % entry.first,
                        "%.6f" % entry.last, entry.alerts, entry.drops,
                        " ".join(sorted(gt for gt in entry.by_gt if gt)),
                        " ".join("%s:%d" % item for item in sorted(entry.rules.items()))))
        return out


def resolve_family(ops, votes, sent=frozenset()):
    """The family of one attacker GT's episode: ``ops`` all its flagged
    operations, ``sent`` those the GT sent itself, ``votes`` the verdicts'
    families (see the module)."""
    best, best_key = None, None
    for order, family in enumerate(ATTACK_FAMILIES):
        cover = len(ops & _OPERATIONS[family.name])
        key = (len(sent & _ATTACKER_OPERATIONS[family.name]), cover,
               votes.get(family.name, 0), -order)
        if (cover or votes.get(family.name)) and (best_key is None or key > best_key):
            best, best_key = family.name, key
    return best


_OPERATIONS = {f.name: frozenset(f.operations) for f in ATTACK_FAMILIES}
_ATTACKER_OPERATIONS = {f.name: frozenset(f.attacker_operations) for f in ATTACK_FAMILIES}
