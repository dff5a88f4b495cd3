#!/usr/bin/env python
"""
Diameter load client for pyhss, built on Twisted and pyhss's own codec.

Each of C connections performs a CER/CEA exchange, then keeps W requests in
flight, matching answers to requests by hop-by-hop identifier.  At the end it
prints requests/s, latency percentiles and error counts, then one JSON line.

The hot path is kept cheap because the client shares the CPU with the
server: requests are encoded once (per variant) and only their identifiers
are patched with struct.pack_into; answers are parsed no further than the
header and the Result-Code (or Experimental-Result-Code).

Request kinds are a table (REQUEST_KINDS, in request_kinds.py); a kind
builds the request for a given sequence number with the codec, and may
declare how many distinct variants to precompute (random IMSIs, for
instance).

See bench/README.md.
"""

import argparse
import collections
import gc
import json
import os
import random
import struct
import sys
import time

from twisted.internet import defer, protocol, task

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
for _path in (_ROOT, _HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from pyhss.protocols import dictionary  # noqa: E402
from pyhss.protocols.codec import Message  # noqa: E402
from request_kinds import (  # noqa: E402,F401  (re-exported)
    REQUEST_KINDS, AuthenticationInformationKind, DeviceWatchdogKind,
    RequestKind, RequestTemplate, UpdateLocationKind, add_kind_arguments,
    build_templates, check_kind_arguments, server_identity)
from spawned_server import SpawnedServer  # noqa: E402
import load_compare  # noqa: E402

CMD_CER = dictionary.CMD_CER
CMD_DPR = dictionary.CMD_DPR
APP_BASE = dictionary.APP_BASE

DIAMETER_SUCCESS = 2001
RESULT_CODE = 268
EXPERIMENTAL_RESULT = 297
EXPERIMENTAL_RESULT_CODE = 298
FLAG_REQUEST = 0x80
AVP_VENDOR = 0x80

_HEADER = struct.Struct("!I8xI")          # version+length, hop-by-hop
_COMMAND = struct.Struct("!I")           # flags+command code
_AVP_HEADER = struct.Struct("!II")       # code, flags+length
_UINT32 = struct.Struct("!I")

# Result code used in the statistics for an answer whose result we could
# not find at all (neither Result-Code nor Experimental-Result-Code).
NO_RESULT_CODE = 0


# --- answer parsing (header and result only) --------------------------------------


def answer_result_code(data, start, end):
    """
    The Result-Code, or else the Experimental-Result-Code, of the message in
    C{data[start:end]}; L{NO_RESULT_CODE} when it has neither.
    """
    offset = start + 20
    while offset + 8 <= end:
        code, flags_length = _AVP_HEADER.unpack_from(data, offset)
        length = flags_length & 0xFFFFFF
        vendor = flags_length & (AVP_VENDOR << 24)
        header = 12 if vendor else 8
        if length < header:
            return NO_RESULT_CODE
        if not vendor:
            if code == RESULT_CODE and length == 12:
                return _UINT32.unpack_from(data, offset + 8)[0]
            if code == EXPERIMENTAL_RESULT:
                inner = offset + 8
                inner_end = offset + length
                while inner + 8 <= inner_end:
                    icode, iflags_length = _AVP_HEADER.unpack_from(data, inner)
                    ilength = iflags_length & 0xFFFFFF
                    if ilength < 8:
                        break
                    if icode == EXPERIMENTAL_RESULT_CODE and ilength == 12:
                        return _UINT32.unpack_from(data, inner + 8)[0]
                    inner += (ilength + 3) & ~3
        offset += (length + 3) & ~3
    return NO_RESULT_CODE


# --- statistics ---------------------------------------------------------------------


class Statistics(object):

    def __init__(self):
        self.latencies = []      # milliseconds, one per answered request
        self.sent = 0
        self.answered = 0
        self.result_errors = collections.Counter()   # non-2001 result codes
        self.timeouts = 0
        self.disconnects = 0
        self.lost_in_flight = 0  # requests pending on a connection that died
        self.cer_failures = collections.Counter()
        self.unexpected = 0      # answers matching no pending request
        self.started = None
        self.finished = None

    def percentile(self, ordered, fraction):
        if not ordered:
            return None
        index = min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))
        return ordered[index]

    def summary(self):
        ordered = sorted(self.latencies)
        elapsed = ((self.finished or time.perf_counter()) - self.started
                   if self.started is not None else 0.0)

        def rounded(value):
            return None if value is None else round(value, 3)

        return collections.OrderedDict([
            ("sent", self.sent),
            ("answered", self.answered),
            ("elapsed_s", round(elapsed, 3)),
            ("requests_per_s",
             round(self.answered / elapsed, 1) if elapsed > 0 else 0.0),
            ("latency_ms", collections.OrderedDict([
                ("p50", rounded(self.percentile(ordered, 0.50))),
                ("p99", rounded(self.percentile(ordered, 0.99))),
                ("max", rounded(ordered[-1] if ordered else None)),
            ])),
            ("errors", collections.OrderedDict([
                ("result_codes", {str(code): count for code, count
                                  in sorted(self.result_errors.items())}),
                ("timeouts", self.timeouts),
                ("disconnects", self.disconnects),
                ("lost_in_flight", self.lost_in_flight),
                ("unmatched_answers", self.unexpected),
                ("cer_failures", {str(code): count for code, count
                                  in sorted(self.cer_failures.items())}),
            ])),
        ])


# --- the load protocol -------------------------------------------------------------


class LoadConnection(protocol.Protocol):
    """
    One Diameter connection of the load run: CER first, then a window of
    requests in flight, then DPR.
    """

    def __init__(self, run, index, origin_host):
        self.run = run
        self.index = index
        self.origin_host = origin_host
        self.pending = {}            # hop-by-hop -> send time (perf_counter)
        self.state = "connecting"
        self.ready = defer.Deferred()   # fires after the CEA (or errbacks)
        self.closed = defer.Deferred()
        self._buffer = b""
        self._next_id = random.getrandbits(32)
        self._cer_id = None
        self._dpr_id = None
        self._outgoing = []
        self._force_close_call = None

    # identifiers
    def _allocate_id(self):
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        return self._next_id

    def connectionMade(self):
        self.state = "wait-cea"
        self._cer_id = self._allocate_id()
        cer = self.run.build_cer(self.origin_host, self.transport)
        cer.hop_by_hop = self._cer_id
        cer.end_to_end = self._cer_id
        self.transport.write(cer.encode())

    def start_load(self):
        self.state = "load"
        for _ in range(self.run.window):
            if not self._send_request(self.run.clock_now()):
                break
        self._flush()

    def _send_request(self, now):
        run = self.run
        sequence = run.take_sequence()
        if sequence is None:
            return False
        hop_by_hop = self._allocate_id()
        template = run.templates[sequence % len(run.templates)]
        self._outgoing.append(template.render(
            hop_by_hop, hop_by_hop, sequence))
        self.pending[hop_by_hop] = now
        run.stats.sent += 1
        return True

    def _flush(self):
        # One element per message: one send over TCP, one SCTP message
        # each over SCTP.
        if self._outgoing:
            self.transport.writeSequence(self._outgoing)
            del self._outgoing[:]

    def dataReceived(self, data):
        if self._buffer:
            data = self._buffer + data
        offset = 0
        end = len(data)
        now = self.run.clock_now()
        while end - offset >= 20:
            word, hop_by_hop = _HEADER.unpack_from(data, offset)
            length = word & 0xFFFFFF
            if word >> 24 != 1 or length < 20 or length & 3:
                self.run.log("connection %d: garbage from server (header %r),"
                             " closing" % (self.index, data[offset:offset + 20]))
                self._buffer = b""
                self.transport.abortConnection()
                return
            if end - offset < length:
                break
            self._message(data, offset, offset + length, hop_by_hop, now)
            offset += length
        self._buffer = data[offset:] if offset < end else b""
        self._flush()

    def _message(self, data, start, end, hop_by_hop, now):
        flags_command = _COMMAND.unpack_from(data, start + 4)[0]
        if flags_command & (FLAG_REQUEST << 24):
            self._server_request(data[start:end], flags_command & 0xFFFFFF)
            return
        sent_at = self.pending.pop(hop_by_hop, None)
        stats = self.run.stats
        if sent_at is None:
            if hop_by_hop == self._cer_id and self.state == "wait-cea":
                self._cea(answer_result_code(data, start, end))
            elif hop_by_hop == self._dpr_id:
                self.transport.loseConnection()
            else:
                stats.unexpected += 1
            return
        stats.answered += 1
        stats.latencies.append((now - sent_at) * 1000.0)
        result = answer_result_code(data, start, end)
        if result != DIAMETER_SUCCESS:
            stats.result_errors[result] += 1
        if self.state == "load":
            self._send_request(now)
        self.run.maybe_done()

    def _cea(self, result):
        if result != DIAMETER_SUCCESS:
            self.state = "failed"
            self.run.stats.cer_failures[result] += 1
            self.transport.loseConnection()
            self.ready.errback(RuntimeError(
                "connection %d: CEA Result-Code %s" % (self.index, result)))
            return
        self.state = "open"
        self.ready.callback(self)

    def _server_request(self, raw, command):
        # The server may probe us (DWR) or say goodbye (DPR): answer both
        # properly; these are rare, so the full codec is fine here.
        from pyhss.protocols.codec import decode_message
        request = decode_message(raw)
        answer = request.answer(DIAMETER_SUCCESS)
        answer.add("Origin-Host", self.origin_host).add(
            "Origin-Realm", self.run.origin_realm)
        self._outgoing.append(answer.encode())
        if command == CMD_DPR:
            self.state = "closing"

    def expire(self, deadline):
        """Count and forget requests sent before C{deadline}; refill."""
        expired = [hop for hop, sent_at in self.pending.items()
                   if sent_at < deadline]
        for hop in expired:
            del self.pending[hop]
        self.run.stats.timeouts += len(expired)
        if expired and self.state == "load":
            now = self.run.clock_now()
            for _ in expired:
                if not self._send_request(now):
                    break
            self._flush()
        return len(expired)

    def disconnect(self):
        """Graceful close: DPR, then close on DPA (or after a short wait)."""
        if self.state in ("closed", "failed") or self.transport is None:
            return self.closed
        self.state = "closing"
        self._dpr_id = self._allocate_id()
        dpr = Message.request(APP_BASE, CMD_DPR, proxiable=False)
        dpr.add("Origin-Host", self.origin_host)
        dpr.add("Origin-Realm", self.run.origin_realm)
        dpr.add("Disconnect-Cause", 0)   # REBOOTING
        dpr.hop_by_hop = dpr.end_to_end = self._dpr_id
        self.transport.write(dpr.encode())
        self._force_close_call = self.run.reactor.callLater(
            2.0, self._force_close)
        return self.closed

    def _force_close(self):
        self._force_close_call = None
        if self.state != "closed" and self.transport is not None:
            self.transport.abortConnection()

    def connectionLost(self, reason):
        previous, self.state = self.state, "closed"
        if self._force_close_call is not None:
            self._force_close_call.cancel()
            self._force_close_call = None
        stats = self.run.stats
        if previous not in ("closing", "failed"):
            stats.disconnects += 1
            stats.lost_in_flight += len(self.pending)
            self.run.log("connection %d lost: %s" % (
                self.index, reason.getErrorMessage()))
        self.pending.clear()
        if not self.ready.called:
            self.ready.errback(reason)
        self.run.connection_lost(self)
        self.closed.callback(None)


class LoadRun(object):
    """The controller: connections, the shared request budget, the clock."""

    def __init__(self, reactor, options, kind, output=sys.stdout):
        self.reactor = reactor
        self.options = options
        self.window = options.window
        self.origin_realm = options.origin_realm
        self.kind = kind
        self.templates = build_templates(kind)
        self.stats = Statistics()
        self.connections = []
        self.output = output
        self.clock_now = time.perf_counter
        self._sequence = 0
        self._limit = options.requests
        self._stop_at = None
        self._sending = False
        self._done = defer.Deferred()

    def log(self, text):
        self.output.write("# %s\n" % (text,))
        self.output.flush()

    def build_cer(self, origin_host, transport):
        local = transport.getHost().host
        cer = Message.request(APP_BASE, CMD_CER, proxiable=False)
        cer.add("Origin-Host", origin_host)
        cer.add("Origin-Realm", self.origin_realm)
        cer.add("Host-IP-Address", local)
        cer.add("Vendor-Id", 0)
        cer.add("Product-Name", "pyhss-diameter-load")
        cer.add("Origin-State-Id", int(time.time()) & 0xFFFFFFFF)
        vendors = sorted({vendor for vendor, _ in self.kind.cer_applications
                          if vendor})
        for vendor in vendors:
            cer.add("Supported-Vendor-Id", vendor)
        for vendor, application in self.kind.cer_applications:
            if vendor:
                cer.add("Vendor-Specific-Application-Id", [
                    ("Vendor-Id", vendor),
                    ("Auth-Application-Id", application)])
            else:
                cer.add("Auth-Application-Id", application)
        return cer

    def take_sequence(self):
        """The next request's sequence number, or None when done sending."""
        if not self._sending:
            return None
        if self._limit is not None and self._sequence >= self._limit:
            self._sending = False
            return None
        sequence = self._sequence
        self._sequence += 1
        return sequence

    def in_flight(self):
        return sum(len(connection.pending) for connection in self.connections)

    def maybe_done(self):
        if not self._sending and not self._done.called \
                and self.in_flight() == 0:
            self.stats.finished = self.clock_now()
            self._done.callback(None)

    def connection_lost(self, connection):
        if self.stats.started is None:
            return
        if not any(c.state == "load" for c in self.connections):
            # Nothing left to send on: end the run instead of waiting.
            self._sending = False
        self.maybe_done()

    def _stop_sending(self):
        self._sending = False
        self.maybe_done()

    def _connect(self, index, origin_host):
        options = self.options
        if options.transport == "sctp":
            # As pyhss itself does: PPID 46, base messages on stream 0,
            # the others spread over the other streams.
            from pyhss.protocols.transport import diameter_sctp_options
            from pyhss.sctp.endpoints import SCTPClientEndpoint
            endpoint = SCTPClientEndpoint(self.reactor, options.host, options.port,
                                          options=diameter_sctp_options(), timeout=options.timeout)
            return endpoint.connect(protocol.Factory.forProtocol(
                lambda: LoadConnection(self, index, origin_host)))
        creator = protocol.ClientCreator(self.reactor, LoadConnection, self, index, origin_host)
        return creator.connectTCP(options.host, options.port, timeout=options.timeout)

    def _expire(self):
        deadline = self.clock_now() - self.options.timeout
        for connection in self.connections:
            connection.expire(deadline)
        self.maybe_done()

    @defer.inlineCallbacks
    def run(self):
        options = self.options
        connecting = []
        for index in range(options.connections):
            origin_host = options.origin_host
            if options.connections > 1:
                origin_host = "c%d.%s" % (index, origin_host)
            connecting.append(self._connect(index, origin_host))
        results = yield defer.DeferredList(connecting, consumeErrors=True)
        for success, value in results:
            if not success:
                raise SystemExit("connect to %s:%d failed: %s" % (
                    options.host, options.port, value.getErrorMessage()))
            self.connections.append(value)
        ready = yield defer.DeferredList(
            [connection.ready for connection in self.connections],
            consumeErrors=True)
        failures = [value for success, value in ready if not success]
        if failures:
            for connection in self.connections:
                connection.disconnect()
            raise SystemExit("capabilities exchange failed: %s" % (
                "; ".join(sorted({f.getErrorMessage() for f in failures})),))

        self.stats.started = self.clock_now()
        self._sending = True
        if options.duration is not None:
            self.reactor.callLater(options.duration, self._stop_sending)
        expiry = task.LoopingCall(self._expire)
        expiry.clock = self.reactor
        expiry.start(min(1.0, options.timeout / 2.0), now=False)
        for connection in self.connections:
            connection.start_load()
        self.maybe_done()
        try:
            yield self._done
        finally:
            expiry.stop()
        yield defer.DeferredList(
            [connection.disconnect() for connection in self.connections])
        return self.stats.summary()


# --- command line -------------------------------------------------------------------


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        description="Diameter load client for pyhss (CER, then W requests in"
                    " flight per connection).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3868)
    parser.add_argument("--transport", choices=("tcp", "sctp"), default="tcp",
                        help="tcp (default) or sctp (needs kernel SCTP; see"
                             " bench/sctp_compare.py for user-mode Linux)")
    parser.add_argument("--connections", "-c", type=int, default=1,
                        metavar="C", help="parallel connections (default 1)")
    parser.add_argument("--window", "-w", type=int, default=50, metavar="W",
                        help="requests in flight per connection (default 50)")
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--requests", "-n", type=int, metavar="N",
                        help="total requests to send (default 100000)")
    amount.add_argument("--duration", "-d", type=float, metavar="S",
                        help="send for S seconds instead of a fixed count")
    parser.add_argument("--request", default="dwr",
                        choices=sorted(REQUEST_KINDS),
                        help="request kind (default dwr)")
    parser.add_argument("--origin-host", default="bench.localdomain")
    parser.add_argument("--origin-realm", default="localdomain")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds before an unanswered request counts"
                             " as a timeout (default 5)")
    parser.add_argument("--spawn-server", action="store_true",
                        help="start 'twistd -n pyhss' on a free 127.0.0.1 port"
                             " with a temporary copy of --config, run"
                             " against it, then stop it")
    parser.add_argument("--config", default=os.path.join(_ROOT, "config.yaml"),
                        help="configuration copied by --spawn-server")
    parser.add_argument("--metrics", choices=("config", "on", "off", "compare"), default="config",
                        help="with --spawn-server: metrics.enabled as in --config, on, off, or compare: "
                             "the same load against a server with metrics on and one with them off, "
                             "alternately (on, off, on, off...: --rounds pairs), and the difference of their "
                             "throughputs and of the server's CPU time per request")
    parser.add_argument("--rounds", type=int, default=3,
                        help="with --metrics compare: on/off pairs run (default 3)")
    parser.add_argument("--profile", metavar="FILE",
                        help="with --spawn-server: run the server under"
                             " cProfile (twistd --profile FILE --profiler"
                             " cprofile --savestats)")
    parser.add_argument("--store", metavar="NAMES",
                        help="compare stores: for each of the comma-separated"
                             " backends (sqlite, mariadb, postgresql, mongodb)"
                             " start its database (MariaDB and PostgreSQL: a"
                             " private durable server; MongoDB: --mongodb-uri),"
                             " provision --provision N (default 100000)"
                             " subscribers, spawn the server and run each of"
                             " the comma-separated --request kinds (default"
                             " air,ulr); one table at the end")
    parser.add_argument("--pool-size", type=int, default=8, metavar="N",
                        help="database.server.pool_size of the server"
                             " backends with --store (default 8)")
    parser.add_argument("--mongodb-uri", metavar="URI",
                        default=os.environ.get("PYHSS_TEST_MONGODB_URI"),
                        help="mongodb://HOST:PORT/DATABASE for --store"
                             " mongodb (default $PYHSS_TEST_MONGODB_URI)")
    add_kind_arguments(parser)
    if argv and "--store" in argv and "--request" not in argv:
        argv = list(argv) + ["--request", "air"]
        default_kinds = ["air", "ulr"]
    else:
        default_kinds = None
    store_kinds = _store_kinds(argv)
    if store_kinds:
        argv = _first_kind_only(argv)
    options = parser.parse_args(argv)
    options.kinds = default_kinds or store_kinds or [options.request]
    if options.requests is None and options.duration is None:
        options.requests = 100000
    for name in ("connections", "window"):
        if getattr(options, name) < 1:
            parser.error("--%s must be at least 1" % (name,))
    if options.requests is not None and options.requests < 1:
        parser.error("--requests must be at least 1")
    if options.duration is not None and options.duration <= 0:
        parser.error("--duration must be positive")
    if options.timeout <= 0:
        parser.error("--timeout must be positive")
    if options.profile is not None and not options.spawn_server:
        parser.error("--profile needs --spawn-server")
    if options.rounds < 1:
        parser.error("--rounds must be at least 1")
    if options.store:
        options.stores = [name.strip() for name in options.store.split(",") if name.strip()]
        for name in options.stores:
            if name not in STORE_BACKENDS:
                parser.error("--store: unknown backend %r; expected %s"
                             % (name, ", ".join(STORE_BACKENDS)))
        if "mongodb" in options.stores and not options.mongodb_uri:
            parser.error("--store mongodb needs --mongodb-uri (or PYHSS_TEST_MONGODB_URI)")
        options.spawn_server = True
        if options.provision is None:
            options.provision = 100000
    if options.metrics != "config" and not options.spawn_server:
        parser.error("--metrics needs --spawn-server")
    check_kind_arguments(parser, options)
    return options


STORE_BACKENDS = ("sqlite", "mariadb", "postgresql", "mongodb")


def _store_kinds(argv):
    """The kinds of "--request air,ulr" (several only with --store)."""
    argv = list(argv or ())
    for index, item in enumerate(argv):
        if item == "--request" and index + 1 < len(argv) and "," in argv[index + 1]:
            return argv[index + 1].split(",")
        if item.startswith("--request=") and "," in item:
            return item.split("=", 1)[1].split(",")
    return None


def _first_kind_only(argv):
    argv = list(argv)
    for index, item in enumerate(argv):
        if item == "--request" and index + 1 < len(argv):
            argv[index + 1] = argv[index + 1].split(",")[0]
        elif item.startswith("--request="):
            argv[index] = item.split(",")[0]
    return argv


def format_report(summary, options):
    latency = summary["latency_ms"]
    errors = summary["errors"]

    def ms(value):
        return "-" if value is None else "%.2f" % (value,)

    lines = [
        "request kind      : %s over %s" % (options.request, options.transport),
        "connections x win : %d x %d" % (options.connections, options.window),
        "answered / sent   : %d / %d in %.3f s" % (
            summary["answered"], summary["sent"], summary["elapsed_s"]),
        "requests/s        : %.1f" % (summary["requests_per_s"],),
        "latency ms        : p50 %s  p99 %s  max %s" % (
            ms(latency["p50"]), ms(latency["p99"]), ms(latency["max"])),
        "errors            : result codes %s, timeouts %d, disconnects %d"
        " (%d in flight lost), unmatched answers %d" % (
            errors["result_codes"] or "{}", errors["timeouts"],
            errors["disconnects"], errors["lost_in_flight"],
            errors["unmatched_answers"]),
    ]
    if "server_cpu_s" in summary:
        lines.append("cpu seconds       : server %s, client %s" % (
            summary["server_cpu_s"], summary["client_cpu_s"]))
    else:
        lines.append("cpu seconds       : client %s" % (
            summary["client_cpu_s"],))
    return "\n".join(lines)


@defer.inlineCallbacks
def _provision(reactor, server, options, log):
    from provision import provision, provision_eir
    if server.database is not None and server.backend != "sqlite":
        from pyhss.config import Config
        database = Config.default(database=server.database).database
        if options.eir_rules is not None:
            raise SystemExit("--eir-rules needs the sqlite store")
        yield provision(reactor, None, options.imsi_first, options.provision,
                        log, database=database)
        return
    if server.backend != "sqlite":
        raise SystemExit("--provision and --eir-rules need database.backend"
                         " sqlite in %s, not %r"
                         % (options.config, server.backend))
    if options.provision is not None:
        yield provision(reactor, server.database_path, options.imsi_first,
                        options.provision, log)
    if options.eir_rules is not None:
        yield provision_eir(reactor, server.database_path, options.eir_rules,
                            options.imsi_first, options.subscribers, log)


@defer.inlineCallbacks
def main(reactor, argv):
    options = parse_arguments(argv)
    if options.metrics == "compare":
        yield load_compare.compare_metrics(reactor, argv, parse_arguments, run_once)
        return
    yield run_once(reactor, options)


@defer.inlineCallbacks
def run_once(reactor, options, quiet=False):
    server_identity(options)
    if options.store:
        gc.collect()
        gc.freeze()
        rows = yield load_compare.compare_stores(
            reactor, options, lambda line: print(line, flush=True), LoadRun, _provision)
        print(load_compare.format_store_table(rows))
        print(json.dumps(rows, sort_keys=False))
        return
    kind_class = REQUEST_KINDS[options.request]
    kind = kind_class(options, options.origin_host, options.origin_realm)
    run = LoadRun(reactor, options, kind)
    # The templates (100,000 with the S6a kinds) live until the end: keep
    # the collector from walking them, or its full passes (over 100 ms
    # each) would show up as the server's latency.
    gc.collect()
    gc.freeze()
    server = None
    try:
        if options.spawn_server:
            server = SpawnedServer(reactor, options.config, run.log)
            if options.metrics in ("on", "off"):
                server.metrics = options.metrics == "on"
            if options.transport == "sctp":
                server.transports = ["tcp", "sctp"]     # the same port number on both
            if options.profile:
                server.extra_args = [
                    "--profile", os.path.abspath(options.profile),
                    "--profiler", "cprofile", "--savestats"]
            yield server.start(prepare=(
                None if options.provision is None
                and options.eir_rules is None else
                lambda spawned: _provision(reactor, spawned, options,
                                           run.log)))
            options.host, options.port = "127.0.0.1", server.port
        client_cpu = sum(os.times()[:2])
        server_cpu = server.cpu_seconds() if server else None
        summary = yield run.run()
        summary["client_cpu_s"] = round(sum(os.times()[:2]) - client_cpu, 3)
        if server_cpu is not None:
            end_cpu = server.cpu_seconds()
            if end_cpu is not None:
                summary["server_cpu_s"] = round(end_cpu - server_cpu, 3)
    finally:
        if server is not None:
            yield server.stop()
    summary["kind"] = options.request
    summary["transport"] = options.transport
    summary["connections"] = options.connections
    summary["window"] = options.window
    if not quiet:
        print(format_report(summary, options))
        print(json.dumps(summary, sort_keys=False))
    errors = summary["errors"]
    if summary["answered"] == 0 or errors["disconnects"]:
        raise SystemExit(1)
    return summary


def run_main(argv=None):
    task.react(main, [sys.argv[1:] if argv is None else argv])


if __name__ == "__main__":
    run_main()
