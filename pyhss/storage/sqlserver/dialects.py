"""The SQL servers pyhss can use, as data: SQLAlchemy dialect and driver,
default port, and how ``database.server``'s timeouts reach each driver.

A new SQL server is a row here (and a driver in setup.cfg); the tables
and queries are the same for all (SQLAlchemy Core renders each dialect's
SQL).
"""

import math
from dataclasses import dataclass

import sqlalchemy as sa

from pyhss.storage.errors import StoreError
from pyhss.storage.keys import read_password


def _mysql_arguments(settings):
    # pymysql: socket-level timeouts; a lock wait ends (error 1205) before
    # the read timeout would drop the connection.  Multi-statements: AIR's
    # SQN reservation is one round trip (pyhss.storage.sqlserver.sqn);
    # every value is still a parameter the driver escapes.  FOUND_ROWS as
    # SQLAlchemy sets it (an UPDATE counts the rows it matched).
    from pymysql.constants import CLIENT
    lock_wait = max(1, math.ceil(settings.query_timeout) - 1)
    return {"connect_timeout": settings.connect_timeout, "read_timeout": settings.query_timeout,
            "write_timeout": settings.query_timeout, "charset": "utf8mb4",
            "client_flag": CLIENT.MULTI_STATEMENTS | CLIENT.FOUND_ROWS,
            "init_command": f"SET SESSION innodb_lock_wait_timeout = {lock_wait}"}


def _postgresql_arguments(settings):
    # libpq: connect_timeout in whole seconds, at least 2; the server ends
    # a statement or a lock wait after the query timeout.
    milliseconds = int(settings.query_timeout * 1000)
    return {"connect_timeout": max(2, math.ceil(settings.connect_timeout)),
            "options": f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds}"}


def _mssql_arguments(settings):
    return {"login_timeout": max(1, math.ceil(settings.connect_timeout)),
            "timeout": max(1, math.ceil(settings.query_timeout)), "charset": "UTF-8"}


@dataclass(frozen=True)
class SqlDialect:
    backend: str            # database.backend
    drivername: str         # SQLAlchemy's dialect+driver
    default_port: int
    socket_query: str | None   # the URL query key naming a UNIX socket (None: no sockets)
    arguments: object       # settings -> the driver's connect() keywords
    product: str


DIALECTS = {
    "mariadb": SqlDialect("mariadb", "mysql+pymysql", 3306, "unix_socket", _mysql_arguments, "MariaDB/MySQL"),
    "postgresql": SqlDialect("postgresql", "postgresql+psycopg", 5432, "host", _postgresql_arguments,
                             "PostgreSQL"),
    "mssql": SqlDialect("mssql", "mssql+pymssql", 1433, None, _mssql_arguments, "Microsoft SQL Server"),
}


def describe(backend, settings):
    """Where the database is, for logs and errors (never the password)."""
    where = settings.socket or f"{settings.host}:{settings.port or DIALECTS[backend].default_port}"
    return f"{DIALECTS[backend].product} database {settings.database!r} at {where}"


def make_engine(backend, settings, pool_size):
    """A SQLAlchemy Engine for ``backend`` with the connection settings of
    ``database.server``; nothing is connected yet."""
    dialect = DIALECTS[backend]
    query = {}
    host = settings.host
    if settings.socket:
        if dialect.socket_query is None:
            raise StoreError(f"{dialect.product} is reached over TCP only: set database.server.host, "
                             f"not socket")
        if dialect.socket_query == "host":
            host = settings.socket    # libpq: a directory as host means its socket
        else:
            query[dialect.socket_query] = settings.socket
            host = "localhost"
    url = sa.URL.create(dialect.drivername, username=settings.user, password=read_password(settings),
                        host=host, port=None if settings.socket else (settings.port or dialect.default_port),
                        database=settings.database, query=query)
    return sa.create_engine(url, pool_size=pool_size, max_overflow=2, pool_timeout=settings.connect_timeout,
                            connect_args=dialect.arguments(settings))
