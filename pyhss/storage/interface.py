"""The store interface every adapter provides (memory, sqlite; later MySQL, MongoDB).

Every method returns a Deferred; errors arrive as failures carrying the
types in :mod:`pyhss.storage.errors`.  Records are the frozen dataclasses
of :mod:`pyhss.storage.records`.  ``tests/store_contract.py`` is the
executable form of this contract.
"""

from zope.interface import Attribute, Interface


class IStore(Interface):
    opened = Attribute("Deferred that fires (with the store) once the store is usable, or fails with StoreError")

    # --- subscribers ------------------------------------------------------------------
    def add_subscriber(subscriber):
        """Store a new Subscriber; DuplicateError if the IMSI exists,
        ValidationError if one of its APNs is not provisioned.  Fires None."""

    def add_subscribers(subscribers, skip_existing=False):
        """Bulk load an iterable of Subscribers in one transaction.

        All or nothing: a duplicate IMSI (unless ``skip_existing``) or an
        unknown APN stores none of them.  Fires the number added."""

    def get_subscriber(imsi):
        """Fires the Subscriber, or None."""

    def list_subscribers(offset=0, limit=None):
        """Fires a list of Subscribers ordered by IMSI."""

    def count_subscribers():
        """Fires the number of subscribers."""

    def update_subscriber(imsi, /, **changes):
        """Change fields (any Subscriber field but imsi); fires the new
        Subscriber.  NotFoundError, ValidationError."""

    def delete_subscriber(imsi):
        """Remove the subscriber and its serving-node state; NotFoundError."""

    def reserve_sqns(imsi, allocate):
        """Atomic read-modify-write of the subscriber's SQN.

        ``allocate(current_sqn) -> (new_stored_sqn, result)`` runs inside
        one transaction: no two callers ever see the same current value.
        Fires ``result``.  NotFoundError; an exception from ``allocate``
        leaves the stored SQN unchanged and fails the Deferred with it."""

    def reserve_sqns_for(imsi, plan):
        """Read the subscriber and reserve SQNs in one transaction.

        ``plan(subscriber)`` (None when the IMSI is unknown) returns an
        ``allocate`` callable as for ``reserve_sqns``, or None to reserve
        nothing; it may run on a store thread.  Fires ``(subscriber,
        result)``, ``result`` being what ``allocate`` returned (None without
        one).  An exception from ``plan`` or ``allocate`` leaves the stored
        SQN unchanged and fails the Deferred with it.  (AIR: one store
        round trip instead of a read, then a write.)"""

    # --- APN profiles -----------------------------------------------------------------
    def add_apn(profile):
        """Store a new ApnProfile (context_id None: the store picks the
        lowest free one).  Fires the stored ApnProfile.  DuplicateError."""

    def get_apn(name):
        """Fires the ApnProfile (names are case-insensitive), or None."""

    def list_apns():
        """Fires a list of ApnProfiles ordered by name."""

    def delete_apn(name):
        """NotFoundError; InUseError while a subscriber lists it."""

    # --- serving node (S6a ULR/PUR/CLR state) ----------------------------------------
    def get_serving_node(imsi):
        """Fires the ServingNode, or None."""

    def set_serving_node(node):
        """Insert or replace the subscriber's ServingNode; NotFoundError if
        there is no such subscriber."""

    def register_location(imsi, plan):
        """ULR in one transaction: read the subscriber and its serving node,
        store a new serving node, read the subscriber's APN profiles.

        ``plan(subscriber)`` (None when the IMSI is unknown) returns the new
        ServingNode, or None to store nothing (a refused ULR); it may run on
        a store thread.  Fires ``(subscriber, old_node, profiles)``:
        ``old_node`` as it was before, ``profiles`` one ApnProfile (None
        when missing) per name in ``subscriber.apns`` when a node was
        stored, else None.  NotFoundError when ``plan`` returns a node for
        an unknown subscriber; an exception from ``plan`` stores nothing and
        fails the Deferred with it.  (One store round trip per ULR.)"""

    def mark_purged(imsi, mme_host):
        """Set purged on the serving node if it is ``mme_host``'s; fires
        True when it was marked, False when another node serves the UE or
        none is recorded."""

    def close():
        """Release connections and threads; fires when done."""
