"""Running the SQL store's jobs off the reactor: a bounded pool of threads,
each with one connection of its own, one transaction per job.

- **Never blocks the reactor.**  A job is a function ``(conn, *args)``;
  it runs on one of ``pool_size`` threads, inside ``BEGIN ... COMMIT``
  (rolled back when it raises), and its result comes back through a
  Deferred.
- **Answers within the timeout.**  Every job's Deferred fires within
  ``query_timeout`` seconds of the call: with its result, or with
  :class:`StoreUnavailable` (a request answered 5012).  A job that
  expires before a thread picks it up is dropped unrun.
- **Own transactions.**  A job function marked ``own_transaction`` gets
  the connection outside any transaction (one autocommitted statement,
  or one multi-statement round trip of its own: the SQN fast path).
- **One job per key at a time.**  Jobs naming the same key (an IMSI) run
  one after the other, in the order they were made: calls for one
  subscriber are applied in order, as in the embedded store, and a burst
  of AIRs for one IMSI waits here rather than on the database's row lock
  holding every connection of the pool.
- **Outages.**  A lost or refused connection puts the runner in an
  outage: it is logged once, calls fail at once with StoreUnavailable,
  and a probe reconnects with backoff; when one succeeds the end of the
  outage is logged once, with how long it lasted and how many calls were
  refused, and the threads reconnect.
"""

import collections
import threading

from sqlalchemy import exc as sa_exc
from twisted.internet import defer, threads
from twisted.logger import Logger
from twisted.python import threadpool
from twisted.python.failure import Failure

from pyhss.storage.errors import StoreError, StoreUnavailable

# Probes after an outage: the first this many seconds after it, each
# later one twice as late, at most PROBE_MAX apart.
PROBE_FIRST = 0.1
PROBE_MAX = 5.0

log = Logger(namespace="pyhss.storage.sqlserver")

# A job's timeout that is none (bulk loads: each statement still has the
# driver's own query timeout).
UNBOUNDED = object()


class ConnectionLost(StoreUnavailable):
    """The database could not be reached (a job's connection failed)."""


class _Job:
    __slots__ = ("function", "args", "deferred", "key", "timer", "expired", "dispatched", "released")

    def __init__(self, function, args, key):
        self.function = function
        self.args = args
        self.deferred = defer.Deferred()
        self.key = key
        self.timer = None
        self.expired = False
        self.dispatched = False
        self.released = False       # its lane has moved on


class JobRunner:
    """The threads, their connections and the outage state of one store.

    ``connect()`` (on a pool thread) returns a new SQLAlchemy Connection;
    ``describe`` names the database in errors and log lines.
    """

    def __init__(self, reactor, connect, describe, pool_size, timeout):
        self._reactor = reactor
        self._connect = connect
        self.describe = describe
        self.timeout = timeout
        self._pool = threadpool.ThreadPool(minthreads=pool_size, maxthreads=pool_size,
                                           name=f"pyhss-sql {describe}")
        self._local = threading.local()
        self._connections = []          # every thread's, to close at the end
        self._connections_lock = threading.Lock()
        self._generation = 0            # bumped by an outage: threads reconnect
        self._lanes = {}                # key -> deque of jobs waiting behind the running one
        self._in_flight = set()
        self.outage = None              # (since, cause, refused count) while down
        self._probe = None
        self._probe_delay = PROBE_FIRST
        self.outages = 0                # ended outages (tests, benchmarks)
        self.started = False
        if getattr(reactor, "running", True):
            self._start()
        else:
            # twistd forks after building the service: threads started
            # before the fork would not exist in the daemon.
            reactor.callWhenRunning(self._start)

    def _start(self):
        if not self.started:
            self.started = True
            self._pool.start()

    # --- submitting (reactor) -----------------------------------------------------------
    def submit(self, function, args, key=None, timeout=None):
        """A Deferred of ``function(conn, *args)`` run in a transaction,
        within ``timeout`` seconds (None: the runner's; UNBOUNDED: none)."""
        if self.outage is not None:
            since, cause, refused = self.outage
            self.outage = (since, cause, refused + 1)
            return defer.fail(StoreUnavailable(f"{self.describe} is unavailable: {cause}"))
        job = _Job(function, args, key)
        if timeout is not UNBOUNDED:
            job.timer = self._reactor.callLater(timeout or self.timeout, self._expire, job)
        self._in_flight.add(job)
        if key is not None:
            waiting = self._lanes.get(key)
            if waiting is not None:
                waiting.append(job)
                return job.deferred
            self._lanes[key] = collections.deque()
        self._dispatch(job)
        return job.deferred

    def _dispatch(self, job):
        job.dispatched = True
        self._pool.callInThreadWithCallback(self._from_thread, self._execute, job)

    def _from_thread(self, ok, value):
        self._reactor.callFromThread(self._finished, ok, value)

    def _finished(self, ok, value):
        job, result = value if ok else (None, value)
        if job is None:     # _execute itself failed: a bug
            log.failure("SQL job runner failed", value)
            return
        self._settle(job, result)

    def _settle(self, job, result):
        if job.timer is not None and job.timer.active():
            job.timer.cancel()
        self._in_flight.discard(job)
        self._next_in_lane(job)
        if isinstance(result, Failure) and result.check(ConnectionLost):
            self.lost(result.value)
        if job.deferred.called:     # expired: already answered
            return
        if isinstance(result, Failure):
            job.deferred.errback(result)
        else:
            job.deferred.callback(result)

    def _next_in_lane(self, job):
        if job.key is None or job.released:
            return
        job.released = True
        waiting = self._lanes.get(job.key)
        if waiting is None:
            return
        while waiting:
            following = waiting.popleft()
            if not following.expired:
                self._dispatch(following)
                return
        del self._lanes[job.key]

    def _expire(self, job):
        job.timer = None
        job.expired = True
        job.deferred.errback(StoreUnavailable(
            f"{self.describe}: no answer within {self.timeout:g} s (database.server.query_timeout)"))
        if job.dispatched:
            # The lane goes on: a job stuck on a dead connection must not
            # hold the next ones, which get their own chance (and timeout).
            self._next_in_lane(job)
        else:
            self._in_flight.discard(job)    # skipped when its turn comes

    # --- on a pool thread -------------------------------------------------------------
    def _execute(self, job):
        if job.expired:
            return job, None
        try:
            return job, self._transaction(job.function, job.args)
        except BaseException:
            return job, Failure()

    def _connection(self):
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is not None and local.generation != self._generation:
            self._discard(conn)
            conn = None
        if conn is None:
            try:
                conn = self._connect()
            except sa_exc.DBAPIError as e:
                raise ConnectionLost(f"{self.describe}: cannot connect: {_reason(e)}") from None
            local.conn, local.generation = conn, self._generation
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _discard(self, conn):
        self._local.conn = None
        with self._connections_lock:
            if conn in self._connections:
                self._connections.remove(conn)
        try:
            conn.invalidate()
            conn.close()
        except Exception:
            pass

    def _transaction(self, function, args):
        conn = self._connection()
        try:
            if getattr(function, "own_transaction", False):
                return function(conn, *args)
            with conn.begin():
                return function(conn, *args)
        except sa_exc.DBAPIError as e:
            if e.connection_invalidated or conn.invalidated or isinstance(e, sa_exc.InterfaceError):
                self._discard(conn)
                raise ConnectionLost(f"{self.describe}: connection lost: {_reason(e)}") from None
            raise StoreError(f"{self.describe}: {_reason(e)}") from None
        except sa_exc.SQLAlchemyError as e:
            raise StoreError(f"{self.describe}: {e}") from None
        except Exception as e:
            # The driver's own errors (jobs on its cursor, the hot paths).
            if not isinstance(e, conn.dialect.loaded_dbapi.Error):
                raise
            if self._is_disconnect(conn, e):
                self._discard(conn)
                raise ConnectionLost(f"{self.describe}: connection lost: {_reason(e)}") from None
            raise StoreError(f"{self.describe}: {_reason(e)}") from None

    @staticmethod
    def _is_disconnect(conn, error):
        if isinstance(error, conn.dialect.loaded_dbapi.InterfaceError):
            return True
        try:
            return conn.dialect.is_disconnect(error, conn.connection.dbapi_connection, None)
        except Exception:
            return True

    def on_thread(self, function, *args):
        """A Deferred of ``function(*args)`` on a pool thread."""
        d = defer.Deferred()

        def done(ok, value):
            self._reactor.callFromThread(d.callback if ok else d.errback, value)
        self._pool.callInThreadWithCallback(done, function, *args)
        return d

    # --- outages (reactor) --------------------------------------------------------------
    def lost(self, error):
        """A job found the database gone: start an outage (once)."""
        if self.outage is not None or not self.started:
            return
        cause = str(error)
        self.outage = (self._reactor.seconds(), cause, 0)
        self._generation += 1
        log.error("database unavailable: {cause}; requests that need it are answered 5012 while "
                  "reconnecting", cause=cause)
        # Calls queued behind a running one fail now, not at their timeout.
        self._fail_waiting(StoreUnavailable(f"{self.describe} is unavailable: {cause}"))
        self._probe_delay = PROBE_FIRST
        self._schedule_probe()

    def _fail_waiting(self, error):
        for waiting in self._lanes.values():
            while waiting:
                job = waiting.popleft()
                if job.timer is not None and job.timer.active():
                    job.timer.cancel()
                self._in_flight.discard(job)
                if not job.deferred.called:
                    job.deferred.errback(error)

    def _schedule_probe(self):
        self._probe = self._reactor.callLater(self._probe_delay, self._run_probe)
        self._probe_delay = min(PROBE_MAX, self._probe_delay * 2)

    def _run_probe(self):
        self._probe = None
        self.on_thread(self._probe_connection).addCallbacks(self._probe_ok, self._probe_failed)

    def _probe_connection(self):
        # Its own connection, then closed: the threads reconnect on their next job.
        conn = self._connect()
        try:
            conn.exec_driver_sql("SELECT 1")
        finally:
            conn.close()

    def _probe_ok(self, _):
        if self.outage is None:
            return
        since, cause, refused = self.outage
        self.outage = None
        self.outages += 1
        log.info("database available again after {seconds:.1f} s ({refused} requests refused meanwhile)",
                 seconds=self._reactor.seconds() - since, refused=refused)

    def _probe_failed(self, reason):
        if self.outage is not None and self._probe is None and not self._closing:
            self._schedule_probe()

    _closing = False

    # --- closing ------------------------------------------------------------------------
    @defer.inlineCallbacks
    def close(self, last=None):
        """Fail what waits, let running jobs end (within their timeout),
        run ``last()`` on a thread, stop the threads and close their
        connections."""
        self._closing = True
        if self._probe is not None and self._probe.active():
            self._probe.cancel()
        self._probe = None
        self._fail_waiting(StoreError("store is closed"))
        running = [job.deferred for job in self._in_flight if not job.deferred.called]
        if running:
            yield defer.DeferredList(running, consumeErrors=True)
        if self.started:
            if last is not None:
                yield defer.DeferredList([self.on_thread(last)], consumeErrors=True)
            yield threads.deferToThreadPool(self._reactor, self._reactor.getThreadPool(), self._stop_threads)

    def _stop_threads(self):
        self._pool.stop()
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except Exception:
                pass


def _reason(error):
    """The driver's message for a DBAPIError, on one line."""
    original = getattr(error, "orig", None) or error
    text = " ".join(str(original).split())
    return text or type(original).__name__

