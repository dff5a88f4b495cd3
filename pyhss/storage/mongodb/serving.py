"""The serving-node role (IServingNodes) on MongoDB: collection
``serving_node`` (``_id`` the IMSI)."""

from twisted.internet import defer

from pyhss.storage.errors import NotFoundError, ValidationError
from pyhss.storage.interface import ANY_STATE
from pyhss.storage.keys import ascii_lower
from pyhss.storage.mongodb import documents as docs
from pyhss.storage.records import ServingNode


class ServingRole:
    """IServingNodes for :class:`~pyhss.storage.mongodb.store.MongoStore`."""

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

