"""AIR's SQN reservations batched: the AIRs waiting when a thread is free
are reserved together in one job, on one round trip or two.

An AIR without resynchronisation (count > 0) joins a queue; once per
reactor turn, and whenever a batch ends, a batch is formed of the queued
requests and handed to one pool thread:

- PostgreSQL: ``UPDATE subscriber SET sqn = <arithmetic> WHERE imsi =
  ANY(%s) AND <required state> RETURNING <the rows>`` in autocommit (one
  statement per request shape; almost always one).  A row not returned
  (unknown IMSI, refused state) takes the general locked path
  (:func:`~pyhss.storage.sqlserver.sqn.reserve_sqns`) in the same job.
- MariaDB/MySQL: ``START TRANSACTION; SELECT <the rows> ... FOR UPDATE``,
  then :func:`pyhss.auc.sqn.advance` on each in Python (the general
  path's own logic, refusals and unknown IMSIs included), then one
  ``UPDATE ... SET sqn = CASE imsi ... END ...; COMMIT``.

Per IMSI, requests stay in order: an IMSI is in at most one batch at a
time (a second request for it waits for the next batch).  Across
processes the row locks (PostgreSQL's UPDATE, MariaDB's FOR UPDATE, rows
taken in key order) keep each reservation atomic.  A failed batch job
fails each of its requests with its error and assigns nothing twice: the
PostgreSQL statement is atomic, the MariaDB transaction is rolled back.
"""

import collections

from twisted.internet import defer
from twisted.python.failure import Failure

from pyhss.auc.sqn import advance
from pyhss.storage.errors import StoreError, ValidationError
from pyhss.storage.sqlserver.sqn import (
    IN_POLICY, _COLUMNS, _SQN, _new_sqn_sql, _old_sqn, _required_sql, reserve_sqns)
from pyhss.storage.sqlserver.subscribers import subscriber_from_row


class _Request:
    __slots__ = ("imsi", "request", "required", "deferred")

    def __init__(self, imsi, request, required):
        self.imsi = imsi
        self.request = request
        self.required = required
        self.deferred = defer.Deferred()


def _general(conn, entry):
    with conn.begin():
        return reserve_sqns(conn, entry.imsi, entry.request, entry.required)


def _outcome(function, *args):
    """(True, value) or (False, the exception) of a per-request step whose
    error belongs to that request alone (a stored SQN out of policy)."""
    try:
        return True, function(*args)
    except StoreError as error:
        return False, error


# --- PostgreSQL: one UPDATE ... RETURNING per request shape ---------------------------
def _postgresql_statement(request, required):
    condition, args = _required_sql(required, "%s")
    return (f"UPDATE subscriber SET sqn = {_new_sqn_sql(request)} WHERE imsi = ANY(%s){IN_POLICY}{condition} "
            f"RETURNING {_COLUMNS}"), args


def _postgresql_checked(row, request):
    row = list(row)
    new_sqn = int(row[_SQN])
    row[_SQN] = _old_sqn(new_sqn, request)
    current = subscriber_from_row(row)
    checked_sqn, sqns = advance(current.sqn, request)
    if checked_sqn != new_sqn:
        raise ValidationError(f"stored SQN of {current.imsi} does not follow the SQN policy")
    return current, sqns


def reserve_batch_postgresql(conn, entries):
    shapes = collections.defaultdict(list)
    for entry in entries:
        request, required = entry.request, entry.required
        shapes[(request.count, request.ind_bits, required.enabled, required.roaming,
                required.restrictions)].append(entry)
    results = {}
    dbapi = conn.connection.dbapi_connection
    dbapi.autocommit = True
    try:
        with dbapi.cursor() as cursor:
            for group in shapes.values():
                sql, args = _postgresql_statement(group[0].request, group[0].required)
                cursor.execute(sql, [[entry.imsi for entry in group]] + args)
                rows = {row[0]: row for row in cursor.fetchall()}
                for entry in group:
                    row = rows.get(entry.imsi)
                    if row is not None:
                        results[entry.imsi] = _outcome(_postgresql_checked, row, entry.request)
    finally:
        dbapi.autocommit = False
    return [results.get(entry.imsi) or _outcome(_general, conn, entry) for entry in entries]


# --- MariaDB/MySQL: SELECT ... FOR UPDATE, advance, one UPDATE with CASE ----------------
def reserve_batch_mariadb(conn, entries):
    imsis = sorted(entry.imsi for entry in entries)
    marks = ", ".join(["%s"] * len(imsis))
    dbapi = conn.connection.dbapi_connection
    cursor = dbapi.cursor()
    try:
        cursor.execute(f"START TRANSACTION; SELECT {_COLUMNS} FROM subscriber WHERE imsi IN ({marks}) "
                       f"FOR UPDATE", imsis)
        cursor.nextset()
        rows = {row[0]: row for row in cursor.fetchall()}
        outcomes, updates = [], []
        for entry in entries:
            ok, current = _outcome(subscriber_from_row, rows.get(entry.imsi))
            if not ok:
                outcomes.append((False, current))
            elif not entry.required.met_by(current):
                outcomes.append((True, (current, None)))
            else:
                ok, advanced = _outcome(advance, current.sqn, entry.request)
                if not ok:
                    outcomes.append((False, advanced))
                    continue
                new_sqn, sqns = advanced
                if new_sqn != current.sqn:
                    updates.append((entry.imsi, new_sqn))
                outcomes.append((True, (current, sqns)))
        if updates:
            cases = " ".join(["WHEN %s THEN %s"] * len(updates))
            marks = ", ".join(["%s"] * len(updates))
            args = [value for pair in updates for value in pair] + [imsi for imsi, _ in updates]
            cursor.execute(f"UPDATE subscriber SET sqn = CASE imsi {cases} END WHERE imsi IN ({marks}); "
                           f"COMMIT", args)
            while cursor.nextset():
                pass
        else:
            dbapi.commit()
    except Exception:
        try:
            dbapi.rollback()
        except Exception:
            pass
        raise
    finally:
        cursor.close()
    return outcomes


BATCH_JOBS = {"postgresql": reserve_batch_postgresql, "mariadb": reserve_batch_mariadb}
for _job in BATCH_JOBS.values():
    _job.own_transaction = True


class SqnBatcher:
    """Queues AIRs' reservations and runs them in batches on ``runner``.

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

    def reserve(self, imsi, request, required):
        entry = _Request(imsi, request, required)
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
