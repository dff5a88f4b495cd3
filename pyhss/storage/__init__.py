"""Subscriber store: role interfaces (``pyhss.storage.interface``), several adapters.

``open_store(config.database, reactor)`` picks the adapter named by
``database.backend``.  Adapters are registered in ``ADAPTERS`` by name:
memory, SQLite (embedded), the SQL servers (:mod:`pyhss.storage.sqlserver`)
and MongoDB (:mod:`pyhss.storage.mongodb`).  A new backend is a
module here providing ``IStore`` (every role), an opener in ``ADAPTERS``,
and a test module running ``tests/store_contract.py``'s mixins against it.
"""

from pyhss.storage.errors import DuplicateError, InUseError, NotFoundError, StoreError, ValidationError
from pyhss.storage.interface import (
    ANY_STATE, EVERY_SUBSCRIBER, IEquipmentRegister, IImsSubscriptions, IServingNodes, ISqnReservation, IStore,
    ISubscribers, RequiredState, SubscriberQuery,
)
from pyhss.storage.records import ApnProfile, ServingNode, Subscriber

__all__ = [
    "ADAPTERS", "ANY_STATE", "EVERY_SUBSCRIBER", "ApnProfile", "DuplicateError", "IEquipmentRegister",
    "IImsSubscriptions", "IServingNodes", "ISqnReservation", "IStore", "ISubscribers", "InUseError", "NotFoundError",
    "RequiredState", "ServingNode", "StoreError", "Subscriber", "SubscriberQuery",
    "ValidationError", "open_store",
]


def _open_memory(database_config, reactor):
    from pyhss.storage.memory import MemoryStore
    return MemoryStore()


def _open_sqlite(database_config, reactor):
    from pyhss.storage.sqlite import SqliteStore
    sqlite = database_config.sqlite
    return SqliteStore(sqlite.path, reactor, busy_timeout=sqlite.busy_timeout, wal_limit=sqlite.wal_limit)


def _sql_server(backend):
    def open_sql(database_config, reactor):
        from pyhss.storage.sqlserver.store import SqlStore
        return SqlStore(backend, database_config.server, reactor)
    open_sql.__name__ = f"_open_{backend}"
    return open_sql


def _open_mongodb(database_config, reactor):
    from pyhss.storage.mongodb.store import MongoStore
    return MongoStore(database_config.server, reactor)


ADAPTERS = {
    "memory": _open_memory,
    "sqlite": _open_sqlite,
    "mariadb": _sql_server("mariadb"),
    "postgresql": _sql_server("postgresql"),
    "mssql": _sql_server("mssql"),
    "mongodb": _open_mongodb,
}


def open_store(database_config, reactor=None):
    """The IStore for a ``DatabaseConfig``.

    Returns at once; ``store.opened`` fires when it is usable (or fails
    with StoreError, and so does every call made on it).
    """
    if reactor is None:
        from twisted.internet import reactor
    try:
        factory = ADAPTERS[database_config.backend]
    except KeyError:
        raise StoreError(f"unknown database backend {database_config.backend!r}; "
                         f"expected one of {', '.join(sorted(ADAPTERS))}") from None
    return factory(database_config, reactor)
