"""IMS records (Cx, TS 29.228): subscriptions, public identities, iFC
templates and the registration state, as frozen dataclasses that validate
themselves (like :mod:`pyhss.storage.records`).

An :class:`ImsSubscription` is one private identity (IMPI) with its public
identities (IMPUs), the IMSI whose AuC keys and SQN serve IMS AKA (the
same SQN counter as S6a), an optional SIP Digest HA1 (never the password),
and the name of its iFC template.  Its :class:`ImsRegistration` is what
SAR, MAR and RTR change: the assigned S-CSCF and each IMPU's state.
"""

import hashlib
import re
from dataclasses import dataclass, field, fields

from pyhss.storage import rules
from pyhss.storage.errors import ValidationError
from pyhss.storage.records import IMSI, check_imsi

# TS 29.228 registration states of a public identity (6.1.2.1).
NOT_REGISTERED = "not-registered"
REGISTERED = "registered"
UNREGISTERED = "unregistered"     # "registered" for terminating services only (SAR UNREGISTERED_USER)
STATES = (NOT_REGISTERED, REGISTERED, UNREGISTERED)

MAX_IDENTITY = 255
# No control characters: a SIP URI escapes them (RFC 3261 25.1), and some
# databases' text cannot hold NUL.
_IMPI = re.compile(r"^[^\s@<>\"\x00-\x1f\x7f]+@[A-Za-z0-9.-]+$")
_SIP_URI = re.compile(r"^(sips?):([^\s<>\"\x00-\x1f\x7f]+)$", re.IGNORECASE)
_TEL_URI = re.compile(r"^(tel):(\+?[0-9A-Fa-f*#().-]+)(;[^\s<>\"\x00-\x1f\x7f]*)?$", re.IGNORECASE)
_IFC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HA1 = re.compile(r"^[0-9a-f]{32}$")


def check_impi(impi):
    """A private identity: an NAI, user@realm (TS 23.003 13.3)."""
    if not isinstance(impi, str) or len(impi) > MAX_IDENTITY or not _IMPI.match(impi):
        raise ValidationError(f"private identity must be user@realm (an NAI), got {impi!r}")
    return impi


def normalise_impu(uri):
    """A public identity: a SIP, SIPS or tel URI (TS 23.003 13.4), its
    scheme in lower case."""
    if not isinstance(uri, str) or len(uri) > MAX_IDENTITY:
        raise ValidationError(f"public identity must be a sip:, sips: or tel: URI, got {uri!r}")
    match = _SIP_URI.match(uri) or _TEL_URI.match(uri)
    if match is None:
        raise ValidationError(f"public identity must be a sip:, sips: or tel: URI, got {uri!r}")
    return match.group(1).lower() + uri[len(match.group(1)):]


def check_ifc_name(name):
    if not isinstance(name, str) or not _IFC_NAME.match(name):
        raise ValidationError(f"iFC template name must be 1-64 letters, digits, '_', '.' or '-', got {name!r}")
    return name


def digest_ha1(impi, realm, password):
    """HA1 = MD5(username ":" realm ":" password) (RFC 2617 3.2.2.2), the
    username being the private identity (TS 24.229 5.1.1.2.1)."""
    if not isinstance(password, str) or not password:
        raise ValidationError("digest password must be a non-empty string")
    return hashlib.md5(f"{impi}:{realm}:{password}".encode("utf-8")).hexdigest()


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise ValidationError(f"{name} must be true or false, got {value!r}")


@dataclass(frozen=True, slots=True)
class PublicIdentity:
    """One IMPU: barred or not, and the implicit registration set it
    belongs to (identities of one set are registered together, TS 29.228
    6.5)."""

    uri: str
    barred: bool = False
    implicit_set: int = 1

    def __post_init__(self):
        object.__setattr__(self, "uri", normalise_impu(self.uri))
        _check_bool("barred", self.barred)
        if isinstance(self.implicit_set, bool) or not isinstance(self.implicit_set, int) \
                or not 1 <= self.implicit_set <= 0xFFFF:
            raise ValidationError(f"implicit_set must be an integer 1..65535, got {self.implicit_set!r}")


@dataclass(frozen=True, slots=True)
class ImsSubscription:
    impi: str
    imsi: str
    impus: tuple                                   # PublicIdentity; the first is the default one
    digest_ha1: str | None = field(default=None, repr=False)   # password-equivalent: never in a repr
    digest_realm: str | None = None
    ifc: str | None = None                         # iFC template name

    def __post_init__(self):
        check_impi(self.impi)
        check_imsi(self.imsi)
        if isinstance(self.impus, (str, PublicIdentity)) or not isinstance(self.impus, (tuple, list)) \
                or not self.impus:
            raise ValidationError("an IMS subscription needs at least one public identity")
        impus = tuple(impu if isinstance(impu, PublicIdentity) else PublicIdentity(impu) for impu in self.impus)
        uris = [impu.uri for impu in impus]
        if len(set(uris)) != len(uris):
            raise ValidationError(f"public identity listed twice in {uris}")
        object.__setattr__(self, "impus", impus)
        if (self.digest_ha1 is None) != (self.digest_realm is None):
            raise ValidationError("digest HA1 and digest realm go together")
        if self.digest_ha1 is not None and (not isinstance(self.digest_ha1, str)
                                            or not _HA1.match(self.digest_ha1)):
            raise ValidationError("digest HA1 must be 32 lower-case hex digits (MD5)")
        if self.digest_realm is not None and (not isinstance(self.digest_realm, str) or not self.digest_realm
                                              or len(self.digest_realm) > MAX_IDENTITY):
            raise ValidationError(f"digest realm must be a non-empty string, got {self.digest_realm!r}")
        if self.ifc is not None:
            check_ifc_name(self.ifc)

    def identity(self, uri):
        """The PublicIdentity ``uri`` (any scheme case), or None."""
        for impu in self.impus:     # as stored: the usual case, no parsing
            if impu.uri == uri:
                return impu
        try:
            uri = normalise_impu(uri)
        except ValidationError:
            return None
        for impu in self.impus:
            if impu.uri == uri:
                return impu
        return None

    def implicit_set(self, uri):
        """The PublicIdentities registered together with ``uri`` (itself
        first), or () when it is not one of ours."""
        own = self.identity(uri)
        if own is None:
            return ()
        return (own,) + tuple(i for i in self.impus if i.implicit_set == own.implicit_set and i is not own)


@dataclass(frozen=True, slots=True)
class IfcTemplate:
    """A named set of InitialFilterCriteria (TS 29.228 Annex E/F) as XML
    text, checked by :mod:`pyhss.apps.cx_userdata` when added."""

    name: str
    xml: str

    def __post_init__(self):
        check_ifc_name(self.name)
        if not isinstance(self.xml, str) or not self.xml.strip():
            raise ValidationError("iFC template XML must be non-empty text")
        if len(self.xml) > 65536:
            raise ValidationError(f"iFC template XML must be at most 65536 characters, got {len(self.xml)}")


@dataclass(frozen=True, slots=True)
class ImsRegistration:
    """The Cx state of one IMS subscription: the S-CSCF (its Server-Name
    SIP URI, the Diameter host and realm that named it, the connected peer
    it came over) and each public identity's state; ``pending`` is set
    while an S-CSCF named by MAR has not yet been confirmed by SAR (TS
    29.228 8.1: the "S-CSCF reassignment pending" flag)."""

    impi: str
    server_name: str | None = None
    scscf_host: str | None = None
    scscf_realm: str | None = None
    peer: str | None = None
    pending: bool = False
    states: tuple = ()            # ((uri, REGISTERED | UNREGISTERED), ...); the others are not registered
    updated_at: float = 0.0

    def __post_init__(self):
        check_impi(self.impi)
        for name in ("server_name", "scscf_host", "scscf_realm", "peer"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value or len(value) > MAX_IDENTITY):
                raise ValidationError(f"{name} must be a non-empty string, got {value!r}")
        _check_bool("pending", self.pending)
        states = tuple(sorted((normalise_impu(uri), state) for uri, state in self.states))
        for uri, state in states:
            if state not in (REGISTERED, UNREGISTERED):
                raise ValidationError(f"state of {uri} must be {REGISTERED} or {UNREGISTERED}, got {state!r}")
        if len({uri for uri, _ in states}) != len(states):
            raise ValidationError("a public identity has two states")
        object.__setattr__(self, "states", states)
        if isinstance(self.updated_at, bool) or not isinstance(self.updated_at, (int, float)):
            raise ValidationError(f"updated_at must be a number, got {self.updated_at!r}")

    def state(self, uri):
        for known, state in self.states:
            if known == uri:
                return state
        return NOT_REGISTERED

    @property
    def registered(self):
        """True while any identity is registered or unregistered-with-services."""
        return bool(self.states)


IMS_SUBSCRIPTION_FIELDS = tuple(f.name for f in fields(ImsSubscription))
IMS_REGISTRATION_FIELDS = tuple(f.name for f in fields(ImsRegistration))


# --- the field rules (pyhss-admin ims/ifc and the REST API read these) -----------------

def _public_identity(value):
    """A PublicIdentity from one JSON item: a URI, or an object with
    ``uri`` and optionally ``barred`` and ``implicit_set``."""
    if isinstance(value, PublicIdentity):
        return value
    if isinstance(value, str):
        return PublicIdentity(value)
    if not isinstance(value, dict):
        raise ValidationError(f"each public identity must be a URI or an object, got {rules.describe(value)}")
    unknown = sorted(set(value) - {"uri", "barred", "implicit_set"})
    if unknown:
        raise ValidationError(f"a public identity has unknown field(s) {', '.join(unknown)}")
    if "uri" not in value:
        raise ValidationError("a public identity needs its uri")
    return PublicIdentity(value["uri"], value.get("barred", False), value.get("implicit_set", 1))


class PublicIdentities(rules.Rule):
    """The public identities (IMPUs), the first the default one, none
    twice; each a URI or ``{"uri", "barred", "implicit_set"}``."""

    json_type = "array"

    def check_value(self, value):
        if isinstance(value, (str, dict)) or not isinstance(value, (tuple, list)) or not value:
            raise self.invalid(f"must be a non-empty list of public identities, got {rules.describe(value)}")
        identities = []
        for index, item in enumerate(value, 1):
            try:
                identities.append(_public_identity(item))
            except ValidationError as e:
                raise self.invalid(f"item {index}: {e}") from None
        uris = [identity.uri for identity in identities]
        if len(set(uris)) != len(uris):
            raise self.invalid(f"lists a public identity twice: {', '.join(uris)}")
        return tuple(identities)

    def to_json(self, value):
        return [{"uri": i.uri, "barred": i.barred, "implicit_set": i.implicit_set} for i in value]

    def value_schema(self):
        uri = {"type": "string", "maxLength": MAX_IDENTITY, "description": "a sip:, sips: or tel: URI"}
        return {"type": "array", "minItems": 1, "items": {"oneOf": [uri, {
            "type": "object", "additionalProperties": False, "required": ["uri"], "properties": {
                "uri": uri,
                "barred": {"type": "boolean", "default": False,
                           "description": "UAR for it answers DIAMETER_AUTHORIZATION_REJECTED"},
                "implicit_set": {"type": "integer", "minimum": 1, "maximum": 0xFFFF, "default": 1,
                                 "description": "identities of one set are registered together"}}}]}}


_IFC_NAME_SCHEMA = {"type": "string", "pattern": _IFC_NAME.pattern, "maxLength": 64}
IMPI = rules.Checked("impi", "private identity", check_impi,
                     {"type": "string", "maxLength": MAX_IDENTITY, "pattern": _IMPI.pattern},
                     doc="the private identity (IMPI), user@realm")
IMPUS = PublicIdentities("impus", "public identities",
                         doc="public identities (IMPUs); the first is the default one")
# Write-only: stored only as HA1 = MD5(IMPI:realm:password); null removes it.
DIGEST_PASSWORD = rules.Text("digest_password", "digest password", max_length=MAX_IDENTITY, optional=True,
                             secret=True, doc="allows SIP Digest; only HA1 = MD5(IMPI:realm:password) is kept "
                                              "(write-only; null removes it)")
DIGEST_REALM = rules.Text("digest_realm", "digest realm", max_length=MAX_IDENTITY, printable=True, optional=True,
                          doc="SIP Digest realm (default: the IMPI's domain); set with digest_password")
IFC = rules.Checked("ifc", "iFC template name", check_ifc_name, _IFC_NAME_SCHEMA, optional=True,
                    doc="the iFC template the S-CSCF is given")
IMS_SUBSCRIPTION_RULES = (
    IMPI,
    rules.Checked("imsi", "IMSI", check_imsi, IMSI.value_schema(),
                  doc="the subscriber whose K/OPc and SQN serve IMS AKA"),
    IMPUS, DIGEST_PASSWORD, DIGEST_REALM, IFC,
)
IFC_TEMPLATE_RULES = (
    rules.Checked("name", "iFC template name", check_ifc_name, _IFC_NAME_SCHEMA, doc="the template's name"),
    rules.Text("xml", "iFC template XML", max_length=65536,
               doc="one InitialFilterCriteria element, or a root element holding several (TS 29.228 Annex E)"),
)


class IdentityStates(rules.Rule):
    """Each registered public identity's state (the others are not registered)."""

    json_type = "array"

    def check_value(self, value):
        return tuple(value)

    def to_json(self, value):
        return [{"uri": uri, "state": state} for uri, state in value]

    def value_schema(self):
        return {"type": "array", "items": {"type": "object", "required": ["uri", "state"], "properties": {
            "uri": {"type": "string"}, "state": {"type": "string", "enum": [REGISTERED, UNREGISTERED]}}}}


# The registration is shown, never taken: Cx (SAR, MAR, RTR) changes it.
IMS_REGISTRATION_RULES = (
    IMPI,
    rules.Text("server_name", "server_name", optional=True, doc="the assigned S-CSCF's SIP URI (Server-Name)"),
    rules.Text("scscf_host", "scscf_host", optional=True, doc="the S-CSCF's Diameter host"),
    rules.Text("scscf_realm", "scscf_realm", optional=True, doc="the S-CSCF's Diameter realm"),
    rules.Text("peer", "peer", optional=True, doc="the connected peer the S-CSCF is reached through"),
    rules.Flag("pending", "pending", doc="named by MAR, not yet confirmed by SAR (TS 29.228 8.1)"),
    IdentityStates("states", "states", doc="the registered (or unregistered-with-services) identities"),
    rules.Number("updated_at", "updated_at", doc="when Cx last changed it (seconds since the epoch)"),
)
