"""The subscribers role (ISubscribers) on MongoDB: collections ``subscriber``
(``_id`` the IMSI, APN names as an array) and ``apn`` (``_id`` the name).
A mixin of :class:`~pyhss.storage.mongodb.store.MongoStore`, whose
``_call`` runs each operation (timeout, per-IMSI order, outage lines)."""

import collections
import uuid

from twisted.internet import defer
from twisted.python.failure import Failure

from pyhss.storage.errors import DuplicateError, InUseError, NotFoundError, ValidationError
from pyhss.storage.interface import EVERY_SUBSCRIBER
from pyhss.storage.keys import QueryKeys, chunks
from pyhss.storage.mongodb import documents as docs
from pyhss.storage.records import ApnProfile, Subscriber, changed, with_context_id


def is_duplicate(failure):
    from pymongo.errors import BulkWriteError, DuplicateKeyError
    if failure.check(DuplicateKeyError):
        return True
    if failure.check(BulkWriteError):
        errors = failure.value.details.get("writeErrors", ())
        return any(error.get("code") == 11000 for error in errors)
    return False


class SubscriberRole:
    """ISubscribers for :class:`~pyhss.storage.mongodb.store.MongoStore`."""

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
                    raise ValidationError(f"unknown APN {name!r} for IMSI {subscriber.imsi}", field="apns",
                                          problem=f"names an APN that is not provisioned: {name!r}")

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
            if is_duplicate(failure):
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
            if is_duplicate(failure):
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

    def list_subscribers(self, offset=0, limit=None, query=EVERY_SUBSCRIBER):
        keys = QueryKeys(query)
        if keys.matches_nothing or limit == 0:
            return self._nothing([])
        return self._call(self._list_subscribers, offset, limit, docs.subscriber_filter(keys))

    @defer.inlineCallbacks
    def _list_subscribers(self, offset, limit, query):
        found = yield self._collection(docs.SUBSCRIBERS).find(query, sort=[("_id", 1)], skip=offset,
                                                              limit=limit or 0)
        return [docs.subscriber_from_document(document) for document in found]

    def count_subscribers(self, query=EVERY_SUBSCRIBER):
        keys = QueryKeys(query)
        if keys.matches_nothing:
            return self._nothing(0)
        return self._call(lambda: self._collection(docs.SUBSCRIBERS).count_documents(docs.subscriber_filter(keys)))

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
        user = yield self._ims_user_of(imsi)
        if user is not None:
            raise InUseError(f"subscriber {imsi} is used by IMS subscription {user}")
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
        profile = with_context_id(profile, used)
        try:
            yield collection.insert_one(docs.apn_document(profile))
        except Exception:
            failure = Failure()
            if is_duplicate(failure):
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

    def update_apn(self, name, /, **changes):
        key = docs.apn_key(name)
        if key is None:
            return defer.fail(NotFoundError(f"no APN {name!r}"))
        return self._call(self._update_apn, key, changes)

    @defer.inlineCallbacks
    def _update_apn(self, key, changes):
        collection = self._collection(docs.APNS)
        current = docs.apn_from_document((yield collection.find_one({"_id": key})))
        if current is None:
            raise NotFoundError(f"no APN {key!r}")
        updated = changed(current, changes)
        if updated.name != key:
            raise ValidationError(f"an APN profile's name cannot change ({key!r}): add a new one")
        if updated.context_id is None:
            updated = changed(updated, {"context_id": current.context_id})
        other = yield collection.find_one({"context_id": docs.apn_document(updated)["context_id"],
                                           "_id": {"$ne": key}}, projection={"_id": 1})
        if other is not None:
            raise DuplicateError(f"context id {updated.context_id} is used by another APN")
        try:
            yield collection.replace_one({"_id": key}, docs.apn_document(updated))
        except Exception:
            failure = Failure()
            if is_duplicate(failure):     # the unique context_id index: taken meanwhile
                raise DuplicateError(f"context id {updated.context_id} is used by another APN") from None
            failure.raiseException()
        return updated

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

