"""What the equipment identity register (EIR, S13) keeps: rules and the
check history, as frozen dataclasses that validate themselves, and the
equipment identities they are made of.

TS 23.003 6.2: an IMEI is a Type Allocation Code (TAC, 8 digits) and a
serial number (SNR, 6 digits), 14 digits that identify the equipment; on
paper it has a 15th, the Luhn check digit (Annex B), and the MS sends a
spare digit 0 in its place (6.2.1; TS 22.016: the check digit is not
transmitted at IMEI check occasions).  The IMEISV has a 2-digit software
version number (SVN) instead.  TS 29.272 7.3.4: the IMEI AVP carries 14
or 15 digits, so a 15th digit received is either the check digit or the
spare digit; anything else is refused.  Rules and the history keep the 14
digits, so one phone is one key whatever the MME sent.
"""

from dataclasses import dataclass, fields

from pyhss.storage import rules
from pyhss.storage.errors import ValidationError
from pyhss.storage.records import IMSI, check_imsi

TAC_DIGITS = 8
IMEI_DIGITS = 14            # TAC + SNR, without check or spare digit
SOFTWARE_VERSION_DIGITS = 2
SPARE_DIGIT = "0"           # TS 23.003 6.2.1: what the MS sends as the 15th digit
# TS 23.003 2.2: MCC (3) + MNC (2-3) + MSIN, 15 digits at most.
IMSI_DIGITS = (6, 15)

# TS 29.272 7.3.51 Equipment-Status (the dictionary's enum; a test keeps
# the two equal: the store may not import the protocol package).
WHITELISTED, BLACKLISTED, GREYLISTED = 0, 1, 2
EQUIPMENT_STATUS_NAMES = {WHITELISTED: "whitelisted", BLACKLISTED: "blacklisted", GREYLISTED: "greylisted"}
EQUIPMENT_STATUSES = {name: value for value, name in EQUIPMENT_STATUS_NAMES.items()}

# Why a check ended as it did (EquipmentCheck.reason).
BY_IMEI = "imei"                    # an exact IMEI rule
BY_TAC = "tac"                      # a TAC rule
BY_DEFAULT = "unknown"              # no rule: s13.unknown_status
IMSI_MISMATCH = "imsi-mismatch"     # an IMEI bound to another IMSI
REFUSED = "refused"                 # the request was answered with an error
STORE_FAILED = "store-failed"       # the rules could not be read
CHECK_REASONS = (BY_IMEI, BY_TAC, BY_DEFAULT, IMSI_MISMATCH, REFUSED, STORE_FAILED)

NOTE_MAX = 200
# What a refused check keeps of a value that was not an identity.
RAW_VALUE_MAX = 32
_DIAMETER_CODE = (1000, 5999)


def _digits(text):
    return type(text) is str and text.isascii() and text.isdigit()


def luhn_check_digit(digits):
    """The Luhn check digit of ``digits`` (ISO/IEC 7812 Annex B; TS 23.003
    Annex B for the 14 digits of an IMEI), as a one-character string."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = ord(digit) - 48
        if position % 2 == 0:       # the rightmost digit is doubled
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str(-total % 10)


def imei_from_wire(text):
    """The 14-digit IMEI in an IMEI AVP's value (TS 29.272 7.3.4): 14
    digits, or 15 whose last is the check digit or the spare digit 0.
    ValidationError saying what is wrong otherwise."""
    if not _digits(text):
        raise ValidationError("IMEI must be digits")
    if len(text) == IMEI_DIGITS:
        return text
    if len(text) == IMEI_DIGITS + 1:
        imei, last = text[:IMEI_DIGITS], text[IMEI_DIGITS]
        if last == SPARE_DIGIT or last == luhn_check_digit(imei):
            return imei
        raise ValidationError(f"IMEI's 15th digit {last} is neither the check digit "
                              f"{luhn_check_digit(imei)} nor the spare digit 0")
    raise ValidationError(f"IMEI must be 14 or 15 digits, got {len(text)}")


def parse_imei(text):
    """The 14-digit IMEI an operator typed: 14 digits, or 15 with the right
    check digit (the number printed on a phone).  ValidationError otherwise."""
    if not _digits(text) or len(text) not in (IMEI_DIGITS, IMEI_DIGITS + 1):
        raise ValidationError(f"IMEI must be 14 digits, or 15 with the check digit, got {text!r}")
    imei = text[:IMEI_DIGITS]
    if len(text) == IMEI_DIGITS + 1 and text[IMEI_DIGITS] != luhn_check_digit(imei):
        raise ValidationError(f"IMEI {text}: the check digit of {imei} is {luhn_check_digit(imei)}, "
                              f"not {text[IMEI_DIGITS]}")
    return imei


def check_tac(text):
    if not _digits(text) or len(text) != TAC_DIGITS:
        raise ValidationError(f"TAC must be {TAC_DIGITS} digits, got {text!r}")
    return text


def check_software_version(text):
    """TS 23.003 6.2.2: the software version number, 2 digits."""
    if not _digits(text) or len(text) != SOFTWARE_VERSION_DIGITS:
        raise ValidationError(f"Software-Version must be {SOFTWARE_VERSION_DIGITS} digits")
    return text


def check_user_imsi(text):
    """An IMSI as an MME sends it in User-Name (TS 23.003 2.2: 15 digits
    at most, MCC and MNC first)."""
    low, high = IMSI_DIGITS
    if not _digits(text) or not low <= len(text) <= high:
        raise ValidationError(f"User-Name must be an IMSI of {low}-{high} digits")
    return text


def printable(text, limit=RAW_VALUE_MAX):
    """``text`` as a refused check keeps it: printable ASCII, others as
    '?', at most ``limit`` characters (it came from a peer and will reach
    terminals and logs)."""
    if text is None:
        return None
    if not isinstance(text, str):
        text = text.hex() if isinstance(text, (bytes, bytearray)) else repr(text)
    return "".join(c if " " <= c <= "~" else "?" for c in text[:limit])


def status_name(status):
    """'whitelisted' for 0 ...; None (no status) -> None."""
    return None if status is None else EQUIPMENT_STATUS_NAMES[status]


def _check_status(status, optional=False):
    if status is None and optional:
        return
    if isinstance(status, bool) or status not in EQUIPMENT_STATUS_NAMES:
        raise ValidationError(f"equipment status must be one of {sorted(EQUIPMENT_STATUS_NAMES)} "
                              f"({', '.join(EQUIPMENT_STATUS_NAMES.values())}), got {status!r}")


def _check_time(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{name} must be a number of seconds, got {value!r}")


def _check_text(name, value, limit):
    if value is None:
        return
    if not isinstance(value, str) or len(value) > limit or not value.isprintable():
        raise ValidationError(f"{name} must be printable text of at most {limit} characters")


@dataclass(frozen=True, slots=True)
class EquipmentRule:
    """One EIR rule: the Equipment-Status of one IMEI (``key`` 14 digits,
    a 15th check digit is checked and dropped) or of every IMEI of a TAC
    (``key`` 8 digits).  An IMEI rule may bind the IMEI to one IMSI: used
    with another, the check answers s13.imsi_mismatch_status instead."""

    key: str
    status: int
    imsi: str | None = None
    note: str | None = None
    updated_at: float = 0.0

    def __post_init__(self):
        key = self.key
        if _digits(key) and len(key) == TAC_DIGITS:
            if self.imsi is not None:
                raise ValidationError("an IMSI binding needs an IMEI rule, not a TAC rule")
        else:
            try:
                object.__setattr__(self, "key", parse_imei(key))
            except ValidationError:
                raise ValidationError(f"rule key must be an IMEI (14 digits, or 15 with the check digit) "
                                      f"or a TAC (8 digits), got {key!r}") from None
        _check_status(self.status)
        if self.imsi is not None:
            check_imsi(self.imsi)
        _check_text("note", self.note, NOTE_MAX)
        _check_time("updated_at", self.updated_at)

    @property
    def kind(self):
        """'imei' or 'tac'."""
        return BY_TAC if len(self.key) == TAC_DIGITS else BY_IMEI


@dataclass(frozen=True, slots=True)
class EquipmentCheck:
    """One ME identity check as it was answered: when, the IMEI (14
    digits; for a refused check, what came, made printable), its software
    version, the IMSI, the asking MME or SGSN (Origin-Host), the answer's
    result code, the Equipment-Status sent (None without one) and why
    (one of CHECK_REASONS)."""

    checked_at: float
    origin_host: str
    result_code: int
    reason: str
    imei: str | None = None
    software_version: str | None = None
    imsi: str | None = None
    status: int | None = None

    def __post_init__(self):
        _check_time("checked_at", self.checked_at)
        _check_text("origin_host", self.origin_host, 255)
        low, high = _DIAMETER_CODE
        if isinstance(self.result_code, bool) or not isinstance(self.result_code, int) \
                or not low <= self.result_code <= high:
            raise ValidationError(f"result_code must be a Diameter result code, got {self.result_code!r}")
        if self.reason not in CHECK_REASONS:
            raise ValidationError(f"reason must be one of {', '.join(CHECK_REASONS)}, got {self.reason!r}")
        for name in ("imei", "software_version", "imsi"):
            _check_text(name, getattr(self, name), RAW_VALUE_MAX)
        _check_status(self.status, optional=True)


class HistoryLimit:
    """How much check history a store keeps after a write: the newest
    ``max_rows`` checks (0: no such bound), none checked before ``before``
    (seconds since the epoch; None: no such bound).  Plain data for the
    store's transaction."""

    __slots__ = ("max_rows", "before")

    def __init__(self, max_rows=0, before=None):
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 0:
            raise ValidationError(f"max_rows must be a non-negative integer, got {max_rows!r}")
        if before is not None:
            _check_time("before", before)
        self.max_rows = max_rows
        self.before = before

    def __repr__(self):
        return f"HistoryLimit(max_rows={self.max_rows}, before={self.before})"


UNLIMITED = HistoryLimit()

RULE_FIELDS = tuple(f.name for f in fields(EquipmentRule))
CHECK_FIELDS = tuple(f.name for f in fields(EquipmentCheck))

_new = object.__new__
# The slots' own setters, in field order (what a frozen dataclass's
# __init__ amounts to, without __post_init__).
_CHECK_SETTERS = tuple(getattr(EquipmentCheck, name).__set__ for name in CHECK_FIELDS)
_RULE_SETTERS = tuple(getattr(EquipmentRule, name).__set__ for name in RULE_FIELDS)


def answered_check(checked_at, origin_host, result_code, reason, imei, software_version, imsi, status):
    """An EquipmentCheck of values its caller has checked already: the S13
    handler, from identities it read with :func:`imei_from_wire` and the
    other checks here (or :func:`printable`), its own result code, reason
    and status, and an Origin-Host the codec decoded (no control
    characters).  Built without ``__post_init__``, which cost more than the
    rest of recording a check; a test keeps the two equal."""
    check = _new(EquipmentCheck)
    for set_field, value in zip(_CHECK_SETTERS, (checked_at, origin_host, result_code, reason, imei,
                                                 software_version, imsi, status)):
        set_field(check, value)
    return check


def stored_rule(row):
    """An EquipmentRule from a stored row (key, status, imsi, note,
    updated_at), checked inline (the store wrote it validated); a row
    that fails these checks (written by another tool) is built the
    checking way, which names the problem."""
    key, status, imsi, note, updated_at = row
    if not (type(key) is str and key.isdigit() and key.isascii()
            and (len(key) == IMEI_DIGITS or (len(key) == TAC_DIGITS and imsi is None))
            and type(status) is int and status in EQUIPMENT_STATUS_NAMES
            and (imsi is None or (type(imsi) is str and 14 <= len(imsi) <= 15 and imsi.isdigit() and imsi.isascii()))
            and (note is None or (type(note) is str and len(note) <= NOTE_MAX and note.isprintable()))
            and type(updated_at) is float):
        return EquipmentRule(*row)
    rule = _new(EquipmentRule)
    for set_field, value in zip(_RULE_SETTERS, row):
        set_field(rule, value)
    return rule


# --- the field rules (pyhss-admin eir and the REST API read these) ---------------------

def parse_rule_key(text):
    """A rule's key as an operator writes it: a TAC (8 digits) or an IMEI
    (14 digits, or 15 with the check digit, kept as 14)."""
    if _digits(text) and len(text) == TAC_DIGITS:
        return text
    if _digits(text) and len(text) in (IMEI_DIGITS, IMEI_DIGITS + 1):
        return parse_imei(text)
    raise ValidationError(f"must be an IMEI (14 digits, or 15 with the check digit) or a TAC "
                          f"({TAC_DIGITS} digits), got {rules.describe(text)}")


RULE_KEY = rules.Checked("key", "rule key", parse_rule_key,
                         {"type": "string", "pattern": "^([0-9]{8}|[0-9]{14,15})$"},
                         doc="a TAC (8 digits: every IMEI it starts) or an IMEI (14 digits, or 15 with the "
                             "check digit; kept as 14)")
EQUIPMENT_STATUS = rules.Choice("status", "equipment status", EQUIPMENT_STATUSES,
                                doc="the Equipment-Status the EIR answers (TS 29.272 7.3.51)")
EQUIPMENT_RULE_RULES = (
    RULE_KEY,
    EQUIPMENT_STATUS,
    rules.Checked("imsi", "IMSI", check_imsi, IMSI.value_schema(), optional=True,
                  doc="binds an IMEI rule to this IMSI: checked with another, the EIR answers "
                      "s13.imsi_mismatch_status"),
    rules.Text("note", "note", max_length=NOTE_MAX, printable=True, optional=True,
               doc="free text kept with the rule (a case number, a reason)"),
    rules.Number("updated_at", "updated_at", doc="when the rule was written (seconds since the epoch)"),
)
