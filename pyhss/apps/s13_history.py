"""The ME identity check history, written in batches off the answers' path.

The S13 handler appends each check (:class:`~pyhss.storage.records_eir.EquipmentCheck`)
to :class:`CheckHistory` and answers at once; the history writes what
gathered to the store in one transaction (one ``record_equipment_checks``,
which also trims the table to ``max_rows`` and ``max_age``) when
``batch_size`` checks are waiting, or ``flush_interval`` seconds after the
first of them, one write at a time.  A write that fails keeps its checks
for the next attempt; at most ``max_pending`` wait in memory, beyond which
the oldest are dropped and counted (a store that stays down must not
take the server's memory with it).  :meth:`CheckHistory.stop` writes what
is left before the store closes.
"""

from twisted.internet import defer
from twisted.logger import Logger

from pyhss.storage.records_eir import HistoryLimit


class CheckHistory:
    """
    @param store: an C{IEquipmentRegister}.
    @param clock: an C{IReactorTime} (the reactor; L{task.Clock} in tests).
    @param log_summary: C{(log) -> LogSummariser} (the node's), so that a
        failing store is one line per cause and interval.
    @param max_age: seconds a check is kept (0: no bound by age).
    """

    log = Logger(namespace="pyhss.s13")

    def __init__(self, store, clock, log_summary, batch_size=1000, flush_interval=1.0, max_rows=0, max_age=0.0,
                 max_pending=100_000):
        self.store = store
        self.clock = clock
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_rows = max_rows
        self.max_age = max_age
        self.max_pending = max_pending
        self.written = 0        # checks the store took
        self.removed = 0        # checks the store dropped to keep its bounds
        self.dropped = 0        # checks dropped here, never written
        self._summary = log_summary(self.log)
        self._pending = []
        self._timer = None      # the delayed call of the next write
        self._writing = None    # the Deferred of the write in flight
        self._in_flight = 0     # the first checks of _pending, being written
        self._stopped = False

    @classmethod
    def from_config(cls, store, clock, log_summary, history):
        """From config's ``s13.history`` section (``enabled`` is the caller's)."""
        return cls(store, clock, log_summary, history.batch_size, history.flush_interval, history.max_rows,
                   history.max_age, history.max_pending)

    @property
    def pending(self):
        """Checks waiting to be written (or being written)."""
        return len(self._pending)

    def append(self, check):
        """Keep ``check`` for the next write (nothing waits for it)."""
        pending = self._pending
        pending.append(check)
        if len(pending) > self.max_pending:
            self._drop(len(pending) - self.max_pending)
        if self._writing is None and not self._stopped:
            if len(pending) >= self.batch_size:
                self._schedule(0)
            elif self._timer is None:
                self._schedule(self.flush_interval)

    def _drop(self, count):
        # The oldest not being written: those are the store's already.
        start = self._in_flight
        del self._pending[start:start + count]
        self.dropped += count
        self._summary.warn(("dropped",), "check history: {count} checks dropped unwritten ({total} so far): more "
                           "than s13.history.max_pending ({limit}) were waiting for the store",
                           count=count, total=self.dropped, limit=self.max_pending)

    def _schedule(self, delay):
        timer = self._timer
        if timer is not None:
            if timer.getTime() <= self.clock.seconds() + delay:
                return
            timer.cancel()
        self._timer = self.clock.callLater(delay, self._write)

    def _write(self):
        self._timer = None
        if self._writing is not None or not self._pending:
            return self._writing
        batch = self._pending[:self.batch_size]
        before = self.clock.seconds() - self.max_age if self.max_age else None
        d = defer.maybeDeferred(self.store.record_equipment_checks, batch, HistoryLimit(self.max_rows, before))
        # Taken out only once written: a failed write leaves them queued.
        self._writing = d
        self._in_flight = len(batch)
        d.addCallbacks(self._written, self._failed, callbackArgs=(len(batch),), errbackArgs=(len(batch),))
        return d

    def _written(self, counts, size):
        self._writing = None
        self._in_flight = 0
        del self._pending[:size]
        added, removed = counts
        self.written += added
        self.removed += removed
        self._next()

    def _failed(self, reason, size):
        self._writing = None
        self._in_flight = 0
        self._summary.failure("check history: {count} checks not written, kept for the next attempt",
                              reason, count=size)
        if not self._stopped and self._pending:
            self._schedule(self.flush_interval)

    def _next(self):
        if self._stopped or not self._pending:
            return
        self._schedule(0 if len(self._pending) >= self.batch_size else self.flush_interval)

    @defer.inlineCallbacks
    def stop(self):
        """Write what is waiting (batch after batch, until done or a write
        fails), then take no more timers.  Fires with the number of checks
        left unwritten."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while True:
            if self._writing is not None:
                yield _quiet(self._writing)
                continue
            if not self._pending:
                break
            before = len(self._pending)
            yield _quiet(self._write())
            if len(self._pending) == before:
                break       # the write failed: the store is gone
        left = len(self._pending)
        if left:
            self.log.warn("check history: {count} checks not written at stop", count=left)
        return left


def _quiet(d):
    """A Deferred firing when ``d`` does, whatever it fires with, leaving
    ``d``'s own result alone."""
    waiter = defer.Deferred()

    def fire(result):
        waiter.callback(None)
        return result
    d.addBoth(fire)
    return waiter
