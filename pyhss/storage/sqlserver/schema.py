"""The SQL servers' side of :mod:`pyhss.storage.schema`: the version table,
one migration step per version, and the lock that lets several pyhss
processes open a new database at once.

A step runs ``(conn)`` and may only add: tables a role module declares
(created with their indexes and keys) and the rows that fill them.  The
base tables of version 1 are created as they were then; a later version
that changes a table adds an explicit step for it here.
"""

import sqlalchemy as sa

from pyhss.storage.errors import StoreError
from pyhss.storage.schema import SCHEMA_VERSION, pending
from pyhss.storage.sqlserver.base import METADATA, TABLE_OPTIONS
from pyhss.storage.sqlserver.eir import EIR_TABLES
from pyhss.storage.sqlserver.ims import IMS_TABLES
from pyhss.storage.sqlserver.serving import serving_node_table
from pyhss.storage.sqlserver.subscribers import subscriber_apn_table, subscriber_table, apn_table

schema_version_table = sa.Table(
    "schema_version", METADATA,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    **TABLE_OPTIONS,
)

LOCK_NAME = "pyhss_schema"
LOCK_TIMEOUT = 60


def _create(*tables):
    def step(conn):
        for table in tables:
            table.create(conn, checkfirst=True)
    return step


def _link_subscribers_to_apns(conn):
    """Version 3: fill subscriber_apn from every subscriber's APN list."""
    _create(subscriber_apn_table)(conn)
    query = sa.select(subscriber_table.c.imsi, subscriber_table.c.apns).order_by(subscriber_table.c.imsi)
    batch = []
    for imsi, apns in conn.execute(query):
        batch.extend({"apn": name, "imsi": imsi} for name in (apns or "").split())
        if len(batch) >= 10000:
            conn.execute(subscriber_apn_table.insert(), batch)
            batch = []
    if batch:
        conn.execute(subscriber_apn_table.insert(), batch)


MIGRATIONS = {
    1: _create(subscriber_table, apn_table, serving_node_table),
    2: _create(*EIR_TABLES, *IMS_TABLES),
    3: _link_subscribers_to_apns,
}


def _lock(conn):
    """Take the schema lock (one process migrates, the others wait and
    then see its work); True when taken."""
    name = conn.dialect.name
    if name in ("mysql", "mariadb"):
        got = conn.execute(sa.text("SELECT GET_LOCK(:name, :timeout)"),
                           {"name": LOCK_NAME, "timeout": LOCK_TIMEOUT}).scalar()
        return got == 1
    if name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": LOCK_NAME})
        return True
    if name == "mssql":
        conn.execute(sa.text("EXEC sp_getapplock @Resource = :name, @LockMode = 'Exclusive', "
                             "@LockOwner = 'Transaction', @LockTimeout = :timeout"),
                     {"name": LOCK_NAME, "timeout": LOCK_TIMEOUT * 1000})
        return True
    return True


def _unlock(conn):
    if conn.dialect.name in ("mysql", "mariadb"):
        conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": LOCK_NAME})


def stored_version(conn):
    if not sa.inspect(conn).has_table(schema_version_table.name):
        return None
    return conn.execute(sa.select(sa.func.max(schema_version_table.c.version))).scalar()


def prepare(conn, where, upto=SCHEMA_VERSION):
    """Bring the database on ``conn`` to schema version ``upto`` (tests
    build older databases with a lower one); returns the versions applied.
    Raises SchemaTooNew for a newer database.

    MariaDB commits each DDL statement by itself, so its lock is the
    session's (GET_LOCK), taken before the transaction and released only
    after its COMMIT: a second process then reads the last version row.
    PostgreSQL's and MSSQL's locks end with the transaction."""
    session_lock = conn.dialect.name in ("mysql", "mariadb")
    if session_lock:
        got = _lock(conn)
        conn.commit()
        if not got:
            raise StoreError(f"{where}: another pyhss held the schema lock for {LOCK_TIMEOUT} s")
    try:
        with conn.begin():
            if not session_lock:
                _lock(conn)
            schema_version_table.create(conn, checkfirst=True)
            versions = [v for v in pending(stored_version(conn), where, MIGRATIONS) if v <= upto]
            for version in versions:
                MIGRATIONS[version](conn)
                conn.execute(schema_version_table.insert(), {"version": version})
    finally:
        if session_lock:
            _unlock(conn)
            conn.commit()
    return versions
