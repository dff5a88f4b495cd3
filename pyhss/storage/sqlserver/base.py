"""What every role's tables share: the MetaData, column types, row locks.
(Keys are checked before a query: :mod:`pyhss.storage.keys`.)
"""

import sqlalchemy as sa
from sqlalchemy.dialects import mssql, mysql


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


class DriverStatement:
    """A Core statement rendered once per dialect for the driver's own
    cursor: the hot paths (AIR's SQN reservation) skip SQLAlchemy's
    per-execution work, about a quarter of the store's CPU per AIR.  Only
    for statements whose parameters and results need no type processing
    (strings, integers)."""

    def __init__(self, statement):
        self.statement = statement
        self._rendered = {}

    def sql(self, dialect):
        rendered = self._rendered.get(dialect.name)
        if rendered is None:
            compiled = self.statement.compile(dialect=dialect)
            names = getattr(compiled, "positiontup", None) if compiled.positional else None
            rendered = self._rendered[dialect.name] = (compiled.string, names)
        return rendered

    def execute(self, conn, cursor, values):
        """Run on ``cursor`` (of ``conn``'s driver connection, in its transaction)."""
        sql, names = self.sql(conn.dialect)
        cursor.execute(sql, values if names is None else tuple(values[name] for name in names))
        return cursor
