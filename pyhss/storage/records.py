"""Records the store keeps: frozen dataclasses that validate themselves.

A record that exists is valid (constructed through ``__post_init__``), so
adapters, handlers and the CLI never re-check lengths or ranges.  Every
problem raises :class:`~pyhss.storage.errors.ValidationError` with a one
line message naming the field.
"""

import re
from dataclasses import dataclass, field, fields

from pyhss.storage.errors import ValidationError

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

_APN_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_HEX = re.compile(r"^[0-9A-Fa-f]*$")


def parse_hex(value, length, name):
    """Bytes from a hex string of exactly ``length`` octets (ValidationError)."""
    text = value.strip()
    if text[:2].lower() == "0x":
        text = text[2:]
    if not _HEX.match(text) or len(text) % 2:
        # Not the value: a mistyped K or OPc is still nearly all of it.
        raise ValidationError(f"{name} must be hexadecimal, an even number of 0-9 and A-F, "
                              f"got {len(text)} characters")
    if len(text) != 2 * length:
        raise ValidationError(f"{name} must be {length} bytes ({2 * length} hex digits), got {len(text) // 2}")
    return bytes.fromhex(text)


def check_imsi(imsi):
    if not isinstance(imsi, str) or not imsi.isascii() or not imsi.isdigit() \
            or len(imsi) not in IMSI_LENGTHS:
        raise ValidationError(f"IMSI must be {IMSI_LENGTHS[0]}-{IMSI_LENGTHS[-1]} digits, got {imsi!r}")
    return imsi


def normalise_apn(name):
    """APN network identifier (TS 23.003 9.1.1) in lower case; '*' is the wildcard."""
    if not isinstance(name, str):
        raise ValidationError(f"APN name must be a string, got {name!r}")
    lowered = name.lower()
    if lowered == "*":
        return lowered
    if not 1 <= len(lowered) <= 100 or not all(_APN_LABEL.match(label) for label in lowered.split(".")):
        raise ValidationError(f"APN name must be labels of letters, digits and '-' separated by dots, got {name!r}")
    return lowered


def _check_bytes(name, value, length, optional=False):
    if value is None and optional:
        return
    if not isinstance(value, bytes) or len(value) != length:
        # Not the value: it may be most of a key, and errors get logged.
        got = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
        raise ValidationError(f"{name} must be {length} bytes, got {got}")


def _check_int(name, value, low, high, optional=False):
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"{name} must be an integer {low}..{high}, got {value!r}")


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise ValidationError(f"{name} must be true or false, got {value!r}")


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
        check_imsi(self.imsi)
        _check_bytes("K", self.k, KEY_LENGTH)
        if (self.opc is None) == (self.op is None):
            raise ValidationError("exactly one of OPc and OP must be given")
        _check_bytes("OPc", self.opc, KEY_LENGTH, optional=True)
        _check_bytes("OP", self.op, KEY_LENGTH, optional=True)
        _check_bytes("AMF", self.amf, AMF_LENGTH)
        _check_int("SQN", self.sqn, 0, SQN_MAX)
        if self.msisdn is not None and (not isinstance(self.msisdn, str) or not self.msisdn.isascii()
                                        or not self.msisdn.isdigit()
                                        or not 1 <= len(self.msisdn) <= MSISDN_MAX_DIGITS):
            raise ValidationError(f"MSISDN must be 1-{MSISDN_MAX_DIGITS} digits, got {self.msisdn!r}")
        if isinstance(self.apns, str) or not isinstance(self.apns, (tuple, list)):
            raise ValidationError(f"apns must be a sequence of APN names, got {self.apns!r}")
        apns = tuple(normalise_apn(name) for name in self.apns)
        if len(set(apns)) != len(apns):
            raise ValidationError(f"APN listed twice in {list(apns)}")
        object.__setattr__(self, "apns", apns)
        _check_bool("enabled", self.enabled)
        _check_bool("roaming_allowed", self.roaming_allowed)
        _check_int("UE-AMBR uplink", self.ue_ambr_ul, 0, UINT32_MAX, optional=True)
        _check_int("UE-AMBR downlink", self.ue_ambr_dl, 0, UINT32_MAX, optional=True)
        if self.network_access_mode not in NETWORK_ACCESS_MODES:
            raise ValidationError(f"network_access_mode must be one of {NETWORK_ACCESS_MODES}, "
                                  f"got {self.network_access_mode!r}")
        _check_int("periodic_rau_tau_timer", self.periodic_rau_tau_timer, 0, UINT32_MAX, optional=True)
        _check_int("access_restriction_data", self.access_restriction_data, 0, UINT32_MAX)


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
        object.__setattr__(self, "name", normalise_apn(self.name))
        _check_int("QCI", self.qci, 1, 254)
        _check_int("ARP priority", self.arp_priority, 1, 15)
        for name in ("arp_preemption_capability", "arp_preemption_vulnerability"):
            value = getattr(self, name)
            if isinstance(value, bool):   # True means DISABLED, as the AVP value 1
                object.__setattr__(self, name, int(value))
            elif value not in (PREEMPTION_ENABLED, PREEMPTION_DISABLED):
                raise ValidationError(f"{name} must be 0 (enabled) or 1 (disabled), got {value!r}")
        _check_int("APN-AMBR uplink", self.ambr_ul, 0, UINT32_MAX, optional=True)
        _check_int("APN-AMBR downlink", self.ambr_dl, 0, UINT32_MAX, optional=True)
        if self.pdn_type not in PDN_TYPES:
            raise ValidationError(f"PDN type must be one of {', '.join(PDN_TYPES)}, got {self.pdn_type!r}")
        _check_int("context_id", self.context_id, 1, UINT32_MAX, optional=True)

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
        check_imsi(self.imsi)
        for name in ("mme_host", "mme_realm"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValidationError(f"{name} must be a non-empty string, got {value!r}")
        if self.peer is not None and not isinstance(self.peer, str):
            raise ValidationError(f"peer must be a string, got {self.peer!r}")
        for name in ("mme_host", "mme_realm", "peer"):
            # Diameter identities hold no control character (the node refuses
            # them, 5004); neither can some databases' text (NUL).
            value = getattr(self, name)
            if value is not None and any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
                raise ValidationError(f"{name} must not hold control characters, got {value!r}")
        if isinstance(self.updated_at, bool) or not isinstance(self.updated_at, (int, float)):
            raise ValidationError(f"updated_at must be a number, got {self.updated_at!r}")
        _check_bool("purged", self.purged)


SUBSCRIBER_FIELDS = tuple(f.name for f in fields(Subscriber))

# Stored APN lists (space-separated text) already validated -> their tuple.
_STORED_APNS = {}
_STORED_APNS_MAX = 4096
_new_subscriber = object.__new__
# The slots' own setters, in field order (a frozen dataclass refuses
# setattr; these are what its __init__ amounts to, without __post_init__).
_SUBSCRIBER_SETTERS = tuple(getattr(Subscriber, name).__set__ for name in SUBSCRIBER_FIELDS)


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
    subscriber = _new_subscriber(Subscriber)
    for set_field, value in zip(_SUBSCRIBER_SETTERS, (
            imsi, k, opc, op, amf, sqn, msisdn, apn_names, enabled == 1, roaming_allowed == 1,
            ue_ambr_ul, ue_ambr_dl, network_access_mode, periodic_rau_tau_timer, access_restriction_data)):
        set_field(subscriber, value)
    return subscriber

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
