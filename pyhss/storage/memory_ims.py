"""The IMS role (:class:`~pyhss.storage.interface.IImsSubscriptions`) of
the in-process store: a mixin of :class:`pyhss.storage.memory.MemoryStore`,
which provides ``_check_open``, ``_check_type`` and ``_subscribers``."""

from pyhss.auc.sqn import SqnRequest, advance
from pyhss.storage.errors import DuplicateError, InUseError, NotFoundError, ValidationError
from pyhss.storage.ims_records import IfcTemplate, ImsRegistration, ImsSubscription, normalise_impu
from pyhss.storage.ims_state import Assignment, Authentication, assigned, authenticated, for_identities
from pyhss.storage.interface import ANY_STATE
from pyhss.storage.memory_calls import deferred as _deferred, page
from pyhss.storage.records import changed


class MemoryImsMixin:
    def _init_ims(self):
        self._ims = {}              # IMPI -> ImsSubscription
        self._impus = {}            # IMPU -> IMPI
        self._registrations = {}    # IMPI -> ImsRegistration (absent: nothing registered)
        self._ifcs = {}             # name -> IfcTemplate

    def _ims_users_of(self, imsi):
        return [s.impi for s in self._ims.values() if s.imsi == imsi]

    # --- iFC templates ----------------------------------------------------------------
    @_deferred
    def add_ifc_template(self, template):
        self._check_open()
        self._check_type(template, IfcTemplate)
        if template.name in self._ifcs:
            raise DuplicateError(f"iFC template {template.name!r} already exists")
        self._ifcs[template.name] = template

    @_deferred
    def get_ifc_template(self, name):
        self._check_open()
        return self._ifcs.get(name)

    @_deferred
    def list_ifc_templates(self):
        self._check_open()
        return [self._ifcs[name] for name in sorted(self._ifcs)]

    @_deferred
    def update_ifc_template(self, template):
        self._check_open()
        self._check_type(template, IfcTemplate)
        if template.name not in self._ifcs:
            raise NotFoundError(f"no iFC template {template.name!r}")
        self._ifcs[template.name] = template
        return sorted(s.impi for s in self._ims.values() if s.ifc == template.name)

    @_deferred
    def delete_ifc_template(self, name):
        self._check_open()
        if name not in self._ifcs:
            raise NotFoundError(f"no iFC template {name!r}")
        for subscription in self._ims.values():
            if subscription.ifc == name:
                raise InUseError(f"iFC template {name!r} is used by {subscription.impi}")
        del self._ifcs[name]

    # --- subscriptions ----------------------------------------------------------------
    def _check_links(self, subscription):
        if subscription.imsi not in self._subscribers:
            raise ValidationError(f"no subscriber {subscription.imsi} for {subscription.impi}")
        if subscription.ifc is not None and subscription.ifc not in self._ifcs:
            raise ValidationError(f"unknown iFC template {subscription.ifc!r}")
        for impu in subscription.impus:
            owner = self._impus.get(impu.uri)
            if owner is not None and owner != subscription.impi:
                raise DuplicateError(f"public identity {impu.uri} belongs to {owner}")

    @_deferred
    def add_ims_subscription(self, subscription):
        self._check_open()
        self._check_type(subscription, ImsSubscription)
        if subscription.impi in self._ims:
            raise DuplicateError(f"IMS subscription {subscription.impi} already exists")
        self._check_links(subscription)
        self._ims[subscription.impi] = subscription
        for impu in subscription.impus:
            self._impus[impu.uri] = subscription.impi

    @_deferred
    def get_ims_subscription(self, impi):
        self._check_open()
        return self._ims.get(impi)

    def _by_impu(self, impu):
        impi = self._impus.get(_normalised(impu))
        return None if impi is None else self._ims[impi]

    @_deferred
    def find_ims_subscription(self, impu):
        self._check_open()
        return self._by_impu(impu)

    @_deferred
    def list_ims_subscriptions(self, offset=0, limit=None):
        self._check_open()
        return [self._ims[impi] for impi in page(sorted(self._ims), offset, limit)]

    @_deferred
    def count_ims_subscriptions(self):
        self._check_open()
        return len(self._ims)

    @_deferred
    def update_ims_subscription(self, impi, /, **changes):
        self._check_open()
        current = self._ims.get(impi)
        if current is None:
            raise NotFoundError(f"no IMS subscription {impi}")
        updated = changed(current, changes)
        self._check_links(updated)
        for impu in current.impus:
            del self._impus[impu.uri]
        for impu in updated.impus:
            self._impus[impu.uri] = impi
        self._ims[impi] = updated
        registration = self._registrations.get(impi)
        if registration is not None:
            self._registrations[impi] = for_identities(registration, updated)
        return updated

    @_deferred
    def delete_ims_subscription(self, impi):
        self._check_open()
        subscription = self._ims.pop(impi, None)
        if subscription is None:
            raise NotFoundError(f"no IMS subscription {impi}")
        for impu in subscription.impus:
            self._impus.pop(impu.uri, None)
        self._registrations.pop(impi, None)

    # --- Cx -------------------------------------------------------------------------
    def _registration(self, impi):
        return self._registrations.get(impi) or ImsRegistration(impi)

    @_deferred
    def ims_lookup(self, impi=None, impu=None):
        self._check_open()
        subscription = self._ims.get(impi) if impi is not None else self._by_impu(impu)
        if subscription is None:
            return None, None
        return subscription, self._registration(subscription.impi)

    @_deferred
    def ims_authenticate(self, request):
        self._check_open()
        self._check_type(request, Authentication)
        if request.sqn_request is not None and type(request.sqn_request) is not SqnRequest:
            raise ValidationError(f"expected a SqnRequest, got {type(request.sqn_request).__name__}")
        subscription = self._ims.get(request.impi)
        if subscription is None or subscription.identity(request.impu) is None:
            return subscription, None, None, None
        before = self._registration(request.impi)
        subscriber = self._subscribers.get(subscription.imsi)
        sqns = None
        if request.sqn_request is not None and (request.required or ANY_STATE).met_by(subscriber):
            new_sqn, sqns = advance(subscriber.sqn, request.sqn_request)
            if new_sqn != subscriber.sqn:
                self._subscribers[subscriber.imsi] = changed(subscriber, {"sqn": new_sqn})
        after = authenticated(before, request)
        if after is not before:
            self._registrations[request.impi] = after
        return subscription, before, subscriber, sqns

    @_deferred
    def ims_assign(self, request):
        self._check_open()
        self._check_type(request, Assignment)
        subscription = self._ims.get(request.impi) if request.impi is not None else self._by_impu(request.impu)
        if subscription is None or (request.impu is not None and subscription.identity(request.impu) is None):
            return subscription, None, None, None, None
        before = self._registration(subscription.impi)
        outcome, after = assigned(subscription, before, request)
        if after is not before:
            self._registrations[subscription.impi] = after
        template = self._ifcs.get(subscription.ifc) if subscription.ifc is not None else None
        return subscription, before, after, outcome, template


def _normalised(impu):
    try:
        return normalise_impu(impu)
    except ValidationError:
        return None

