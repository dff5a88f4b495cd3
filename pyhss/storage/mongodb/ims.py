"""The IMS role (IImsSubscriptions) on MongoDB: collections
``ifc_template`` (``_id`` the name) and ``ims_subscription`` (``_id`` the
IMPI), a mixin of :class:`~pyhss.storage.mongodb.store.MongoStore`.

A subscription is one document: its provisioning, its public identities
(``impus``, in order) and ``uris``, their URIs, under a unique multikey
index, so that an identity belongs to one subscription and LIR finds it
by index; its registration state is a sub-document ``registration``.
Every write of a subscription is a compare-and-set on its revision
(``rev``, ``$inc``-ed by each write): of two writers that read the same
revision one writes, the other reads again.  MAR reserves SQNs with the
compare-and-set S6a's AIR uses (:mod:`pyhss.storage.mongodb.sqn`), on the
same subscriber document, so IMS AKA and S6a never share an SQN.

Documents are built and read by the pure functions here, as
:mod:`~pyhss.storage.mongodb.documents` does for subscribers: keys are
checked before they go in a filter (an IMPI is a string, an IMPU a
URI that normalises), so an operator object finds nothing without a query.
"""

from twisted.internet import defer
from twisted.python.failure import Failure

from pyhss.auc.sqn import SqnRequest
from pyhss.storage.errors import DuplicateError, InUseError, NotFoundError, StoreError, ValidationError
from pyhss.storage.ims_records import (
    IfcTemplate, ImsRegistration, ImsSubscription, PublicIdentity,
)
from pyhss.storage.ims_state import Assignment, Authentication, assigned, authenticated, for_identities
from pyhss.storage import keys
from pyhss.storage.interface import ANY_STATE
from pyhss.storage.mongodb import documents as docs
from pyhss.storage.mongodb.subscribers import is_duplicate
from pyhss.storage.records import changed

IFC_TEMPLATES = "ifc_template"
IMS_SUBSCRIPTIONS = "ims_subscription"
CAS_ATTEMPTS = 64


# --- documents (pure) -------------------------------------------------------------------

impi_key = keys.impi_key
impu_key = keys.impu_key


def subscription_document(subscription):
    return {"_id": subscription.impi, "imsi": subscription.imsi,
            "impus": [{"uri": i.uri, "barred": i.barred, "implicit_set": i.implicit_set}
                      for i in subscription.impus],
            "uris": [i.uri for i in subscription.impus],
            "digest_ha1": subscription.digest_ha1, "digest_realm": subscription.digest_realm,
            "ifc": subscription.ifc}


def provisioning_set(subscription):
    """The ``$set`` of an update of a subscription's provisioning."""
    document = subscription_document(subscription)
    del document["_id"]
    return document


def registration_document(registration):
    return {"server_name": registration.server_name, "scscf_host": registration.scscf_host,
            "scscf_realm": registration.scscf_realm, "peer": registration.peer,
            "pending": registration.pending, "states": [[uri, state] for uri, state in registration.states],
            "updated_at": registration.updated_at}


def subscription_from_document(document):
    """(ImsSubscription, ImsRegistration) of a document, or (None, None)."""
    if document is None:
        return None, None
    impi = document["_id"]
    impus = tuple(PublicIdentity(i["uri"], bool(i.get("barred", False)), int(i.get("implicit_set", 1)))
                  for i in document.get("impus") or ())
    subscription = ImsSubscription(impi, document.get("imsi"), impus, document.get("digest_ha1"),
                                   document.get("digest_realm"), document.get("ifc"))
    stored = document.get("registration") or {}
    registration = ImsRegistration(
        impi, stored.get("server_name"), stored.get("scscf_host"), stored.get("scscf_realm"), stored.get("peer"),
        bool(stored.get("pending", False)), tuple(tuple(pair) for pair in stored.get("states") or ()),
        float(stored.get("updated_at", 0.0)))
    return subscription, registration


def revision_filter(document):
    """Matches ``document`` only while nobody has written it since it was read."""
    return {"_id": document["_id"], "rev": document.get("rev", 0)}


def template_from_document(document):
    return None if document is None else IfcTemplate(document["_id"], document["xml"])


class ImsRole:
    """IImsSubscriptions for :class:`~pyhss.storage.mongodb.store.MongoStore`."""

    def _expect(self, value, cls):
        if not isinstance(value, cls):
            return defer.fail(ValidationError(f"expected a {cls.__name__}, got {type(value).__name__}"))
        return None

    # --- iFC templates ----------------------------------------------------------------
    def add_ifc_template(self, template):
        return self._expect(template, IfcTemplate) or self._call(self._add_template, template)

    @defer.inlineCallbacks
    def _add_template(self, template):
        try:
            yield self._collection(IFC_TEMPLATES).insert_one({"_id": template.name, "xml": template.xml})
        except Exception:
            failure = Failure()
            if is_duplicate(failure):
                raise DuplicateError(f"iFC template {template.name!r} already exists") from None
            failure.raiseException()

    def get_ifc_template(self, name):
        if keys.ifc_key(name) is None:
            return self._nothing(None)
        return self._call(self._get_template, name)

    @defer.inlineCallbacks
    def _get_template(self, name):
        return template_from_document((yield self._collection(IFC_TEMPLATES).find_one({"_id": name})))

    def list_ifc_templates(self):
        return self._call(lambda: self._collection(IFC_TEMPLATES).find({}, sort=[("_id", 1)]).addCallback(
            lambda found: [template_from_document(d) for d in found]))

    def update_ifc_template(self, template):
        return self._expect(template, IfcTemplate) or self._call(self._update_template, template)

    @defer.inlineCallbacks
    def _update_template(self, template):
        result = yield self._collection(IFC_TEMPLATES).update_one({"_id": template.name},
                                                                  {"$set": {"xml": template.xml}})
        if not result.matched_count:
            raise NotFoundError(f"no iFC template {template.name!r}")
        users = yield self._collection(IMS_SUBSCRIPTIONS).find({"ifc": template.name}, projection={"_id": 1},
                                                               sort=[("_id", 1)])
        return [document["_id"] for document in users]

    def delete_ifc_template(self, name):
        if keys.ifc_key(name) is None:
            return defer.fail(NotFoundError(f"no iFC template {name!r}"))
        return self._call(self._delete_template, name)

    @defer.inlineCallbacks
    def _delete_template(self, name):
        if (yield self._collection(IFC_TEMPLATES).find_one({"_id": name}, projection={"_id": 1})) is None:
            raise NotFoundError(f"no iFC template {name!r}")
        user = yield self._collection(IMS_SUBSCRIPTIONS).find_one({"ifc": name}, projection={"_id": 1},
                                                                  sort=[("_id", 1)])
        if user is not None:
            raise InUseError(f"iFC template {name!r} is used by {user['_id']}")
        yield self._collection(IFC_TEMPLATES).delete_one({"_id": name})

    # --- subscriptions ----------------------------------------------------------------
    @defer.inlineCallbacks
    def _check_links(self, subscription):
        if (yield self._collection(docs.SUBSCRIBERS).find_one({"_id": subscription.imsi},
                                                              projection={"_id": 1})) is None:
            raise ValidationError(f"no subscriber {subscription.imsi} for {subscription.impi}")
        if subscription.ifc is not None and (yield self._collection(IFC_TEMPLATES).find_one(
                {"_id": subscription.ifc}, projection={"_id": 1})) is None:
            raise ValidationError(f"unknown iFC template {subscription.ifc!r}")
        owners = yield self._collection(IMS_SUBSCRIPTIONS).find(
            {"uris": {"$in": [i.uri for i in subscription.impus]}, "_id": {"$ne": subscription.impi}},
            projection={"uris": 1}, limit=1)
        for owner in owners:
            taken = [i.uri for i in subscription.impus if i.uri in owner.get("uris", ())]
            raise DuplicateError(f"public identity {taken[0] if taken else '?'} belongs to {owner['_id']}")

    def add_ims_subscription(self, subscription):
        return (self._expect(subscription, ImsSubscription)
                or self._call(self._add_subscription, subscription, key=subscription.impi))

    @defer.inlineCallbacks
    def _add_subscription(self, subscription):
        collection = self._collection(IMS_SUBSCRIPTIONS)
        if (yield collection.find_one({"_id": subscription.impi}, projection={"_id": 1})) is not None:
            raise DuplicateError(f"IMS subscription {subscription.impi} already exists")
        yield self._check_links(subscription)
        document = dict(subscription_document(subscription), rev=0,
                        registration=registration_document(ImsRegistration(subscription.impi)))
        try:
            yield collection.insert_one(document)
        except Exception:
            failure = Failure()
            if is_duplicate(failure):
                raise DuplicateError(f"IMS subscription {subscription.impi} or one of its public identities "
                                     f"already exists") from None
            failure.raiseException()

    @defer.inlineCallbacks
    def _document_by_impi(self, impi):
        return (yield self._collection(IMS_SUBSCRIPTIONS).find_one({"_id": impi}))

    @defer.inlineCallbacks
    def _document_by_impu(self, uri):
        return (yield self._collection(IMS_SUBSCRIPTIONS).find_one({"uris": uri}))

    def _document(self, impi=None, impu=None):
        """The subscription document of ``impi`` (else of ``impu``), or None
        without a query when the key cannot be one."""
        if impi is not None:
            key = impi_key(impi)
            return self._document_by_impi(key) if key is not None else defer.succeed(None)
        uri = impu_key(impu)
        return self._document_by_impu(uri) if uri is not None else defer.succeed(None)

    def get_ims_subscription(self, impi):
        if impi_key(impi) is None:
            return self._nothing(None)
        return self._call(lambda: self._document(impi).addCallback(lambda d: subscription_from_document(d)[0]))

    def find_ims_subscription(self, impu):
        if impu_key(impu) is None:
            return self._nothing(None)
        return self._call(lambda: self._document(impu=impu).addCallback(
            lambda d: subscription_from_document(d)[0]))

    def list_ims_subscriptions(self, offset=0, limit=None):
        return self._call(lambda: self._collection(IMS_SUBSCRIPTIONS).find(
            {}, sort=[("_id", 1)], skip=offset, limit=limit or 0).addCallback(
            lambda found: [subscription_from_document(d)[0] for d in found]))

    def count_ims_subscriptions(self):
        return self._call(lambda: self._collection(IMS_SUBSCRIPTIONS).count_documents({}))

    def update_ims_subscription(self, impi, /, **changes):
        if impi_key(impi) is None:
            return defer.fail(NotFoundError(f"no IMS subscription {impi}"))
        return self._call(self._update_subscription, impi, changes, key=impi)

    @defer.inlineCallbacks
    def _update_subscription(self, impi, changes):
        collection = self._collection(IMS_SUBSCRIPTIONS)
        for _ in range(CAS_ATTEMPTS):
            document = yield self._document_by_impi(impi)
            current, registration = subscription_from_document(document)
            if current is None:
                raise NotFoundError(f"no IMS subscription {impi}")
            updated = changed(current, changes)
            yield self._check_links(updated)
            update = provisioning_set(updated)
            update["registration"] = registration_document(for_identities(registration, updated))
            try:
                result = yield collection.update_one(revision_filter(document), {"$set": update, "$inc": {"rev": 1}})
            except Exception:
                failure = Failure()
                if is_duplicate(failure):
                    raise DuplicateError(f"a public identity of {impi} was added meanwhile to another "
                                         f"subscription") from None
                failure.raiseException()
            if result.matched_count:
                return updated
        raise StoreError(f"IMS subscription {impi} changed {CAS_ATTEMPTS} times while updating")

    def delete_ims_subscription(self, impi):
        if impi_key(impi) is None:
            return defer.fail(NotFoundError(f"no IMS subscription {impi}"))
        return self._call(self._delete_subscription, impi, key=impi)

    @defer.inlineCallbacks
    def _delete_subscription(self, impi):
        result = yield self._collection(IMS_SUBSCRIPTIONS).delete_one({"_id": impi})
        if not result.deleted_count:
            raise NotFoundError(f"no IMS subscription {impi}")

    @defer.inlineCallbacks
    def _ims_user_of(self, imsi):
        """The IMPI of a subscription naming subscriber ``imsi``, or None."""
        user = yield self._collection(IMS_SUBSCRIPTIONS).find_one({"imsi": imsi}, projection={"_id": 1},
                                                                  sort=[("_id", 1)])
        return None if user is None else user["_id"]

    # --- Cx -------------------------------------------------------------------------
    def ims_lookup(self, impi=None, impu=None):
        if (impi_key(impi) if impi is not None else impu_key(impu)) is None:
            return self._nothing((None, None))
        return self._call(lambda: self._document(impi, impu).addCallback(subscription_from_document))

    @defer.inlineCallbacks
    def _write_registration(self, impi, changes, first=None):
        """Read the subscription (``first``: the document already read),
        apply ``changes(subscription, registration)`` -> (result, new
        registration or None), write it if the document is unchanged
        since, else read again.  Fires (subscription, before, result)."""
        collection = self._collection(IMS_SUBSCRIPTIONS)
        document = first
        for _ in range(CAS_ATTEMPTS):
            if document is None:
                document = yield self._document_by_impi(impi)
            subscription, before = subscription_from_document(document)
            if subscription is None:
                return None, None, None
            result, after = changes(subscription, before)
            if after is None or after is before:
                return subscription, before, result
            written = yield collection.update_one(revision_filter(document), {
                "$set": {"registration": registration_document(after)}, "$inc": {"rev": 1}})
            if written.matched_count:
                return subscription, before, result
            document = None
        raise StoreError(f"IMS subscription {impi} changed {CAS_ATTEMPTS} times while registering")

    def ims_authenticate(self, request):
        refused = self._expect(request, Authentication)
        if refused is not None:
            return refused
        if request.sqn_request is not None and type(request.sqn_request) is not SqnRequest:
            return defer.fail(ValidationError(f"expected a SqnRequest, got {type(request.sqn_request).__name__}"))
        if impi_key(request.impi) is None:
            return self._nothing((None, None, None, None))
        return self._call(self._authenticate, request, key=request.impi)

    @defer.inlineCallbacks
    def _authenticate(self, request):
        document = yield self._document_by_impi(request.impi)
        subscription, _ = subscription_from_document(document)
        if subscription is None:
            return None, None, None, None
        if subscription.identity(request.impu) is None:
            return subscription, None, None, None
        subscriber, sqns = None, None
        if request.sqn_request is not None:
            # The same compare-and-set as AIR's, in the subscriber's lane.
            subscriber, sqns = yield self._call(self._reserve_sqns, subscription.imsi, request.sqn_request,
                                                request.required or ANY_STATE, key=subscription.imsi)
        else:
            subscriber = yield self._get_subscriber(subscription.imsi)

        def authenticate(subscription, before):
            after = authenticated(before, request)
            return None, after
        found, before, _ = yield self._write_registration(request.impi, authenticate, document)
        if found is None:             # deleted meanwhile
            return None, None, None, None
        return found, before, subscriber, sqns

    def ims_assign(self, request):
        refused = self._expect(request, Assignment)
        if refused is not None:
            return refused
        key = impi_key(request.impi) if request.impi is not None else impu_key(request.impu)
        if key is None:
            return self._nothing((None, None, None, None, None))
        return self._call(self._assign, request, key=request.impi)

    @defer.inlineCallbacks
    def _assign(self, request):
        document = yield self._document(request.impi, request.impu)
        subscription, _ = subscription_from_document(document)
        if subscription is None or (request.impu is not None and subscription.identity(request.impu) is None):
            return subscription, None, None, None, None

        def assign(subscription, before):
            outcome, after = assigned(subscription, before, request)
            return (outcome, after), after
        subscription, before, result = yield self._write_registration(subscription.impi, assign, document)
        if subscription is None:      # deleted meanwhile
            return None, None, None, None, None
        outcome, after = result
        template = None
        if subscription.ifc is not None:
            template = yield self._get_template(subscription.ifc)
        return subscription, before, after, outcome, template
