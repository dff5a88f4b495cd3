#!/usr/bin/env python
"""
Hostile peers against a spawned pyhss server, as one suite.

Each item of the reliability issue is an attack that once cost the server
memory, log space or other peers' service; each is defended now.  This script
reproduces every attack against a server of its own (``twistd -n pyhss`` on a
free 127.0.0.1 port, bench/spawned_server.py) and measures:

* the server's RSS (VmRSS of /proc/<pid>/status, sampled every 0.1 s):
  just before the attack, its peak during the attack, and a few seconds
  after the attacker has gone;
* a well-behaved "fast peer" (a separate process: bench/diameter_load.py's
  client, one connection from 127.0.0.1, AIRs with a window of 10) running
  all along: its answers and p50/p99 alone first (the baseline), then during
  each attack;
* the attack's own figure: peers admitted and their time to CEA, bytes held,
  log bytes, WAL size...

Items (attackers connect from 127.0.0.2 and up, the fast peer from 127.0.0.1):

  1   codec repeat-cache flood: DWRs each carrying a distinct ~60 KiB
      Vendor-Specific-Application-Id made of 12-byte unknown AVPs; 1a each
      on a new connection before any CER, 1b on one open connection, 1c many
      distinct small (248-byte, cacheable) groups on one open connection
  2   no backpressure: a peer that never reads; 2a AIRs asking for 32
      vectors, 2b DWRs
  3   connections that never send a CER (re-opened as the server closes
      them) while good peers connect; 3a attackers on 16 source addresses,
      good peers on another; 3b everyone on 127.0.0.1
  4   slow partial messages: connections (after CER) each trickling a
      60,000-byte message in small chunks, never finishing it
  11  SQLite WAL size under a long AIR load (window 50)
  12  log flood: answers with unknown hop-by-hop identifiers

    .venv/bin/python bench/hostile.py               # the full figures (~8 min)
    .venv/bin/python bench/hostile.py --short       # the CI sizes (~1 min)
    .venv/bin/python bench/hostile.py --only 2,12

Prints a block per scenario, then one JSON line per scenario.  Asserts
nothing (tests/test_bench_hostile.py runs --short and asserts the bounds).
Everything stays on 127.0.0.x; every loop is bounded in count and time.
See bench/README.md.
"""

import argparse
import collections
import json
import os
import random
import struct
import sys
import tempfile
import time

from twisted.internet import defer, error, protocol, task

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
for _path in (_ROOT, _HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from pyhss.protocols import dictionary  # noqa: E402
from pyhss.protocols.codec import Message  # noqa: E402

APP_BASE = dictionary.APP_BASE
APP_S6A = dictionary.APP_S6A
VENDOR_3GPP = dictionary.VENDOR_3GPP
CMD_CER = dictionary.CMD_CER
CMD_DWR = dictionary.CMD_DWR
CMD_DPR = dictionary.CMD_DPR
CMD_AIR = dictionary.CMD_AIR

FLAG_REQUEST = 0x80
FLAG_PROXIABLE = 0x40
AVP_MANDATORY = 0x40
AVP_VENDOR = 0x80

_HEADER = struct.Struct("!IIIII")
_AVP = struct.Struct("!II")
_AVP_V = struct.Struct("!III")
_IDS = struct.Struct("!II")
_U32 = struct.Struct("!I")

CER_ID = 0x0CE40CE4
MARK_ID = 0x0D0E0D0E
# An AVP code no dictionary of ours knows (unknown AVPs decode as raw bytes).
UNKNOWN_AVP = 0x7FFF0001
VENDOR_SPECIFIC_APPLICATION_ID = 260
REALM = "bench.test"
ITEMS = (1, 2, 3, 4, 11, 12)


# --- bytes on the wire -------------------------------------------------------


def avp(code, payload, flags=AVP_MANDATORY, vendor=None):
    if vendor is not None:
        head = _AVP_V.pack(code, ((flags | AVP_VENDOR) << 24)
                           | (12 + len(payload)), vendor)
    else:
        head = _AVP.pack(code, (flags << 24) | (8 + len(payload)))
    return head + payload + b"\0" * (-len(payload) & 3)


def u32(value):
    return _U32.pack(value)


def message(flags, command, application, avps, hop_by_hop=0, end_to_end=0):
    body = b"".join(avps)
    return _HEADER.pack((1 << 24) | (20 + len(body)), (flags << 24) | command,
                        application, hop_by_hop, end_to_end) + body


def identity_avps(origin_host):
    return [avp(264, origin_host.encode()), avp(296, REALM.encode())]


def cer_bytes(origin_host, local_address):
    cer = Message.request(APP_BASE, CMD_CER, proxiable=False)
    cer.add("Origin-Host", origin_host)
    cer.add("Origin-Realm", REALM)
    cer.add("Host-IP-Address", local_address)
    cer.add("Vendor-Id", 0)
    cer.add("Product-Name", "pyhss-bench-hostile")
    cer.add("Supported-Vendor-Id", VENDOR_3GPP)
    cer.add("Vendor-Specific-Application-Id", [
        ("Vendor-Id", VENDOR_3GPP), ("Auth-Application-Id", APP_S6A)])
    cer.hop_by_hop = cer.end_to_end = CER_ID
    return cer.encode()


def dwr_bytes(origin_host, hop_by_hop=1, extra=()):
    return message(FLAG_REQUEST, CMD_DWR, APP_BASE,
                   identity_avps(origin_host) + list(extra),
                   hop_by_hop, hop_by_hop)


class FloodGroups(object):
    """
    DWRs carrying a Vendor-Specific-Application-Id (Grouped, code 260) made
    of C{avps} unknown 12-byte AVPs (code L{UNKNOWN_AVP}, no M bit, distinct
    4-byte payloads); the first payload is the message's index, so every
    message's group has distinct bytes (a distinct key for a cache keyed on
    them).
    """

    def __init__(self, origin_host, group_bytes):
        self.avps = max(1, (group_bytes - 8) // 12)
        inner = b"".join(avp(UNKNOWN_AVP, u32(i), flags=0)
                         for i in range(self.avps))
        group = avp(VENDOR_SPECIFIC_APPLICATION_ID, inner)
        self.group_size = len(group)
        self.template = bytearray(dwr_bytes(origin_host, 0, [group]))
        # The first inner AVP's payload: 8 bytes of the group's header, 8
        # of the AVP's.
        self.index_offset = len(self.template) - len(group) + 16

    def render(self, index, hop_by_hop):
        _IDS.pack_into(self.template, 12, hop_by_hop, hop_by_hop)
        _U32.pack_into(self.template, self.index_offset, index & 0xFFFFFFFF)
        return bytes(self.template)


def answer_result_code(data, start, end):
    from diameter_load import answer_result_code as parse
    return parse(data, start, end)


def vm_status_kib(pid, field):
    """C{field} (VmRSS, VmHWM) of /proc/<pid>/status, in KiB."""
    prefix = field + ":"
    try:
        with open("/proc/%d/status" % (pid,)) as handle:
            for line in handle:
                if line.startswith(prefix):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def vm_rss_kib(pid):
    return vm_status_kib(pid, "VmRSS")


def file_size(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def percentiles(values):
    ordered = sorted(values)
    if not ordered:
        return {"p50": None, "p99": None, "max": None}

    def at(fraction):
        return round(ordered[min(len(ordered) - 1,
                                 int(round(fraction * (len(ordered) - 1))))],
                     3)
    return {"p50": at(0.5), "p99": at(0.99), "max": round(ordered[-1], 3)}


def sleep(reactor, seconds):
    return task.deferLater(reactor, max(0.0, seconds), lambda: None)


# Processes we started (servers, fast peers) and the temporary directories
# of the servers: if the run is cut short (SIGINT, SIGTERM), the reactor's
# shutdown stops them (see _stop_children).
_CHILDREN = []
_LEFT = {"servers": [], "directories": [], "files": [], "stopping": False}


@defer.inlineCallbacks
def _stop_children(reactor):
    import shutil
    _LEFT["stopping"] = True
    # A server's process exists from its spawn on, before it listens.
    processes = _CHILDREN + [server.process for server in _LEFT["servers"]
                             if server.process is not None]
    alive = [child for child in processes if not child.ended.called]
    for child in alive:
        try:
            child.transport.signalProcess("TERM")
        except error.ProcessExitedAlready:
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
            not child.ended.called for child in alive):
        yield sleep(reactor, 0.1)
    for child in alive:
        if not child.ended.called:
            try:
                child.transport.signalProcess("KILL")
            except error.ProcessExitedAlready:
                pass
    for directory in _LEFT["directories"]:
        shutil.rmtree(directory, ignore_errors=True)
    for path in _LEFT["files"]:
        if os.path.exists(path):
            os.unlink(path)


# --- a client connection for the attacks -------------------------------------


class Client(protocol.Protocol):
    """
    A Diameter connection of an attacker or a good peer: sends a CER when
    told to, frames what the server sends (answers its DWR and DPR), counts
    answers, and fires C{cea} with the CEA's Result-Code (None when the
    connection ends first) and C{closed} when it ends.
    """

    def __init__(self, reactor, origin_host, send_cer=True):
        self.reactor = reactor
        self.origin_host = origin_host
        self.send_cer = send_cer
        self.cea = defer.Deferred()
        self.closed = defer.Deferred()
        self.cea_code = None
        self.answers = 0
        self.on_answer = None       # called with the hop-by-hop of each answer
        self.lost = False
        self._buffer = bytearray()

    def connectionMade(self):
        self.transport.setTcpNoDelay(True)
        if self.send_cer:
            self.transport.write(cer_bytes(self.origin_host,
                                           self.transport.getHost().host))

    def dataReceived(self, data):
        buffer = self._buffer
        buffer += data
        offset = 0
        size = len(buffer)
        while size - offset >= 20:
            word, flags_command, _, hop_by_hop, _ = _HEADER.unpack_from(
                buffer, offset)
            length = word & 0xFFFFFF
            if word >> 24 != 1 or length < 20:
                self.transport.abortConnection()
                return
            if size - offset < length:
                break
            self._message(buffer, offset, offset + length, flags_command,
                          hop_by_hop)
            offset += length
        del buffer[:offset]

    def _message(self, data, start, end, flags_command, hop_by_hop):
        command = flags_command & 0xFFFFFF
        if flags_command >> 24 & FLAG_REQUEST:
            # The server's DWR or DPR: answer it like a peer would.
            raw = bytes(data[start:end])
            answer = message(0, command, APP_BASE,
                             [avp(268, u32(2001))]
                             + identity_avps(self.origin_host),
                             *_IDS.unpack_from(raw, 12))
            self.transport.write(answer)
            if command == CMD_DPR:
                self.transport.loseConnection()
            return
        if hop_by_hop == CER_ID and command == CMD_CER:
            if not self.cea.called:
                self.cea_code = answer_result_code(data, start, end)
                self.cea.callback(self.cea_code)
            return
        self.answers += 1
        if self.on_answer is not None:
            self.on_answer(hop_by_hop)

    def connectionLost(self, reason):
        self.lost = True
        if not self.cea.called:
            self.cea.callback(None)
        self.closed.callback(None)


def connect(reactor, port, source, make, timeout=10):
    """Connect a protocol built by C{make()} from C{source} (127.0.0.x)."""
    creator = protocol.ClientCreator(reactor, make)
    return creator.connectTCP("127.0.0.1", port, timeout=timeout,
                              bindAddress=(source, 0))


@defer.inlineCallbacks
def open_peer(reactor, port, source, origin_host, timeout=10):
    """A connection whose CER got a 2001 CEA, or None."""
    try:
        client = yield connect(
            reactor, port, source,
            lambda: Client(reactor, origin_host), timeout)
    except error.ConnectError:
        return None
    timer = reactor.callLater(timeout, client.transport.abortConnection)
    code = yield client.cea
    if timer.active():
        timer.cancel()
    if code != 2001:
        client.transport.abortConnection()
        return None
    return client


def windowed(reactor, client, render, count, window, seconds):
    """
    Keep C{window} requests (C{render(index, hop_by_hop)}) in flight on
    C{client} until C{count} are answered, the connection ends or
    C{seconds} pass; fires with (sent, answered).
    """
    done = defer.Deferred()
    state = {"sent": 0, "answered": 0}

    def finish(_=None):
        if not done.called:
            if timer.active():
                timer.cancel()
            done.callback((state["sent"], state["answered"]))

    def send():
        index = state["sent"]
        state["sent"] += 1
        client.transport.write(render(index, 0x10000 + index))

    def answered(hop_by_hop):
        state["answered"] += 1
        if state["answered"] >= count:
            finish()
        elif state["sent"] < count:
            send()

    client.on_answer = answered
    client.closed.addCallback(finish)
    timer = reactor.callLater(seconds, finish)
    for _ in range(min(window, count)):
        send()
    return done


class Stream(object):
    """
    Writes C{batch()} (bytes, message count) on C{client}'s transport as fast
    as the transport takes it, as a streaming producer (paused while more
    than its buffer waits), until C{limit} messages or C{limit_bytes} are
    written, the connection ends or C{seconds} pass.  Fires C{done} with
    itself.
    """

    def __init__(self, reactor, client, batch, limit, limit_bytes, seconds):
        self.reactor = reactor
        self.client = client
        self.batch = batch
        self.limit = limit
        self.limit_bytes = limit_bytes
        self.sent = 0
        self.bytes = 0
        self.paused = False
        self.paused_at = None        # when our writes last stalled
        self.started = time.monotonic()
        self.finished = None
        self.done = defer.Deferred()
        self._scheduled = None
        self._timer = reactor.callLater(seconds, self.stop)
        client.closed.addCallback(lambda _: self.stop())
        client.transport.registerProducer(self, True)
        self._schedule()

    def _schedule(self):
        if self._scheduled is None and not self.done.called:
            self._scheduled = self.reactor.callLater(0, self._pump)

    def _pump(self):
        self._scheduled = None
        transport = self.client.transport
        while not self.paused and not self.done.called:
            if self.sent >= self.limit or self.bytes >= self.limit_bytes:
                self.stop()
                return
            data, count = self.batch(self.sent)
            self.sent += count
            self.bytes += len(data)
            transport.write(data)

    # IPushProducer
    def pauseProducing(self):
        self.paused = True
        self.paused_at = time.monotonic()

    def resumeProducing(self):
        self.paused = False
        self.paused_at = None
        self._schedule()

    def stopProducing(self):
        self.stop()

    def stop(self):
        if self.done.called:
            return
        self.finished = time.monotonic()
        if self._timer.active():
            self._timer.cancel()
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        self.done.callback(self)


# --- the fast peer: bench/diameter_load.py's client in a child process -------


class FastPeer(protocol.ProcessProtocol):
    """
    The parent's handle on the fast-peer child (``hostile.py fast-peer``):
    C{ready} fires once its CEA came (True) or it ended (False);
    C{phase(name)} starts a new phase of statistics and fires with the
    summary of the one it ends; C{stop()} ends the run (the child sends DPR)
    and fires with the last phase's summary.
    """

    def __init__(self):
        self.ready = defer.Deferred()
        self.ended = defer.Deferred()
        self.phases = []
        self.stderr = bytearray()
        self._line = b""
        self._waiting = []

    def outReceived(self, data):
        lines = (self._line + data).split(b"\n")
        self._line = lines.pop()
        for line in lines:
            if line == b"READY":
                if not self.ready.called:
                    self.ready.callback(True)
            elif line.startswith(b"PHASE "):
                summary = json.loads(line[6:].decode())
                self.phases.append(summary)
                if self._waiting:
                    self._waiting.pop(0).callback(summary)

    def errReceived(self, data):
        self.stderr += data
        del self.stderr[:-20000]

    def _command(self, text):
        d = defer.Deferred()
        if self.ended.called:
            d.callback(None)
            return d
        self._waiting.append(d)
        self.transport.write(text.encode() + b"\n")
        return d

    def phase(self, name):
        return self._command("phase " + name)

    def stop(self):
        return self._command("stop")

    def processEnded(self, reason):
        if not self.ready.called:
            self.ready.callback(False)
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(None)
        self.ended.callback(None)


@defer.inlineCallbacks
def start_fast_peer(reactor, port, options, window, origin_host, log):
    args = [sys.executable, os.path.abspath(__file__), "fast-peer",
            "--port", str(port), "--window", str(window),
            "--subscribers", str(options.subscribers),
            "--variants", str(min(options.subscribers, 10000)),
            "--origin-host", origin_host, "--config", options.config,
            "--request", options.fast_request,
            "--timeout", str(options.fast_timeout),
            "--max-seconds", str(options.max_item_seconds)]
    peer = FastPeer()
    reactor.spawnProcess(peer, sys.executable, args, env=dict(os.environ),
                         path=_ROOT)
    _CHILDREN.append(peer)
    killer = reactor.callLater(60, lambda: peer.ended.called
                               or peer.transport.signalProcess("KILL"))
    ready = yield peer.ready
    if killer.active():
        killer.cancel()
    if not ready:
        raise SystemExit("the fast peer did not start: %s" % (
            bytes(peer.stderr[-3000:]).decode("utf-8", "replace"),))
    log("fast peer %s: %ss, window %d, from 127.0.0.1" % (
        origin_host, options.fast_request.upper(), window))
    return peer


def fast_peer_main(reactor, argv):
    """The child: a LoadRun that sends until told to stop, with phases
    (commands on standard input, one a line: C{phase NAME}, C{stop})."""
    import threading
    import diameter_load as load

    parser = argparse.ArgumentParser(prog="hostile.py fast-peer")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--variants", type=int, default=1000)
    parser.add_argument("--origin-host", default="fast.bench.test")
    parser.add_argument("--config", default=os.path.join(_ROOT, "config.yaml"))
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--request", default="air", choices=("air", "dwr"))
    child = parser.parse_args(argv)
    options = load.parse_arguments([
        "--port", str(child.port), "--window", str(child.window),
        "--request", child.request, "--origin-host", child.origin_host,
        "--origin-realm", REALM, "--subscribers", str(child.subscribers),
        "--variants", str(child.variants), "--timeout", str(child.timeout),
        "--config", child.config])
    options.requests = None          # send until told to stop
    load.server_identity(options)
    kind = load.REQUEST_KINDS[child.request](options, options.origin_host,
                                             options.origin_realm)
    run = load.LoadRun(reactor, options, kind, output=sys.stderr)
    state = {"name": "start", "totals": collections.Counter()}

    def emit(name, summary, final=False):
        summary = dict(summary, phase=name)
        errors = summary["errors"]
        totals = state["totals"]
        for key in ("sent", "answered"):
            totals[key] += summary[key]
        for key in ("timeouts", "disconnects", "lost_in_flight",
                    "unmatched_answers"):
            totals[key] += errors[key]
        totals["error_answers"] += sum(errors["result_codes"].values())
        if final:
            summary["totals"] = dict(totals)
        sys.stdout.write("PHASE %s\n" % (json.dumps(summary),))
        sys.stdout.flush()

    def switch(name):
        now = time.perf_counter()
        old = run.stats
        if old.started is None:
            old.started = now
        old.finished = now
        emit(state["name"], old.summary())
        new = load.Statistics()
        new.started = now
        run.stats = new
        state["name"] = name

    def stop():
        # LoadRun stops sending, waits for the answers in flight, sends DPR.
        run._stop_sending()

    def command(line):
        words = line.split(None, 1)
        if words and words[0] == "phase" and len(words) == 2:
            switch(words[1].strip())
        elif words and words[0] == "stop":
            stop()

    def read_commands():
        # A thread: standard input stays blocking, like standard output.
        for line in sys.stdin:
            reactor.callFromThread(command, line)
        reactor.callFromThread(stop)      # the parent went away

    threading.Thread(target=read_commands, daemon=True).start()
    reactor.callLater(child.max_seconds, stop)

    def announce():
        if run.stats.started is not None:
            sys.stdout.write("READY\n")
            sys.stdout.flush()
        else:
            reactor.callLater(0.01, announce)

    @defer.inlineCallbacks
    def go():
        announce()
        summary = yield run.run()
        emit(state["name"], summary, final=True)
    return go()


# --- server, samplers, report ------------------------------------------------


class Sampler(object):
    """Reads each probe every C{interval} seconds; keeps the last value and
    the largest since L{reset}."""

    def __init__(self, reactor, probes, interval=0.1):
        self.probes = probes
        self.last = {}
        self.peak = {}
        self.loop = task.LoopingCall(self.sample)
        self.loop.clock = reactor
        self.interval = interval

    def start(self):
        self.loop.start(self.interval, now=True)

    def stop(self):
        if self.loop.running:
            self.loop.stop()

    def sample(self):
        for name, probe in self.probes.items():
            value = probe()
            if value is None:
                continue
            self.last[name] = value
            if value > self.peak.get(name, -1):
                self.peak[name] = value

    def reset(self):
        self.sample()
        self.peak = dict(self.last)


def log_bytes(server):
    """Bytes of server output so far (buffered ones included)."""
    handle = server.process.log
    if not handle.closed:
        return handle.tell()
    return file_size(server.log_path)


def write_config(options, overrides):
    """A copy of --config with C{overrides} ({section: {key: value}})."""
    import yaml
    with open(options.config) as handle:
        config = yaml.safe_load(handle) or {}
    for section, values in overrides.items():
        config.setdefault(section, {}).update(values)
    handle = tempfile.NamedTemporaryFile(
        "w", suffix=".yaml", prefix="pyhss-hostile-", delete=False)
    with handle:
        yaml.safe_dump(config, handle, default_flow_style=False)
    return handle.name


def wal_bound(config_path):
    """(bytes, where it comes from) of the server's WAL bound, or
    (None, why)."""
    import dataclasses
    import yaml
    from pyhss import config as pyhss_config
    with open(config_path) as handle:
        raw = ((yaml.safe_load(handle) or {}).get("database") or {}).get(
            "sqlite") or {}
    fields = {f.name: f for f in dataclasses.fields(pyhss_config.SqliteConfig)}
    if "wal_limit" in fields:
        try:
            loaded = pyhss_config.load_config(config_path)
            return (loaded.database.sqlite.wal_limit,
                    "database.sqlite.wal_limit" + (
                        "" if "wal_limit" in raw else " (its default)"))
        except Exception as e:    # an older or newer loader: say so
            return None, "database.sqlite.wal_limit unreadable: %s" % (e,)
    try:
        from pyhss.storage import sqlite as store
        default = getattr(store, "DEFAULT_WAL_LIMIT", None)
    except ImportError:
        default = None
    if default is not None:
        return default, ("SqliteStore's default (no database.sqlite.wal_limit"
                         " in pyhss.config yet)")
    return None, "no WAL bound in this pyhss"


class Item(object):
    """One item: its server, its fast peer and the results of its scenarios."""

    def __init__(self, reactor, options, server, sampler, fast, log):
        self.reactor = reactor
        self.options = options
        self.server = server
        self.sampler = sampler
        self.fast = fast
        self.log = log
        self.baseline = None
        self.results = []

    @property
    def port(self):
        return self.server.port

    def rss(self):
        return vm_rss_kib(self.server.process.pid)

    @defer.inlineCallbacks
    def scenario(self, name, title, attack, after=None):
        """Run C{attack()} (a Deferred of its figures) with the measurements
        around it; C{after(figures)} may add figures once the after wait is
        over."""
        options = self.options
        self.log("scenario %s: %s" % (name, title))
        self.sampler.reset()
        before = self.sampler.last.get("rss")
        pid = self.server.process.pid
        hwm_before = vm_status_kib(pid, "VmHWM")
        log_before = log_bytes(self.server)
        started = time.monotonic()
        if self.fast is not None:
            yield self.fast.phase("attack " + name)
        figures = yield attack()
        attack_s = time.monotonic() - started
        self.sampler.sample()
        peak = self.sampler.peak.get("rss")
        # A peak between two samples still shows in the high-water mark.
        hwm = vm_status_kib(pid, "VmHWM")
        if hwm is not None and hwm_before is not None and hwm > hwm_before:
            peak = max(peak, hwm)
        fast = None
        if self.fast is not None:
            fast = yield self.fast.phase("after " + name)
        yield sleep(self.reactor, options.after)
        self.sampler.sample()
        after_rss = self.sampler.last.get("rss")
        if after is not None:
            yield after(figures)
        fast_after = None
        if self.fast is not None:
            fast_after = yield self.fast.phase("idle")
        result = collections.OrderedDict([
            ("scenario", name), ("title", title),
            ("rss_kib", collections.OrderedDict([
                ("before", before), ("peak", peak), ("after", after_rss),
                ("peak_growth", peak - before),
                ("after_growth", after_rss - before)])),
            ("attack_s", round(attack_s, 2)),
            ("server_log_bytes", log_bytes(self.server) - log_before),
            ("fast_peer", fast_peer_figures(fast)),
            ("fast_peer_baseline", fast_peer_figures(self.baseline)),
            ("fast_peer_after", fast_peer_figures(fast_after)),
            ("figures", figures),
        ])
        self.results.append(result)
        print_block(result)
        return result


def fast_peer_figures(summary):
    if summary is None:
        return None
    errors = summary["errors"]
    return collections.OrderedDict([
        ("sent", summary["sent"]), ("answered", summary["answered"]),
        ("seconds", summary["elapsed_s"]),
        ("p50_ms", summary["latency_ms"]["p50"]),
        ("p99_ms", summary["latency_ms"]["p99"]),
        ("max_ms", summary["latency_ms"]["max"]),
        ("timeouts", errors["timeouts"]),
        ("disconnects", errors["disconnects"]),
        ("error_answers", sum(errors["result_codes"].values())),
    ])


def _mib(kib):
    return "-" if kib is None else "%.1f" % (kib / 1024.0,)


def _fast_line(figures):
    if figures is None:
        return "-"
    return ("%d/%d answered in %.1f s, p50 %s ms, p99 %s ms, max %s ms,"
            " timeouts %d, disconnects %d, error answers %d" % (
                figures["answered"], figures["sent"], figures["seconds"],
                figures["p50_ms"], figures["p99_ms"], figures["max_ms"],
                figures["timeouts"], figures["disconnects"],
                figures["error_answers"]))


def print_block(result):
    rss = result["rss_kib"]
    lines = [
        "",
        "== %s: %s ==" % (result["scenario"], result["title"]),
        "server RSS MiB       : before %s, peak %s (%+.1f), after %s (%+.1f)"
        % (_mib(rss["before"]), _mib(rss["peak"]), rss["peak_growth"] / 1024.0,
           _mib(rss["after"]), rss["after_growth"] / 1024.0),
        "attack               : %.1f s" % (result["attack_s"],),
        "fast peer, baseline  : %s" % (
            _fast_line(result["fast_peer_baseline"]),),
        "fast peer, meanwhile : %s" % (_fast_line(result["fast_peer"]),),
        "fast peer, after     : %s" % (_fast_line(result["fast_peer_after"]),),
        "server log           : %+d bytes" % (result["server_log_bytes"],),
    ]
    for key, value in result["figures"].items():
        if isinstance(value, float):
            value = round(value, 3)
        lines.append("%-21s: %s" % (key.replace("_", " "), value))
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


# --- the attacks -------------------------------------------------------------


def attacker_address(index=0):
    return "127.0.0.%d" % (2 + index,)


@defer.inlineCallbacks
def item_1(item):
    options = item.options
    reactor = item.reactor
    port = item.port

    @defer.inlineCallbacks
    def before_cer():
        flood = FloodGroups("flood.bench.test", options.flood_group_bytes)
        state = {"next": 0, "closed_by_server": 0, "aborted": 0,
                 "connect_failures": 0, "bytes": 0}
        deadline = time.monotonic() + options.flood_seconds

        @defer.inlineCallbacks
        def worker():
            while state["next"] < options.flood_dwrs \
                    and time.monotonic() < deadline:
                index = state["next"]
                state["next"] += 1
                try:
                    client = yield connect(
                        reactor, port, attacker_address(),
                        lambda: Client(reactor, "flood.bench.test",
                                       send_cer=False), 5)
                except error.ConnectError:
                    state["connect_failures"] += 1
                    continue
                data = flood.render(index, index + 1)
                state["bytes"] += len(data)
                client.transport.write(data)
                timer = reactor.callLater(15, client.transport.abortConnection)
                yield client.closed
                if timer.active():
                    timer.cancel()
                    state["closed_by_server"] += 1
                else:
                    state["aborted"] += 1
        yield defer.gatherResults([worker() for _ in range(8)])
        return collections.OrderedDict([
            ("dwrs", state["next"]), ("group_bytes", flood.group_size),
            ("unknown_avps_per_group", flood.avps),
            ("bytes_sent", state["bytes"]),
            ("closed_by_server", state["closed_by_server"]),
            ("left_open_aborted_by_us", state["aborted"]),
            ("connect_failures", state["connect_failures"])])

    @defer.inlineCallbacks
    def after_cer(count, group_bytes, window, origin_host):
        client = yield open_peer(reactor, port, attacker_address(),
                                 origin_host)
        if client is None:
            return {"error": "the attacker's CER was refused"}
        flood = FloodGroups(origin_host, group_bytes)
        sent, answered = yield windowed(
            reactor, client, flood.render, count, window,
            options.flood_seconds)
        lost = client.lost
        client.transport.loseConnection()
        return collections.OrderedDict([
            ("dwrs_sent", sent), ("answered", answered),
            ("group_bytes", flood.group_size),
            ("unknown_avps_per_group", flood.avps),
            ("bytes_sent", sent * len(flood.template)),
            ("connection_dropped_by_server", lost)])

    yield item.scenario(
        "1a", "%d DWRs, each with a distinct %d-byte group, each on a new"
        " connection before CER" % (options.flood_dwrs,
                                    options.flood_group_bytes),
        before_cer)
    yield item.scenario(
        "1b", "%d DWRs, each with a distinct %d-byte group, on one open"
        " connection (window 10)" % (options.flood_dwrs,
                                     options.flood_group_bytes),
        lambda: after_cer(options.flood_dwrs, options.flood_group_bytes, 10,
                          "flood.bench.test"))
    yield item.scenario(
        "1c", "%d DWRs, each with a distinct 248-byte group (cacheable size),"
        " on one open connection (window 50)" % (options.small_groups,),
        lambda: after_cer(options.small_groups, 248, 50,
                          "groups.bench.test"))


@defer.inlineCallbacks
def never_reads(item, name, title, batch, limit, limit_bytes):
    """A peer that sends C{batch()} as fast as it can and never reads."""
    reactor = item.reactor
    options = item.options
    stall = options.stall_timeout

    @defer.inlineCallbacks
    def attack():
        client = yield open_peer(reactor, item.port, attacker_address(),
                                 "deaf.bench.test")
        if client is None:
            return {"error": "the attacker's CER was refused"}
        client.transport.pauseProducing()      # never read again
        stream = Stream(reactor, client, batch, limit, limit_bytes,
                        stall + options.stall_margin)
        yield stream.done
        if not client.lost:
            # Everything we meant to send is out (or the time is up): wait
            # for the server to drop us, within the same bound.
            timer = reactor.callLater(
                max(0.0, stall + options.stall_margin
                    - (time.monotonic() - stream.started)),
                client.transport.abortConnection)
            yield client.closed
            dropped = timer.active()
            if dropped:
                timer.cancel()
        else:
            dropped = True
        ended = time.monotonic()
        stalled = stream.paused_at
        return collections.OrderedDict([
            ("messages_sent", stream.sent), ("bytes_sent", stream.bytes),
            ("sending_s", round((stalled or stream.finished)
                                - stream.started, 2)),
            ("dropped_by_server", dropped),
            ("dropped_after_our_writes_stalled_s",
             round(ended - stalled, 2) if dropped and stalled else None),
            ("write_stall_timeout_s", stall)])
    yield item.scenario(name, title, attack)


@defer.inlineCallbacks
def item_2(item):
    import diameter_load as load
    options = item.options
    air_options = argparse.Namespace(
        imsi_first="001010000000000", subscribers=options.subscribers,
        seed=7, variants=min(options.subscribers, 1000),
        vectors=options.air_vectors, mcc=None, mnc=None,
        destination_realm=None, config=options.config)
    load.server_identity(air_options)
    kind = load.AuthenticationInformationKind(
        air_options, "deaf.bench.test", REALM)
    templates = load.build_templates(kind)
    per_batch = 64

    def airs(sent):
        return b"".join(
            templates[(sent + i) % len(templates)].render(
                sent + i + 1, sent + i + 1, sent + i)
            for i in range(per_batch)), per_batch

    air_size = len(templates[0].buffer)
    yield never_reads(
        item, "2a", "AIRs asking for %d vectors (%d bytes each), never"
        " reading the answers (up to %d AIRs)" % (
            options.air_vectors, air_size, options.airs),
        airs, options.airs, float("inf"))

    dwr = dwr_bytes("deaf.bench.test", 7)
    dwr_batch = dwr * 1024

    def dwrs(sent):
        return dwr_batch, 1024

    yield never_reads(
        item, "2b", "DWRs (%d bytes each), never reading the answers"
        " (up to %d MB)" % (len(dwr), options.dwr_bytes // 1000000),
        dwrs, float("inf"), options.dwr_bytes)


class IdleFlood(object):
    """
    C{count} connections from C{sources} that never send anything; each one
    the server closes is opened again, until L{stop} or C{max_attempts}.
    """

    def __init__(self, reactor, port, sources, count, max_attempts):
        self.reactor = reactor
        self.port = port
        self.sources = sources
        self.count = count
        self.max_attempts = max_attempts
        self.stopping = False
        self.open = set()
        self.attempts = 0
        self.made = 0
        self.closed_by_server = 0
        self.connect_failures = 0

    def start(self):
        for index in range(self.count):
            self._open(index)

    def _open(self, index):
        if self.stopping or self.attempts >= self.max_attempts:
            return
        self.attempts += 1
        flood = self

        class Idle(protocol.Protocol):
            def connectionMade(self):
                flood.made += 1
                if flood.stopping:
                    self.transport.abortConnection()
                else:
                    flood.open.add(self)

            def connectionLost(self, reason):
                flood.open.discard(self)
                if not flood.stopping:
                    flood.closed_by_server += 1
                    flood.reactor.callLater(0, flood._open, index)

        d = protocol.ClientCreator(self.reactor, Idle).connectTCP(
            "127.0.0.1", self.port, timeout=10,
            bindAddress=(self.sources[index % len(self.sources)], 0))
        d.addErrback(self._failed, index)

    def _failed(self, reason, index):
        self.connect_failures += 1
        if not self.stopping:
            self.reactor.callLater(0.05, self._open, index)

    def stop(self):
        self.stopping = True
        for connection in list(self.open):
            connection.transport.abortConnection()


@defer.inlineCallbacks
def good_peer(reactor, port, source, origin_host, attempts, deadline):
    """Connect, CER, until a 2001 CEA (at most C{attempts} connections)."""
    started = time.monotonic()
    tries = 0
    while tries < attempts and time.monotonic() < deadline:
        tries += 1
        client = yield open_peer(reactor, port, source, origin_host,
                                 timeout=max(1.0, deadline - time.monotonic()))
        if client is not None:
            return client, tries, time.monotonic() - started
    return None, tries, time.monotonic() - started


@defer.inlineCallbacks
def item_3(item):
    options = item.options
    reactor = item.reactor

    def attack(attackers, peers_from):
        @defer.inlineCallbacks
        def run():
            flood = IdleFlood(reactor, item.port, attackers, options.idle,
                              options.idle * 50)
            started = time.monotonic()
            stop_at = started + options.idle_seconds
            flood.start()
            # Let the first wave land (every connection made or refused).
            while flood.made + flood.connect_failures < options.idle \
                    and time.monotonic() < started + options.idle_seconds / 2:
                yield sleep(reactor, 0.05)
            wave_s = time.monotonic() - started
            peers = yield defer.gatherResults([
                good_peer(reactor, item.port, peers_from,
                          "good%d.bench.test" % (i,), 3,
                          time.monotonic() + 20)
                for i in range(options.good_peers)])
            yield sleep(reactor, stop_at - time.monotonic())
            open_at_end = len(flood.open)
            flood.stop()
            admitted = [p for p in peers if p[0] is not None]
            times = [p[2] * 1000.0 for p in admitted]
            for client, _, _ in admitted:
                client.transport.loseConnection()
            spread = percentiles(times)
            return collections.OrderedDict([
                ("attackers_from", "%s (%d address%s)" % (
                    attackers[0] if len(attackers) == 1 else
                    "%s-%s" % (attackers[0], attackers[-1]),
                    len(attackers), "" if len(attackers) == 1 else "es")),
                ("good_peers_from", peers_from),
                ("first_wave_s", round(wave_s, 2)),
                ("attacker_connections_made", flood.made),
                ("attacker_attempts", flood.attempts),
                ("attacker_closed_by_server", flood.closed_by_server),
                ("attacker_connect_failures", flood.connect_failures),
                ("attacker_open_at_end", open_at_end),
                ("good_peers", options.good_peers),
                ("good_peers_admitted", len(admitted)),
                ("good_peers_admitted_first_try",
                 sum(1 for p in admitted if p[1] == 1)),
                ("good_peer_connections", sum(p[1] for p in peers)),
                ("time_to_cea_ms", spread)])
        return run

    spread = ["127.0.0.%d" % (2 + i,) for i in range(options.idle_addresses)]
    yield item.scenario(
        "3a", "%d connections that never send CER (from %d addresses),"
        " %d good peers from 127.0.0.200" % (
            options.idle, options.idle_addresses, options.good_peers),
        attack(spread, "127.0.0.200"))
    yield item.scenario(
        "3b", "%d connections that never send CER and %d good peers, all"
        " from 127.0.0.1" % (options.idle, options.good_peers),
        attack(["127.0.0.1"], "127.0.0.1"))


@defer.inlineCallbacks
def item_4(item):
    options = item.options
    reactor = item.reactor
    size = options.partial_bytes

    @defer.inlineCallbacks
    def attack():
        clients = yield defer.gatherResults([
            open_peer(reactor, item.port, attacker_address(i % 8),
                      "slow%d.bench.test" % (i,))
            for i in range(options.partial_connections)])
        clients = [c for c in clients if c is not None]
        # A DWR of --partial-bytes (rounded to 4) with one unknown AVP
        # making up the size.
        pad = max(0, size - len(dwr_bytes("slow.bench.test")) - 8)
        body = dwr_bytes("slow.bench.test", 9,
                         [avp(UNKNOWN_AVP, b"\x5a" * (pad & ~3), flags=0)])
        held_target = len(body) - 1        # never the last byte
        ticks = max(1, int(options.partial_seconds / options.partial_tick))
        chunk = max(1, -(-held_target // ticks))
        sent = [0] * len(clients)
        started = time.monotonic()
        deadline = started + options.partial_seconds * 3 + 10

        def tick():
            for i, client in enumerate(clients):
                if client.lost or sent[i] >= held_target:
                    continue
                end = min(held_target, sent[i] + chunk)
                client.transport.write(body[sent[i]:end])
                sent[i] = end
            if all(s >= held_target or c.lost
                   for s, c in zip(sent, clients)) \
                    or time.monotonic() > deadline:
                loop.stop()
        loop = task.LoopingCall(tick)
        loop.clock = reactor
        yield loop.start(options.partial_tick, now=True)
        filled_s = time.monotonic() - started
        yield sleep(reactor, options.partial_hold)
        item.sampler.sample()
        peak = item.sampler.peak.get("rss")
        held = sum(s for s, c in zip(sent, clients) if not c.lost)
        dropped = sum(1 for c in clients if c.lost)
        for client in clients:
            client.transport.abortConnection()
        growth = (peak - item.sampler_before) * 1024.0
        return collections.OrderedDict([
            ("connections", len(clients)),
            ("message_bytes", len(body)),
            ("chunk_bytes", chunk),
            ("tick_s", options.partial_tick),
            ("filled_s", round(filled_s, 2)),
            ("bytes_held", held),
            ("dropped_by_server_while_held", dropped),
            ("rss_growth_per_byte_held",
             round(growth / held, 2) if held else None)])

    def run():
        item.sampler_before = item.sampler.last.get("rss")
        return attack()
    yield item.scenario(
        "4", "%d connections each trickling a %d-byte message (after CER),"
        " never the last byte" % (options.partial_connections, size), run)


@defer.inlineCallbacks
def item_11(item):
    options = item.options
    reactor = item.reactor
    wal_path = item.server.database_path + "-wal"
    bound, source = wal_bound(item.server_config)

    @defer.inlineCallbacks
    def attack():
        item.sampler.probes["wal"] = lambda: file_size(wal_path)
        item.sampler.reset()
        yield sleep(reactor, options.wal_seconds)
        item.sampler.sample()
        return collections.OrderedDict([
            ("load", "AIRs, 1 vector, window %d, %g s" % (
                options.wal_window, options.wal_seconds)),
            ("wal_max_bytes", item.sampler.peak.get("wal", 0)),
            ("wal_final_bytes", item.sampler.last.get("wal", 0)),
            ("wal_bound_bytes", bound),
            ("wal_bound_from", source)])
    yield item.scenario(
        "11", "SQLite WAL under AIR load for %g s" % (options.wal_seconds,),
        attack)


@defer.inlineCallbacks
def item_12(item):
    options = item.options
    reactor = item.reactor
    count = options.unknown_answers
    summary_wait = options.log_summary_wait

    @defer.inlineCallbacks
    def attack():
        client = yield open_peer(reactor, item.port, attacker_address(),
                                 "noisy.bench.test")
        if client is None:
            return {"error": "the attacker's CER was refused"}
        answer = bytearray(message(
            FLAG_PROXIABLE, CMD_AIR, APP_S6A,
            [avp(263, b"noisy.bench.test;1;1"), avp(277, u32(1)),
             avp(268, u32(2001))] + identity_avps("noisy.bench.test")))
        draw = random.Random(12).getrandbits
        per_batch = 500

        def answers(sent):
            parts = []
            for _ in range(min(per_batch, count - sent)):
                _IDS.pack_into(answer, 12, draw(32), draw(32))
                parts.append(bytes(answer))
            return b"".join(parts), len(parts)

        started = time.monotonic()
        stream = Stream(reactor, client, answers, count, float("inf"),
                        options.flood_seconds)
        yield stream.done
        # A DWR after the answers: its DWA means the server has read them all.
        marked = defer.Deferred()

        def on_answer(hop_by_hop):
            if hop_by_hop == MARK_ID and not marked.called:
                marked.callback(True)
        client.on_answer = on_answer
        client.closed.addCallback(
            lambda _: marked.called or marked.callback(False))
        timer = reactor.callLater(30, lambda: marked.called
                                  or marked.callback(False))
        client.transport.write(dwr_bytes("noisy.bench.test", MARK_ID))
        handled = yield marked
        if timer.active():
            timer.cancel()
        handled_s = time.monotonic() - started
        client.transport.loseConnection()
        item.log_at_attack_end = log_bytes(item.server)
        return collections.OrderedDict([
            ("answers_sent", stream.sent), ("bytes_sent", stream.bytes),
            ("all_read_by_server", handled),
            ("handled_s", round(handled_s, 2))])

    @defer.inlineCallbacks
    def after(figures):
        # The summariser writes its count at the end of its interval.
        waited = max(0.0, summary_wait - options.after)
        yield sleep(reactor, waited)
        figures["log_bytes_until_summary"] = (
            log_bytes(item.server) - item.log_before_12)
        figures["summary_wait_s"] = summary_wait

    def run():
        item.log_before_12 = log_bytes(item.server)
        return attack()
    result = yield item.scenario(
        "12", "%d answers with unknown hop-by-hop identifiers" % (count,),
        run, after)
    item.log_scenario = result


ITEM_RUNNERS = {1: item_1, 2: item_2, 3: item_3, 4: item_4, 11: item_11,
                12: item_12}


@defer.inlineCallbacks
def run_item(reactor, options, number, log):
    from spawned_server import SpawnedServer
    from provision import provision
    overrides = {"limits": {}}
    if options.stall_timeout_given:
        overrides["limits"]["write_stall_timeout"] = options.stall_timeout
    for section, key, value in options.set:
        overrides.setdefault(section, {})[key] = value
    config = write_config(options, overrides)
    _LEFT["files"].append(config)
    server = SpawnedServer(reactor, config, log)
    _LEFT["directories"].append(server.directory)
    _LEFT["servers"].append(server)
    fast = None
    sampler = None
    item = None
    try:
        yield server.start(prepare=lambda spawned: provision(
            reactor, spawned.database_path, "001010000000000",
            options.subscribers))
        pid = server.process.pid
        sampler = Sampler(reactor, {"rss": lambda: vm_rss_kib(pid)})
        sampler.start()
        window = options.wal_window if number == 11 else options.fast_window
        fast = yield start_fast_peer(reactor, server.port, options, window,
                                     "fast.bench.test", log)
        item = Item(reactor, options, server, sampler, fast, log)
        item.server_config = config
        if number != 11:
            yield sleep(reactor, options.baseline)
            item.baseline = yield fast.phase("idle")
        else:
            item.baseline = None
        item_deadline = reactor.callLater(
            options.max_item_seconds, lambda: log(
                "item %d ran past %ss" % (number, options.max_item_seconds)))
        yield ITEM_RUNNERS[number](item)
        if item_deadline.active():
            item_deadline.cancel()
        final = yield fast.stop()
        if final is not None and item.results:
            item.results[-1]["fast_peer_totals"] = final.get("totals")
        yield fast.ended
        fast = None
        # Stop the server first and count its log to the end (the
        # summariser may log pending counts on the way out), then clean up.
        if number == 12 and item.results:
            server.process.transport.signalProcess("TERM")
            yield server.process.ended
            result = item.log_scenario
            result["figures"]["log_bytes_until_server_stopped"] = (
                file_size(server.log_path) - item.log_before_12)
            with open(server.log_path, "rb") as handle:
                handle.seek(item.log_before_12)
                tail = handle.read(4000).decode("utf-8", "replace")
            lines = [line for line in tail.splitlines() if line.strip()]
            result["figures"]["log_lines"] = len(lines)
            sys.stdout.write("server log from the attack on (%d lines):\n%s\n"
                             % (len(lines), "\n".join(
                                 "  " + line[:300] for line in lines[:8])))
        return item.results
    finally:
        if sampler is not None:
            sampler.stop()
        if fast is not None and not fast.ended.called:
            fast.transport.signalProcess("KILL")
        if not _LEFT["stopping"]:
            # (When the reactor is stopping, _stop_children cleans up.)
            yield server.stop()
            os.unlink(config)
            _LEFT["files"].remove(config)
            _LEFT["directories"].remove(server.directory)
            _LEFT["servers"].remove(server)


# --- command line ------------------------------------------------------------


FULL = dict(subscribers=10000, baseline=5.0, after=3.0, flood_dwrs=1000,
            small_groups=100000, airs=60000, dwr_bytes=100000000,
            idle=1023, idle_seconds=10.0, partial_connections=200,
            partial_seconds=20.0, partial_hold=3.0, wal_seconds=300.0,
            unknown_answers=100000, log_summary_wait=12.0)
SHORT = dict(subscribers=1000, baseline=1.0, after=1.0, flood_dwrs=200,
             small_groups=5000, airs=60000, dwr_bytes=100000000,
             idle=1023, idle_seconds=3.0, partial_connections=100,
             partial_seconds=2.0, partial_hold=1.0, wal_seconds=5.0,
             unknown_answers=100000, log_summary_wait=1.0,
             stall_timeout=2.0)


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        description="Hostile peers against a spawned pyhss server: server"
                    " RSS, a fast peer's p99 and each attack's own figure.")
    parser.add_argument("--only", default=",".join(map(str, ITEMS)),
                        help="items to run, e.g. 1,2,12 (default: %s)"
                             % (",".join(map(str, ITEMS)),))
    parser.add_argument("--short", action="store_true",
                        help="the CI sizes: a few seconds per scenario,"
                             " write_stall_timeout 2 s")
    parser.add_argument("--config", default=os.path.join(_ROOT, "config.yaml"),
                        help="configuration the spawned servers copy")
    sizes = parser.add_argument_group(
        "sizes (defaults: full figures; --short: CI figures)")
    for name, kind, text in (
            ("subscribers", int, "subscribers provisioned for the AIRs"),
            ("baseline", float, "seconds of the fast peer alone"),
            ("after", float, "seconds after an attack before RSS 'after'"),
            ("flood_dwrs", int, "item 1a/1b: DWRs with a big group"),
            ("small_groups", int, "item 1c: DWRs with a small group"),
            ("airs", int, "item 2a: most AIRs sent"),
            ("dwr_bytes", int, "item 2b: most DWR bytes sent"),
            ("idle", int, "item 3: connections that never send CER"),
            ("idle_seconds", float, "item 3: seconds of the attack"),
            ("partial_connections", int, "item 4: connections"),
            ("partial_seconds", float, "item 4: seconds to send the bytes"),
            ("partial_hold", float, "item 4: seconds held before closing"),
            ("wal_seconds", float, "item 11: seconds of AIR load"),
            ("unknown_answers", int, "item 12: answers sent"),
            ("log_summary_wait", float,
             "item 12: seconds after the attack before counting the log")):
        sizes.add_argument("--" + name.replace("_", "-"), type=kind,
                           help=text)
    parser.add_argument("--stall-timeout", type=float,
                        help="limits.write_stall_timeout of the server"
                             " (default: the config's; --short: 2)")
    parser.add_argument("--flood-group-bytes", type=int, default=61440,
                        help="item 1: size of the big group (default 61440)")
    parser.add_argument("--air-vectors", type=int, default=32)
    parser.add_argument("--idle-addresses", type=int, default=16,
                        help="item 3a: attackers' source addresses")
    parser.add_argument("--good-peers", type=int, default=18)
    parser.add_argument("--partial-bytes", type=int, default=60000)
    parser.add_argument("--partial-tick", type=float, default=0.02)
    parser.add_argument("--fast-window", type=int, default=10)
    parser.add_argument("--fast-request", default="air",
                        choices=("air", "dwr"),
                        help="the fast peer's requests (default air; dwr is"
                             " answered without the store)")
    parser.add_argument("--wal-window", type=int, default=50)
    parser.add_argument("--fast-timeout", type=float, default=60.0,
                        help="seconds before a fast-peer request counts as a"
                             " timeout (default 60)")
    parser.add_argument("--flood-seconds", type=float, default=120.0,
                        help="bound on each flood's sending time")
    parser.add_argument("--max-item-seconds", type=float, default=900.0)
    parser.add_argument("--set", action="append", default=[],
                        metavar="SECTION.KEY=VALUE",
                        help="change a key of the servers' configuration"
                             " (a YAML value), e.g. --set"
                             " limits.max_write_buffer=65536; repeatable")
    options = parser.parse_args(argv)
    defaults = SHORT if options.short else FULL
    options.stall_timeout_given = (options.stall_timeout is not None
                                   or "stall_timeout" in defaults)
    for name, value in defaults.items():
        if getattr(options, name, None) is None:
            setattr(options, name, value)
    if options.stall_timeout is None:
        import yaml
        with open(options.config) as handle:
            limits = (yaml.safe_load(handle) or {}).get("limits") or {}
        options.stall_timeout = float(limits.get("write_stall_timeout", 30))
    # How long past write_stall_timeout a peer that never reads waits to be
    # dropped (the server stops reading it only once the answers of the
    # requests it has read are queued: seconds of work with 32 vectors).
    options.stall_margin = 60.0
    settings = []
    for text in options.set:
        import yaml
        name, equals, value = text.partition("=")
        section, dot, key = name.partition(".")
        if not (equals and dot and section and key):
            parser.error("--set takes SECTION.KEY=VALUE, not %r" % (text,))
        settings.append((section, key, yaml.safe_load(value)))
    options.set = settings
    try:
        options.items = [int(word) for word in options.only.split(",")
                         if word.strip()]
    except ValueError:
        parser.error("--only takes item numbers, e.g. 1,2,12")
    unknown = set(options.items) - set(ITEMS)
    if unknown:
        parser.error("no item %s (items: %s)" % (
            ", ".join(map(str, sorted(unknown))), ", ".join(map(str, ITEMS))))
    if options.idle_addresses < 1 or options.idle_addresses > 190:
        parser.error("--idle-addresses must be 1 to 190")
    return options


@defer.inlineCallbacks
def main(reactor, argv):
    if argv[:1] == ["fast-peer"]:
        yield fast_peer_main(reactor, argv[1:])
        return
    options = parse_arguments(argv)
    reactor.addSystemEventTrigger("before", "shutdown", _stop_children,
                                  reactor)

    def log(text):
        sys.stdout.write("# %s\n" % (text,))
        sys.stdout.flush()
    log("hostile peers, %s version, items %s; write_stall_timeout %g s" % (
        "short" if options.short else "full",
        ",".join(map(str, options.items)), options.stall_timeout))
    results = []
    started = time.monotonic()
    for number in options.items:
        results.extend((yield run_item(reactor, options, number, log)))
    log("done in %.1f s" % (time.monotonic() - started,))
    for result in results:
        print(json.dumps(result))


def run_main(argv=None):
    task.react(main, [sys.argv[1:] if argv is None else argv])


if __name__ == "__main__":
    run_main()
