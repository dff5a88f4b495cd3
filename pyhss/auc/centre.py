"""The authentication centre as the S6a AIR handler uses it.

Given a subscriber record (``pyhss.storage.records.Subscriber``: ``imsi``,
``k``, ``opc`` or ``op``, ``amf``) and what the MME asked for, the AIR

1. checks the request (:meth:`AuthenticationCentre.check_request`) and
   verifies Re-Synchronization-Info, when present
   (:meth:`~AuthenticationCentre.resynchronise`: pure crypto, a forged
   AUTS raises before the store is touched);
2. reserves every SQN the answer needs in one store transaction, asking
   with the plain :class:`~pyhss.auc.sqn.SqnRequest` of
   :meth:`~AuthenticationCentre.sqn_request`, so concurrent AIRs for one
   IMSI never share an SQN;
3. computes the vectors from the reserved SQNs
   (:meth:`~AuthenticationCentre.vectors`).

:meth:`~AuthenticationCentre.generate` does all three against a store.
Nothing here imports the store: it is any object with
``reserve_sqns(imsi, request)`` (``pyhss.storage.interface.ISqnReservation``).

Errors: :class:`~pyhss.auc.errors.ResyncError` (answer 4181, SQN
untouched), :class:`~pyhss.auc.errors.InvalidKeyMaterial` (bad
provisioning: 4181 too), :class:`~pyhss.auc.errors.InvalidVectorRequest`
(the handler should have capped the count / checked Visited-PLMN-Id).
"""

import os
from typing import NamedTuple

from twisted.internet import defer

from pyhss.auc.errors import InvalidVectorRequest, UnknownSubscriber
from pyhss.auc.milenage import Milenage
from pyhss.auc.resync import resynchronise
from pyhss.auc.sqn import DEFAULT_DELTA, DEFAULT_IND_BITS, SqnRequest
from pyhss.auc.vectors import eutran_vectors, geran_vector, utran_vector

DEFAULT_MAX_VECTORS = 32


class VectorSet(NamedTuple):
    """What one AIA carries."""

    eutran: tuple = ()
    utran: tuple = ()
    geran: tuple = ()
    resynchronised: bool = False


class AuthenticationCentre:
    """Vector generation for one HSS.

    ``store`` is only for :meth:`generate`.  ``random`` returns ``n``
    random octets; the default is the operating system CSPRNG (tests pass
    a deterministic one).
    """

    def __init__(self, store=None, ind_bits=DEFAULT_IND_BITS, max_vectors=DEFAULT_MAX_VECTORS,
                 delta=DEFAULT_DELTA, random=os.urandom):
        self.store = store
        self.ind_bits = ind_bits
        self.max_vectors = max_vectors
        self.delta = delta
        self._random = random
        self._requests = {}   # SQN count -> SqnRequest (the same for every AIR)

    def milenage_for(self, subscriber):
        return Milenage.for_subscriber(subscriber.k, opc=subscriber.opc, op=subscriber.op)

    def check_request(self, eutran=0, utran=0, geran=0, serving_network_id=None):
        """Raise InvalidVectorRequest unless every count is 0..max_vectors
        and E-UTRAN vectors come with a 3-octet serving network id."""
        most = self.max_vectors
        if not (0 <= eutran <= most and 0 <= utran <= most and 0 <= geran <= most):
            for name, count in (("E-UTRAN", eutran), ("UTRAN", utran), ("GERAN", geran)):
                if not 0 <= count <= most:
                    raise InvalidVectorRequest(f"{name} vector count must be 0..{most}, got {count}")
        if eutran and (serving_network_id is None or len(serving_network_id) != 3):
            raise InvalidVectorRequest("E-UTRAN vectors need a 3-octet serving network id")

    def sqn_request(self, count, resync_sqn=None):
        """The :class:`SqnRequest` for ``count`` SQNs (E-UTRAN and UTRAN
        vectors; GERAN triplets take none), after resynchronisation to
        ``resync_sqn`` when given."""
        if resync_sqn is not None:
            return SqnRequest(count, self.ind_bits, resync_sqn, self.delta)
        request = self._requests.get(count)
        if request is None:
            request = self._requests[count] = SqnRequest(count, self.ind_bits, None, self.delta)
        return request

    def resynchronise(self, subscriber, resync_info):
        """SQN_MS from a verified Re-Synchronization-Info (RAND || AUTS);
        raises ResyncError (or InvalidKeyMaterial) otherwise."""
        return resynchronise(self.milenage_for(subscriber), resync_info).sqn_ms

    def vectors(self, subscriber, sqns, eutran=0, utran=0, geran=0, serving_network_id=None,
                resynchronised=False):
        """The :class:`VectorSet` from reserved ``sqns``: the first
        ``eutran`` for E-UTRAN vectors, the next ``utran`` for quintuplets;
        ``geran`` triplets take none."""
        milenage = self.milenage_for(subscriber)
        random = self._random
        amf = subscriber.amf
        # Empty kinds skip their generator: the usual AIR asks for E-UTRAN only.
        eutran_part = eutran_vectors(milenage, sqns[:eutran], amf, serving_network_id, random) if eutran else ()
        utran_part = tuple(utran_vector(milenage, sqn, amf, random(16)) for sqn in sqns[eutran:]) if utran else ()
        geran_part = tuple(geran_vector(milenage, random(16)) for _ in range(geran)) if geran else ()
        return VectorSet(eutran_part, utran_part, geran_part, resynchronised)

    def generate(self, subscriber, eutran=0, utran=0, geran=0, serving_network_id=None, resync_info=None):
        """Deferred firing with a :class:`VectorSet`, its SQNs reserved
        through ``store``.

        ``serving_network_id`` (Visited-PLMN-Id, 3 octets) is required when
        ``eutran`` > 0.  ``resync_info`` is the 30-octet
        Re-Synchronization-Info, or None.  Fails with UnknownSubscriber
        when the store no longer has the subscriber.
        """
        try:
            self.check_request(eutran, utran, geran, serving_network_id)
            self.milenage_for(subscriber)    # bad key material fails before the store
            resync_sqn = None if resync_info is None else self.resynchronise(subscriber, resync_info)
        except Exception:
            return defer.fail()
        needed = eutran + utran
        if not needed and resync_sqn is None:
            return defer.maybeDeferred(self.vectors, subscriber, [], eutran, utran, geran, serving_network_id)

        def reserved(found):
            stored, sqns = found
            if stored is None:
                raise UnknownSubscriber(f"no subscriber {subscriber.imsi}")
            return self.vectors(subscriber, sqns, eutran, utran, geran, serving_network_id,
                                resync_sqn is not None)

        return self.store.reserve_sqns(subscriber.imsi, self.sqn_request(needed, resync_sqn)).addCallback(reserved)
