"""End-to-end tests of the replay over TCP on 127.0.0.1: the server and
client of ss7tools.replay in this process (one reactor), then the twistd
plugin as processes.

Over SCTP: tests/test_ss7_replay_sctp.py, on a real kernel stack (inside
user-mode Linux where this machine's kernel has none).  TCP carries no
stream and no PPID, so the recorded capture has every message on stream 0
with the PPID its class implies: the comparison with the original leaves
the stream out here (the SCTP test keeps it).
"""

import json
import os
import shutil
import sys
import tempfile
from collections import Counter

from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, serverFromString
from twisted.python.failure import Failure
from twisted.trial import unittest

from pyhss.sctp import unavailable_reason
from ss7tools.encode import write_sample_capture
from ss7tools.replay import asp
from ss7tools.replay.client import ReplayRun, ReplaySettings
from ss7tools.replay.framing import CommonHeaderFramer
from ss7tools.replay.record import EventLog, Recorder
from ss7tools.replay.server import ReplayServer
from ss7tools.replay.source import from_directory, from_split
from ss7tools.rows import COLUMNS, iter_rows

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED_CAPTURE = os.path.join(ROOT, "..", "shared", "ss7-captures", "pcapr", "pcapr_traces.pcap")
TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")

#: Columns that differ between a capture and its replay by nature.
UNCOMPARED = {"frame", "chunk", "time_stamp", "src_ip", "dst_ip", "src_port", "dst_port"}
#: What a client that brings the ASP up adds around the capture's messages.
ASP_MANAGEMENT = ("ASPUP", "ASPAC", "BEAT", "ASPIA", "ASPDN")


def comparable(rows, without_stream):
    skip = UNCOMPARED | ({"sctp_stream"} if without_stream else set())
    kept = [i for i, name in enumerate(COLUMNS) if name not in skip]
    return Counter(tuple(row[i] for i in kept) for row in rows)


def read_events(path):
    with open(path) as handle:
        return [json.loads(line) for line in handle]


class ReplayOverTcpMixin:

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    @defer.inlineCallbacks
    def start_server(self):
        self.log_path = self.path("events.jsonl")
        self.record_path = self.path("received.pcap")
        self.server = ReplayServer(reactor, EventLog(self.log_path), Recorder(self.record_path),
                                   console=False)
        self.port = yield serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
            self.server)
        self.addCleanup(self.stop_server)

    def stop_server(self):
        if self.port is not None:
            port, self.port = self.port, None
            self.server.stop()
            return port.stopListening()

    def connect(self, factory):
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port.getHost().port)
        return endpoint.connect(factory)

    def server_idle(self):
        """Fires once the server has seen every association close."""
        done = defer.Deferred()

        def check(_protocol=None):
            if self.server.associations:
                self.server.closed_waiters.append(check)
            elif not done.called:
                done.callback(None)
        check()
        return done

    @defer.inlineCallbacks
    def replay(self, inputs, **settings):
        settings.setdefault("max_gap", 0.001)
        run = ReplayRun(inputs, ReplaySettings(**settings), self.connect, reactor)
        report = yield run.run()
        yield self.server_idle()
        yield self.stop_server()
        return report


class ReplayOverTcpTests(ReplayOverTcpMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_split_parts_of_a_shared_capture_come_back_as_the_original(self):
        if not os.path.isfile(SHARED_CAPTURE):
            raise unittest.SkipTest("%s absent (the shared SS7 capture set is not checked out"
                                    " next to the repository)" % SHARED_CAPTURE)
        yield self.start_server()
        inputs = from_split(SHARED_CAPTURE, "opc")
        report = yield self.replay(inputs)
        overall = report["overall"]
        self.assertEqual(overall["failed"], 0, report)
        self.assertEqual(overall["sent"], overall["messages"])
        self.assertEqual(overall["sent"], 91)
        startups = sum(1 for client in report["clients"] if client["asp_startup"])
        self.assertGreater(startups, 0)
        # what the server received, parsed like any capture, is the original
        # plus each ASP's own management messages
        recorded = comparable(iter_rows(self.record_path), without_stream=True)
        original = comparable(iter_rows(SHARED_CAPTURE), without_stream=True)
        self.assertEqual(original - recorded, Counter())
        extra = recorded - original
        m3ua_type = [name for name in COLUMNS if name not in UNCOMPARED | {"sctp_stream"}].index(
            "m3ua_type")
        self.assertEqual(Counter(row[m3ua_type] for row in extra.elements()),
                         Counter({name: startups for name in ASP_MANAGEMENT}))
        self.assertEqual(self.server.counters.messages, 91 + startups * len(ASP_MANAGEMENT))

    @defer.inlineCallbacks
    def test_directory_of_captures_logged_and_recorded(self):
        directory = self.path("captures")
        os.mkdir(directory)
        write_sample_capture(os.path.join(directory, "a.pcap"))
        write_sample_capture(os.path.join(directory, "b.pcapng"), pcapng=True, ipv6=True)
        inputs = from_directory(directory)
        yield self.start_server()
        report = yield self.replay(inputs, clients_limit=1)
        self.assertEqual(report["overall"]["failed"], 0, report)
        self.assertEqual([c["name"] for c in report["clients"]], ["a.pcap", "b.pcapng"])
        events = read_events(self.log_path)
        kinds = Counter(event["event"] for event in events)
        self.assertEqual((kinds["association_opened"], kinds["association_closed"]), (2, 2))
        messages = [event for event in events if event["event"] == "message"]
        self.assertEqual(len(messages), self.server.counters.messages)
        sent = sum(len(i.messages) for i in inputs)
        # each client ends with a BEAT, and one that brought the ASP up
        # takes it down too
        extra = sum(len(ASP_MANAGEMENT) if c["asp_startup"] else 1 for c in report["clients"])
        self.assertEqual(len(messages), sent + extra)
        # the parser's decoded summary is in each line
        decoded = [m for m in messages if m.get("op_name")]
        self.assertTrue(decoded)
        self.assertTrue(any(m.get("imsi") for m in messages))
        self.assertTrue(all({"time", "peer", "stream", "ppid", "size", "m3ua_class"} <= set(m)
                            for m in messages if m["ppid"] == 3))
        closed = [event for event in events if event["event"] == "association_closed"]
        self.assertEqual([event["asp_state"] for event in closed], ["ASP-DOWN", "ASP-DOWN"])
        self.assertEqual(oct(os.stat(self.log_path).st_mode & 0o777), "0o600")

    @defer.inlineCallbacks
    def test_refused_connection_is_a_failed_client(self):
        yield self.start_server()
        closed_port = self.port.getHost().port
        yield self.stop_server()
        directory = self.path("one")
        os.mkdir(directory)
        write_sample_capture(os.path.join(directory, "a.pcap"))

        def connect(factory):
            return TCP4ClientEndpoint(reactor, "127.0.0.1", closed_port).connect(factory)
        report = yield ReplayRun(from_directory(directory), ReplaySettings(), connect,
                                 reactor).run()
        self.assertEqual(report["overall"]["failed"], 1)
        self.assertIn("cannot connect", report["clients"][0]["failure"])


class RawPeer(protocol.Protocol):
    """Sends what it is told and keeps what comes back."""

    def __init__(self):
        self.framer = CommonHeaderFramer()
        self.received = []
        self.lost = defer.Deferred()
        self.waiting = None

    def dataReceived(self, data):
        self.received.extend(self.framer.feed(data))
        if self.waiting is not None and len(self.received) >= self.waiting[0]:
            _count, waiting = self.waiting
            self.waiting = None
            waiting.callback(self.received)

    def until(self, count):
        if len(self.received) >= count:
            return defer.succeed(self.received)
        self.waiting = (count, defer.Deferred())
        return self.waiting[1]

    def connectionLost(self, reason):
        self.lost.callback(reason.value)


class BadInputTests(ReplayOverTcpMixin, unittest.TestCase):
    """Garbage, a truncated message, a disconnection mid-message: each such
    association is logged and dropped, the others go on."""

    @defer.inlineCallbacks
    def connect_raw(self):
        peer = yield self.connect(protocol.Factory.forProtocol(RawPeer))
        return peer

    @defer.inlineCallbacks
    def test_bad_peers_do_not_disturb_a_good_one(self):
        yield self.start_server()
        good = yield self.connect_raw()
        garbage = yield self.connect_raw()
        oversized = yield self.connect_raw()
        truncated = yield self.connect_raw()
        good.transport.write(asp.aspup())
        yield good.until(2)            # ASPUP_ACK, NTFY
        garbage.transport.write(b"GET / HTTP/1.0\r\n\r\n")
        oversized.transport.write(b"\x01\x00\x01\x01\x7f\xff\xff\xff")
        truncated.transport.write(asp.aspup() + asp.aspac()[:11])
        yield garbage.lost
        yield oversized.lost
        yield truncated.until(2)
        truncated.transport.loseConnection()
        yield truncated.lost
        # the good association is still served
        good.transport.write(asp.aspac(routing_contexts=(5,)))
        answers = yield good.until(4)
        self.assertEqual([asp.m3ua.decode(m).type_name for m in answers],
                         ["ASPUP_ACK", "NTFY", "ASPAC_ACK", "NTFY"])
        for peer, code in ((garbage, "invalid_version"), (oversized, "protocol_error")):
            self.assertEqual([asp.describe_err(asp.m3ua.decode(m)) for m in peer.received],
                             [code])
        good.transport.loseConnection()
        yield good.lost
        yield self.server_idle()
        yield self.stop_server()
        closed = {event["association"]: event["reason"] for event in read_events(self.log_path)
                  if event["event"] == "association_closed"}
        self.assertIn("garbage: version 71", closed[2])
        self.assertIn("above the limit", closed[3])
        self.assertEqual(closed[4], "disconnected mid-message (11 octets of it dropped)")
        self.assertEqual(closed[1], "Connection was closed cleanly.")


class TwistdPluginTests(unittest.TestCase):
    """``twistd ss7replay`` as processes: a server, a client against it,
    and the one-line refusals."""

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def run_twistd(self, *args):
        from twisted.internet import utils
        env = dict(os.environ, PYTHONPATH=ROOT)
        return utils.getProcessOutputAndValue(
            TWISTD, ("-n", "--pidfile=", "ss7replay") + args, env=env, path=self.dir)

    @defer.inlineCallbacks
    def test_refusals_are_one_line_exit_2(self):
        empty = os.path.join(self.dir, "empty")
        os.mkdir(empty)
        broken = os.path.join(self.dir, "broken.pcap")
        with open(broken, "wb") as handle:
            handle.write(b"not a capture at all")
        cases = [
            (("client", "--connect", "tcp:127.0.0.1:9", "--pcap-dir", empty),
             "no capture files"),
            (("client", "--connect", "tcp:127.0.0.1:9", "--split-by", "opc", broken),
             "not a pcap or pcapng file"),
            (("client", "--connect", "tcp:127.0.0.1:9", "--split-by", "nothing", broken),
             "cannot split by 'nothing'"),
            (("server",), "--listen ENDPOINT is required"),
            (("server", "--listen", "tcp:0", "--record", os.path.join(self.dir, "no", "x.pcap")),
             "No such file or directory"),
        ]
        if unavailable_reason() is not None:
            cases.append((("server", "--listen", "sctp:2905"), "SCTP cannot be used on this host"))
            cases.append((("client", "--connect", "sctp:127.0.0.1:2905", "--pcap-dir", empty),
                          "SCTP cannot be used on this host"))
        for args, text in cases:
            out, err, code = yield self.run_twistd(*args)
            lines = err.decode().strip().splitlines()
            self.assertEqual(code, 2, (args, out, err))
            self.assertEqual(len(lines), 1, (args, err))
            self.assertIn(text, lines[0])

    @defer.inlineCallbacks
    def test_server_and_client_processes(self):
        captures = os.path.join(self.dir, "captures")
        os.mkdir(captures)
        write_sample_capture(os.path.join(captures, "a.pcap"))
        server = ServerProcess()
        env = dict(os.environ, PYTHONPATH=ROOT)
        transport = reactor.spawnProcess(
            server, TWISTD, [TWISTD, "-n", "--pidfile=", "ss7replay", "server", "--listen",
                             "tcp:0:interface=127.0.0.1", "--record", "received.pcap", "--log",
                             "events.jsonl"], env=env, path=self.dir)
        self.addCleanup(server.stop, transport)
        port = yield server.listening
        out, err, code = yield self.run_twistd(
            "client", "--connect", "tcp:127.0.0.1:%d" % port, "--pcap-dir", captures,
            "--max-gap", "0.001", "--json", "report.json")
        self.assertEqual(code, 0, (out, err))
        with open(os.path.join(self.dir, "report.json")) as handle:
            report = json.load(handle)
        self.assertEqual(report["overall"]["failed"], 0)
        self.assertIn(b"1 clients, 0 failed;", out)
        yield server.stop(transport)
        # the sample capture brings its ASP up itself: the client adds its BEAT
        self.assertFalse(report["clients"][0]["asp_startup"])
        sent = report["overall"]["sent"] + 1
        self.assertEqual(sum(1 for _ in iter_rows(os.path.join(self.dir, "received.pcap"))),
                         sum(1 for _ in iter_rows(os.path.join(captures, "a.pcap"))) + 1)
        events = read_events(os.path.join(self.dir, "events.jsonl"))
        self.assertEqual(sum(1 for e in events if e["event"] == "message"), sent)


class ServerProcess(protocol.ProcessProtocol):
    """A twistd server: ``listening`` fires with its port, ``ended`` at exit."""

    def __init__(self):
        self.listening = defer.Deferred()
        self.ended = defer.Deferred()
        self.output = b""

    def outReceived(self, data):
        self.output += data
        if not self.listening.called and b"listening on" in self.output:
            line = self.output.split(b"listening on", 1)[1].split(b"\n", 1)[0]
            self.listening.callback(int(line.rsplit(b"port", 1)[1].strip(b" )")))

    errReceived = outReceived

    def processEnded(self, reason):
        if not self.listening.called:
            self.listening.errback(Failure(RuntimeError(self.output.decode(errors="replace"))))
        self.ended.callback(None)

    def stop(self, transport):
        if not self.ended.called:
            try:
                transport.signalProcess("TERM")
            except OSError:
                pass
        return self.ended
