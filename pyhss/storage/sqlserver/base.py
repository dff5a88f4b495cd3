"""What every role's tables share: the MetaData, column types, row locks,
and the key checks that keep a lookup from ever reaching the server with
a value no record can have.

Keys are checked before a query, so a lookup for a malformed IMSI or APN
finds nothing without a round trip, and a database's collation rules
(MariaDB's trailing-space padding, MSSQL's case-insensitive default) or
its refusals (PostgreSQL's text cannot hold NUL) never make the answer
differ from SQLite's.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import mssql, mysql

from pyhss.storage.records import IMSI_LENGTHS, ValidationError, normalise_apn

METADATA = sa.MetaData()

# MariaDB: binary collation (exact, case-sensitive comparisons) on every table.
TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def binary(length):
    """Bytes of at most ``length``: VARBINARY where the dialect has it, bytea on PostgreSQL."""
    return (sa.LargeBinary()
            .with_variant(mysql.VARBINARY(length), "mysql", "mariadb")
            .with_variant(mssql.VARBINARY(length), "mssql"))


def identity():
    """A Diameter identity (host, realm): FQDN-sized text."""
    return sa.String(1024)


def for_update(statement, table):
    """``statement`` taking the row locks of ``table``'s rows it reads:
    FOR UPDATE, or MSSQL's UPDLOCK/ROWLOCK table hint."""
    return statement.with_for_update().with_hint(table, "WITH (UPDLOCK, ROWLOCK)", "mssql")


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
    """SQLite's lower(): ASCII letters only."""
    return text.translate(_ASCII_LOWER)
