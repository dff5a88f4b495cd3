"""pyhss configuration: ``config.yaml`` loaded into frozen dataclasses.

Each section is a dataclass; each field declares its YAML key, its check
and its default once (``_key``), and one generic loader reads them all, so
the schema, the defaults and the error messages cannot drift apart.

Every problem raises :class:`ConfigError`, whose text is one line naming
the file, the dotted key and what is wrong::

    config.yaml: timers.watchdog: must be a number greater than 0, got -1

Unknown keys are errors too (a typo must not silently fall back to a
default).  Relative paths are relative to the configuration file.
"""

import ipaddress
import os
import re
from dataclasses import MISSING, dataclass, field, fields

import yaml

from pyhss.protocols.transport import LISTENERS
from pyhss.storage import ADAPTERS

# The choices are the registries' own names: a transport or a backend added
# there is accepted here.
TRANSPORTS = tuple(LISTENERS)
BACKENDS = tuple(ADAPTERS)
LOG_LEVELS = ("debug", "info", "warn", "error", "critical")
# RFC 6733 4.3: the Diameter header length field is 24 bits.
MAX_DIAMETER_MESSAGE = (1 << 24) - 1
DIAMETER_HEADER_LENGTH = 20

_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class ConfigError(Exception):
    """The configuration cannot be used; ``str()`` is one line."""

    def __init__(self, path, key, problem):
        Exception.__init__(self, path, key, problem)
        self.path = path
        self.key = key
        self.problem = problem

    def __str__(self):
        if self.key:
            return f"{self.path}: {self.key}: {self.problem}"
        return f"{self.path}: {self.problem}"


class _Invalid(Exception):
    """Raised by a check; the loader adds the file and key."""


# --- checks: value -> normalised value, or raise _Invalid ---------------------------

def _describe(value):
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "nothing"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"{value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def integer(low, high):
    def check(value, base):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"must be an integer, got {_describe(value)}")
        if not low <= value <= high:
            raise _Invalid(f"must be between {low} and {high}, got {value}")
        return value
    return check


def seconds(low_exclusive, high):
    def check(value, base):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(f"must be a number of seconds, got {_describe(value)}")
        if not low_exclusive < value <= high:
            raise _Invalid(f"must be a number greater than {low_exclusive} and at most {high}, got {value}")
        return float(value)
    return check


def text(value, base):
    if not isinstance(value, str) or not value:
        raise _Invalid(f"must be a non-empty string, got {_describe(value)}")
    return value


def diameter_identity(value, base):
    """DiameterIdentity (RFC 6733 4.3.1): an FQDN."""
    value = text(value, base)
    if len(value) > 255 or not all(_LABEL.match(label) for label in value.split(".")):
        raise _Invalid(f"must be a fully qualified domain name (letters, digits, '-', dots), got {value!r}")
    return value


def digits(count_low, count_high, what):
    def check(value, base):
        if isinstance(value, int) and not isinstance(value, bool):
            raise _Invalid(f"must be a quoted string of {what} (YAML reads 001 as the number 1), got {value}")
        if not isinstance(value, str) or not value.isdigit() or not value.isascii() \
                or not count_low <= len(value) <= count_high:
            raise _Invalid(f"must be a string of {what}, got {_describe(value)}")
        return value
    return check


def choice(options):
    def check(value, base):
        if value not in options:
            raise _Invalid(f"unknown value {_describe(value)}; expected one of {', '.join(options)}")
        return value
    return check


def ip_address(value, base):
    if not isinstance(value, str):
        raise _Invalid(f"must be an IP address string, got {_describe(value)}")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise _Invalid(f"not an IP address: {value!r}") from None


def ip_network(value, base):
    """An IP address or a network in CIDR notation."""
    if not isinstance(value, str):
        raise _Invalid(f"must be an IP address or network string, got {_describe(value)}")
    try:
        return ipaddress.ip_network(value)
    except ValueError as e:
        raise _Invalid(f"not an IP address or network: {e}") from None


def path(value, base):
    """A file path; relative to the configuration file's directory."""
    value = text(value, base)
    if value == ":memory:":
        return value
    return os.path.normpath(os.path.join(base, os.path.expanduser(value)))


# sun_path is 108 bytes on Linux, one of them the terminating NUL.
MAX_UNIX_SOCKET_PATH = 107


def unix_socket_path(value, base):
    """A UNIX socket path (relative to the configuration file); empty: none."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Invalid(f"must be a path string (empty: off), got {_describe(value)}")
    value = path(value, base)
    length = len(os.fsencode(value))
    if length > MAX_UNIX_SOCKET_PATH:
        raise _Invalid(f"too long for a UNIX socket: {value!r} is {length} bytes, "
                       f"at most {MAX_UNIX_SOCKET_PATH}")
    return value


def log_file(value, base):
    value = text(value, base)
    return value if value == "-" else path(value, base)


def boolean(value, base):
    if not isinstance(value, bool):
        raise _Invalid(f"must be true or false, got {_describe(value)}")
    return value


def list_of(item_check, non_empty=True, unique=True):
    def check(value, base, key=None):
        if not isinstance(value, list):
            raise _Invalid(f"must be a list, got {_describe(value)}")
        if non_empty and not value:
            raise _Invalid("must not be empty")
        items = []
        for index, item in enumerate(value):
            try:
                items.append(item_check(item, base))
            except _Invalid as e:
                raise _Invalid(f"item {index}: {e}") from None
        if unique and len(set(items)) != len(items):
            raise _Invalid("lists the same value twice")
        return tuple(items)
    return check


def _key(name, check, default=MISSING, doc="", check_default=False):
    """A field read from YAML key ``name``; without default it is required.

    ``check_default`` runs the check on the default too (relative paths
    must resolve against the configuration file even when left out).
    """
    metadata = {"key": name, "check": check, "doc": doc, "check_default": check_default}
    if default is MISSING:
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


def _section(name, cls, required=False):
    """A nested mapping loaded into ``cls``; missing means all defaults."""
    metadata = {"key": name, "section": cls, "required": required}
    if required:
        return field(metadata=metadata)
    return field(default_factory=lambda: _build(cls, {}, "", "<defaults>", ""), metadata=metadata)


# --- schema ---------------------------------------------------------------------------

@dataclass(frozen=True)
class AllowedPeer:
    origin_host: str | None = _key("origin_host", diameter_identity, None,
                                   doc="peer Origin-Host allowed (case-insensitive)")
    origin_realm: str | None = _key("origin_realm", diameter_identity, None,
                                    doc="peer Origin-Realm allowed (case-insensitive)")
    addresses: tuple = _key("addresses", list_of(ip_network, non_empty=False), (),
                            doc="source addresses or networks (CIDR) the peer may connect from; "
                                "with origin_host, that host is refused from anywhere else")

    def matches(self, origin_host, origin_realm, address=None):
        return ((self.origin_host is None or self.origin_host.lower() == origin_host.lower())
                and (self.origin_realm is None or self.origin_realm.lower() == origin_realm.lower())
                and (not self.addresses or _address_in(address, self.addresses)))

    def pins(self, origin_host):
        """True when this entry ties ``origin_host`` to its addresses."""
        return bool(self.addresses) and self.origin_host is not None \
            and self.origin_host.lower() == origin_host.lower()


def _address_in(address, networks):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False    # no address (a UNIX socket) or an unknown form
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped     # an IPv4 peer seen by a dual-stack listener
    return any(ip in network for network in networks)


def _allowed_peer(value, base):
    if not isinstance(value, dict):
        raise _Invalid(f"must be a mapping with origin_host and/or origin_realm, got {_describe(value)}")
    peer = _build_raising(AllowedPeer, value, base)
    if peer.origin_host is None and peer.origin_realm is None:
        raise _Invalid("needs origin_host and/or origin_realm")
    return peer


@dataclass(frozen=True)
class HssConfig:
    origin_host: str = _key("OriginHost", diameter_identity,
                            doc="our Diameter identity (Origin-Host), an FQDN")
    origin_realm: str = _key("OriginRealm", diameter_identity,
                             doc="our realm (Origin-Realm)")
    mcc: str = _key("MCC", digits(3, 3, "3 digits"),
                    doc="home network mobile country code, quoted, 3 digits")
    mnc: str = _key("MNC", digits(2, 3, "2 or 3 digits"),
                    doc="home network mobile network code, quoted, 2 or 3 digits")
    bind_addresses: tuple = _key("bind_addresses", list_of(ip_address), ("127.0.0.1",),
                                 doc="IPv4/IPv6 addresses to listen on, one listener per address and transport")
    port: int = _key("port", integer(0, 65535), 3868,
                     doc="Diameter port (0: any free port)")
    transports: tuple = _key("transports", list_of(choice(TRANSPORTS)), ("tcp",),
                             doc="transports to listen on: " + ", ".join(TRANSPORTS))
    product_name: str = _key("ProductName", text, "pyhss",
                             doc="Product-Name in CER/CEA")
    vendor_id: int = _key("VendorId", integer(0, 0xFFFFFFFF), 0,
                          doc="Vendor-Id in CER/CEA (0: none)")
    allowed_peers: tuple = _key("allowed_peers", list_of(_allowed_peer, non_empty=False, unique=False), (),
                                doc="peers allowed to connect, each {origin_host, origin_realm, addresses}; "
                                    "empty allows all")

    def peer_allowed(self, origin_host, origin_realm, address=None):
        """
        True when the allow-list is empty or one entry matches.  An entry
        naming ``origin_host`` with addresses pins that host: then only
        such entries are consulted, so a wider entry (a realm) cannot let
        the same identity in from elsewhere.
        """
        if not self.allowed_peers:
            return True
        pinned = [p for p in self.allowed_peers if p.pins(origin_host)]
        return any(p.matches(origin_host, origin_realm, address)
                   for p in (pinned or self.allowed_peers))


@dataclass(frozen=True)
class TimersConfig:
    watchdog: float = _key("watchdog", seconds(0, 3600), 30.0,
                           doc="Tw: seconds of silence before sending a DWR (RFC 3539)")
    watchdog_timeout: float = _key("watchdog_timeout", seconds(0, 3600), 10.0,
                                   doc="seconds to wait for a DWA before dropping the peer")
    cer_timeout: float = _key("cer_timeout", seconds(0, 3600), 10.0,
                              doc="seconds a new connection has to send its CER")
    dpa_timeout: float = _key("dpa_timeout", seconds(0, 3600), 5.0,
                              doc="seconds to wait for a DPA before closing anyway")
    request_timeout: float = _key("request_timeout", seconds(0, 3600), 10.0,
                                  doc="seconds to wait for the answer to a request we send")


@dataclass(frozen=True)
class LimitsConfig:
    max_message_size: int = _key("max_message_size", integer(DIAMETER_HEADER_LENGTH, MAX_DIAMETER_MESSAGE), 65536,
                                 doc="bytes; a larger message closes the connection")
    max_avp_depth: int = _key("max_avp_depth", integer(1, 64), 16,
                              doc="Grouped AVP nesting depth")
    max_connections: int = _key("max_connections", integer(1, 1_000_000), 1024,
                                doc="connections accepted at once")
    max_pending_requests: int = _key("max_pending_requests", integer(1, 1_000_000), 1024,
                                     doc="requests of one connection in handlers at once; at it we stop "
                                         "reading that peer until half are answered")
    max_unopened_connections: int = _key(
        "max_unopened_connections", integer(1, 1_000_000), 256,
        doc="accepted connections at once that have not completed the CER/CEA exchange; "
            "past it (or max_connections) the oldest of them is closed for a new one")
    max_unopened_per_address: int = _key(
        "max_unopened_per_address", integer(1, 1_000_000), 64,
        doc="the same, per source address")
    max_write_buffer: int = _key(
        "max_write_buffer", integer(4096, 1 << 30), 65536,
        doc="bytes of answers queued for one peer before we stop reading its requests "
            "(resumed once it reads them); also the most read from a peer at once")
    write_stall_timeout: float = _key(
        "write_stall_timeout", seconds(0, 3600), 30.0,
        doc="seconds a peer may leave max_write_buffer full before it is dropped")


@dataclass(frozen=True)
class S6aConfig:
    max_vectors: int = _key("max_vectors", integer(1, 32), 32,
                            doc="most authentication vectors returned in one AIA (TS 29.272 allows 1-32)")
    ind_bits: int = _key("ind_bits", integer(0, 16), 5,
                         doc="IND length of SQN = SEQ || IND (TS 33.102 Annex C)")
    utran_geran_vectors: str = _key("utran_geran_vectors", choice(("utran", "geran")), "utran",
                                    doc="answer Requested-UTRAN-GERAN-Authentication-Info with "
                                        "UTRAN quintuplets or GERAN triplets")
    cancel_old_mme: bool = _key("cancel_old_mme", boolean, True,
                                doc="send CLR to the previous MME when a ULR comes from a new one")


@dataclass(frozen=True)
class ControlConfig:
    # Off unless a socket is named: a config written before this section
    # existed gets no new file-system listener.
    enabled: bool = _key("enabled", boolean, True,
                         doc="listen on the control socket (set false to turn it off but keep the path)")
    socket: str | None = _key("socket", unix_socket_path, None,
                              doc="UNIX socket (mode 0600) on which pyhss-admin tells the running server "
                                  "about profile changes (IDR) and withdrawals (CLR); empty: no control")

    @property
    def socket_path(self):
        """The socket to listen on or connect to, or None when control is off."""
        return self.socket if self.enabled else None


def seconds_or_zero(high):
    """Seconds from 0 to ``high``; 0 usually means "no limit"."""
    def check(value, base):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(f"must be a number of seconds, got {_describe(value)}")
        if not 0 <= value <= high:
            raise _Invalid(f"must be a number from 0 to {high}, got {value}")
        return float(value)
    return check


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


@dataclass(frozen=True)
class LoggingConfig:
    level: str = _key("level", choice(LOG_LEVELS), "info",
                      doc="debug, info, warn, error, critical; debug logs every request and answer")
    file: str = _key("file", log_file, "-",
                     doc="log file, or - for standard output")


@dataclass(frozen=True)
class Config:
    hss: HssConfig = _section("hss", HssConfig, required=True)
    timers: TimersConfig = _section("timers", TimersConfig)
    limits: LimitsConfig = _section("limits", LimitsConfig)
    s6a: S6aConfig = _section("s6a", S6aConfig)
    control: ControlConfig = _section("control", ControlConfig)
    database: DatabaseConfig = _section("database", DatabaseConfig)
    logging: LoggingConfig = _section("logging", LoggingConfig)
    path: str = field(default="<defaults>", compare=False)

    @classmethod
    def default(cls, **sections):
        """The shipped settings with an in-memory store; for tests.

        ``sections`` are raw YAML-style mappings replacing whole sections,
        e.g. ``Config.default(timers={"watchdog": 1})``.
        """
        data = {
            "hss": {
                "OriginHost": "hss.epc.mnc001.mcc001.3gppnetwork.org",
                "OriginRealm": "epc.mnc001.mcc001.3gppnetwork.org",
                "MCC": "001",
                "MNC": "01",
            },
            "database": {"backend": "memory"},
        }
        data.update(sections)
        return load_config_data(data, "<defaults>")


# --- loader ---------------------------------------------------------------------------

class _KeyedInvalid(Exception):
    def __init__(self, key, problem):
        Exception.__init__(self, key, problem)
        self.key = key
        self.problem = problem


def _build_raising(cls, mapping, base, prefix=""):
    """Like _build, but errors come out as _Invalid naming the sub-key."""
    try:
        return _build(cls, mapping, base, None, prefix)
    except _KeyedInvalid as e:
        raise _Invalid(f"{e.key}: {e.problem}") from None


def _build(cls, mapping, base, source, prefix):
    if not isinstance(mapping, dict):
        raise _KeyedInvalid(prefix.rstrip(".") or "(top level)",
                            f"must be a mapping of keys, got {_describe(mapping)}")
    known = {}
    for f in fields(cls):
        if "key" in f.metadata:
            known[f.metadata["key"]] = f
    for name in mapping:
        if name not in known:
            raise _KeyedInvalid(f"{prefix}{name}",
                                f"unknown key; expected one of {', '.join(sorted(known, key=str.lower))}")
    values = {}
    for name, f in known.items():
        key = f"{prefix}{name}"
        if name not in mapping or (mapping[name] is None and "section" in f.metadata):
            if f.metadata.get("required") or (f.default is MISSING and f.default_factory is MISSING):
                raise _KeyedInvalid(key, "missing required key")
            if "section" in f.metadata:
                values[f.name] = _build(f.metadata["section"], {}, base, source, key + ".")
            elif f.metadata["check_default"]:
                values[f.name] = f.metadata["check"](f.default, base)
            continue
        raw = mapping[name]
        if "section" in f.metadata:
            values[f.name] = _build(f.metadata["section"], raw, base, source, key + ".")
            continue
        try:
            values[f.name] = f.metadata["check"](raw, base)
        except _Invalid as e:
            raise _KeyedInvalid(key, str(e)) from None
    return cls(**values)


def load_config_data(data, source="<config>", base=None):
    """Config from an already parsed mapping; ``source`` names it in errors."""
    if base is None:
        base = os.path.dirname(os.path.abspath(source)) if not source.startswith("<") else os.getcwd()
    if data is None:
        data = {}
    try:
        config = _build(Config, data, base, source, "")
    except _KeyedInvalid as e:
        raise ConfigError(source, e.key, e.problem) from None
    return _replace_path(config, source)


def _replace_path(config, source):
    object.__setattr__(config, "path", source)
    return config


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader refusing a key given twice in one mapping.

    PyYAML keeps the last value silently, so a second ``port:`` further
    down would override the first without a word.
    """

    def get_single_data(self):
        node = self.get_single_node()
        if node is None:
            return None
        _refuse_duplicate_keys(node, "", set())
        return self.construct_document(node)


def _refuse_duplicate_keys(node, prefix, seen):
    if id(node) in seen:   # an alias of a node already checked
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicate_keys(item, f"{prefix}[{index}]", seen)
    elif isinstance(node, yaml.MappingNode):
        first = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue   # not a name; the schema refuses it
            name = f"{prefix}.{key.value}" if prefix else key.value
            line = key.start_mark.line + 1
            if (key.tag, key.value) in first:
                raise _KeyedInvalid(name, f"given twice, on line {first[key.tag, key.value]} and line {line}")
            first[key.tag, key.value] = line
            _refuse_duplicate_keys(value, name, seen)


def load_config(path):
    """Read and validate the YAML file at ``path``."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=_UniqueKeyLoader)
    except OSError as e:
        raise ConfigError(path, None, f"cannot read: {e.strerror or e}") from None
    except _KeyedInvalid as e:
        raise ConfigError(path, e.key, e.problem) from None
    except UnicodeDecodeError as e:
        raise ConfigError(path, None, f"not UTF-8 text: {e.reason} at byte {e.start}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(path, None, f"not valid YAML: {where}{problem}") from None
    return load_config_data(data, path, os.path.dirname(os.path.abspath(path)))


def check_log_file(config):
    """ConfigError unless ``logging.file`` can be opened for appending.

    The server calls this at start-up, so that a log file it cannot write is
    one line instead of a traceback from twistd (pyhss-admin never writes
    it).  Creates the file, as logging would a moment later.
    """
    target = config.logging.file
    if target == "-":
        return
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
    except OSError as e:
        raise ConfigError(config.path, "logging.file", f"cannot write {target!r}: {e.strerror or e}") from None


def describe_keys(cls=Config, prefix=""):
    """(dotted key, default or "(required)", doc) for every key: the README's reference table."""
    rows = []
    for f in fields(cls):
        if "key" not in f.metadata:
            continue
        key = prefix + f.metadata["key"]
        if "section" in f.metadata:
            rows.extend(describe_keys(f.metadata["section"], key + "."))
        else:
            default = "(required)" if f.default is MISSING else f.default
            rows.append((key, default, f.metadata.get("doc", "")))
    return rows
