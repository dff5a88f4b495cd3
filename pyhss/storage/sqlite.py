"""Embedded SQLite store.

One connection, owned by one dedicated worker thread that takes jobs from
a queue, so the reactor never waits on disk or on another process's lock.
The worker drains every queued job per wake-up and hands all their
results back to the reactor with a single ``callFromThread``, which keeps
the per-call cost low under load (no thread creation, no per-job wake-up).

Durability and concurrency: WAL journal, ``synchronous=NORMAL`` (a crash
of the machine may lose the last transactions, never corrupt the file);
every write is one ``BEGIN IMMEDIATE`` transaction, so a second process
(``pyhss-admin`` next to a running server) waits up to ``busy_timeout``
for the write lock instead of interleaving.

Checkpoints run on a thread of their own (L{pyhss.storage.checkpoints}):
under AIR load the automatic checkpoint inside a writer's COMMIT was the
p99 latency (55 ms against a p50 of 18 ms; 23 ms without it).
``reserve_sqns`` reads and
writes the SQN inside one such transaction: no two callers, in this
process or another, ever see the same current value.
"""

import os
import queue
import sqlite3
import threading
import time

from twisted.internet import defer
from twisted.python.failure import Failure
from zope.interface import implementer

from pyhss.storage.checkpoints import Checkpointer
from pyhss.storage.errors import DuplicateError, InUseError, NotFoundError, StoreError, ValidationError
from pyhss.storage.interface import IStore
from pyhss.storage.records import ApnProfile, ServingNode, Subscriber, allocated_sqn, changed, normalise_apn
from pyhss.storage.sqlite_rows import (
    INSERT_APN, INSERT_SUBSCRIBER, INSERT_SUBSCRIBER_IF_MISSING, REPLACE_NODE, REPLACE_SUBSCRIBER, SELECT_APN,
    SELECT_APN_BY_NAME, SELECT_NODE, SELECT_SUBSCRIBER, SUBSCRIBER_COLUMNS, apn_from_row, encode_apn,
    encode_node, encode_subscriber, node_from_row, subscriber_from_row,
)

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS subscriber (
    imsi TEXT PRIMARY KEY NOT NULL,
    k BLOB NOT NULL,
    opc BLOB,
    op BLOB,
    amf BLOB NOT NULL,
    sqn INTEGER NOT NULL,
    msisdn TEXT,
    apns TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    roaming_allowed INTEGER NOT NULL,
    ue_ambr_ul INTEGER,
    ue_ambr_dl INTEGER,
    network_access_mode INTEGER NOT NULL,
    periodic_rau_tau_timer INTEGER,
    access_restriction_data INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS subscriber_by_msisdn ON subscriber (msisdn);
CREATE TABLE IF NOT EXISTS apn (
    name TEXT PRIMARY KEY NOT NULL,
    qci INTEGER NOT NULL,
    arp_priority INTEGER NOT NULL,
    arp_preemption_capability INTEGER NOT NULL,
    arp_preemption_vulnerability INTEGER NOT NULL,
    ambr_ul INTEGER,
    ambr_dl INTEGER,
    pdn_type TEXT NOT NULL,
    context_id INTEGER NOT NULL UNIQUE
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS serving_node (
    imsi TEXT PRIMARY KEY NOT NULL,
    mme_host TEXT NOT NULL,
    mme_realm TEXT NOT NULL,
    peer TEXT,
    updated_at REAL NOT NULL,
    purged INTEGER NOT NULL
) WITHOUT ROWID;
"""

_STOP = object()


def _set_wal(conn, busy_timeout):
    """PRAGMA journal_mode=WAL, retried for up to ``busy_timeout`` seconds.

    Switching a new file to WAL needs an exclusive lock, and SQLite answers
    "database is locked" at once, without the busy handler, while another
    connection (pyhss-admin next to a server that is starting) holds any
    lock on it.  Runs on the worker thread, never the reactor's.
    """
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


@implementer(IStore)
class SqliteStore:
    """The IStore on one SQLite file (or ``:memory:``)."""

    def __init__(self, path, reactor=None, busy_timeout=5.0, checkpoint_interval=1.0):
        if reactor is None:
            from twisted.internet import reactor
        self.path = path
        self._reactor = reactor
        self._queue = queue.SimpleQueue()   # lists of jobs
        self._outbox = []                   # jobs of this reactor iteration
        self._conn = None
        self._open_failure = None
        self._closed = None
        self._checkpoint_interval = checkpoint_interval
        self._checkpointer = None
        self._thread = threading.Thread(target=self._work, name=f"pyhss-sqlite {path}", daemon=True)
        self.opened = self._submit(self._open, path, busy_timeout)
        self.opened.addCallback(lambda _: self)
        # twistd builds the service, then forks to daemonise, then runs the
        # reactor: a thread started before the fork would not exist in the
        # daemon.  Jobs queue up until the reactor runs.
        if getattr(reactor, "running", True):
            self._thread.start()
        else:
            reactor.callWhenRunning(self._thread.start)

    # --- worker thread ----------------------------------------------------------------
    def _submit(self, function, *args, write=False):
        if self._closed is not None:
            return defer.fail(StoreError("store is closed"))
        d = defer.Deferred()
        self._enqueue((write, function, args, d))
        return d

    def _enqueue(self, job):
        # Jobs submitted during one reactor iteration go to the worker
        # together, at the end of it: one wake-up and one GIL hand-over
        # per batch instead of per job (under load, handing each job over
        # alone cost more than running it).
        self._outbox.append(job)
        if not getattr(self._reactor, "running", True):
            # Before the reactor runs (twistd start-up) or once it stopped,
            # no callLater would fire: hand over now, after what is waiting.
            self._flush()
        elif len(self._outbox) == 1:
            self._reactor.callLater(0, self._flush)

    def _flush(self):
        outbox, self._outbox = self._outbox, []
        if outbox:
            self._queue.put(outbox)

    def _work(self):
        jobs = self._queue
        while True:
            batch = jobs.get()
            while True:
                try:
                    batch.extend(jobs.get_nowait())
                except queue.Empty:
                    break
            results = []
            stop = None
            writes = []
            for job in batch:
                if job[0] is True or (writes and job[0] is False):
                    # A read queued after a write runs in the write's
                    # transaction: it sees the write, and the group still
                    # commits once (ULR interleaves its serving-node write
                    # with APN reads: one COMMIT per ULR otherwise).
                    writes.append(job)
                    continue
                # A control job sees every write queued before it.
                self._commit_writes(writes, results)
                writes = []
                if job[0] is _STOP:
                    stop = job[3]
                    continue
                _, function, args, d = job
                results.append(self._run(d, function, args))
            self._commit_writes(writes, results)
            if stop is not None:
                if self._checkpointer is not None:
                    self._checkpointer.stop()
                    self._checkpointer = None
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
                results.append((stop, None, None))
            self._reactor.callFromThread(self._deliver, results)
            if stop is not None:
                return

    @staticmethod
    def _run(d, function, args):
        try:
            return d, function(*args), None
        except sqlite3.Error as e:
            return d, None, Failure(StoreError(f"sqlite: {e}"))
        except BaseException:
            return d, None, Failure()

    def _commit_writes(self, writes, results):
        """Run queued write jobs in one transaction, one savepoint each.

        Group commit: one BEGIN/COMMIT for everything that queued up while
        the worker was busy.  A job that fails rolls back to its own
        savepoint only; results are handed out after the COMMIT, and if
        the COMMIT itself fails every job in the group fails.  Read jobs
        queued among the writes (the first job is a write) run in the
        transaction, without a savepoint.
        """
        if not writes:
            return
        if self._checkpointer is not None:
            self._checkpointer.written()
        if len(writes) == 1:
            _, function, args, d = writes[0]
            results.append(self._run(d, self._transaction, (function,) + args))
            return
        outcomes = []
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            for write, function, args, d in writes:
                if write is False:
                    outcomes.append(self._run(d, function, args))
                    if not conn.in_transaction:
                        raise StoreError("the transaction was rolled back under a read")
                    continue
                if getattr(function, "single_write", False):
                    # Its one write statement comes last: when it fails,
                    # nothing of it is left to undo (SQLite undoes a failed
                    # statement itself), so no savepoint (two statements).
                    outcome = self._run(d, function, (conn,) + args)
                    if not conn.in_transaction:
                        raise StoreError("the transaction was rolled back under a write")
                    outcomes.append(outcome)
                    continue
                conn.execute("SAVEPOINT job")
                outcome = self._run(d, function, (conn,) + args)
                if not conn.in_transaction:
                    raise StoreError("the transaction was rolled back under a write")
                if outcome[2] is not None:
                    conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                outcomes.append(outcome)
            conn.execute("COMMIT")
        except BaseException as e:
            if self._conn is not None and self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            error = StoreError(f"sqlite: {e}") if isinstance(e, sqlite3.Error) else e
            results.extend((d, None, Failure(error)) for _, _, _, d in writes)
            return
        results.extend(outcomes)

    @staticmethod
    def _deliver(results):
        for d, value, failure in results:
            if failure is None:
                d.callback(value)
            else:
                d.errback(failure)

    def _connection(self):
        if self._conn is None:
            raise StoreError(f"SQLite store {self.path} did not open: {self._open_failure}")
        return self._conn

    def _open(self, path, busy_timeout):
        try:
            if path != ":memory:":
                directory = os.path.dirname(os.path.abspath(path))
                os.makedirs(directory, exist_ok=True)
            conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, cached_statements=64)
            _set_wal(conn, busy_timeout)
            conn.execute("PRAGMA synchronous=NORMAL")
            if path != ":memory:":
                conn.execute("PRAGMA wal_autocheckpoint=0")   # the checkpoint thread's job
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Statement by statement: executescript() would COMMIT first.
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
                if row[0] is None:
                    conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
                elif row[0] > SCHEMA_VERSION:
                    raise StoreError(f"database schema version {row[0]} is newer than this pyhss "
                                     f"understands ({SCHEMA_VERSION})")
                conn.execute("COMMIT")
            except BaseException:
                conn.close()
                raise
        except (OSError, sqlite3.Error, StoreError) as e:
            self._open_failure = e
            raise StoreError(f"cannot open SQLite store {path}: {e}") from None
        self._conn = conn
        if path != ":memory:":
            try:
                self._checkpointer = Checkpointer(path, busy_timeout, self._checkpoint_interval)
            except (OSError, RuntimeError, sqlite3.Error):
                conn.execute("PRAGMA wal_autocheckpoint=1000")   # SQLite's default, then
        return None

    def _transaction(self, function, *args):
        """Run ``function(conn, *args)`` in one write transaction."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = function(conn, *args)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def _read(self, sql, args, convert):
        return convert(self._connection().execute(sql, args))

    def _write(self, function, *args):
        """Run ``function(conn, *args)`` in a write transaction on the worker."""
        return self._submit(function, *args, write=True)

    # --- subscribers ------------------------------------------------------------------
    @staticmethod
    def _check_apns(conn, subscribers):
        known = None
        for subscriber in subscribers:
            for name in subscriber.apns:
                if known is None:
                    known = {row[0] for row in conn.execute("SELECT name FROM apn")}
                if name not in known:
                    raise ValidationError(f"unknown APN {name!r} for IMSI {subscriber.imsi}")

    def add_subscriber(self, subscriber):
        if not isinstance(subscriber, Subscriber):
            return defer.fail(ValidationError(f"expected a Subscriber, got {type(subscriber).__name__}"))
        return self._write(self._add_subscriber, subscriber)

    def _add_subscriber(self, conn, subscriber):
        self._check_apns(conn, [subscriber])
        try:
            conn.execute(INSERT_SUBSCRIBER, encode_subscriber(subscriber))
        except sqlite3.IntegrityError:
            raise DuplicateError(f"subscriber {subscriber.imsi} already exists") from None

    def add_subscribers(self, subscribers, skip_existing=False):
        batch = list(subscribers)
        for subscriber in batch:
            if not isinstance(subscriber, Subscriber):
                return defer.fail(ValidationError(f"expected a Subscriber, got {type(subscriber).__name__}"))
        return self._write(self._add_subscribers, batch, skip_existing)

    def _add_subscribers(self, conn, batch, skip_existing):
        self._check_apns(conn, batch)
        rows = [encode_subscriber(subscriber) for subscriber in batch]
        before = conn.total_changes
        if skip_existing:
            conn.executemany(INSERT_SUBSCRIBER_IF_MISSING, rows)
            return conn.total_changes - before
        conn.execute("SAVEPOINT bulk")
        try:
            conn.executemany(INSERT_SUBSCRIBER, rows)
        except sqlite3.IntegrityError:
            # Undo this batch's rows first so only the stored ones count as duplicates.
            conn.execute("ROLLBACK TO bulk")
            conn.execute("RELEASE bulk")
            raise DuplicateError(f"subscriber {self._first_duplicate(conn, batch)} already exists") from None
        conn.execute("RELEASE bulk")
        return conn.total_changes - before

    @staticmethod
    def _first_duplicate(conn, batch):
        seen = set()
        for subscriber in batch:
            if subscriber.imsi in seen:
                return subscriber.imsi
            seen.add(subscriber.imsi)
        for subscriber in batch:
            if conn.execute("SELECT 1 FROM subscriber WHERE imsi = ?", (subscriber.imsi,)).fetchone():
                return subscriber.imsi
        return "(unknown)"

    def get_subscriber(self, imsi):
        return self._submit(self._read, SELECT_SUBSCRIBER, (imsi,), lambda c: subscriber_from_row(c.fetchone()))

    def list_subscribers(self, offset=0, limit=None):
        sql = f"SELECT {SUBSCRIBER_COLUMNS} FROM subscriber ORDER BY imsi LIMIT ? OFFSET ?"
        args = (-1 if limit is None else limit, offset)
        return self._submit(self._read, sql, args, lambda c: [subscriber_from_row(row) for row in c])

    def count_subscribers(self):
        return self._submit(self._read, "SELECT count(*) FROM subscriber", (), lambda c: c.fetchone()[0])

    def update_subscriber(self, imsi, /, **changes):
        return self._write(self._update_subscriber, imsi, changes)

    def _update_subscriber(self, conn, imsi, changes):
        current = subscriber_from_row(conn.execute(SELECT_SUBSCRIBER, (imsi,)).fetchone())
        if current is None:
            raise NotFoundError(f"no subscriber {imsi}")
        updated = changed(current, changes)
        self._check_apns(conn, [updated])
        conn.execute(REPLACE_SUBSCRIBER, encode_subscriber(updated))
        return updated

    def delete_subscriber(self, imsi):
        return self._write(self._delete_subscriber, imsi)

    def _delete_subscriber(self, conn, imsi):
        if conn.execute("DELETE FROM subscriber WHERE imsi = ?", (imsi,)).rowcount == 0:
            raise NotFoundError(f"no subscriber {imsi}")
        conn.execute("DELETE FROM serving_node WHERE imsi = ?", (imsi,))

    def reserve_sqns(self, imsi, allocate):
        return self._write(self._reserve_sqns, imsi, allocate)

    def _reserve_sqns(self, conn, imsi, allocate):
        row = conn.execute("SELECT sqn FROM subscriber WHERE imsi = ?", (imsi,)).fetchone()
        if row is None:
            raise NotFoundError(f"no subscriber {imsi}")
        new_sqn, result = allocated_sqn(allocate(row[0]))
        conn.execute("UPDATE subscriber SET sqn = ? WHERE imsi = ?", (new_sqn, imsi))
        return result

    _reserve_sqns.single_write = True

    def reserve_sqns_for(self, imsi, plan):
        return self._write(self._reserve_sqns_for, imsi, plan)

    @staticmethod
    def _reserve_sqns_for(conn, imsi, plan):
        current = subscriber_from_row(conn.execute(SELECT_SUBSCRIBER, (imsi,)).fetchone())
        allocate = plan(current)
        if allocate is None:
            return current, None
        new_sqn, result = allocated_sqn(allocate(current.sqn))
        conn.execute("UPDATE subscriber SET sqn = ? WHERE imsi = ?", (new_sqn, imsi))
        return current, result

    _reserve_sqns_for.__func__.single_write = True

    # --- APN profiles -----------------------------------------------------------------
    def add_apn(self, profile):
        if not isinstance(profile, ApnProfile):
            return defer.fail(ValidationError(f"expected an ApnProfile, got {type(profile).__name__}"))
        return self._write(self._add_apn, profile)

    def _add_apn(self, conn, profile):
        if conn.execute("SELECT 1 FROM apn WHERE name = ?", (profile.name,)).fetchone():
            raise DuplicateError(f"APN {profile.name!r} already exists")
        used = [row[0] for row in conn.execute("SELECT context_id FROM apn ORDER BY context_id")]
        if profile.context_id is None:
            context_id = 1
            for value in used:
                if value != context_id:
                    break
                context_id += 1
            profile = changed(profile, {"context_id": context_id})
        elif profile.context_id in used:
            raise DuplicateError(f"context id {profile.context_id} is used by another APN")
        conn.execute(INSERT_APN, encode_apn(profile))
        return profile

    def get_apn(self, name):
        try:
            key = normalise_apn(name)
        except ValidationError:
            return defer.succeed(None)
        return self._submit(self._read, SELECT_APN_BY_NAME, (key,), lambda c: apn_from_row(c.fetchone()))

    def list_apns(self):
        return self._submit(self._read, SELECT_APN + " ORDER BY name", (), lambda c: [apn_from_row(row) for row in c])

    def delete_apn(self, name):
        try:
            key = normalise_apn(name)
        except ValidationError as e:
            return defer.fail(e)
        return self._write(self._delete_apn, key)

    def _delete_apn(self, conn, key):
        if not conn.execute("SELECT 1 FROM apn WHERE name = ?", (key,)).fetchone():
            raise NotFoundError(f"no APN {key!r}")
        # Names are labels of [a-z0-9-] or '*', so LIKE has no wildcard to trip on.
        pattern = "% " + key + " %" if key != "*" else "% * %"
        row = conn.execute("SELECT imsi FROM subscriber WHERE ' ' || apns || ' ' LIKE ? LIMIT 1",
                           (pattern,)).fetchone()
        if row is not None:
            raise InUseError(f"APN {key!r} is used by subscriber {row[0]}")
        conn.execute("DELETE FROM apn WHERE name = ?", (key,))

    # --- serving node -----------------------------------------------------------------
    def get_serving_node(self, imsi):
        return self._submit(self._read, SELECT_NODE, (imsi,), lambda c: node_from_row(c.fetchone()))

    def set_serving_node(self, node):
        if not isinstance(node, ServingNode):
            return defer.fail(ValidationError(f"expected a ServingNode, got {type(node).__name__}"))
        return self._write(self._set_serving_node, node)

    def _set_serving_node(self, conn, node):
        if not conn.execute("SELECT 1 FROM subscriber WHERE imsi = ?", (node.imsi,)).fetchone():
            raise NotFoundError(f"no subscriber {node.imsi}")
        conn.execute(REPLACE_NODE, encode_node(node))

    _set_serving_node.single_write = True

    def register_location(self, imsi, plan):
        return self._write(self._register_location, imsi, plan)

    @staticmethod
    def _register_location(conn, imsi, plan):
        subscriber = subscriber_from_row(conn.execute(SELECT_SUBSCRIBER, (imsi,)).fetchone())
        old = node_from_row(conn.execute(SELECT_NODE, (imsi,)).fetchone())
        node = plan(subscriber)
        if node is None:
            return subscriber, old, None
        if not isinstance(node, ServingNode):
            raise ValidationError(f"expected a ServingNode, got {type(node).__name__}")
        if subscriber is None or node.imsi != imsi:
            raise NotFoundError(f"no subscriber {node.imsi}")
        profiles = [apn_from_row(conn.execute(SELECT_APN_BY_NAME, (name,)).fetchone()) for name in subscriber.apns]
        conn.execute(REPLACE_NODE, encode_node(node))
        return subscriber, old, profiles

    _register_location.__func__.single_write = True

    def mark_purged(self, imsi, mme_host):
        return self._write(self._mark_purged, imsi, mme_host)

    @staticmethod
    def _mark_purged(conn, imsi, mme_host):
        cursor = conn.execute("UPDATE serving_node SET purged = 1 WHERE imsi = ? AND lower(mme_host) = lower(?)",
                              (imsi, mme_host))
        return cursor.rowcount > 0

    _mark_purged.__func__.single_write = True

    def close(self):
        """Finish queued jobs, close the connection, stop the thread."""
        if self._closed is None:
            self._closed = defer.Deferred()
            self._enqueue((_STOP, None, (), self._closed))
        waiter = defer.Deferred()

        def fire(value):
            waiter.callback(None)
            return value
        self._closed.addBoth(fire)
        return waiter
