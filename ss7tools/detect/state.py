"""The state detection keeps: per subscriber, per calling GT and per open
TCAP dialogue, each bounded in number and expiring when idle, so memory
stays flat however long the traffic runs.

Tables are insertion-ordered dicts used as LRU lists (a touched entry moves
to the end); :meth:`StateTables.sweep` drops, from the front, what has been
idle longer than its time to live, and the oldest entries of a table past
its size limit.
"""

from collections import OrderedDict, deque

#: a (GT, operation) keeps this many request times: enough for any rate
#: condition's threshold (a rule may ask for at most RATE_HISTORY - 1)
RATE_HISTORY = 256


class Limits:
    """Sizes and times to live of the state tables (seconds)."""

    __slots__ = ("subscribers", "gts", "dialogues", "msisdns", "subscriber_ttl", "gt_ttl",
                 "dialogue_ttl", "sweep_every")

    def __init__(self, subscribers=2_000_000, gts=200_000, dialogues=500_000,
                 msisdns=2_000_000, subscriber_ttl=86400.0, gt_ttl=7 * 86400.0,
                 dialogue_ttl=120.0, sweep_every=2048):
        self.subscribers, self.gts, self.dialogues = subscribers, gts, dialogues
        self.msisdns, self.sweep_every = msisdns, sweep_every
        self.subscriber_ttl, self.gt_ttl, self.dialogue_ttl = subscriber_ttl, gt_ttl, dialogue_ttl


class SubscriberState:
    """Where a subscriber is believed to be and what happened to it lately.

    ``vlr`` the GtInfo of its serving VLR (None unknown), ``vlr_gt`` its GT,
    ``seen_at`` the time of the last evidence of it being there, ``ul_at``
    its last updateLocation, ``outside_at``/``outside_count`` the last
    request about it from outside the home network and a count of them
    decaying with a one-hour time constant, ``last_at`` its last message,
    ``sai_gt``/``sai_at`` the last VLR that asked for its vectors; the
    ``flagged_*`` slots are the engine's: its last alert or drop."""

    __slots__ = ("vlr", "vlr_gt", "seen_at", "ul_at", "outside_at", "outside_count",
                 "last_at", "sai_gt", "sai_at", "flagged_at", "flagged_family", "flagged_gt",
                 "flagged_rule", "touched")

    def __init__(self, now):
        self.vlr = self.vlr_gt = None
        self.seen_at = self.ul_at = self.outside_at = self.sai_at = None
        self.outside_count = 0.0
        self.last_at = None
        self.sai_gt = None
        self.flagged_at = self.flagged_family = self.flagged_gt = self.flagged_rule = None
        self.touched = now


class GtState:
    """A calling GT's history: first and last message, messages, dialogues it
    opened and how they ended, its SMS routing queries and deliveries,
    request times per operation (``ops``; ``unordered`` the operations
    whose times did not come in order), and the engine's last flag."""

    __slots__ = ("first_at", "last_at", "seen", "dialogues", "answered", "failed", "sri_sm",
                 "mt_sm", "ops", "unordered", "flagged_at", "flagged_family", "flagged_rule",
                 "touched")

    def __init__(self, now):
        self.first_at = self.last_at = self.touched = now
        self.seen = self.dialogues = self.answered = self.failed = 0
        self.sri_sm = self.mt_sm = 0
        self.ops = {}
        self.unordered = set()    # operations whose request times came out of order
        self.flagged_at = self.flagged_family = self.flagged_rule = None

    def op_times(self, op):
        times = self.ops.get(op)
        if times is None:
            times = self.ops[op] = deque(maxlen=RATE_HISTORY)
        return times


class Dialogue:
    """An open TCAP dialogue: its request's operation, subscriber, opening
    message (frame, chunk), initiator GT and the verdict it got."""

    __slots__ = ("op", "subscriber", "frame", "chunk", "opened_at", "initiator", "responder",
                 "verdict")

    def __init__(self, op, subscriber, frame, chunk, opened_at, initiator, responder):
        self.op, self.subscriber, self.frame, self.chunk = op, subscriber, frame, chunk
        self.opened_at, self.initiator, self.responder = opened_at, initiator, responder
        self.verdict = None


class StateTables:
    """The tables, their limits, and the sweep (every ``limits.sweep_every``
    messages) that keeps them bounded."""

    def __init__(self, limits=None):
        self.limits = limits or Limits()
        self.subscribers = OrderedDict()
        self.gts = OrderedDict()
        self.dialogues = OrderedDict()
        self.msisdns = OrderedDict()    # MSISDN -> IMSI, learnt from messages with both
        self._countdown = self.limits.sweep_every
        #: where a merge's flags go: None folds them at once; the batch
        #: engine passes a callable that queues (old, new) among its
        #: pending messages, so they are folded when deciding reaches it
        self.defer_flags = None

    def subscriber(self, key, now):
        subs = self.subscribers
        state = subs.get(key)
        if state is None:
            state = subs[key] = SubscriberState(now)
        else:
            subs.move_to_end(key)
            state.touched = now
        return state

    def gt(self, gt, now):
        gts = self.gts
        state = gts.get(gt)
        if state is None:
            state = gts[gt] = GtState(now)
        else:
            gts.move_to_end(gt)
            state.touched = now
        return state

    def learn_msisdn(self, msisdn, imsi):
        table = self.msisdns
        if table.get(msisdn) != imsi:
            table[msisdn] = imsi
        table.move_to_end(msisdn)

    def merge_subscriber(self, old_key, new_key, now):
        """Fold the state kept under ``old_key`` into ``new_key``'s: the
        later location evidence and the later flag win."""
        old = self.subscribers.pop(old_key, None)
        if old is None:
            return
        new = self.subscriber(new_key, now)
        if old.seen_at is not None and (new.seen_at is None or old.seen_at > new.seen_at):
            new.vlr, new.vlr_gt, new.seen_at = old.vlr, old.vlr_gt, old.seen_at
        if self.defer_flags is not None:
            self.defer_flags(old, new)
        else:
            fold_flags(old, new)
        for slot in ("ul_at", "outside_at", "last_at", "sai_at"):
            value = getattr(old, slot)
            if value is not None and (getattr(new, slot) is None or value > getattr(new, slot)):
                setattr(new, slot, value)
                if slot == "sai_at":
                    new.sai_gt = old.sai_gt
        new.outside_count = max(new.outside_count, old.outside_count)

    def sweep_due(self):
        """True if the next :meth:`tick` sweeps."""
        return self._countdown <= 1

    def tick(self, now):
        """Count a message; every SWEEP_EVERY messages, sweep."""
        self._countdown -= 1
        if self._countdown <= 0:
            self._countdown = self.limits.sweep_every
            self.sweep(now)

    def sweep(self, now):
        limits = self.limits
        _expire(self.subscribers, now - limits.subscriber_ttl, limits.subscribers)
        _expire(self.gts, now - limits.gt_ttl, limits.gts)
        dialogues = self.dialogues
        cutoff = now - limits.dialogue_ttl
        while dialogues:
            key, dialogue = next(iter(dialogues.items()))
            if dialogue.opened_at >= cutoff and len(dialogues) <= limits.dialogues:
                break
            del dialogues[key]
        while len(self.msisdns) > limits.msisdns:
            self.msisdns.popitem(last=False)

    def sizes(self):
        return {"subscribers": len(self.subscribers), "gts": len(self.gts),
                "dialogues": len(self.dialogues), "msisdns": len(self.msisdns)}


def fold_flags(old, new):
    """The engine's flags of a merged subscriber state: the later wins."""
    if old.flagged_at is not None and (new.flagged_at is None
                                       or old.flagged_at > new.flagged_at):
        new.flagged_at, new.flagged_family = old.flagged_at, old.flagged_family
        new.flagged_gt, new.flagged_rule = old.flagged_gt, old.flagged_rule


def _expire(table, cutoff, limit):
    while table:
        key, state = next(iter(table.items()))
        if state.touched >= cutoff and len(table) <= limit:
            break
        del table[key]
