"""When each message is sent: the replay's schedule, sans-IO.

A :class:`Timeline` holds each message's instant as an offset from the
start of the replay, computed once from the capture's timestamps
(``--speed``, ``--max-gap``, ``--loop``, ``--max-rate``).  The send
instants are absolute (start + offset), never "previous send + gap", so
the lateness of one wake-up does not move the messages after it: no
drift, however long the replay.  A message whose instant has passed when
its sender wakes is sent at once and counted late.

:class:`Pacer` wakes many senders from one clock (the reactor, or a
``task.Clock`` in tests) with a single pending timer for the earliest of
them.  :class:`SendErrors` keeps each message's send-time error (actual
minus scheduled instant) for the percentiles of the report.
"""

import heapq
import itertools
import math
from array import array

from .timerfd import precise_waker

#: A message sent later than this after its instant is counted late.
DEFAULT_LATE_AFTER = 0.010


class Timeline:
    """Offsets (seconds from the start) of ``count`` sends of messages
    ``index(k)``: the capture's messages, repeated ``loops`` times."""

    def __init__(self, offsets, messages):
        self.offsets = offsets
        self.messages = messages

    @property
    def count(self):
        return len(self.offsets)

    def index(self, k):
        return k % self.messages

    @property
    def duration(self):
        return self.offsets[-1] if self.offsets else 0.0

    @classmethod
    def from_stamps(cls, stamps, speed=1.0, max_gap=None, loops=1, max_rate=None):
        """The timeline of messages captured at ``stamps`` (seconds, in
        order), ``loops`` times back to back (each repetition one average
        gap after the previous one's last message), divided by ``speed``,
        with the gaps of the capture capped at ``max_gap`` seconds and at
        most ``max_rate`` messages per second."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        if loops < 1:
            raise ValueError("loops must be at least 1")
        n = len(stamps)
        base = array("d")
        if n:
            first = stamps[0]
            if max_gap is None:
                # no rounding piles up: each offset from the first stamp
                base.extend(max(0.0, s - first) for s in stamps)
            else:
                total = 0.0
                previous = first
                for s in stamps:
                    total += min(max(0.0, s - previous), max_gap)
                    previous = s
                    base.append(total)
        period = base[-1] + base[-1] / (n - 1) if n > 1 else 0.0
        offsets = array("d")
        for loop in range(loops):
            shift = loop * period
            offsets.extend((shift + o) / speed for o in base)
        if max_rate is not None and offsets:
            if max_rate <= 0:
                raise ValueError("max rate must be positive")
            spacing = 1.0 / max_rate
            # each send at least one spacing after the one before, computed
            # once here: the instants stay absolute, so no drift
            for k in range(1, len(offsets)):
                earliest = offsets[k - 1] + spacing
                if offsets[k] < earliest:
                    offsets[k] = earliest
        return cls(offsets, n)


class Pacer:
    """Wakes senders at their instants with one timer on ``clock``.

    A sender has ``fire(now)``: send what is due, return the instant of its
    next send (absolute, on ``clock``) or None when it has nothing left.
    ``add(sender, when)`` puts it in; the pacer calls ``fire`` at the first
    wake-up at or after ``when``.  On a real reactor the timer is a timerfd
    (:mod:`.timerfd`: microseconds, where ``callLater`` wakes up to 1 ms
    late); on a ``task.Clock`` it is ``callLater``.  :meth:`close` releases
    it.
    """

    def __init__(self, clock, precise=True):
        self.clock = clock
        self._heap = []
        self._order = itertools.count()
        self._call = None
        self._due = None
        self._waker = precise_waker(clock, self._wake) if precise else None

    def add(self, sender, when):
        heapq.heappush(self._heap, (when, next(self._order), sender))
        self._arm()

    def remove(self, sender):
        self._heap = [entry for entry in self._heap if entry[2] is not sender]
        heapq.heapify(self._heap)
        self._arm()

    def stop(self):
        self._heap = []
        self._arm()

    def close(self):
        """Stop, and give the timer back to the reactor."""
        self.stop()
        if self._waker is not None:
            self._waker.close()
            self._waker = None

    @property
    def waiting(self):
        return len(self._heap)

    def _arm(self):
        due = self._heap[0][0] if self._heap else None
        if due == self._due:
            return
        self._due = due
        if self._waker is not None:
            self._waker.arm(due)
            return
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        if due is not None:
            self._call = self.clock.callLater(max(0.0, due - self.clock.seconds()), self._wake)

    def _wake(self):
        self._call = None
        self._due = None
        heap = self._heap
        now = self.clock.seconds()
        if heap and heap[0][0] > now:
            # woken before the instant (a timer re-armed meanwhile): wait on
            self._arm()
            return
        while heap and heap[0][0] <= now:
            _when, _order, sender = heapq.heappop(heap)
            following = sender.fire(now)
            if following is not None:
                heapq.heappush(heap, (following, next(self._order), sender))
        self._arm()


class SendErrors:
    """Send-time errors (seconds, actual minus scheduled) of one sender or
    of several merged, and how many were late."""

    def __init__(self, late_after=DEFAULT_LATE_AFTER):
        self.late_after = late_after
        self.values = array("d")
        self.late = 0

    def add(self, error):
        self.values.append(error)
        if error > self.late_after:
            self.late += 1

    def merge(self, other):
        self.values.extend(other.values)
        self.late += other.late

    @property
    def count(self):
        return len(self.values)

    def summary(self):
        """``{"p50", "p99", "max"}`` in milliseconds (None when empty) and
        ``late``."""
        ordered = sorted(self.values)
        return {
            "p50_ms": _ms(percentile(ordered, 50)),
            "p99_ms": _ms(percentile(ordered, 99)),
            "max_ms": _ms(ordered[-1] if ordered else None),
            "late": self.late,
        }


def percentile(ordered, p):
    """Nearest-rank percentile ``p`` of an ascending sequence, or None."""
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def _ms(value):
    return None if value is None else round(value * 1000.0, 3)
