"""The SQLite store's side of :mod:`pyhss.storage.schema`: one step per
schema version, run on the store's connection inside the open's
``BEGIN IMMEDIATE`` transaction (a second process opening the file waits,
then finds the work done).

The ``schema_version`` table keeps one row: the database's version (as
the first releases wrote it; the highest row is read, should there be
several).
"""

from pyhss.storage.schema import pending
from pyhss.storage.sqlite_eir import EIR_SCHEMA, RULE_VERSION_STATEMENTS
from pyhss.storage.sqlite_ims import IMS_SCHEMA

VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"

# Version 1 as it was first shipped.
_VERSION_1 = (
    """CREATE TABLE IF NOT EXISTS subscriber (
        imsi TEXT PRIMARY KEY NOT NULL,
        k BLOB NOT NULL,
        opc BLOB,
        op BLOB,
        amf BLOB NOT NULL,
        sqn INTEGER NOT NULL,
        msisdn TEXT,
        apns TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        roaming_allowed INTEGER NOT NULL,
        ue_ambr_ul INTEGER,
        ue_ambr_dl INTEGER,
        network_access_mode INTEGER NOT NULL,
        periodic_rau_tau_timer INTEGER,
        access_restriction_data INTEGER NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS subscriber_by_msisdn ON subscriber (msisdn)",
    """CREATE TABLE IF NOT EXISTS apn (
        name TEXT PRIMARY KEY NOT NULL,
        qci INTEGER NOT NULL,
        arp_priority INTEGER NOT NULL,
        arp_preemption_capability INTEGER NOT NULL,
        arp_preemption_vulnerability INTEGER NOT NULL,
        ambr_ul INTEGER,
        ambr_dl INTEGER,
        pdn_type TEXT NOT NULL,
        context_id INTEGER NOT NULL UNIQUE
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS serving_node (
        imsi TEXT PRIMARY KEY NOT NULL,
        mme_host TEXT NOT NULL,
        mme_realm TEXT NOT NULL,
        peer TEXT,
        updated_at REAL NOT NULL,
        purged INTEGER NOT NULL
    ) WITHOUT ROWID""",
)


def _statements(statements):
    def step(conn):
        for statement in statements:
            conn.execute(statement)
    return step


def _script(script):
    return _statements([statement for statement in script.split(";") if statement.strip()])


def _version_3(conn):
    """Version 3: subscriber_apn, filled from every subscriber's APN list;
    the equipment rules' change counter and its triggers."""
    conn.execute("CREATE TABLE subscriber_apn (apn TEXT NOT NULL, imsi TEXT NOT NULL, "
                 "PRIMARY KEY (apn, imsi)) WITHOUT ROWID")
    rows = conn.execute("SELECT imsi, apns FROM subscriber")
    conn.executemany("INSERT OR IGNORE INTO subscriber_apn (apn, imsi) VALUES (?, ?)",
                     ((name, imsi) for imsi, apns in rows for name in apns.split()))
    for statement in RULE_VERSION_STATEMENTS:
        conn.execute(statement)


MIGRATIONS = {
    1: _statements(_VERSION_1),
    2: _script(EIR_SCHEMA + IMS_SCHEMA),    # the equipment register (S13); IMS subscriptions (Cx)
    3: _version_3,
}


def migrate(conn, where, upto=None):
    """Bring the database on ``conn`` (in a write transaction) to the
    current schema version, or to ``upto`` (tests build older ones).
    Returns ``(stored, applied)``: the version found (None: a new
    database) and the versions applied.  SchemaTooNew for a newer
    database, before anything is written to it."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_version'").fetchone() is None:
        stored = None
    else:
        stored = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    versions = pending(stored, where, MIGRATIONS)
    conn.execute(VERSION_TABLE)
    applied = []
    for version in versions:
        if upto is not None and version > upto:
            break
        MIGRATIONS[version](conn)
        applied.append(version)
    if applied:
        if stored is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (applied[-1],))
        else:
            conn.execute("UPDATE schema_version SET version = ?", (applied[-1],))
    return stored, applied
