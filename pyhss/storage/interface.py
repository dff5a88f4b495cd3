"""The store's roles (every adapter: memory, SQLite, the SQL servers, MongoDB) and the plain data they take.

A role is one part of what the applications need of a database:
:class:`ISubscribers` (subscribers and APN profiles), :class:`ISqnReservation`
(S6a AIR), :class:`IServingNodes` (S6a ULR/PUR/CLR), :class:`IImsSubscriptions`
(Cx), :class:`IEquipmentRegister` (S13: EIR rules and the check history).
:class:`IStore` is all of them with the store's life cycle: what
``open_store`` returns.

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


class SubscriberQuery:
    """Which subscribers a listing wants; every criterion given (not None)
    must hold: ``msisdn`` equal, the IMSI starting with ``imsi_prefix``,
    ``apn`` among its APNs (a normalised name), ``enabled`` equal, the IMSI
    after ``after`` (keyset paging: the last IMSI of the previous page).

    Data, not a callable, so that SQL stores make it a WHERE clause and
    MongoDB a filter.
    """

    __slots__ = ("msisdn", "imsi_prefix", "apn", "enabled", "after")

    def __init__(self, msisdn=None, imsi_prefix=None, apn=None, enabled=None, after=None):
        self.msisdn = msisdn
        self.imsi_prefix = imsi_prefix
        self.apn = apn
        self.enabled = enabled
        self.after = after

    def matches(self, subscriber):
        return ((self.msisdn is None or subscriber.msisdn == self.msisdn)
                and (self.imsi_prefix is None or subscriber.imsi.startswith(self.imsi_prefix))
                and (self.apn is None or self.apn in subscriber.apns)
                and (self.enabled is None or subscriber.enabled == self.enabled)
                and (self.after is None or subscriber.imsi > self.after))

    def __repr__(self):
        given = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__
                          if getattr(self, name) is not None)
        return f"SubscriberQuery({given})"


EVERY_SUBSCRIBER = SubscriberQuery()


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

    def list_subscribers(offset=0, limit=None, query=EVERY_SUBSCRIBER):
        """Fires a list of the Subscribers ``query`` (a SubscriberQuery)
        wants, ordered by IMSI, from the ``offset``-th, at most ``limit``."""

    def count_subscribers(query=EVERY_SUBSCRIBER):
        """Fires the number of subscribers ``query`` wants."""

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

    def update_apn(name, /, **changes):
        """Change fields of an APN profile (any but name); fires the new
        ApnProfile.  NotFoundError, ValidationError, DuplicateError (a
        context_id another APN has)."""

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


class IImsSubscriptions(Interface):
    """IMS subscriptions, iFC templates and the Cx registration state
    (records of :mod:`pyhss.storage.ims_records`; the state changes of
    :mod:`pyhss.storage.ims_state`, applied in the store's transaction).

    A public identity belongs to one subscription; a subscription names an
    existing subscriber (IMSI), whose SQN IMS AKA shares with S6a, and an
    existing iFC template or none.  Deleting a subscriber that an IMS
    subscription names, or a template one uses, is InUseError."""

    def add_ifc_template(template):
        """Store a new IfcTemplate; DuplicateError.  Fires None."""

    def get_ifc_template(name):
        """Fires the IfcTemplate, or None."""

    def list_ifc_templates():
        """Fires a list of IfcTemplates ordered by name."""

    def update_ifc_template(template):
        """Replace a template's XML; NotFoundError.  Fires the IMPIs of the
        subscriptions that use it."""

    def delete_ifc_template(name):
        """NotFoundError; InUseError while a subscription names it."""

    def add_ims_subscription(subscription):
        """Store a new ImsSubscription; DuplicateError when its IMPI or one
        of its public identities exists, ValidationError when its IMSI or
        iFC template does not.  Fires None."""

    def get_ims_subscription(impi):
        """Fires the ImsSubscription, or None."""

    def find_ims_subscription(impu):
        """Fires the ImsSubscription holding public identity ``impu``, or None."""

    def list_ims_subscriptions(offset=0, limit=None):
        """Fires a list of ImsSubscriptions ordered by IMPI."""

    def count_ims_subscriptions():
        """Fires the number of IMS subscriptions."""

    def update_ims_subscription(impi, /, **changes):
        """Change fields (any but impi); fires the new ImsSubscription.
        Public identities that are no longer listed lose their registration
        state.  NotFoundError, DuplicateError, ValidationError."""

    def delete_ims_subscription(impi):
        """Remove the subscription and its registration; NotFoundError."""

    def ims_lookup(impi=None, impu=None):
        """Fires ``(subscription, registration)``: the subscription of
        ``impi`` (else the one holding ``impu``) and its ImsRegistration,
        or ``(None, None)``.  (UAR, LIR: one round trip.)"""

    def ims_authenticate(request):
        """MAR in one transaction, for an ims_state.Authentication: read
        the subscription of ``request.impi`` and, when ``request.impu`` is
        one of its public identities, reserve ``request.sqn_request`` SQNs
        on its subscriber (when given, and the subscriber meets
        ``request.required``) and store the S-CSCF
        (``ims_state.authenticated``).  Fires ``(subscription,
        registration before, subscriber, sqns)``: sqns None when nothing
        was reserved; nothing but the subscription (or None) when the
        identities do not match."""

    def ims_assign(request):
        """SAR (or the HSS's de-registration) in one transaction, for an
        ims_state.Assignment: read the subscription (by ``request.impi``,
        else ``request.impu``), apply ``ims_state.assigned`` when
        ``request.impu`` is None or one of its public identities.  Fires
        ``(subscription, registration before, registration after,
        outcome, ifc template)``; all but the subscription None when it
        does not hold ``request.impu``."""


class IEquipmentRegister(Interface):
    """The EIR (S13 ECR, ``pyhss-admin eir``): Equipment-Status rules by
    IMEI or TAC (:class:`~pyhss.storage.records_eir.EquipmentRule`) and
    the history of checks (:class:`~pyhss.storage.records_eir.EquipmentCheck`)."""

    def add_equipment_rule(rule, replace=False):
        """Store an EquipmentRule; DuplicateError when one with its key
        exists (unless ``replace``).  Fires the rule."""

    def get_equipment_rule(key):
        """Fires the rule of ``key`` (14-digit IMEI or 8-digit TAC), or None."""

    def delete_equipment_rule(key):
        """Remove the rule of ``key``; NotFoundError."""

    def list_equipment_rules(offset=0, limit=None):
        """Fires a list of EquipmentRules ordered by key."""

    def count_equipment_rules():
        """Fires the number of rules (a page's total: list_equipment_rules pages)."""

    def match_equipment(imei):
        """ECR in one store round trip: fires ``(imei_rule, tac_rule)``, the
        rule of the 14-digit ``imei`` and the rule of its TAC (its first 8
        digits), each None when there is none."""

    def record_equipment_checks(checks, limit):
        """Append EquipmentChecks (in the order given) to the history, then
        keep what ``limit`` (a HistoryLimit) allows, oldest dropped first,
        in one transaction.  Fires ``(added, removed)``."""

    def list_equipment_checks(imei=None, imsi=None, since=None, limit=None):
        """Fires the newest ``limit`` checks (all when None) of ``imei`` (14
        digits) and/or ``imsi``, checked at or after ``since`` (seconds),
        oldest first."""

    def count_equipment_checks():
        """Fires the number of checks in the history."""


class IStore(ISubscribers, ISqnReservation, IServingNodes, IImsSubscriptions, IEquipmentRegister):
    """Every role, and the store's life cycle."""

    opened = Attribute("Deferred that fires (with the store) once the store is usable, or fails with StoreError")

    def close():
        """Release connections and threads; fires when done."""
