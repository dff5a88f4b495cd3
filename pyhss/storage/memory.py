"""In-process store: dictionaries behind every role of the IStore interface.

Used by tests and by ``database.backend: memory``.  Results still arrive
through Deferreds (already fired), so callers cannot tell it from the
SQLite adapter; records are immutable, so sharing them is safe.
"""

from twisted.internet import defer
from zope.interface import implementer

from pyhss.auc.sqn import SqnRequest, advance
from pyhss.storage.errors import DuplicateError, InUseError, NotFoundError, StoreError, ValidationError
from pyhss.storage.interface import ANY_STATE, EVERY_SUBSCRIBER, IStore
from pyhss.storage.keys import ascii_lower, is_imsi
from pyhss.storage.memory_calls import deferred as _deferred, page
from pyhss.storage.memory_eir import MemoryEquipmentRegister
from pyhss.storage.memory_ims import MemoryImsMixin
from pyhss.storage.records import ApnProfile, ServingNode, Subscriber, changed, normalise_apn, with_context_id


@implementer(IStore)
class MemoryStore(MemoryImsMixin, MemoryEquipmentRegister):
    def __init__(self):
        self._init_ims()
        self._subscribers = {}
        self._apns = {}
        self._serving = {}
        self._init_equipment()
        self._closed = False
        self.opened = defer.succeed(self)

    def _check_open(self):
        if self._closed:
            raise StoreError("store is closed")

    def _check_apns(self, subscriber):
        for name in subscriber.apns:
            if name not in self._apns:
                raise ValidationError(f"unknown APN {name!r} for IMSI {subscriber.imsi}", field="apns",
                                      problem=f"names an APN that is not provisioned: {name!r}")

    @staticmethod
    def _check_type(value, cls):
        if not isinstance(value, cls):
            raise ValidationError(f"expected a {cls.__name__}, got {type(value).__name__}")

    # --- subscribers ------------------------------------------------------------------
    @_deferred
    def add_subscriber(self, subscriber):
        self._check_open()
        self._check_type(subscriber, Subscriber)
        if subscriber.imsi in self._subscribers:
            raise DuplicateError(f"subscriber {subscriber.imsi} already exists")
        self._check_apns(subscriber)
        self._subscribers[subscriber.imsi] = subscriber

    @_deferred
    def add_subscribers(self, subscribers, skip_existing=False):
        self._check_open()
        batch = {}
        for subscriber in subscribers:
            self._check_type(subscriber, Subscriber)
            if subscriber.imsi in self._subscribers or subscriber.imsi in batch:
                if skip_existing:
                    continue
                raise DuplicateError(f"subscriber {subscriber.imsi} already exists")
            self._check_apns(subscriber)
            batch[subscriber.imsi] = subscriber
        self._subscribers.update(batch)
        return len(batch)

    @_deferred
    def get_subscriber(self, imsi):
        self._check_open()
        return self._subscribers.get(imsi) if is_imsi(imsi) else None

    @_deferred
    def list_subscribers(self, offset=0, limit=None, query=EVERY_SUBSCRIBER):
        self._check_open()
        found = [self._subscribers[imsi] for imsi in sorted(self._subscribers)]
        if query is not EVERY_SUBSCRIBER:
            found = [subscriber for subscriber in found if query.matches(subscriber)]
        return page(found, offset, limit)

    @_deferred
    def count_subscribers(self, query=EVERY_SUBSCRIBER):
        self._check_open()
        return sum(1 for subscriber in self._subscribers.values() if query.matches(subscriber))

    @_deferred
    def update_subscriber(self, imsi, /, **changes):
        self._check_open()
        current = self._subscribers.get(imsi) if is_imsi(imsi) else None
        if current is None:
            raise NotFoundError(f"no subscriber {imsi}")
        updated = changed(current, changes)
        self._check_apns(updated)
        self._subscribers[imsi] = updated
        return updated

    @_deferred
    def delete_subscriber(self, imsi):
        self._check_open()
        if not is_imsi(imsi) or imsi not in self._subscribers:
            raise NotFoundError(f"no subscriber {imsi}")
        for impi in self._ims_users_of(imsi):
            raise InUseError(f"subscriber {imsi} is used by IMS subscription {impi}")
        del self._subscribers[imsi]
        self._serving.pop(imsi, None)

    # --- SQN reservation --------------------------------------------------------------
    @_deferred
    def reserve_sqns(self, imsi, request, required=ANY_STATE):
        self._check_open()
        self._check_type(request, SqnRequest)
        current = self._subscribers.get(imsi) if is_imsi(imsi) else None
        if not required.met_by(current):
            return current, None
        new_sqn, sqns = advance(current.sqn, request)
        if new_sqn != current.sqn:
            self._subscribers[imsi] = changed(current, {"sqn": new_sqn})
        return current, sqns

    # --- APN profiles -----------------------------------------------------------------
    @_deferred
    def add_apn(self, profile):
        self._check_open()
        self._check_type(profile, ApnProfile)
        if profile.name in self._apns:
            raise DuplicateError(f"APN {profile.name!r} already exists")
        used = {p.context_id for p in self._apns.values()}
        profile = with_context_id(profile, used)
        self._apns[profile.name] = profile
        return profile

    @_deferred
    def get_apn(self, name):
        self._check_open()
        try:
            return self._apns.get(normalise_apn(name))
        except ValidationError:
            return None

    @_deferred
    def list_apns(self):
        self._check_open()
        return [self._apns[name] for name in sorted(self._apns)]

    @_deferred
    def update_apn(self, name, /, **changes):
        self._check_open()
        key = normalise_apn(name)
        current = self._apns.get(key)
        if current is None:
            raise NotFoundError(f"no APN {name!r}")
        updated = changed(current, changes)
        if updated.context_id is None:
            updated = changed(updated, {"context_id": current.context_id})
        if any(p.context_id == updated.context_id for p in self._apns.values() if p.name != key):
            raise DuplicateError(f"context id {updated.context_id} is used by another APN")
        self._apns[key] = updated
        return updated

    @_deferred
    def delete_apn(self, name):
        self._check_open()
        key = normalise_apn(name)
        if key not in self._apns:
            raise NotFoundError(f"no APN {name!r}")
        for subscriber in self._subscribers.values():
            if key in subscriber.apns:
                raise InUseError(f"APN {key!r} is used by subscriber {subscriber.imsi}")
        del self._apns[key]

    # --- serving node -----------------------------------------------------------------
    @_deferred
    def get_serving_node(self, imsi):
        self._check_open()
        return self._serving.get(imsi) if is_imsi(imsi) else None

    @_deferred
    def set_serving_node(self, node):
        self._check_open()
        self._check_type(node, ServingNode)
        if node.imsi not in self._subscribers:
            raise NotFoundError(f"no subscriber {node.imsi}")
        self._serving[node.imsi] = node

    @_deferred
    def swap_serving_node(self, node, required=ANY_STATE):
        self._check_open()
        self._check_type(node, ServingNode)
        subscriber = self._subscribers.get(node.imsi)
        old = self._serving.get(node.imsi)
        if not required.met_by(subscriber):
            return subscriber, old, None
        self._serving[node.imsi] = node
        return subscriber, old, [self._apns.get(name) for name in subscriber.apns]

    @_deferred
    def mark_purged(self, imsi, mme_host):
        self._check_open()
        node = self._serving.get(imsi) if is_imsi(imsi) else None
        if node is None or not isinstance(mme_host, str) or ascii_lower(node.mme_host) != ascii_lower(mme_host):
            return False
        self._serving[imsi] = changed(node, {"purged": True})
        return True

    def close(self):
        self._closed = True
        return defer.succeed(None)
