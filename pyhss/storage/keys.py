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
from pyhss.storage.records import IMSI_LENGTHS, Subscriber, normalise_apn


def is_imsi(value):
    return type(value) is str and len(value) in IMSI_LENGTHS and value.isascii() and value.isdigit()


def apn_key(name):
    """The stored form of an APN name, or None when no APN can have it."""
    try:
        return normalise_apn(name)
    except ValidationError:
        return None


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
