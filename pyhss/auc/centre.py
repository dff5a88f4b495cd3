"""The authentication centre as the S6a AIR handler uses it.

Given a subscriber record (``pyhss.storage.records.Subscriber``: ``imsi``,
``k``, ``opc`` or ``op``, ``amf``) and what the MME asked for, it

1. verifies Re-Synchronization-Info first, when present (pure crypto:
   a forged AUTS raises before the store is touched);
2. reserves every SQN the answer needs in one ``store.reserve_sqns``
   transaction, so concurrent AIRs for one IMSI never share an SQN;
3. computes the vectors on the calling (reactor) thread.

Errors (all fail the returned Deferred):
:class:`~pyhss.auc.errors.ResyncError` (answer 4181, SQN untouched),
:class:`~pyhss.auc.errors.InvalidKeyMaterial` (bad provisioning: 4181 too),
:class:`~pyhss.auc.errors.InvalidVectorRequest` (the handler should have
capped the count / checked Visited-PLMN-Id), store errors pass through.
"""

import os
from typing import NamedTuple

from twisted.internet import defer

from pyhss.auc.errors import InvalidVectorRequest
from pyhss.auc.milenage import Milenage
from pyhss.auc.resync import resynchronise
from pyhss.auc.sqn import DEFAULT_DELTA, DEFAULT_IND_BITS, allocator
from pyhss.auc.vectors import eutran_vectors, geran_vector, utran_vector

DEFAULT_MAX_VECTORS = 32


class VectorSet(NamedTuple):
    """What one AIA carries."""

    eutran: tuple = ()
    utran: tuple = ()
    geran: tuple = ()
    resynchronised: bool = False


class AuthenticationCentre:
    """Vector generation against an ``IStore``.

    ``random`` returns ``n`` random octets; the default is the operating
    system CSPRNG (tests pass a deterministic one).
    """

    def __init__(self, store, ind_bits=DEFAULT_IND_BITS, max_vectors=DEFAULT_MAX_VECTORS,
                 delta=DEFAULT_DELTA, random=os.urandom):
        self.store = store
        self.ind_bits = ind_bits
        self.max_vectors = max_vectors
        self.delta = delta
        self._random = random
        self._allocators = {}   # vector count -> allocate (the same for every AIR)

    def milenage_for(self, subscriber):
        return Milenage.for_subscriber(subscriber.k, opc=subscriber.opc, op=subscriber.op)

    def _check_count(self, name, count):
        if not 0 <= count <= self.max_vectors:
            raise InvalidVectorRequest(f"{name} vector count must be 0..{self.max_vectors}, got {count}")

    def prepare(self, subscriber, eutran=0, utran=0, geran=0, serving_network_id=None, resync_info=None):
        """``(allocate, build)`` for what :meth:`generate` would do.

        ``allocate`` is the ``store.reserve_sqns`` callable (None when the
        answer needs no SQN); ``build(sqns)`` computes the
        :class:`VectorSet` from the reserved SQNs (``[]`` without
        ``allocate``).  Raises what ``generate`` fails with.  Pure: a store
        may call it on its own thread (``IStore.reserve_sqns_for``).
        """
        most = self.max_vectors
        if not (0 <= eutran <= most and 0 <= utran <= most and 0 <= geran <= most):
            for name, count in (("E-UTRAN", eutran), ("UTRAN", utran), ("GERAN", geran)):
                self._check_count(name, count)
        if eutran and (serving_network_id is None or len(serving_network_id) != 3):
            raise InvalidVectorRequest("E-UTRAN vectors need a 3-octet serving network id")
        milenage = self.milenage_for(subscriber)
        needed = eutran + utran
        if resync_info is not None:
            reserve = resynchronise(milenage, resync_info).allocator(needed, self.ind_bits, self.delta)
        else:
            reserve = self._allocators.get(needed)
            if reserve is None:
                reserve = self._allocators[needed] = allocator(needed, self.ind_bits)

        def build(sqns):
            random = self._random
            amf = subscriber.amf
            eutran_part = eutran_vectors(milenage, sqns[:eutran], amf, serving_network_id, random) if eutran else ()
            utran_vectors = tuple(utran_vector(milenage, sqn, amf, random(16)) for sqn in sqns[eutran:])
            geran_vectors = tuple(geran_vector(milenage, random(16)) for _ in range(geran))
            return VectorSet(eutran_part, utran_vectors, geran_vectors, resync_info is not None)

        if not needed and resync_info is None:
            return None, build
        return reserve, build

    def generate(self, subscriber, eutran=0, utran=0, geran=0, serving_network_id=None, resync_info=None):
        """Deferred firing with a :class:`VectorSet`.

        ``serving_network_id`` (Visited-PLMN-Id, 3 octets) is required when
        ``eutran`` > 0.  ``resync_info`` is the 30-octet
        Re-Synchronization-Info, or None.
        """
        try:
            reserve, build = self.prepare(subscriber, eutran, utran, geran, serving_network_id, resync_info)
        except Exception:
            return defer.fail()
        if reserve is None:
            return defer.maybeDeferred(build, [])
        return self.store.reserve_sqns(subscriber.imsi, reserve).addCallback(build)
