"""config.yaml's ``database`` section: which store, the SQLite file, and
the database server of the server backends.  Apart from
:mod:`pyhss.config` to keep that module to the schema of the HSS itself;
re-exported there."""

from dataclasses import dataclass

from pyhss.config_checks import (
    _describe, _Invalid, _key, _KeyedInvalid, _section, choice, integer, path, seconds, seconds_or_zero, text,
    unix_socket_path,
)
from pyhss.storage import ADAPTERS

# The choices are the registry's own names: a backend added there is accepted here.
BACKENDS = tuple(ADAPTERS)


@dataclass(frozen=True)
class SqliteConfig:
    path: str = _key("path", path, "var/pyhss.sqlite3", check_default=True,
                     doc="SQLite database file, created mode 0600 as it holds K and OPc "
                         "(':memory:' for a private in-memory one)")
    busy_timeout: float = _key("busy_timeout", seconds(0, 3600), 5.0,
                               doc="seconds to wait for another process's write lock")
    wal_limit: int = _key("wal_limit", integer(65536, 1 << 40), 64 * 1024 * 1024,
                          doc="bytes the write-ahead log (the -wal file) is kept under: the writer "
                              "checkpoints at half of it, a TRUNCATE checkpoint empties it at three quarters")


def optional_text(value, base):
    """Any string, empty allowed; None when left out."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid(f"must be a string, got {_describe(value)}")
    return value


def optional_path(value, base):
    return None if value is None or value == "" else path(value, base)


@dataclass(frozen=True)
class ServerConfig:
    """A database server (the backends other than sqlite and memory)."""
    host: str = _key("host", text, "localhost",
                     doc="database server host name or address (TCP)")
    port: int = _key("port", integer(0, 65535), 0,
                     doc="TCP port; 0: the backend's own (3306, 5432, 1433, 27017)")
    socket: str | None = _key("socket", unix_socket_path, None,
                              doc="UNIX socket instead of host and port: the socket file (mariadb) or the "
                                  "directory holding it (postgresql)")
    user: str | None = _key("user", optional_text, None, doc="user name")
    password: str | None = _key("password", optional_text, None,
                                doc="password; better kept in password_file")
    password_file: str | None = _key("password_file", optional_path, None,
                                     doc="file whose first line is the password (read at each connection "
                                         "attempt)")
    database: str = _key("database", text, "pyhss", doc="database name (created by the operator; pyhss "
                                                        "creates and migrates its tables)")
    pool_size: int = _key("pool_size", integer(1, 256), 8,
                          doc="connections, each with its own thread; calls for one IMSI run one at a time")
    connect_timeout: float = _key("connect_timeout", seconds(0, 3600), 5.0,
                                  doc="seconds to wait for a connection")
    query_timeout: float = _key("query_timeout", seconds(0, 3600), 5.0,
                                doc="seconds a request waits for the database before it is answered 5012 "
                                    "(DIAMETER_UNABLE_TO_COMPLY)")

    def __post_init__(self):
        if self.password is not None and self.password_file is not None:
            raise _KeyedInvalid("database.server.password_file", "give password or password_file, not both")


@dataclass(frozen=True)
class DatabaseConfig:
    backend: str = _key("backend", choice(BACKENDS), "sqlite",
                        doc="store: sqlite (embedded), mariadb, postgresql, mssql or mongodb (database.server), "
                            "or memory (lost on exit)")
    start_timeout: float = _key("start_timeout", seconds_or_zero(86400), 60.0,
                                doc="seconds twistd pyhss keeps retrying a store that does not open at start-up "
                                    "(answering 5012 meanwhile) before it stops with exit status 1; 0: for ever")
    sqlite: SqliteConfig = _section("sqlite", SqliteConfig)
    server: ServerConfig = _section("server", ServerConfig)
