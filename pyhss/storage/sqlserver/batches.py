"""Group commit for the SQL store's hot paths: the requests waiting when a
pool thread is free go to it together, as one job.

A request (an IMSI and its arguments) joins a queue; once per reactor turn,
and whenever a batch ends, the queued requests form a batch handed to one
thread: ``job(conn, entries)`` returns one ``(ok, value or exception)`` per
entry, in order, fanned out to each request's Deferred on the reactor.

Per IMSI, requests stay in call order: an IMSI is in at most one batch at a
time (a second request for it waits for a later batch).  A batch job that
fails fails each of its requests with its error.
"""

import collections

from twisted.internet import defer
from twisted.python.failure import Failure


class _Entry:
    __slots__ = ("imsi", "args", "deferred")

    def __init__(self, imsi, args):
        self.imsi = imsi
        self.args = args
        self.deferred = defer.Deferred()


class KeyedBatcher:
    """Queues requests and runs them in batches through ``submit(job, entries)``.

    @param limit: batches running at once (the pool's threads).
    @param largest: requests in one batch at most.
    """

    def __init__(self, reactor, submit, job, limit, largest=200):
        self._reactor = reactor
        self._submit = submit
        self._job = job
        self._limit = max(1, limit)
        self._largest = largest
        self._queue = collections.deque()
        self._busy = set()          # IMSIs in a running batch
        self._running = 0
        self._flush_call = None
        self.batches = 0            # batches run (tests, benchmarks)
        self.largest_seen = 0

    def add(self, imsi, *args):
        """A Deferred of this request's outcome."""
        entry = _Entry(imsi, args)
        self._queue.append(entry)
        if self._flush_call is None:
            self._flush_call = self._reactor.callLater(0, self._flush)
        return entry.deferred

    def _flush(self):
        self._flush_call = None
        while self._queue and self._running < self._limit:
            batch = self._take()
            if not batch:
                return
            self._run(batch)

    def _take(self):
        """The next batch: queued requests in order, one per IMSI, none for
        an IMSI of a running batch; the others stay queued in order."""
        batch, taken, held = [], set(), collections.deque()
        while self._queue and len(batch) < self._largest:
            entry = self._queue.popleft()
            if entry.imsi in taken or entry.imsi in self._busy:
                held.append(entry)
            else:
                taken.add(entry.imsi)
                batch.append(entry)
        held.extend(self._queue)
        self._queue = held
        return batch

    def _run(self, batch):
        self._running += 1
        self.batches += 1
        self.largest_seen = max(self.largest_seen, len(batch))
        self._busy.update(entry.imsi for entry in batch)
        self._submit(self._job, batch).addBoth(self._ended, batch)

    def _ended(self, result, batch):
        self._running -= 1
        self._busy.difference_update(entry.imsi for entry in batch)
        for index, entry in enumerate(batch):
            if isinstance(result, Failure):
                entry.deferred.errback(result)
            else:
                ok, value = result[index]
                if ok:
                    entry.deferred.callback(value)
                else:
                    entry.deferred.errback(value)
        self._flush()
        return None

    def fail_queued(self, error):
        """Fail what waits (the store closes)."""
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self._flush_call = None
        queue, self._queue = self._queue, collections.deque()
        for entry in queue:
            entry.deferred.errback(error)
