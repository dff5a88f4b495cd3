#!/usr/bin/env python
"""
REST API throughput while Diameter answers AIR at a fixed rate.

Spawns ``twistd -n pyhss`` (bench/spawned_server.py) with the SQLite
store, --provision subscribers and the API on a free 127.0.0.1 port
(``api.process`` from --process; a read-write token in its token file),
keeps AIR coming at --air-rate per second over --connections Diameter
connections, and in three phases of --duration seconds each measures:

  1. AIR alone (the baseline p50/p99);
  2. GET /subscribers/{imsi} from --http-connections keep-alive connections
     sending as fast as they can (a separate process: its CPU is not the
     Diameter client's);
  3. POST /subscribers (creation) the same way.

It prints one report per --process value (``both``: child, then reactor,
for the placement decision) and one JSON line.  Targets (issue 17): GET at
least 3,000/s and creation at least 1,000/s with AIR p99 under 20 ms.

    .venv/bin/python bench/api_rate.py --process both --duration 10
"""

import argparse
import json
import os
import socket
import sys
import time

from twisted.internet import defer, protocol, task

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
for _path in (_ROOT, _HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from diameter_load import LoadConnection, LoadRun, Statistics, parse_arguments  # noqa: E402
from request_kinds import REQUEST_KINDS, server_identity  # noqa: E402
from spawned_server import SpawnedServer  # noqa: E402

K_HEX = "465B5CE8B199B49FAA5F0A2EE238A6BC"
OPC_HEX = "CD63CB71954A9F4E48A5994E37A02BAF"
TICK = 0.01   # AIR pacing: a batch every 10 ms


# --- the server: twistd pyhss with the API --------------------------------------------

class ApiServer(SpawnedServer):
    """SpawnedServer whose configuration turns the API on."""

    def __init__(self, reactor, config_path, log, process):
        SpawnedServer.__init__(self, reactor, config_path, log)
        self.api_process = process
        self.api_port = None
        self.token = None

    def _write_config(self):
        import yaml
        path = SpawnedServer._write_config(self)
        with open(path) as handle:
            config = yaml.safe_load(handle)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.api_port = sock.getsockname()[1]
        sock.close()
        tokens_path = os.path.join(self.directory, "api-tokens.json")
        config["api"] = {"listen": f"tcp:{self.api_port}:interface=127.0.0.1", "process": self.api_process,
                         "tokens": tokens_path}
        config.setdefault("metrics", {})["enabled"] = True
        config.setdefault("control", {})["socket"] = os.path.join(self.directory, "control")
        with open(path, "w") as handle:
            yaml.safe_dump(config, handle)
        from pyhss.api.tokens import TokenFile
        self.token = TokenFile(tokens_path).add("bench")
        return path


# --- AIR at a fixed rate --------------------------------------------------------------

class PacedRun(LoadRun):
    """LoadRun sending --air-rate requests per second, whatever the answers."""

    @defer.inlineCallbacks
    def connect(self):
        options = self.options
        connecting = []
        for index in range(options.connections):
            creator = protocol.ClientCreator(self.reactor, LoadConnection, self, index,
                                             "c%d.%s" % (index, options.origin_host))
            connecting.append(creator.connectTCP(options.host, options.port, timeout=options.timeout))
        for success, value in (yield defer.DeferredList(connecting, consumeErrors=True)):
            if not success:
                raise SystemExit("connect failed: %s" % (value.getErrorMessage(),))
            self.connections.append(value)
        yield defer.gatherResults([c.ready for c in self.connections])
        for connection in self.connections:
            connection.state = "paced"     # answers do not trigger the next request
        self._sending = True
        self._limit = None
        self._credit = 0.0
        self._next = 0
        self._loop = task.LoopingCall(self._tick)
        self._loop.clock = self.reactor
        self._last = time.perf_counter()
        self._loop.start(TICK)

    def _tick(self):
        now = time.perf_counter()
        self._credit += (now - self._last) * self.options.air_rate
        self._last = now
        count = int(self._credit)
        self._credit -= count
        connections = self.connections
        for _ in range(count):
            connection = connections[self._next % len(connections)]
            self._next += 1
            connection._send_request(now)
        for connection in connections:
            connection._flush()
        deadline = now - self.options.timeout
        for connection in connections:
            connection.expire(deadline)

    def phase(self):
        """Start measuring a new phase; returns its Statistics."""
        self.stats = Statistics()
        self.stats.started = time.perf_counter()
        return self.stats

    @defer.inlineCallbacks
    def stop(self):
        self._loop.stop()
        self._sending = False
        yield defer.DeferredList([c.disconnect() for c in self.connections])


# --- the HTTP load, in its own process --------------------------------------------------

def http_worker(argv):
    """``api_rate.py --http-worker PORT TOKEN KIND CONNECTIONS SECONDS FIRST``: prints one JSON line."""
    port, token, kind, connections, seconds, first = argv
    result = {}
    task.react(lambda r: _http_load(r, int(port), token, kind, int(connections), float(seconds), first, result))


class HttpLoad(protocol.Protocol):
    """One keep-alive connection: the next request as soon as an answer is in."""

    def __init__(self, run):
        self.run = run
        self.buffer = b""

    def connectionMade(self):
        self.send()

    def send(self):
        if self.run.stopped:
            self.transport.loseConnection()
            return
        self.sent_at = time.perf_counter()
        self.transport.write(self.run.next_request())

    def dataReceived(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            status = int(head[9:12])
            self.buffer = self.buffer[end + 4 + length:]
            self.run.answered(status, time.perf_counter() - self.sent_at)
            self.send()

    def connectionLost(self, reason):
        self.run.closed()


class HttpRun:
    def __init__(self, port, token, kind, first):
        self.port = port
        self.kind = kind
        self.auth = f"Authorization: Bearer {token}\r\n".encode()
        self.first = int(first)
        self.sequence = 0
        self.statuses = {}
        self.latencies = []
        self.stopped = False
        self.open = 0
        self.done = defer.Deferred()

    def next_request(self):
        self.sequence += 1
        if self.kind == "get":
            imsi = "%015d" % (self.first + self.sequence % 1000)
            return (b"GET /subscribers/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % (imsi.encode(), self.auth))
        body = json.dumps({"imsi": "%015d" % (self.first + self.sequence), "k": K_HEX, "opc": OPC_HEX,
                           "apns": ["internet"]}).encode()
        return (b"POST /subscribers HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (self.auth, len(body), body))

    def answered(self, status, seconds):
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies.append(seconds)

    def closed(self):
        self.open -= 1
        if self.open == 0 and not self.done.called:
            self.done.callback(None)


@defer.inlineCallbacks
def _http_load(reactor, port, token, kind, connections, seconds, first, result):
    run = HttpRun(port, token, kind, first)
    creator = protocol.ClientCreator(reactor, HttpLoad, run)
    yield defer.gatherResults([creator.connectTCP("127.0.0.1", port) for _ in range(connections)])
    run.open = connections
    started = time.perf_counter()
    yield task.deferLater(reactor, seconds, lambda: None)
    run.stopped = True
    elapsed = time.perf_counter() - started
    yield run.done
    ordered = sorted(run.latencies)
    ok = sum(count for status, count in run.statuses.items() if status < 300)
    print(json.dumps({"kind": kind, "requests_per_s": round(ok / elapsed, 1),
                      "statuses": {str(k): v for k, v in run.statuses.items()},
                      "p50_ms": round(ordered[len(ordered) // 2] * 1000, 2) if ordered else None,
                      "p99_ms": round(ordered[int(len(ordered) * 0.99)] * 1000, 2) if ordered else None}))
    sys.stdout.flush()


# --- the run ----------------------------------------------------------------------------

def summary(stats):
    ordered = sorted(stats.latencies)
    pick = (lambda f: round(ordered[min(len(ordered) - 1, int(f * len(ordered)))], 2) if ordered else None)
    elapsed = time.perf_counter() - stats.started
    return {"air_per_s": round(stats.answered / elapsed, 1), "air_p50_ms": pick(0.5), "air_p99_ms": pick(0.99),
            "air_max_ms": round(ordered[-1], 2) if ordered else None,
            "air_errors": sum(stats.result_errors.values()) + stats.timeouts}


def http_phase(reactor, server, kind, options, first):
    args = [sys.executable, os.path.abspath(__file__), "--http-worker", str(server.api_port), server.token, kind,
            str(options.http_connections), str(options.duration), str(first)]
    return task.deferLater(reactor, 0, lambda: None).addCallback(
        lambda _: _spawn_output(reactor, args))


def _spawn_output(reactor, args):
    from twisted.internet import utils
    return utils.getProcessOutput(args[0], args[1:], env=os.environ, errortoo=True).addCallback(
        lambda out: json.loads(out.decode().strip().splitlines()[-1]))


@defer.inlineCallbacks
def measure(reactor, options, process, log):
    argv = ["--request", "air", "--connections", str(options.connections), "--provision", str(options.provision),
            "--config", options.config, "--timeout", "5", "--spawn-server"]
    load_options = parse_arguments(argv)
    load_options.air_rate = options.air_rate
    server_identity(load_options)
    server = ApiServer(reactor, options.config, log, process)
    from provision import provision
    yield server.start(prepare=lambda spawned: provision(reactor, spawned.database_path, load_options.imsi_first,
                                                         options.provision, log))
    result = {"process": process}
    try:
        load_options.host, load_options.port = "127.0.0.1", server.port
        kind = REQUEST_KINDS["air"](load_options, load_options.origin_host, load_options.origin_realm)
        run = PacedRun(reactor, load_options, kind)
        yield run.connect()
        yield task.deferLater(reactor, 1.0, lambda: None)       # warm up
        stats = run.phase()
        yield task.deferLater(reactor, options.duration, lambda: None)
        result["air_alone"] = summary(stats)
        first = int(load_options.imsi_first)
        for kind_name, offset in (("get", 0), ("create", 10 ** 9)):
            stats = run.phase()
            http = yield http_phase(reactor, server, kind_name, options, first + offset)
            result[kind_name] = dict(http, **summary(stats))
            log("%s %s: %s" % (process, kind_name, result[kind_name]))
        yield run.stop()
    finally:
        yield server.stop()
    return result


def report(result):
    lines = [f"api.process: {result['process']}",
             "  AIR alone         : {air_per_s}/s  p50 {air_p50_ms} ms  p99 {air_p99_ms} ms".format(
                 **result["air_alone"])]
    for kind in ("get", "create"):
        r = result[kind]
        lines.append(f"  {kind.upper():6} {r['requests_per_s']:>8}/s (HTTP p99 {r['p99_ms']} ms, statuses "
                     f"{r['statuses']}); AIR {r['air_per_s']}/s p50 {r['air_p50_ms']} ms p99 {r['air_p99_ms']} ms")
    return "\n".join(lines)


@defer.inlineCallbacks
def main(reactor, argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--process", choices=("child", "reactor", "both"), default="child")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase (default 10)")
    parser.add_argument("--air-rate", type=float, default=2000.0, help="AIR per second (default 2000)")
    parser.add_argument("--connections", type=int, default=4, help="Diameter connections (default 4)")
    parser.add_argument("--http-connections", type=int, default=50, help="keep-alive connections (default 50)")
    parser.add_argument("--provision", type=int, default=10000, help="subscribers stored first (default 10000)")
    parser.add_argument("--config", default=os.path.join(_ROOT, "config.yaml"))
    options = parser.parse_args(argv)

    def log(text):
        sys.stdout.write("# %s\n" % (text,))
        sys.stdout.flush()
    results = []
    for process in (("child", "reactor") if options.process == "both" else (options.process,)):
        result = yield measure(reactor, options, process, log)
        print(report(result))
        results.append(result)
    print(json.dumps(results))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--http-worker"]:
        http_worker(sys.argv[2:])
    else:
        task.react(main, [sys.argv[1:]])
