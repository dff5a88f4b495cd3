"""bench/hostile.py's pieces: the attackers' client connections and the
fast peer (bench/diameter_load.py's client in a child process)."""

import argparse
import collections
import json
import os
import sys
import time

from twisted.internet import defer, error, protocol

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
for _path in (_ROOT, _HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from hostile_wire import (  # noqa: E402
    APP_BASE,
    CER_ID,
    CMD_CER,
    CMD_DPR,
    FLAG_REQUEST,
    REALM,
    CHILDREN,
    HEADER,
    IDS,
    answer_result_code,
    avp,
    cer_bytes,
    identity_avps,
    message,
    u32)


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
            word, flags_command, _, hop_by_hop, _ = HEADER.unpack_from(
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
                             *IDS.unpack_from(raw, 12))
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
    args = [sys.executable, os.path.join(_HERE, "hostile.py"), "fast-peer",
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
    CHILDREN.append(peer)
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
