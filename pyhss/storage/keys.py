"""What the adapters share and know nothing of their drivers: key checks
made before a query, SQLite's case folding, the password from
``database.server``, bulk loads read one chunk at a time.

Keys are checked before they reach a database, so a lookup for a
malformed IMSI or APN name finds nothing without a round trip, and a
server's own rules (MariaDB's trailing-space padding, MSSQL's
case-insensitive collation, PostgreSQL's refusal of NUL in text) never
make an answer differ from SQLite's.
"""

from pyhss.storage.errors import StoreError, ValidationError
from pyhss.storage.ims_records import check_ifc_name, check_impi, normalise_impu
from pyhss.storage.records import IMSI_LENGTHS, Subscriber, normalise_apn
from pyhss.storage.records_eir import IMEI_DIGITS, TAC_DIGITS


def is_imsi(value):
    return type(value) is str and len(value) in IMSI_LENGTHS and value.isascii() and value.isdigit()


def apn_key(name):
    """The stored form of an APN name, or None when no APN can have it."""
    try:
        return normalise_apn(name)
    except ValidationError:
        return None


def _checked(check, value):
    try:
        return check(value)
    except ValidationError:
        return None


def impi_key(value):
    """A private identity as stored, or None when none can be ``value``."""
    return _checked(check_impi, value)


def impu_key(value):
    """The stored form of a public identity, or None."""
    return _checked(normalise_impu, value)


def ifc_key(value):
    """An iFC template name, or None."""
    return _checked(check_ifc_name, value)


def equipment_key(value):
    """An EIR rule's key (a 14-digit IMEI or an 8-digit TAC), or None."""
    if type(value) is str and value.isascii() and value.isdigit() and len(value) in (IMEI_DIGITS, TAC_DIGITS):
        return value
    return None


def text_key(value):
    """A string that can be stored (printable), or None."""
    return value if type(value) is str and value.isprintable() else None


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text):
    """SQLite's lower(): ASCII letters only (how Diameter identities are compared)."""
    return text.translate(_ASCII_LOWER)


def read_password(settings):
    """``settings.password``, or the first line of ``settings.password_file``."""
    if settings.password_file is None:
        return settings.password
    try:
        with open(settings.password_file, encoding="utf-8") as handle:
            return handle.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as e:
        raise StoreError(f"cannot read database.server.password_file {settings.password_file}: "
                         f"{getattr(e, 'strerror', None) or e}") from None


def chunks(iterable, size):
    """Lists of at most ``size`` Subscribers from ``iterable`` (ValidationError
    for anything else)."""
    chunk = []
    for subscriber in iterable:
        if not isinstance(subscriber, Subscriber):
            raise ValidationError(f"expected a Subscriber, got {type(subscriber).__name__}")
        chunk.append(subscriber)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _digit_text(value):
    return type(value) is str and value.isascii() and value.isdigit()


class QueryKeys:
    """A SubscriberQuery's criteria as the server stores compare them:
    ``msisdn`` and ``apn`` exact values, the IMSI prefix as a range
    ``[imsi_low, imsi_high)`` of digit strings (``imsi_high`` None: no
    upper bound; a range serves the primary key where a LIKE would need
    escaping), ``enabled`` a bool, ``after`` the last IMSI seen.
    ``matches_nothing`` when a criterion no stored value can meet (a
    MSISDN that is not digits, an APN name that is not one): the store
    answers without a query."""

    __slots__ = ("msisdn", "imsi_low", "imsi_high", "apn", "enabled", "after", "matches_nothing")

    def __init__(self, query):
        self.matches_nothing = False
        self.msisdn = query.msisdn
        if self.msisdn is not None and not _digit_text(self.msisdn):
            self.matches_nothing = True
        self.imsi_low = self.imsi_high = None
        prefix = query.imsi_prefix
        if prefix is not None and prefix != "":
            if not _digit_text(prefix):
                self.matches_nothing = True
            else:
                self.imsi_low = prefix
                self.imsi_high = _next_prefix(prefix)
        self.apn = None
        if query.apn is not None:
            self.apn = apn_key(query.apn)
            if self.apn is None:
                self.matches_nothing = True
        self.enabled = None if query.enabled is None else bool(query.enabled)
        self.after = query.after
        if self.after is not None and type(self.after) is not str:
            self.matches_nothing = True


def _next_prefix(prefix):
    """The smallest digit string above every string starting with
    ``prefix`` (None when there is none: all nines)."""
    digits = prefix.rstrip("9")
    if not digits:
        return None
    return digits[:-1] + str(int(digits[-1]) + 1)
