"""The SQN reservation role (ISqnReservation) on MongoDB: a compare-and-set
of the SQN with ``find_one_and_update`` (see :mod:`pyhss.storage.mongodb.store`)."""

from twisted.internet import defer

from pyhss.auc.sqn import SqnRequest, advance
from pyhss.storage.errors import StoreError, ValidationError
from pyhss.storage.interface import ANY_STATE
from pyhss.storage.mongodb import documents as docs

CAS_ATTEMPTS = 64


class SqnRole:
    """ISqnReservation for :class:`~pyhss.storage.mongodb.store.MongoStore`."""

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

