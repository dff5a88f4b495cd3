"""IMS provisioning (Cx): what ``pyhss-admin ims/ifc`` and the REST API
both do to IMS subscriptions and iFC templates, and what they ask the
running server for (:mod:`pyhss.apps.cx_control`): PPR when a registered
subscription's profile for the S-CSCF changes (public identities, iFC),
RTR to deregister.

The shapes are those of :mod:`pyhss.provisioning` over the rules of
:mod:`pyhss.storage.ims_records`.  The SIP Digest password is write-only:
it is turned into HA1 = MD5(IMPI:realm:password) here and never stored
nor returned.
"""

from twisted.internet import defer

from pyhss import control
from pyhss.apps import cx_control
from pyhss.apps.cx_userdata import canonical_template
from pyhss.protocols.results import DIAMETER_SUCCESS
from pyhss.provisioning import InvalidInput, OperationFailed, Shape, checked_key
from pyhss.storage.errors import NotFoundError, ValidationError
from pyhss.storage.ims_records import (
    IFC_TEMPLATE_RULES, IMS_REGISTRATION_RULES, IMS_SUBSCRIPTION_RULES, IfcTemplate, ImsRegistration,
    ImsSubscription, digest_ha1,
)

# ImsSubscription fields an S-CSCF is given: changing one means PPR.
PROFILE_FIELDS = ("impus", "ifc")


class ImsShape(Shape):
    """An IMS subscription's shape: ``digest_password`` in, HA1 stored.

    The digest (HA1 and realm) is kept by a replace that does not name it,
    as K and OPc are; ``digest_password: null`` removes it; a realm alone
    is refused (HA1 depends on it)."""

    def parse(self, body, mode, key=None):
        values = Shape.parse(self, body, mode, key)
        impi = values.get("impi", key)
        if "digest_password" in values:
            password = values.pop("digest_password")
            if password is None:
                if values.get("digest_realm") is not None:
                    raise InvalidInput([("digest_realm", "needs digest_password")])
                values["digest_ha1"] = values["digest_realm"] = None
            else:
                realm = values.get("digest_realm") or impi.split("@", 1)[1]
                values["digest_ha1"], values["digest_realm"] = digest_ha1(impi, realm, password), realm
        elif values.get("digest_realm") is not None:
            raise InvalidInput([("digest_realm", "needs digest_password (HA1 depends on the realm)")])
        elif "digest_realm" in values:
            values.pop("digest_realm")
        return values


IMS_SUBSCRIPTION = ImsShape("IMS subscription", ImsSubscription, IMS_SUBSCRIPTION_RULES, key="impi",
                            required=("impi", "imsi", "impus"), kept=("digest_ha1", "digest_realm"))
IMS_REGISTRATION = Shape("IMS registration", ImsRegistration, IMS_REGISTRATION_RULES, key="impi",
                         read_only=tuple(rule.name for rule in IMS_REGISTRATION_RULES))
IFC_TEMPLATE = Shape("iFC template", IfcTemplate, IFC_TEMPLATE_RULES, key="name", required=("name", "xml"))


def not_needed():
    return dict(cx_control.outcome(False, reason="not-needed"),
                message="profile unchanged for the S-CSCF: no PPR needed")


@defer.inlineCallbacks
def profile_changed(server, impi):
    """Ask the server for a PPR; the store is updated whatever happens here.
    Fires the outcome with a ``message``."""
    try:
        result = yield server.call(cx_control.ImsProfileChanged, impi=impi)
    except control.ServerUnreachable as e:
        return dict(cx_control.outcome(False, reason="server-unreachable"),
                    message=f"{e}: store updated, no PPR sent")
    except defer.TimeoutError:
        return dict(cx_control.outcome(False, reason="timeout"),
                    message=f"no answer from the server within {server.timeout:g}s: store updated, "
                            f"PPR outcome unknown")
    except control.ControlError as e:
        return dict(cx_control.outcome(False, reason="server-error"),
                    message=f"server error: {e}: store updated, no PPR sent")
    return dict(result, message=cx_control.describe("PPR", result))


def parse_identity(identity):
    """("impi", IMPI) or ("impu", IMPU); ValidationError otherwise."""
    try:
        return cx_control.parse_identity(identity)
    except cx_control.InvalidIdentity as e:
        raise InvalidInput([("identity", str(e))]) from None


@defer.inlineCallbacks
def deregister(server, identity, reason=None):
    """Have the server send RTR for a public identity (its implicit set) or
    a private identity (all of them); fires the outcome with a ``message``
    when done (the S-CSCF answered 2001, or nothing was registered), else
    OperationFailed; NotFoundError, InvalidInput."""
    kind, identity = parse_identity(identity)
    arguments = {"identity": identity}
    if reason is not None:
        arguments["reason"] = reason
    try:
        result = yield server.call(cx_control.ImsDeregister, **arguments)
    except control.ServerUnreachable as e:
        raise OperationFailed(f"{e}: no RTR sent") from None
    except defer.TimeoutError:
        raise OperationFailed(f"no answer from the server within {server.timeout:g}s: "
                              f"RTR outcome unknown") from None
    except cx_control.UnknownIdentity:
        raise NotFoundError(f"no IMS subscription has {identity}") from None
    except cx_control.InvalidIdentity as e:
        raise InvalidInput([("identity", str(e))]) from None
    except control.ControlError as e:
        raise OperationFailed(f"server error: {e}: no RTR sent") from None
    message = cx_control.describe("RTR", result)
    outcome = dict(result, message=message)
    # Nothing registered is done; an S-CSCF not reached or refusing is not.
    done = (result["result_code"] == DIAMETER_SUCCESS if result["sent"]
            else result["reason"] == cx_control.NOT_REGISTERED)
    if not done:
        raise OperationFailed(message, outcome)
    return outcome


def template_from_text(name, xml):
    """An IfcTemplate of checked, canonical XML (InvalidInput naming ``xml``)."""
    name = checked_key(IFC_TEMPLATE, name)
    try:
        return IfcTemplate(name, canonical_template(xml))
    except ValidationError as e:
        raise InvalidInput([("xml", str(e))]) from None


class ImsProvisioning:
    """The IMS operations over a store, telling ``server`` (``call(command,
    **arguments)`` and ``timeout``) about them; every method returns a
    Deferred (failures as :class:`pyhss.provisioning.Provisioning`'s)."""

    def __init__(self, store, server):
        self.store = store
        self.server = server

    # --- subscriptions -----------------------------------------------------------------
    @defer.inlineCallbacks
    def get_subscription(self, impi):
        subscription = yield self.store.get_ims_subscription(checked_key(IMS_SUBSCRIPTION, impi))
        if subscription is None:
            raise NotFoundError(f"no IMS subscription {impi}")
        return subscription

    @defer.inlineCallbacks
    def list_subscriptions(self, offset=0, limit=None):
        """Fires ``(subscriptions, total)``."""
        found = yield self.store.list_ims_subscriptions(offset, limit)
        total = yield self.store.count_ims_subscriptions()
        return found, total

    @defer.inlineCallbacks
    def add_subscription(self, values, if_missing=False):
        """Fires ``(subscription, created)``."""
        subscription = IMS_SUBSCRIPTION.build(values)
        if if_missing:
            existing = yield self.store.get_ims_subscription(subscription.impi)
            if existing is not None:
                return existing, False
        try:
            yield self.store.add_ims_subscription(subscription)
        except ValidationError as e:
            raise InvalidInput.from_error(e) from None
        return subscription, True

    @defer.inlineCallbacks
    def update_subscription(self, impi, changes):
        """Change fields; fires ``(subscription, ppr)``, ``ppr`` the outcome
        of telling the server (a PPR when what the S-CSCF is given changed)."""
        impi = checked_key(IMS_SUBSCRIPTION, impi)
        if not changes:
            raise InvalidInput([(None, "nothing to change")])
        current = yield self.get_subscription(impi)
        try:
            updated = yield self.store.update_ims_subscription(impi, **changes)
        except ValidationError as e:
            raise InvalidInput.from_error(e) from None
        if any(getattr(updated, name) != getattr(current, name) for name in PROFILE_FIELDS):
            ppr = yield profile_changed(self.server, impi)
        else:
            ppr = not_needed()
        return updated, ppr

    @defer.inlineCallbacks
    def registration(self, impi):
        """The subscription's Cx state (no S-CSCF, nothing registered when
        Cx never changed it)."""
        impi = checked_key(IMS_SUBSCRIPTION, impi)
        subscription, registration = yield self.store.ims_lookup(impi=impi)
        if subscription is None:
            raise NotFoundError(f"no IMS subscription {impi}")
        return registration if registration is not None else ImsRegistration(impi)

    def delete_subscription(self, impi):
        return defer.maybeDeferred(lambda: self.store.delete_ims_subscription(checked_key(IMS_SUBSCRIPTION, impi)))

    def deregister(self, identity, reason=None):
        return defer.maybeDeferred(deregister, self.server, identity, reason)

    # --- iFC templates -----------------------------------------------------------------
    @defer.inlineCallbacks
    def get_template(self, name):
        template = yield self.store.get_ifc_template(checked_key(IFC_TEMPLATE, name))
        if template is None:
            raise NotFoundError(f"no iFC template {name!r}")
        return template

    def list_templates(self):
        return self.store.list_ifc_templates()

    @defer.inlineCallbacks
    def add_template(self, name, xml):
        template = template_from_text(name, xml)
        yield self.store.add_ifc_template(template)
        return template

    @defer.inlineCallbacks
    def replace_template(self, name, xml):
        """Fires ``(template, pprs)``: a PPR to each registered user's S-CSCF
        (``[outcome with its impi]``, the not-registered left out)."""
        template = template_from_text(name, xml)
        users = yield self.store.update_ifc_template(template)
        pushed = []
        for impi in users:
            result = yield profile_changed(self.server, impi)
            if result.get("reason") != cx_control.NOT_REGISTERED:
                pushed.append(dict(result, impi=impi))
        return template, users, pushed

    def delete_template(self, name):
        return defer.maybeDeferred(lambda: self.store.delete_ifc_template(checked_key(IFC_TEMPLATE, name)))


__all__ = [
    "IFC_TEMPLATE", "IMS_REGISTRATION", "IMS_SUBSCRIPTION", "ImsProvisioning", "ImsShape", "PROFILE_FIELDS",
    "deregister", "profile_changed", "template_from_text",
]
