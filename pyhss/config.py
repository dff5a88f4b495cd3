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
from dataclasses import MISSING, dataclass, field, fields

import yaml

from pyhss.config_checks import (  # noqa: F401 (the checks, re-exported)
    MAX_UNIX_SOCKET_PATH, SECTION_LOADER, _describe, _Invalid, _key, _KeyedInvalid, _section, boolean, choice,
    diameter_identity, digits, integer, ip_address, ip_network, list_of, log_file, path, seconds,
    seconds_or_zero, sip_uri, diameter_uri_text, text, unix_socket_path)
from pyhss.protocols.dictionary import DICTIONARY
from pyhss.config_api import ApiConfig, HttpListen, MetricsConfig, http_listen, tls_options  # noqa: F401
from pyhss.config_database import DatabaseConfig, ServerConfig, SqliteConfig  # noqa: F401
from pyhss.protocols.transport import LISTENERS

# The choices are the registry's own names: a transport added there is
# accepted here.
TRANSPORTS = tuple(LISTENERS)
LOG_LEVELS = ("debug", "info", "warn", "error", "critical")
# What the EIR may answer (S13): an Equipment-Status (TS 29.272 7.3.51, the
# dictionary's names) or DIAMETER_ERROR_EQUIPMENT_UNKNOWN.
EQUIPMENT_UNKNOWN = "unknown"
EQUIPMENT_ANSWERS = tuple(name.lower() for name in DICTIONARY.avp("Equipment-Status").enum.values()) + (
    EQUIPMENT_UNKNOWN,)
# RFC 6733 4.3: the Diameter header length field is 24 bits.
MAX_DIAMETER_MESSAGE = (1 << 24) - 1
DIAMETER_HEADER_LENGTH = 20


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
class ConnectPeer:
    origin_host: str = _key("origin_host", diameter_identity,
                            doc="the peer's Origin-Host (its CEA must say the same)")
    addresses: tuple = _key("addresses", list_of(ip_address),
                            doc="its addresses: over SCTP every address of a multi-homed peer; "
                                "over TCP tried in turn")
    port: int = _key("port", integer(1, 65535), 3868, doc="its Diameter port")
    transport: str = _key("transport", choice(TRANSPORTS), "tcp", doc="tcp or sctp")
    local_addresses: tuple = _key("local_addresses", list_of(ip_address, non_empty=False), (),
                                  doc="ours to connect from (SCTP binds them all, TCP the first); "
                                      "empty: the system's choice")


def _connect_peers(value, base):
    peers = list_of(_connect_peer, non_empty=False, unique=False)(value, base)
    seen = set()
    for index, peer in enumerate(peers):
        if peer.origin_host.lower() in seen:
            raise _Invalid(f"item {index}: {peer.origin_host} is listed twice")
        seen.add(peer.origin_host.lower())
    return peers


def _connect_peer(value, base):
    if not isinstance(value, dict):
        raise _Invalid(f"must be a mapping with origin_host and addresses, got {_describe(value)}")
    return _build_raising(ConnectPeer, value, base)


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
                                 doc="IPv4/IPv6 addresses to listen on: TCP on each one, SCTP on all of them "
                                     "at once (one multi-homed endpoint)")
    port: int = _key("port", integer(0, 65535), 3868,
                     doc="Diameter port (0: any free port)")
    transports: tuple = _key("transports", list_of(choice(TRANSPORTS)), ("tcp",),
                             doc="transports to listen on: " + ", ".join(TRANSPORTS)
                                 + " (SCTP listens once on all of bind_addresses: one multi-homed endpoint)")
    sctp_optional: bool = _key("sctp_optional", boolean, False,
                               doc="with sctp in transports, where the kernel has no SCTP: log a warning "
                                   "and serve TCP alone instead of refusing to start")
    connect_peers: tuple = _key("connect_peers", _connect_peers, (),
                                doc="peers we connect to ourselves and keep connected (reconnecting with "
                                    "backoff), each {origin_host, addresses, port, transport, "
                                    "local_addresses}; requests for one not connected wait for it")
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
    connect_timeout: float = _key("connect_timeout", seconds(0, 3600), 10.0,
                                  doc="seconds a connection to a peer of hss.connect_peers may take to open")
    reconnect_min: float = _key("reconnect_min", seconds(0, 3600), 1.0,
                                doc="seconds before connecting again to a peer of hss.connect_peers after a "
                                    "failure or a close; doubled (with jitter) after each failure")
    reconnect_max: float = _key("reconnect_max", seconds(0, 86400), 30.0,
                                doc="the longest wait between connection attempts (RFC 6733's Tc)")

    def __post_init__(self):
        if self.reconnect_min > self.reconnect_max:
            raise _KeyedInvalid("timers.reconnect_min", f"must be at most timers.reconnect_max "
                                f"({self.reconnect_max:g}), got {self.reconnect_min:g}")


@dataclass(frozen=True)
class SctpConfig:
    streams: int = _key("streams", integer(1, 65535), 10,
                        doc="outbound streams asked for (and the most inbound accepted); base messages "
                            "go on stream 0, the others are spread over the rest")
    rto_initial: float = _key("rto_initial", seconds(0, 3600), 3.0,
                              doc="initial retransmission timeout, seconds (RFC 4960 defaults throughout)")
    rto_min: float = _key("rto_min", seconds(0, 3600), 1.0, doc="least retransmission timeout, seconds")
    rto_max: float = _key("rto_max", seconds(0, 3600), 60.0, doc="greatest retransmission timeout, seconds")
    heartbeat_interval: float = _key("heartbeat_interval", seconds_or_zero(3600), 30.0,
                                     doc="seconds between heartbeats on an idle path; 0: off")
    max_retransmissions: int = _key("max_retransmissions", integer(1, 65535), 10,
                                    doc="retransmissions before the association is declared lost")
    path_max_retransmissions: int = _key("path_max_retransmissions", integer(1, 65535), 5,
                                         doc="retransmissions before one peer address is declared "
                                             "unreachable (multi-homing fails over)")
    init_max_retransmissions: int = _key("init_max_retransmissions", integer(1, 65535), 8,
                                         doc="INIT retransmissions while connecting")

    def __post_init__(self):
        if not self.rto_min <= self.rto_initial <= self.rto_max:
            raise _KeyedInvalid("sctp.rto_initial", f"need rto_min <= rto_initial <= rto_max, got "
                                f"{self.rto_min:g}, {self.rto_initial:g}, {self.rto_max:g}")

    def options(self):
        """The settings as L{pyhss.sctp.SctpOptions} keywords."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


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
class CxConfig:
    enabled: bool = _key("enabled", boolean, True,
                         doc="serve Cx (TS 29.229, application 16777216) and announce it in CER/CEA")
    max_auth_items: int = _key("max_auth_items", integer(1, 32), 8,
                               doc="most SIP-Auth-Data-Items (AKA vectors) returned in one MAA")
    visited_networks: tuple = _key("visited_networks", list_of(text, non_empty=False), (),
                                   doc="Visited-Network-Identifiers whose UAR may register users (5004 for "
                                       "others); empty: every network")
    mandatory_capabilities: tuple = _key("mandatory_capabilities", list_of(integer(0, 0xFFFFFFFF), non_empty=False),
                                         (), doc="Mandatory-Capability values of Server-Capabilities (S-CSCF "
                                                 "selection by the I-CSCF)")
    optional_capabilities: tuple = _key("optional_capabilities", list_of(integer(0, 0xFFFFFFFF), non_empty=False),
                                        (), doc="Optional-Capability values of Server-Capabilities")
    scscf_names: tuple = _key("scscf_names", list_of(sip_uri, non_empty=False), (),
                              doc="S-CSCF SIP URIs offered in Server-Capabilities (Server-Name)")
    keep_server_name: bool = _key("keep_server_name", boolean, True,
                                  doc="keep the S-CSCF name on SAR *_DEREGISTRATION_STORE_SERVER_NAME "
                                      "(false: forget it, answer DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED)")
    digest_qop: str = _key("digest_qop", choice(("auth", "auth-int", "auth,auth-int")), "auth",
                           doc="Digest-QoP in SIP Digest MAAs")
    primary_ccf: str | None = _key("primary_ccf", diameter_uri_text, None,
                                   doc="Charging-Information: Primary-Charging-Collection-Function-Name")
    secondary_ccf: str | None = _key("secondary_ccf", diameter_uri_text, None,
                                     doc="Charging-Information: Secondary-Charging-Collection-Function-Name")
    primary_ecf: str | None = _key("primary_ecf", diameter_uri_text, None,
                                   doc="Charging-Information: Primary-Event-Charging-Function-Name")
    secondary_ecf: str | None = _key("secondary_ecf", diameter_uri_text, None,
                                     doc="Charging-Information: Secondary-Event-Charging-Function-Name")


@dataclass(frozen=True)
class ControlConfig:
    # Off unless a socket is named: a config written before this section
    # existed gets no new file-system listener.
    enabled: bool = _key("enabled", boolean, True,
                         doc="listen on the control socket (set false to turn it off but keep the path)")
    socket: str | None = _key("socket", unix_socket_path, None,
                              doc="UNIX socket (mode 0600) on which pyhss-admin tells the running server "
                                  "about profile changes (IDR, PPR), withdrawals (CLR) and IMS "
                                  "de-registrations (RTR); empty: no control")

    @property
    def socket_path(self):
        """The socket to listen on or connect to, or None when control is off."""
        return self.socket if self.enabled else None


@dataclass(frozen=True)
class S13HistoryConfig:
    enabled: bool = _key("enabled", boolean, True,
                         doc="record every ME identity check (IMEI, software version, IMSI, MME, answer, time) "
                             "for pyhss-admin eir history")
    batch_size: int = _key("batch_size", integer(1, 100_000), 1000,
                           doc="checks written to the store in one transaction, off the answers' path; a full "
                               "batch is written at once")
    flush_interval: float = _key("flush_interval", seconds(0, 3600), 1.0,
                                 doc="seconds a check waits at most before its batch is written")
    max_rows: int = _key("max_rows", integer(0, 1 << 40), 1_000_000,
                         doc="checks kept: as new ones are written the oldest beyond this are deleted (0: no limit)")
    max_age: float = _key("max_age", seconds_or_zero(100 * 365 * 86400), 0.0,
                          doc="seconds a check is kept: older ones are deleted as new ones are written "
                              "(0: whatever their age)")
    max_pending: int = _key("max_pending", integer(1, 10_000_000), 100_000,
                            doc="checks held in memory while the store is slow or failing; beyond, the oldest are "
                                "dropped (counted in the log)")


@dataclass(frozen=True)
class S13Config:
    unknown_status: str = _key("unknown_status", choice(EQUIPMENT_ANSWERS), EQUIPMENT_UNKNOWN,
                               doc="answer to an IMEI no rule matches: whitelisted, blacklisted or greylisted "
                                   "(that Equipment-Status), or unknown (DIAMETER_ERROR_EQUIPMENT_UNKNOWN 5422, "
                                   "TS 29.272 6.2.1.3)")
    imsi_mismatch_status: str = _key("imsi_mismatch_status", choice(EQUIPMENT_ANSWERS), "blacklisted",
                                     doc="answer to an IMEI bound to an IMSI (eir add --imsi) when the ECR names "
                                         "another IMSI or none")
    history: S13HistoryConfig = _section("history", S13HistoryConfig)


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
    sctp: SctpConfig = _section("sctp", SctpConfig)
    limits: LimitsConfig = _section("limits", LimitsConfig)
    s6a: S6aConfig = _section("s6a", S6aConfig)
    cx: CxConfig = _section("cx", CxConfig)
    s13: S13Config = _section("s13", S13Config)
    control: ControlConfig = _section("control", ControlConfig)
    database: DatabaseConfig = _section("database", DatabaseConfig)
    logging: LoggingConfig = _section("logging", LoggingConfig)
    api: ApiConfig = _section("api", ApiConfig)
    metrics: MetricsConfig = _section("metrics", MetricsConfig)
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


SECTION_LOADER["build"] = _build


def load_config_data(data, source="<config>", base=None):
    """Config from an already parsed mapping; ``source`` names it in errors."""
    if base is None:
        base = os.path.dirname(os.path.abspath(source)) if not source.startswith("<") else os.getcwd()
    if data is None:
        data = {}
    try:
        config = _build(Config, data, base, source, "")
        _check_together(config)
    except _KeyedInvalid as e:
        raise ConfigError(source, e.key, e.problem) from None
    return _replace_path(config, source)


def _check_together(config):
    """Keys that are only right or wrong together."""
    api = config.api
    if (api.tls_certificate is None) != (api.tls_key is None):
        missing = "api.tls_key" if api.tls_key is None else "api.tls_certificate"
        raise _KeyedInvalid(missing, "HTTPS needs both api.tls_certificate and api.tls_key")
    if api.tls_certificate is not None:
        try:
            tls_options(api)
        except _Invalid as e:
            raise _KeyedInvalid(e.args[1], e.args[0]) from None
    if api.listen is not None and api.process == "child" and config.database.backend == "memory":
        raise _KeyedInvalid("api.process", "child needs a store both processes open (sqlite); the memory "
                                           "store lives in the server's process: use api.process: reactor")


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
