"""Records the store keeps: frozen dataclasses that validate themselves.

A record that exists is valid (constructed through ``__post_init__``, which
checks every field with its rule of :mod:`pyhss.storage.rules`), so
adapters, handlers and the CLI never re-check lengths or ranges.  Every
problem raises :class:`~pyhss.storage.errors.ValidationError` naming the
field (``field``) and what is wrong with it, in a one-line message.
"""

from dataclasses import dataclass, field, fields

from pyhss.storage import rules
from pyhss.storage.errors import DuplicateError, ValidationError

IMSI_LENGTHS = (14, 15)
KEY_LENGTH = 16          # K, OP, OPc: 128 bits (TS 35.206)
AMF_LENGTH = 2
SQN_MAX = (1 << 48) - 1
MSISDN_MAX_DIGITS = 15   # E.164
UINT32_MAX = 0xFFFFFFFF

# TS 29.272 7.3.19 Network-Access-Mode
PACKET_AND_CIRCUIT = 0
ONLY_PACKET = 2
NETWORK_ACCESS_MODES = (PACKET_AND_CIRCUIT, ONLY_PACKET)

# TS 29.212 5.3.46 / 5.3.47: 0 = ENABLED, 1 = DISABLED
PREEMPTION_ENABLED = 0
PREEMPTION_DISABLED = 1

# TS 29.272 7.3.62 PDN-Type
PDN_TYPES = {"ipv4": 0, "ipv6": 1, "ipv4v6": 2}

def parse_hex(value, length, name):
    """Bytes from a hex string of exactly ``length`` octets (ValidationError)."""
    return rules.Octets(name.lower(), name, length).from_text(value)


IMSI = rules.Digits("imsi", "IMSI", IMSI_LENGTHS[0], IMSI_LENGTHS[-1],
                    doc="International Mobile Subscriber Identity")


def check_imsi(imsi):
    return IMSI.check(imsi)


normalise_apn = rules.normalise_apn

# Each record's fields, in field order: what the record checks when built,
# and what pyhss-admin and the REST API read and write (pyhss.provisioning).
SUBSCRIBER_RULES = (
    IMSI,
    rules.Octets("k", "K", KEY_LENGTH, secret=True, doc="subscriber key K (write-only)"),
    rules.Octets("opc", "OPc", KEY_LENGTH, optional=True, secret=True,
                 doc="OPc (write-only); exactly one of opc and op"),
    rules.Octets("op", "OP", KEY_LENGTH, optional=True, secret=True,
                 doc="operator key OP, OPc derived per use (write-only); exactly one of opc and op"),
    rules.Octets("amf", "AMF", AMF_LENGTH, doc="authentication management field"),
    rules.Integer("sqn", "SQN", 0, SQN_MAX, doc="last sequence number handed out (SQN_HE)"),
    rules.Digits("msisdn", "MSISDN", 1, MSISDN_MAX_DIGITS, optional=True,
                 doc="MSISDN, international format without '+'"),
    rules.ApnList("apns", "APNs", doc="provisioned APN names; the first is the default APN"),
    rules.Flag("enabled", "enabled", doc="false: AIR and ULR refused, the MME told by IDR"),
    rules.Flag("roaming_allowed", "roaming_allowed", doc="false: AIR/ULR from another PLMN refused (5004)"),
    rules.Integer("ue_ambr_ul", "UE-AMBR uplink", 0, UINT32_MAX, optional=True, doc="UE-AMBR uplink, bit/s"),
    rules.Integer("ue_ambr_dl", "UE-AMBR downlink", 0, UINT32_MAX, optional=True, doc="UE-AMBR downlink, bit/s"),
    rules.Choice("network_access_mode", "network_access_mode",
                 {PACKET_AND_CIRCUIT: PACKET_AND_CIRCUIT, ONLY_PACKET: ONLY_PACKET},
                 doc="Network-Access-Mode (TS 29.272 7.3.19): 0 packet and circuit, 2 only packet"),
    rules.Integer("periodic_rau_tau_timer", "periodic_rau_tau_timer", 0, UINT32_MAX, optional=True,
                  doc="seconds"),
    rules.Integer("access_restriction_data", "access_restriction_data", 0, UINT32_MAX,
                  doc="Access-Restriction-Data bit mask (TS 29.272 7.3.31)"),
)

PREEMPTION = {"enabled": PREEMPTION_ENABLED, "disabled": PREEMPTION_DISABLED}

APN_RULES = (
    rules.ApnName("name", "APN name", doc="APN network identifier (case-insensitive, kept in lower case)"),
    rules.Integer("qci", "QCI", 1, 254, doc="QoS class identifier"),
    rules.Integer("arp_priority", "ARP priority", 1, 15, doc="allocation and retention priority level"),
    rules.Choice("arp_preemption_capability", "arp_preemption_capability", PREEMPTION),
    rules.Choice("arp_preemption_vulnerability", "arp_preemption_vulnerability", PREEMPTION),
    rules.Integer("ambr_ul", "APN-AMBR uplink", 0, UINT32_MAX, optional=True, doc="APN-AMBR uplink, bit/s"),
    rules.Integer("ambr_dl", "APN-AMBR downlink", 0, UINT32_MAX, optional=True, doc="APN-AMBR downlink, bit/s"),
    rules.Choice("pdn_type", "PDN type", {name: name for name in PDN_TYPES}),
    rules.Integer("context_id", "context_id", 1, UINT32_MAX, optional=True,
                  doc="Context-Identifier (the store picks the lowest free one when none is given)"),
)

SERVING_NODE_RULES = (
    IMSI,
    # Diameter identities hold no control character (the node refuses them,
    # 5004); neither can some databases' text (PostgreSQL: no NUL).
    rules.Text("mme_host", "mme_host", printable=True, doc="the serving MME's Origin-Host"),
    rules.Text("mme_realm", "mme_realm", printable=True, doc="the serving MME's Origin-Realm"),
    rules.Text("peer", "peer", optional=True, printable=True, doc="the connected peer the MME is reached through"),
    rules.Number("updated_at", "updated_at", doc="when the last ULR was accepted (seconds since 1970)"),
    rules.Flag("purged", "purged", doc="the MME purged the UE (PUR)"),
)


def _check_fields(record, field_rules):
    for rule in field_rules:
        value = getattr(record, rule.name)
        checked = rule.check(value)
        if checked is not value:
            object.__setattr__(record, rule.name, checked)


@dataclass(frozen=True, slots=True)
class Subscriber:
    imsi: str
    k: bytes = field(repr=False)     # key material never in a repr (logs)
    opc: bytes | None = field(default=None, repr=False)
    op: bytes | None = field(default=None, repr=False)
    amf: bytes = b"\x80\x00"
    sqn: int = 0
    msisdn: str | None = None
    apns: tuple = ()          # APN names; the first is the default APN
    enabled: bool = True
    roaming_allowed: bool = True
    ue_ambr_ul: int | None = None   # bits per second
    ue_ambr_dl: int | None = None
    network_access_mode: int = ONLY_PACKET
    periodic_rau_tau_timer: int | None = None   # seconds
    access_restriction_data: int = 0            # TS 29.272 7.3.31 bit mask

    def __post_init__(self):
        _check_fields(self, SUBSCRIBER_RULES)
        if (self.opc is None) == (self.op is None):
            raise ValidationError("exactly one of OPc and OP must be given", field="opc",
                                  problem="exactly one of opc and op must be given")


@dataclass(frozen=True, slots=True)
class ApnProfile:
    name: str
    qci: int = 9
    arp_priority: int = 8
    arp_preemption_capability: int = PREEMPTION_DISABLED
    arp_preemption_vulnerability: int = PREEMPTION_ENABLED
    ambr_ul: int | None = None    # APN-AMBR, bits per second
    ambr_dl: int | None = None
    pdn_type: str = "ipv4"
    context_id: int | None = None  # Context-Identifier; the store assigns one when None

    def __post_init__(self):
        for name in ("arp_preemption_capability", "arp_preemption_vulnerability"):
            value = getattr(self, name)
            if isinstance(value, bool):   # True means DISABLED, as the AVP value 1
                object.__setattr__(self, name, int(value))
        _check_fields(self, APN_RULES)

    @property
    def pdn_type_value(self):
        """The PDN-Type AVP value."""
        return PDN_TYPES[self.pdn_type]


@dataclass(frozen=True, slots=True)
class ServingNode:
    imsi: str
    mme_host: str
    mme_realm: str
    peer: str | None = None      # the connected peer's Origin-Host we talk to (for CLR/IDR)
    updated_at: float = 0.0
    purged: bool = False

    def __post_init__(self):
        _check_fields(self, SERVING_NODE_RULES)


SUBSCRIBER_FIELDS = tuple(f.name for f in fields(Subscriber))


def trusted_constructor(cls):
    """A function of the fields of ``cls`` (a frozen dataclass with
    slots), in field order, that builds one *without* ``__post_init__``:
    for values checked already (a row the store wrote validated; what a
    handler read with the same checks), where the checks cost more than
    the rest of the work.  Written as dataclasses writes ``__init__`` (one
    generated function, here a call to each slot's own setter, since a
    frozen dataclass refuses setattr): a loop over the setters cost twice
    as much."""
    names = [f.name for f in fields(cls)]
    namespace = {"_new": object.__new__, "_cls": cls}
    lines = [f"def build({', '.join(names)}):", "    record = _new(_cls)"]
    for index, name in enumerate(names):
        namespace[f"_set{index}"] = getattr(cls, name).__set__
        lines.append(f"    _set{index}(record, {name})")
    lines.append("    return record")
    exec("\n".join(lines), namespace)
    build = namespace["build"]
    build.__name__ = build.__qualname__ = f"trusted_{cls.__name__}"
    return build


# Stored APN lists (space-separated text) already validated -> their tuple.
_STORED_APNS = {}
_STORED_APNS_MAX = 4096
_trusted_subscriber = trusted_constructor(Subscriber)


def stored_subscriber(row):
    """A Subscriber from a stored row, or None when the row needs full checking.

    ``row`` is in field order with ``apns`` as space-separated text and the
    flags as 0/1, as the SQL stores keep them.  Rows written through the
    store were validated on the way in; one that passes these inline checks
    is built without ``__post_init__`` (about 15 us of a 135 us AIR job on
    the store's thread).  A row that fails any of them (edited by another
    tool) returns None and the caller builds it the checking way, which
    names the problem.
    """
    (imsi, k, opc, op, amf, sqn, msisdn, apns, enabled, roaming_allowed,
     ue_ambr_ul, ue_ambr_dl, network_access_mode, periodic_rau_tau_timer, access_restriction_data) = row
    apn_names = _STORED_APNS.get(apns)
    if apn_names is None:
        try:
            apn_names = tuple(normalise_apn(name) for name in apns.split())
        except (ValidationError, AttributeError):
            return None
        if " ".join(apn_names) != apns or len(set(apn_names)) != len(apn_names):
            return None
        if len(_STORED_APNS) < _STORED_APNS_MAX:
            _STORED_APNS[apns] = apn_names
    if not (type(imsi) is str and len(imsi) in IMSI_LENGTHS and imsi.isdigit() and imsi.isascii()
            and type(k) is bytes and len(k) == KEY_LENGTH
            and (opc is None) != (op is None)
            and (opc is None or (type(opc) is bytes and len(opc) == KEY_LENGTH))
            and (op is None or (type(op) is bytes and len(op) == KEY_LENGTH))
            and type(amf) is bytes and len(amf) == AMF_LENGTH
            and type(sqn) is int and 0 <= sqn <= SQN_MAX
            and (msisdn is None or (type(msisdn) is str and 1 <= len(msisdn) <= MSISDN_MAX_DIGITS
                                    and msisdn.isdigit() and msisdn.isascii()))
            and (enabled == 0 or enabled == 1) and type(enabled) is int
            and (roaming_allowed == 0 or roaming_allowed == 1) and type(roaming_allowed) is int
            and (ue_ambr_ul is None or (type(ue_ambr_ul) is int and 0 <= ue_ambr_ul <= UINT32_MAX))
            and (ue_ambr_dl is None or (type(ue_ambr_dl) is int and 0 <= ue_ambr_dl <= UINT32_MAX))
            and type(network_access_mode) is int and network_access_mode in NETWORK_ACCESS_MODES
            and (periodic_rau_tau_timer is None
                 or (type(periodic_rau_tau_timer) is int and 0 <= periodic_rau_tau_timer <= UINT32_MAX))
            and type(access_restriction_data) is int and 0 <= access_restriction_data <= UINT32_MAX):
        return None
    return _trusted_subscriber(imsi, k, opc, op, amf, sqn, msisdn, apn_names, enabled == 1, roaming_allowed == 1,
                               ue_ambr_ul, ue_ambr_dl, network_access_mode, periodic_rau_tau_timer,
                               access_restriction_data)

APN_FIELDS = tuple(f.name for f in fields(ApnProfile))
SERVING_NODE_FIELDS = tuple(f.name for f in fields(ServingNode))


def changed(record, changes):
    """A copy of ``record`` with ``changes``; the key field cannot change."""
    cls = type(record)
    names = {f.name for f in fields(cls)}
    key = fields(cls)[0].name
    for name in changes:
        if name not in names:
            raise ValidationError(f"{cls.__name__} has no field {name!r}")
        if name == key:
            raise ValidationError(f"{name} cannot be changed")
    values = {name: getattr(record, name) for name in names}
    values.update(changes)
    if cls is Subscriber:
        # Setting OPc replaces OP and the other way round.
        for given, other in (("opc", "op"), ("op", "opc")):
            if changes.get(given) is not None and other not in changes:
                values[other] = None
    return cls(**values)


def with_context_id(profile, used):
    """``profile`` with the lowest free context id when it has none.

    ``used`` holds every stored APN's context id; a profile naming a used one
    is refused (the ULA's APN-Configuration needs them unique).
    """
    used = set(used)
    if profile.context_id is None:
        context_id = 1
        while context_id in used:
            context_id += 1
        return changed(profile, {"context_id": context_id})
    if profile.context_id in used:
        raise DuplicateError(f"context id {profile.context_id} is used by another APN")
    return profile
