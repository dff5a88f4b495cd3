"""The IStore on MongoDB through txmongo: every role, no threads.

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
documents show what is left to delete).  Every call is answered within ``query_timeout`` (StoreUnavailable
otherwise); txmongo reconnects by itself, and an outage is logged once
when it starts and once when it ends.
"""

import collections
import urllib.parse
import uuid

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from pyhss.auc.sqn import SqnRequest, advance
from pyhss.storage.errors import (
    DuplicateError, InUseError, NotFoundError, StoreError, StoreUnavailable, ValidationError,
)
from pyhss.storage.interface import ANY_STATE, IStore
from pyhss.storage.keys import ascii_lower, chunks, read_password
from pyhss.storage.mongodb import documents as docs
from pyhss.storage.mongodb import schema
from pyhss.storage.records import ApnProfile, ServingNode, Subscriber, changed

CAS_ATTEMPTS = 64
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


def _is_duplicate(failure):
    from pymongo.errors import DuplicateKeyError, BulkWriteError
    if failure.check(DuplicateKeyError):
        return True
    if failure.check(BulkWriteError):
        errors = failure.value.details.get("writeErrors", ())
        return any(error.get("code") == 11000 for error in errors)
    return False


@implementer(IStore)
class MongoStore:
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

    # --- subscribers and APNs -------------------------------------------------------------
    @defer.inlineCallbacks
    def _check_apns(self, subscribers):
        names = {name for s in subscribers for name in s.apns}
        if not names:
            return
        found = yield self._collection(docs.APNS).find(docs.in_list(names), projection={"_id": 1})
        known = {document["_id"] for document in found}
        for subscriber in subscribers:
            for name in subscriber.apns:
                if name not in known:
                    raise ValidationError(f"unknown APN {name!r} for IMSI {subscriber.imsi}")

    def add_subscriber(self, subscriber):
        if not isinstance(subscriber, Subscriber):
            return defer.fail(ValidationError(f"expected a Subscriber, got {type(subscriber).__name__}"))
        return self._call(self._add_subscriber, subscriber, key=subscriber.imsi)

    @defer.inlineCallbacks
    def _add_subscriber(self, subscriber):
        yield self._check_apns([subscriber])
        try:
            yield self._collection(docs.SUBSCRIBERS).insert_one(docs.subscriber_document(subscriber))
        except Exception:
            failure = Failure()
            if _is_duplicate(failure):
                raise DuplicateError(f"subscriber {subscriber.imsi} already exists") from None
            failure.raiseException()

    # Documents per insert_many of a bulk load; the iterable is read one chunk at a time.
    bulk_chunk = 10000

    def add_subscribers(self, subscribers, skip_existing=False):
        return self._call(self._add_subscribers, iter(subscribers), skip_existing, timed=False)

    @defer.inlineCallbacks
    def _add_subscribers(self, subscribers, skip_existing):
        """Each document goes in marked with this load's token; the mark is
        taken off at the end, or every marked document deleted on failure."""
        token = uuid.uuid4().hex
        collection = self._collection(docs.SUBSCRIBERS)
        added = 0
        try:
            for batch in chunks(subscribers, self.bulk_chunk):
                added += yield self._add_chunk(collection, batch, skip_existing, token)
        except BaseException:
            failure = Failure()
            yield collection.delete_many({docs.IMPORT_MARK: token})
            failure.raiseException()
        if added:
            yield collection.update_many({docs.IMPORT_MARK: token}, {"$unset": {docs.IMPORT_MARK: ""}})
        return added

    @defer.inlineCallbacks
    def _add_chunk(self, collection, batch, skip_existing, token):
        unique = collections.OrderedDict()
        for subscriber in batch:
            if subscriber.imsi in unique and not skip_existing:
                raise DuplicateError(f"subscriber {subscriber.imsi} already exists")
            unique.setdefault(subscriber.imsi, subscriber)
        yield self._check_apns(batch)
        found = yield collection.find(docs.in_list(unique), projection={docs.IMPORT_MARK: 1})
        for document in found:
            # Stored before this load: skipped when asked; added by it: a duplicate.
            if not skip_existing or document.get(docs.IMPORT_MARK) == token:
                raise DuplicateError(f"subscriber {document['_id']} already exists")
            del unique[document["_id"]]
        if not unique:
            return 0
        new = [dict(docs.subscriber_document(s), **{docs.IMPORT_MARK: token}) for s in unique.values()]
        try:
            yield collection.insert_many(new, ordered=True)
        except Exception:
            failure = Failure()
            if _is_duplicate(failure):
                raise DuplicateError("a subscriber of the batch was added meanwhile by another writer") from None
            failure.raiseException()
        return len(new)

    def get_subscriber(self, imsi):
        if docs.imsi_key(imsi) is None:
            return self._nothing(None)
        return self._call(self._get_subscriber, imsi, key=imsi)

    @defer.inlineCallbacks
    def _get_subscriber(self, imsi):
        return docs.subscriber_from_document((yield self._collection(docs.SUBSCRIBERS).find_one({"_id": imsi})))

    def list_subscribers(self, offset=0, limit=None):
        return self._call(self._list_subscribers, offset, limit)

    @defer.inlineCallbacks
    def _list_subscribers(self, offset, limit):
        found = yield self._collection(docs.SUBSCRIBERS).find({}, sort=[("_id", 1)], skip=offset, limit=limit or 0)
        return [docs.subscriber_from_document(document) for document in found]

    def count_subscribers(self):
        return self._call(lambda: self._collection(docs.SUBSCRIBERS).count_documents({}))

    def update_subscriber(self, imsi, /, **changes):
        if docs.imsi_key(imsi) is None:
            return defer.fail(NotFoundError(f"no subscriber {imsi}"))
        return self._call(self._update_subscriber, imsi, changes, key=imsi)

    @defer.inlineCallbacks
    def _update_subscriber(self, imsi, changes):
        current = yield self._get_subscriber(imsi)
        if current is None:
            raise NotFoundError(f"no subscriber {imsi}")
        updated = changed(current, changes)
        yield self._check_apns([updated])
        # Only the fields that change: a concurrent SQN reservation is never undone.
        fields = {name: getattr(updated, name) for name in changes}
        for given, other in (("opc", "op"), ("op", "opc")):
            if given in fields:
                fields[other] = getattr(updated, other)
        yield self._collection(docs.SUBSCRIBERS).update_one({"_id": imsi}, docs.subscriber_changes(fields))
        return updated

    def delete_subscriber(self, imsi):
        if docs.imsi_key(imsi) is None:
            return defer.fail(NotFoundError(f"no subscriber {imsi}"))
        return self._call(self._delete_subscriber, imsi, key=imsi)

    @defer.inlineCallbacks
    def _delete_subscriber(self, imsi):
        result = yield self._collection(docs.SUBSCRIBERS).delete_one({"_id": imsi})
        if not result.deleted_count:
            raise NotFoundError(f"no subscriber {imsi}")
        yield self._collection(docs.SERVING_NODES).delete_one({"_id": imsi})

    def add_apn(self, profile):
        if not isinstance(profile, ApnProfile):
            return defer.fail(ValidationError(f"expected an ApnProfile, got {type(profile).__name__}"))
        return self._call(self._add_apn, profile)

    @defer.inlineCallbacks
    def _add_apn(self, profile):
        collection = self._collection(docs.APNS)
        if (yield collection.find_one({"_id": profile.name})) is not None:
            raise DuplicateError(f"APN {profile.name!r} already exists")
        used = sorted(int(d["context_id"]) for d in (yield collection.find({}, projection={"context_id": 1})))
        if profile.context_id is None:
            context_id = 1
            for value in used:
                if value != context_id:
                    break
                context_id += 1
            profile = changed(profile, {"context_id": context_id})
        elif profile.context_id in used:
            raise DuplicateError(f"context id {profile.context_id} is used by another APN")
        try:
            yield collection.insert_one(docs.apn_document(profile))
        except Exception:
            failure = Failure()
            if _is_duplicate(failure):
                raise DuplicateError(f"APN {profile.name!r} or context id {profile.context_id} already exists") \
                    from None
            failure.raiseException()
        return profile

    def get_apn(self, name):
        key = docs.apn_key(name)
        if key is None:
            return self._nothing(None)
        return self._call(lambda: self._collection(docs.APNS).find_one({"_id": key}).addCallback(
            docs.apn_from_document))

    def list_apns(self):
        return self._call(lambda: self._collection(docs.APNS).find({}, sort=[("_id", 1)]).addCallback(
            lambda found: [docs.apn_from_document(d) for d in found]))

    def delete_apn(self, name):
        key = docs.apn_key(name)
        if key is None:
            return defer.fail(ValidationError(f"APN name must be labels of letters, digits and '-' separated "
                                              f"by dots, got {name!r}"))
        return self._call(self._delete_apn, key)

    @defer.inlineCallbacks
    def _delete_apn(self, key):
        if (yield self._collection(docs.APNS).find_one({"_id": key})) is None:
            raise NotFoundError(f"no APN {key!r}")
        user = yield self._collection(docs.SUBSCRIBERS).find_one({"apns": key}, projection={"_id": 1},
                                                                 sort=[("_id", 1)])
        if user is not None:
            raise InUseError(f"APN {key!r} is used by subscriber {user['_id']}")
        yield self._collection(docs.APNS).delete_one({"_id": key})

    # --- SQN ------------------------------------------------------------------------------
    def reserve_sqns(self, imsi, request, required=ANY_STATE):
        if type(request) is not SqnRequest:
            return defer.fail(ValidationError(f"expected a SqnRequest, got {type(request).__name__}"))
        if docs.imsi_key(imsi) is None:
            return self._nothing((None, None))
        return self._call(self._reserve_sqns, imsi, request, required, key=imsi)

    @defer.inlineCallbacks
    def _reserve_sqns(self, imsi, request, required):
        collection = self._collection(docs.SUBSCRIBERS)
        for _ in range(CAS_ATTEMPTS):
            current = yield self._get_subscriber(imsi)
            if not required.met_by(current):
                return current, None
            new_sqn, sqns = advance(current.sqn, request)
            if new_sqn == current.sqn:
                return current, sqns
            query, update = docs.sqn_compare_and_set(imsi, current.sqn, new_sqn, required)
            if (yield collection.find_one_and_update(query, update, projection={"_id": 1})) is not None:
                return current, sqns
        raise StoreError(f"SQN of {imsi} changed {CAS_ATTEMPTS} times while reserving")

    # --- serving nodes ----------------------------------------------------------------------
    def get_serving_node(self, imsi):
        if docs.imsi_key(imsi) is None:
            return self._nothing(None)
        return self._call(self._get_node, imsi, key=imsi)

    @defer.inlineCallbacks
    def _get_node(self, imsi):
        return docs.node_from_document((yield self._collection(docs.SERVING_NODES).find_one({"_id": imsi})))

    def set_serving_node(self, node):
        if not isinstance(node, ServingNode):
            return defer.fail(ValidationError(f"expected a ServingNode, got {type(node).__name__}"))
        return self._call(self._set_node, node, key=node.imsi)

    @defer.inlineCallbacks
    def _set_node(self, node):
        if (yield self._collection(docs.SUBSCRIBERS).find_one({"_id": node.imsi}, projection={"_id": 1})) is None:
            raise NotFoundError(f"no subscriber {node.imsi}")
        yield self._collection(docs.SERVING_NODES).replace_one({"_id": node.imsi}, docs.node_document(node),
                                                               upsert=True)

    def swap_serving_node(self, node, required=ANY_STATE):
        if not isinstance(node, ServingNode):
            return defer.fail(ValidationError(f"expected a ServingNode, got {type(node).__name__}"))
        return self._call(self._swap_node, node, required, key=node.imsi)

    @defer.inlineCallbacks
    def _swap_node(self, node, required):
        subscriber = yield self._get_subscriber(node.imsi)
        old = yield self._get_node(node.imsi)
        if not required.met_by(subscriber):
            return subscriber, old, None
        found = yield self._collection(docs.APNS).find(docs.in_list(subscriber.apns)) if subscriber.apns else []
        profiles = {document["_id"]: docs.apn_from_document(document) for document in found}
        yield self._collection(docs.SERVING_NODES).replace_one({"_id": node.imsi}, docs.node_document(node),
                                                               upsert=True)
        return subscriber, old, [profiles.get(name) for name in subscriber.apns]

    def mark_purged(self, imsi, mme_host):
        if docs.imsi_key(imsi) is None or not isinstance(mme_host, str):
            return self._nothing(False)
        return self._call(self._mark_purged, imsi, mme_host, key=imsi)

    @defer.inlineCallbacks
    def _mark_purged(self, imsi, mme_host):
        node = yield self._get_node(imsi)
        if node is None or ascii_lower(node.mme_host) != ascii_lower(mme_host):
            return False
        result = yield self._collection(docs.SERVING_NODES).update_one(
            {"_id": imsi, "mme_host": node.mme_host}, {"$set": {"purged": True}})
        return result.matched_count > 0

    def _nothing(self, value):
        if self._closed:
            return defer.fail(StoreError("store is closed"))
        return defer.succeed(value)


def _is_connection_error(failure):
    from pymongo.errors import AutoReconnect, ConnectionFailure
    from twisted.internet.error import ConnectionDone, ConnectionLost, ConnectionRefusedError
    return bool(failure.check(AutoReconnect, ConnectionFailure, ConnectionDone, ConnectionLost,
                              ConnectionRefusedError))
