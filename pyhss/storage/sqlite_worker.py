"""The SQLite store's worker: one thread owning one connection, group commit.

Jobs submitted during one reactor iteration reach the thread together;
the worker drains every queued batch per wake-up, runs the reads, commits
the writes queued together in one transaction (one savepoint each) and
hands all their results back to the reactor with a single
``callFromThread``.  This keeps the per-call cost low under load (no
thread creation, no per-job wake-up, one COMMIT per batch).

Nothing here knows SQL beyond BEGIN/SAVEPOINT/COMMIT: the store
(L{pyhss.storage.sqlite}) gives it functions, and hooks for what happens
around writes (checkpoints, the WAL's size, a full disk).
"""

import queue
import sqlite3
import threading

from twisted.internet import defer
from twisted.python.failure import Failure

from pyhss.storage.errors import StoreError

# Job kinds: True a write, False a read, these two of their own.
STOP = object()
CONTROL = object()    # never in a write group (the open)


def _nothing(*args):
    return None


class SqliteWorker:
    """The thread, its queue and its connection (``conn``, set by a job
    that opens it; None until then).

    A job is ``(kind, function, args, deferred)``: a read runs
    ``function(*args)``, a write ``function(conn, *args)`` inside the
    group's transaction.  A write function whose one write statement comes
    last may say so (``function.single_write = True``): when it fails
    SQLite has undone the statement itself, so it needs no savepoint.

    Hooks, all on the worker thread: ``unavailable()`` returns the error
    for a job that needs the connection while there is none;
    ``before_commit()`` runs before each write transaction; ``after_writes()``
    after the results of a batch with writes went out (this batch's callers
    do not wait for it, the next batch does); ``sqlite_error(error)`` for
    every sqlite3.Error a job raised; ``stopping()`` before the connection
    is closed for good.
    """

    def __init__(self, reactor, name, unavailable, before_commit=_nothing, after_writes=_nothing,
                 sqlite_error=_nothing, stopping=_nothing):
        self.conn = None
        self._reactor = reactor
        self._queue = queue.SimpleQueue()   # lists of jobs
        self._outbox = []                   # jobs of this reactor iteration
        self._unavailable = unavailable
        self._before_commit = before_commit
        self._after_writes = after_writes
        self._sqlite_error = sqlite_error
        self._stopping = stopping
        self.thread = threading.Thread(target=self._work, name=name, daemon=True)
        # twistd builds the service, then forks to daemonise, then runs the
        # reactor: a thread started before the fork would not exist in the
        # daemon.  Jobs queue up until the reactor runs.
        if getattr(reactor, "running", True):
            self.thread.start()
        else:
            reactor.callWhenRunning(self.thread.start)

    def submit(self, kind, function, args):
        """Queue one job; a Deferred of its result."""
        d = defer.Deferred()
        self.enqueue((kind, function, args, d))
        return d

    def enqueue(self, job):
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

    def connection(self):
        conn = self.conn
        if conn is None:
            raise self._unavailable()
        return conn

    # --- on the worker thread ---------------------------------------------------------
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
            wrote = False
            for job in batch:
                if job[0] is True or (writes and job[0] is False):
                    # A read queued after a write runs in the write's
                    # transaction: it sees the write, and the group still
                    # commits once (ULR interleaves its serving-node write
                    # with APN reads: one COMMIT per ULR otherwise).
                    writes.append(job)
                    continue
                # A control job sees every write queued before it.
                if writes:
                    wrote = True
                    self._commit_writes(writes, results)
                    writes = []
                if job[0] is STOP:
                    stop = job[3]
                    continue
                _, function, args, d = job
                results.append(self._run(d, function, args))
            if writes:
                wrote = True
                self._commit_writes(writes, results)
            if stop is not None:
                self._stopping()
                if self.conn is not None:
                    self.conn.close()
                    self.conn = None
                results.append((stop, None, None))
            self._reactor.callFromThread(self._deliver, results)
            if stop is not None:
                return
            if wrote:
                self._after_writes()

    def _run(self, d, function, args):
        try:
            return d, function(*args), None
        except sqlite3.Error as e:
            self._sqlite_error(e)
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
        self._before_commit()
        if len(writes) == 1:
            _, function, args, d = writes[0]
            results.append(self._run(d, self._transaction, (function,) + args))
            return
        outcomes = []
        try:
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            for write, function, args, d in writes:
                if write is False:
                    outcomes.append(self._run(d, function, args))
                    if not conn.in_transaction:
                        raise StoreError("the transaction was rolled back under a read")
                    continue
                if getattr(function, "single_write", False):
                    # Nothing of it is left to undo when it fails: no
                    # savepoint (two statements saved).
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
            if self.conn is not None and self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error):
                self._sqlite_error(e)
            error = StoreError(f"sqlite: {e}") if isinstance(e, sqlite3.Error) else e
            results.extend((d, None, Failure(error)) for _, _, _, d in writes)
            return
        results.extend(outcomes)

    def _transaction(self, function, *args):
        """Run ``function(conn, *args)`` in one write transaction."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = function(conn, *args)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    @staticmethod
    def _deliver(results):
        for d, value, failure in results:
            if failure is None:
                d.callback(value)
            else:
                d.errback(failure)
