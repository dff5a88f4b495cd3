"""The store's roles (every adapter: memory, SQLite, the SQL servers, MongoDB) and the plain data they take.

A role is one part of what the applications need of a database:
:class:`ISubscribers` (subscribers and APN profiles), :class:`ISqnReservation`
(S6a AIR), :class:`IServingNodes` (S6a ULR/PUR/CLR); IMS (Cx) and
equipment (S13) data will be roles of their own.  :class:`IStore` is all of
them with the store's life cycle: what ``open_store`` returns.

No method runs caller code inside the store's transaction: they take
records and small request objects (:class:`~pyhss.auc.sqn.SqnRequest`,
:class:`RequiredState`), which a server database can turn into ``UPDATE ...
RETURNING``, ``SELECT ... FOR UPDATE`` or MongoDB's ``find_one_and_update``.

Every method returns a Deferred; errors arrive as failures carrying the
types in :mod:`pyhss.storage.errors`.  Records are the frozen dataclasses
of :mod:`pyhss.storage.records`.  ``tests/store_contract.py`` holds one
contract mixin per role: the executable form of this file.
"""

from zope.interface import Attribute, Interface


class RequiredState:
    """What a write needs of the subscriber's record, or it writes nothing:
    ``enabled`` true (when ``enabled``), ``roaming_allowed`` true (when
    ``roaming``), and none of the ``access_restriction_data`` bits of
    ``restrictions`` set.

    The application's refusal rules as data: the store checks them in the
    transaction that writes (a WHERE clause, a MongoDB filter), so a refused
    AIR or ULR costs no second round trip and changes nothing.  Shared
    between requests: never change one.
    """

    __slots__ = ("enabled", "roaming", "restrictions")

    def __init__(self, enabled=True, roaming=False, restrictions=0):
        self.enabled = enabled
        self.roaming = roaming
        self.restrictions = restrictions

    def met_by(self, subscriber):
        """Whether ``subscriber`` (a Subscriber, or None) may be written."""
        return (subscriber is not None
                and (subscriber.enabled or not self.enabled)
                and (subscriber.roaming_allowed or not self.roaming)
                and not subscriber.access_restriction_data & self.restrictions)

    def __repr__(self):
        return f"RequiredState(enabled={self.enabled}, roaming={self.roaming}, restrictions={self.restrictions:#x})"


# Any existing subscriber: what a write asks for when it names no state.
ANY_STATE = RequiredState(enabled=False)


class ISubscribers(Interface):
    """Subscribers and the APN profiles they name (provisioning, every application)."""

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

    def add_apn(profile):
        """Store a new ApnProfile (context_id None: the store picks the
        lowest free one).  Fires the stored ApnProfile.  DuplicateError."""

    def get_apn(name):
        """Fires the ApnProfile (names are case-insensitive), or None."""

    def list_apns():
        """Fires a list of ApnProfiles ordered by name."""

    def delete_apn(name):
        """NotFoundError; InUseError while a subscriber lists it."""


class ISqnReservation(Interface):
    """The AuC's sequence numbers (S6a AIR)."""

    def reserve_sqns(imsi, request, required=ANY_STATE):
        """Read the subscriber and reserve SQNs in one transaction.

        ``request`` is a :class:`pyhss.auc.sqn.SqnRequest`; the new stored
        SQN and the SQNs handed out are
        ``pyhss.auc.sqn.advance(stored_sqn, request)``, so no two callers,
        in this process or another, ever get the same one.  Nothing is
        reserved unless the subscriber meets ``required``.  Fires
        ``(subscriber, sqns)``: the subscriber as read (None when the IMSI
        is unknown) and the list of SQNs, or None when nothing was
        reserved.  ValidationError for a request that is not a SqnRequest.
        (AIR: one store round trip instead of a read, then a write.)"""


class IServingNodes(Interface):
    """Which MME serves each subscriber (S6a ULR, PUR, CLR, IDR)."""

    def get_serving_node(imsi):
        """Fires the ServingNode, or None."""

    def set_serving_node(node):
        """Insert or replace the subscriber's ServingNode; NotFoundError if
        there is no such subscriber."""

    def swap_serving_node(node, required=ANY_STATE):
        """ULR in one transaction: store ``node`` (a ServingNode) as its
        subscriber's serving node if the subscriber meets ``required``, and
        return the node it replaces and the subscriber's APN profiles.

        Fires ``(subscriber, old_node, profiles)``: the subscriber as read
        (None when unknown), ``old_node`` as it was before (None when none
        was stored), ``profiles`` one ApnProfile (None when missing) per
        name in ``subscriber.apns`` when ``node`` was stored, else None.
        ValidationError when ``node`` is not a ServingNode.  (One store
        round trip per ULR.)"""

    def mark_purged(imsi, mme_host):
        """Set purged on the serving node if it is ``mme_host``'s; fires
        True when it was marked, False when another node serves the UE or
        none is recorded."""


class IStore(ISubscribers, ISqnReservation, IServingNodes):
    """Every role, and the store's life cycle."""

    opened = Attribute("Deferred that fires (with the store) once the store is usable, or fails with StoreError")

    def close():
        """Release connections and threads; fires when done."""
