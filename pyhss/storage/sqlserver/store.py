"""The IStore on a SQL server (MariaDB/MySQL, PostgreSQL, MSSQL), written
once on SQLAlchemy Core.

The store is its roles, one module each (tables and the jobs run for each
method): :mod:`~pyhss.storage.sqlserver.subscribers`,
:mod:`~pyhss.storage.sqlserver.sqn`, :mod:`~pyhss.storage.sqlserver.serving`.
:mod:`~pyhss.storage.sqlserver.ims`, :mod:`~pyhss.storage.sqlserver.eir`.
A new role is a module like them, a mixin added to
:class:`SqlStore`, its IMSI-keyed tables added to ``dependant_tables``
and a schema version whose step creates its tables
(:mod:`~pyhss.storage.sqlserver.schema`).

Jobs run on the store's own threads (:mod:`~pyhss.storage.sqlserver.jobs`),
never the reactor's.  Opening connects, checks the schema version and
migrates (:mod:`pyhss.storage.schema`); a failed open can be retried
(:meth:`SqlStore.reopen`, as ``twistd pyhss`` does at start-up), a
database newer than this code is refused for good (SchemaTooNew).
"""

from sqlalchemy import exc as sa_exc
from twisted.internet import defer
from twisted.python.failure import Failure
from zope.interface import implementer

from pyhss.storage.errors import StoreError, StoreUnavailable, ValidationError
from pyhss.storage.interface import IStore
from pyhss.storage.schema import SchemaTooNew
from pyhss.storage.sqlserver import schema
from pyhss.storage.sqlserver.dialects import describe, make_engine
from pyhss.storage.sqlserver.eir import EquipmentRole
from pyhss.storage.sqlserver.ims import ImsRole, ims_user_of
from pyhss.storage.sqlserver.jobs import ConnectionLost, JobRunner
from pyhss.storage.sqlserver.serving import ServingRole, serving_node_table
from pyhss.storage.sqlserver.sqn import ONE_ROUND_TRIP, SqnRole
from pyhss.storage.sqlserver.batches import KeyedBatcher
from pyhss.storage.sqlserver.sqn_batch import BATCH_JOBS
from pyhss.storage.sqlserver.subscribers import SubscriberRole, subscriber_apn_table


@implementer(IStore)
class SqlStore(SubscriberRole, SqnRole, ServingRole, ImsRole, EquipmentRole):
    """Every role on one SQL server database.

    @param backend: a key of L{pyhss.storage.sqlserver.dialects.DIALECTS}.
    @param settings: ``database.server`` (host, port, socket, user,
        password or password_file, database, pool_size, connect_timeout,
        query_timeout).
    """

    # Tables whose rows belong to one subscriber (an ``imsi`` column):
    # deleted with it.  A role with such a table adds it here.
    dependant_tables = (serving_node_table, subscriber_apn_table)
    # Records of other roles naming a subscriber, which keep it from being
    # deleted: (user_of(conn, imsi) -> a name or None, what they are).
    subscriber_users = ((ims_user_of, "IMS subscription"),)

    def __init__(self, backend, settings, reactor=None, upto=schema.SCHEMA_VERSION):
        if reactor is None:
            from twisted.internet import reactor
        self.backend = backend
        self.one_round_trip_sqn = backend in ONE_ROUND_TRIP
        self.settings = settings
        self.describe = describe(backend, settings)
        self._reactor = reactor
        self._upto = upto
        self._engine = None
        self._open = False
        self._opening = None
        self._open_failure = None
        self._closed = None
        self._waiting = []          # calls made while the first open runs
        self.applied_versions = []  # schema versions the last open applied
        self.runner = JobRunner(reactor, self._connect, self.describe, settings.pool_size,
                                settings.query_timeout)
        batch_job = BATCH_JOBS.get(backend)
        self.sqn_batcher = None if batch_job is None else KeyedBatcher(
            reactor, lambda job, batch: self._job(job, batch), batch_job, settings.pool_size)
        self.opened = self._open_attempt()

    # --- opening --------------------------------------------------------------------
    def _connect(self):
        if self._engine is None:
            raise StoreUnavailable(f"{self.describe} is not open")
        return self._engine.connect()

    def _open_attempt(self):
        self._opening = []      # Deferreds waiting for this attempt
        self.runner.on_thread(self._open_on_thread).addBoth(self._opened)
        return self._wait_open()

    def _wait_open(self):
        d = defer.Deferred()
        self._opening.append(d)
        return d

    def _open_on_thread(self):
        try:
            if self._engine is None:
                self._engine = make_engine(self.backend, self.settings, self.settings.pool_size)
            conn = self._engine.connect()
            try:
                return schema.prepare(conn, self.describe, self._upto)
            finally:
                conn.close()
        except sa_exc.DBAPIError as e:
            original = getattr(e, "orig", None) or e
            raise StoreError(f"cannot open {self.describe}: {' '.join(str(original).split())}") from None

    def _opened(self, result):
        opening, self._opening = self._opening, None
        waiting, self._waiting = self._waiting, []
        if isinstance(result, Failure):
            error = result.value if result.check(StoreError) else StoreError(
                f"cannot open {self.describe}: {result.getErrorMessage()}")
            self._open_failure = error
            for d, _, _ in waiting:
                d.errback(self._unavailable())
            for d in opening:
                d.errback(error)
            return None
        self._open = True
        self._open_failure = None
        self.applied_versions = result
        for d, args, kwargs in waiting:
            self._job(*args, **kwargs).chainDeferred(d)
        for d in opening:
            d.callback(self)
        return None

    def reopen(self):
        """Open again after a failed open; fires with the store or fails."""
        if self._closed is not None:
            return defer.fail(StoreError("store is closed"))
        if self._open:
            return defer.succeed(self)
        if isinstance(self._open_failure, SchemaTooNew):
            return defer.fail(self._open_failure)
        if self._opening is None:
            return self._open_attempt()
        return self._wait_open()

    def _unavailable(self):
        return StoreUnavailable(f"{self.describe} is not open: {self._open_failure}")

    # --- what the roles call ----------------------------------------------------------
    def _job(self, function, *args, key=None, timeout=None):
        if self._closed is not None:
            return defer.fail(StoreError("store is closed"))
        if not self._open:
            if self._opening is None:
                return defer.fail(self._unavailable())
            d = defer.Deferred()
            self._waiting.append((d, (function,) + args, {"key": key, "timeout": timeout}))
            return d
        return self.runner.submit(function, args, key=key, timeout=timeout)

    def _nothing(self, value):
        if self._closed is not None:
            return defer.fail(StoreError("store is closed"))
        return defer.succeed(value)

    def _fail(self, error):
        return defer.fail(error)

    def _refuse(self, problem):
        return defer.fail(ValidationError(problem))

    @property
    def outage(self):
        """(since, cause, refused calls) while the database is away, else None."""
        return self.runner.outage

    def _dispose(self):
        """On a pool thread: close the connections the engine's pool holds."""
        if self._engine is not None:
            self._engine.dispose()

    @defer.inlineCallbacks
    def close(self):
        """Let running jobs end, stop the threads, close the connections."""
        if self._closed is None:
            self._closed = defer.Deferred()
            if self.sqn_batcher is not None:
                self.sqn_batcher.fail_queued(StoreError("store is closed"))
            if self._opening is not None:
                yield defer.DeferredList([self._wait_open()], consumeErrors=True)
            yield self.runner.close(self._dispose)
            self._closed.callback(None)
        else:
            yield self._closed


__all__ = ["ConnectionLost", "SqlStore"]
