"""The IStore on MongoDB through txmongo: every role (one module each:
:mod:`~pyhss.storage.mongodb.subscribers`, :mod:`~pyhss.storage.mongodb.sqn`,
:mod:`~pyhss.storage.mongodb.serving`), no threads.

Collections: ``subscriber`` (``_id`` the IMSI, APN names as an array),
``apn`` (``_id`` the name), ``serving_node`` (``_id`` the IMSI),
``schema_version``.  Filters and documents come from
:mod:`~pyhss.storage.mongodb.documents`.

SQN: ``find_one_and_update`` whose filter holds the SQN just read (and
the RequiredState), setting the one :func:`pyhss.auc.sqn.advance` computed
and ``$inc``-ing the reservation count: atomic on the document, so of two
callers that read the same SQN only one writes, and the other reads again
(at most ``CAS_ATTEMPTS`` times; calls for one IMSI are also serialised in
this process).  ``advance`` is not one increment (IND steps modulo
2**ind_bits, a resynchronisation resets SEQ), so ``$inc`` alone cannot
reserve.

Without multi-document transactions (a standalone mongod has none), a
bulk add marks what it inserts with a token of its own, deletes every
marked document if any part fails and takes the mark off at the end: all
or nothing unless the server goes away in between (then the marked
documents show what is left to delete).  Every call is answered within
``query_timeout`` (StoreUnavailable otherwise); txmongo reconnects by
itself, and an outage is logged once when it starts and once when it ends.
"""

import urllib.parse

from twisted.internet import defer
from twisted.logger import Logger
from zope.interface import implementer

from pyhss.storage.errors import StoreError, StoreUnavailable
from pyhss.storage.interface import IStore
from pyhss.storage.keys import read_password
from pyhss.storage.mongodb import schema
from pyhss.storage.mongodb.eir import EquipmentRole
from pyhss.storage.mongodb.ims import ImsRole
from pyhss.storage.mongodb.serving import ServingRole
from pyhss.storage.mongodb.sqn import CAS_ATTEMPTS, SqnRole
from pyhss.storage.mongodb.subscribers import SubscriberRole

DEFAULT_PORT = 27017

log = Logger(namespace="pyhss.storage.mongodb")


def mongodb_uri(settings):
    """The connection URI from ``database.server`` (the password quoted)."""
    password = read_password(settings)
    credentials = ""
    if settings.user:
        credentials = urllib.parse.quote(settings.user, safe="")
        if password:
            credentials += ":" + urllib.parse.quote(password, safe="")
        credentials += "@"
    host = settings.host if ":" not in settings.host else f"[{settings.host}]"
    return f"mongodb://{credentials}{host}:{settings.port or DEFAULT_PORT}/{urllib.parse.quote(settings.database)}"


@implementer(IStore)
class MongoStore(SubscriberRole, SqnRole, ServingRole, ImsRole, EquipmentRole):
    """Every role on one MongoDB database (``database.server``)."""

    def __init__(self, settings, reactor=None, connection=None, upto=None):
        if reactor is None:
            from twisted.internet import reactor
        self.settings = settings
        self.describe = f"MongoDB database {settings.database!r} at {settings.host}:{settings.port or DEFAULT_PORT}"
        self._reactor = reactor
        self._connection = connection
        self._db = None
        self._closed = False
        self._upto = upto
        self._lanes = {}
        self.outage = None            # (since, cause, refused) while calls fail
        self.applied_versions = []
        self.opened = self._open()

    # --- life cycle -------------------------------------------------------------------
    @defer.inlineCallbacks
    def _open(self):
        if self.settings.socket:
            raise StoreError("MongoDB is reached over TCP: set database.server.host, not socket")
        try:
            if self._connection is None:
                from txmongo.connection import ConnectionPool
                self._connection = ConnectionPool(mongodb_uri(self.settings), pool_size=self.settings.pool_size)
            self._db = self._connection[self.settings.database]
            self.applied_versions = yield self._timed(schema.migrate(self._db, self.describe, self._upto),
                                                      self.settings.connect_timeout)
        except StoreError:
            raise
        except Exception as e:
            raise StoreError(f"cannot open {self.describe}: {e}") from None
        return self

    def reopen(self):
        if self._closed:
            return defer.fail(StoreError("store is closed"))
        self.opened = self._open()
        return self.opened

    @defer.inlineCallbacks
    def close(self):
        if not self._closed:
            self._closed = True
            if self._connection is not None:
                yield self._connection.disconnect()

    # --- running one operation ----------------------------------------------------------
    def _timed(self, d, timeout=None):
        return d.addTimeout(timeout or self.settings.query_timeout, self._reactor)

    def _call(self, operation, *args, key=None, timed=True):
        """``operation(*args)`` (returning a Deferred), answered within the
        query timeout (unless not ``timed``: bulk loads); calls naming one
        key run one after the other."""
        if self._closed:
            return defer.fail(StoreError("store is closed"))
        if self._db is None:
            return defer.fail(StoreUnavailable(f"{self.describe} is not open"))
        if key is None:
            return self._run(operation, args, timed)
        previous = self._lanes.get(key)
        d = defer.Deferred()
        start = previous if previous is not None else defer.succeed(None)
        self._lanes[key] = d

        def run(_):
            return self._run(operation, args)

        def done(result):
            if self._lanes.get(key) is d:
                del self._lanes[key]
            d.callback(None)
            return result
        return start.addBoth(run).addBoth(done)

    def _run(self, operation, args, timed=True):
        d = defer.maybeDeferred(operation, *args)
        if timed:
            d = self._timed(d)
        return d.addCallbacks(self._succeeded, self._failed)

    def _succeeded(self, result):
        if self.outage is not None:
            since, cause, failed = self.outage
            self.outage = None
            log.info("database available again after {seconds:.1f} s ({failed} requests failed meanwhile)",
                     seconds=self._reactor.seconds() - since, failed=failed)
        return result

    def _failed(self, failure):
        if failure.check(StoreError):
            return failure
        if failure.check(defer.TimeoutError, defer.CancelledError) or _is_connection_error(failure):
            cause = (f"no answer within {self.settings.query_timeout:g} s"
                     if failure.check(defer.TimeoutError, defer.CancelledError) else failure.getErrorMessage())
            if self.outage is None:
                self.outage = (self._reactor.seconds(), cause, 1)
                log.error("database unavailable: {where}: {cause}; requests that need it are answered 5012 "
                          "while txmongo reconnects", where=self.describe, cause=cause)
            else:
                since, first, failed = self.outage
                self.outage = (since, first, failed + 1)
            raise StoreUnavailable(f"{self.describe} is unavailable: {cause}")
        raise StoreError(f"{self.describe}: {failure.getErrorMessage()}")

    def _collection(self, name):
        return self._db[name]

    def _nothing(self, value):
        if self._closed:
            return defer.fail(StoreError("store is closed"))
        return defer.succeed(value)


def _is_connection_error(failure):
    from pymongo.errors import AutoReconnect, ConnectionFailure
    from twisted.internet.error import ConnectionDone, ConnectionLost, ConnectionRefusedError
    return bool(failure.check(AutoReconnect, ConnectionFailure, ConnectionDone, ConnectionLost,
                              ConnectionRefusedError))


__all__ = ["CAS_ATTEMPTS", "MongoStore", "mongodb_uri"]
