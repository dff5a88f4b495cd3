"""The store's schema versions: one list that every backend follows.

A database records the version of its layout; at open, a store applies
each later version's migration in order (a new database starts from 0, so
it is built by the same steps an old one is brought forward by) and
refuses a database newer than :data:`SCHEMA_VERSION` with one line.

Each backend keeps its own steps, ``MIGRATIONS = {version: step}``
(SQLite: :mod:`pyhss.storage.sqlite_schema`; SQL servers:
:mod:`pyhss.storage.sqlserver.schema`; MongoDB:
:mod:`pyhss.storage.mongodb.schema`), and ``tests/test_store_schema.py``
checks that each has a step for every version listed here.  A new role
is a new version at the end of :data:`VERSIONS`, and one
step per backend that creates its tables or collections.
"""

from dataclasses import dataclass

from pyhss.storage.errors import StoreError


@dataclass(frozen=True)
class SchemaVersion:
    number: int
    summary: str


VERSIONS = (
    SchemaVersion(1, "subscribers with their AuC data, APN profiles, serving MMEs"),
    SchemaVersion(2, "the equipment register (S13: rules, check history) and IMS subscriptions (Cx: iFC "
                     "templates, subscriptions, public identities, registration state)"),
    SchemaVersion(3, "subscriber_apn: the APNs each subscriber names, so that deleting an APN or listing its "
                     "users finds them by exact match on an index (no pattern match over every subscriber); in SQLite "
                     "also equipment_rule_version, a counter its triggers move on every rule change (the "
                     "store's copy of the rules notices another process's writes)"),
)
SCHEMA_VERSION = VERSIONS[-1].number


class SchemaTooNew(StoreError):
    """The database was written by a newer pyhss: refused, never retried."""


def pending(stored, where, migrations):
    """The version numbers to apply, in order, to a database at version
    ``stored`` (0 or None: a new one).  Raises SchemaTooNew for a database
    newer than this code, naming ``where`` (the database)."""
    stored = stored or 0
    if stored > SCHEMA_VERSION:
        raise SchemaTooNew(f"{where}: database schema version {stored} is newer than this pyhss "
                           f"(schema version {SCHEMA_VERSION}); upgrade pyhss to use it")
    missing = [v.number for v in VERSIONS if v.number not in migrations]
    if missing:
        raise StoreError(f"no migration to schema version {missing[0]} for {where}")
    return [v.number for v in VERSIONS if v.number > stored]
