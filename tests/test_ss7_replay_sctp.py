"""
The replay tools over real kernel SCTP: the endpoint strings, the split
parts of the shared pcapr capture replayed to a recording server and
parsed back to the original's rows stream by stream, bad messages
answered without ending their association, and ``ss7tools send``.

Where this kernel has SCTP, L{ReplayOverSctpTests} runs directly.  On a
machine without (this project's build machines), L{GuestRun} boots one
user-mode Linux guest (tests/uml.py) that runs them with trial, and fails
with the guest's output if any of them fails or errors, or is skipped for
any reason but the shared capture's absence.
"""

import json
import os
import re
import shutil
import sys
import tempfile
from collections import Counter

from twisted.internet import defer, protocol, reactor, utils
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.trial import unittest
from zope.interface import implementer

from pyhss.sctp import ISCTPMessageReceiver, unavailable_reason
from ss7tools import m3ua
from ss7tools.encode.sigtran import m3ua_data
from ss7tools.replay import asp, tap
from ss7tools.replay.client import ReplayRun
from ss7tools.replay.endpoints import DEFAULT_SCTP_STREAMS, client_endpoint, server_endpoint
from ss7tools.replay.record import EventLog
from ss7tools.replay.server import ReplayServer
from ss7tools.rows import COLUMNS, iter_rows
from tests import uml
from tests.test_ss7_replay_tcp import (
    ASP_MANAGEMENT, ROOT, SHARED_CAPTURE, UNCOMPARED, comparable, read_events)

NO_KERNEL_SCTP = unavailable_reason()
NO_CAPTURE = None if os.path.isfile(SHARED_CAPTURE) else (
    "%s absent (the shared SS7 capture set is not checked out next to the repository)"
    % (SHARED_CAPTURE,))
SS7TOOLS = os.path.join(os.path.dirname(sys.executable), "ss7tools")
#: The pcapr capture's highest SCTP stream (one per SLS value).
PCAPR_HIGHEST_STREAM = 16


@implementer(ISCTPMessageReceiver)
class RawPeer(protocol.Protocol):
    """Sends what it is told; keeps each message that comes back with its
    stream and PPID."""

    def __init__(self):
        self.received = []
        self.lost = defer.Deferred()
        self._waiting = None

    def message_received(self, data, stream, ppid):
        self.received.append((m3ua.decode(data), stream, ppid))
        if self._waiting is not None and len(self.received) >= self._waiting[0]:
            _count, waiting = self._waiting
            self._waiting = None
            waiting.callback(None)

    def send(self, data, stream=0, ppid=3):
        self.transport.write_message(data, stream, ppid)

    def until(self, count):
        """Fires once C{count} messages have come back in all."""
        if len(self.received) >= count:
            return defer.succeed(None)
        self._waiting = (count, defer.Deferred())
        return self._waiting[1]

    def names(self, start=0):
        return [(message.type_name if message.type_name != "ERR"
                 else "ERR(%s)" % asp.describe_err(message), stream, ppid)
                for message, stream, ppid in self.received[start:]]

    def connectionLost(self, reason):
        self.lost.callback(None)


class ReplayOverSctpTests(unittest.TestCase):

    skip = None if NO_KERNEL_SCTP is None else (
        "needs kernel SCTP, which this machine lacks (%s); GuestRun below runs these tests"
        " inside user-mode Linux instead" % (NO_KERNEL_SCTP,))
    timeout = 120

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.log_path = os.path.join(self.dir, "events.jsonl")

    @defer.inlineCallbacks
    def listen(self, server, description="sctp:0:interface=127.0.0.1", parse=server_endpoint):
        port = yield parse(reactor, description).listen(server)
        self.addCleanup(port.stopListening)
        return port

    def server(self):
        server = ReplayServer(reactor, EventLog(self.log_path), console=False)
        self.addCleanup(server.stop)
        return server

    def server_idle(self, server):
        """Fires once every association has closed, the log flushed."""
        done = defer.Deferred()

        def check(_protocol=None):
            if server.associations:
                server.closed_waiters.append(check)
            elif not done.called:
                server.flush()
                done.callback(None)
        check()
        return done

    @defer.inlineCallbacks
    def connect(self, endpoint):
        peer = yield endpoint.connect(protocol.Factory.forProtocol(RawPeer))
        self.addCleanup(self.close, peer)
        return peer

    def close(self, peer):
        if not peer.lost.called:
            peer.transport.loseConnection()
        return peer.lost

    @defer.inlineCallbacks
    def test_endpoint_strings(self):
        """Twisted's parser gives SCTP endpoints (twisted/plugins/pyhss_sctp.py):
        a server on port 0 reports its port; the long client form, the
        replay's short one and its keywords connect; without streams= the
        replay's endpoints ask for 257 streams, the transport's for 10."""
        server = self.server()
        plain = yield self.listen(server, parse=serverFromString)
        replay = yield self.listen(server)
        for port in (plain, replay):
            host = port.getHost()
            self.assertEqual(host.host, "127.0.0.1")
            self.assertNotEqual(host.port, 0)
        self.assertNotEqual(plain.getHost().port, replay.getHost().port)
        clients = [
            (clientFromString, "sctp:host=127.0.0.1:port=%d" % plain.getHost().port, 10),
            (client_endpoint, "sctp:127.0.0.1:%d" % plain.getHost().port, 10),
            (client_endpoint, "sctp:127.0.0.1:%d" % replay.getHost().port, DEFAULT_SCTP_STREAMS),
            (client_endpoint, "sctp:127.0.0.1:%d:streams=17" % replay.getHost().port, 17),
            (client_endpoint, "sctp:host=127.0.0.1:port=%d:streams=5" % replay.getHost().port, 5),
        ]
        for parse, description, streams in clients:
            peer = yield self.connect(parse(reactor, description))
            self.assertEqual((peer.transport.outbound_streams, peer.transport.inbound_streams),
                             (streams, streams), description)
            peer.send(asp.aspup())
            yield peer.until(2)
            self.assertEqual(peer.names(), [("ASPUP_ACK", 0, 3), ("NTFY", 0, 3)], description)
            yield self.close(peer)
        yield self.server_idle(server)
        opened = [event for event in read_events(self.log_path)
                  if event["event"] == "association_opened"]
        self.assertEqual([(event["transport"], event["inbound_streams"], event["outbound_streams"])
                          for event in opened],
                         [("sctp", streams, streams) for _parse, _text, streams in clients])

    @defer.inlineCallbacks
    def test_split_parts_of_a_shared_capture_come_back_stream_by_stream(self):
        """``twistd ss7replay server --listen sctp:... --record`` and ``client
        --connect sctp:HOST:PORT --split-by opc`` (their options parsed as
        twistd does): ``ss7tools parse`` of the record gives the original's
        rows, streams included, plus each ASP's own management on stream 0."""
        if NO_CAPTURE is not None:
            raise unittest.SkipTest(NO_CAPTURE)
        record_path = os.path.join(self.dir, "received.pcap")
        options = tap.Options()
        options.parseOptions(["server", "--listen", "sctp:0:interface=127.0.0.1",
                              "--record", record_path, "--log", self.log_path])
        server_options = options.subOptions
        server = ReplayServer(reactor, event_log=server_options.event_log,
                              recorder=server_options.recorder, console=False)
        [(_description, endpoint)] = server_options.endpoints
        port = yield endpoint.listen(server)
        self.addCleanup(port.stopListening)
        self.addCleanup(server.stop)

        options = tap.Options()
        options.parseOptions(["client", "--connect", "sctp:127.0.0.1:%d" % port.getHost().port,
                              "--split-by", "opc", SHARED_CAPTURE, "--max-gap", "0.001"])
        client = options.subOptions
        run = ReplayRun(client.inputs, client.settings, client.endpoint.connect, reactor)
        report = yield run.run()
        yield self.server_idle(server)
        server.stop()

        overall = report["overall"]
        self.assertEqual((overall["failed"], overall["sent"], overall["messages"],
                          overall["restreamed"]), (0, 91, 91, 0), report)
        startups = sum(1 for job in report["clients"] if job["asp_startup"])
        self.assertGreater(startups, 0)
        original = comparable(iter_rows(SHARED_CAPTURE), without_stream=False)
        recorded = comparable(iter_rows(record_path), without_stream=False)
        kept = [name for name in COLUMNS if name not in UNCOMPARED]
        stream = kept.index("sctp_stream")
        self.assertEqual(max(row[stream] for row in original), PCAPR_HIGHEST_STREAM)
        self.assertEqual(original - recorded, Counter())
        extra = recorded - original
        m3ua_type = kept.index("m3ua_type")
        self.assertEqual(Counter((row[m3ua_type], row[stream]) for row in extra.elements()),
                         Counter({(name, 0): startups for name in ASP_MANAGEMENT}))
        self.assertEqual(server.counters.messages, 91 + startups * len(ASP_MANAGEMENT))
        events = read_events(self.log_path)
        opened = [event for event in events if event["event"] == "association_opened"]
        self.assertEqual(len(opened), len(report["clients"]))
        self.assertEqual({(event["transport"], event["inbound_streams"]) for event in opened},
                         {("sctp", DEFAULT_SCTP_STREAMS)})
        streams = Counter(event["stream"] for event in events if event["event"] == "message")
        self.assertEqual(set(streams), {0} | {row[stream] for row in original})

    @defer.inlineCallbacks
    def test_bad_messages_answered_and_the_association_goes_on(self):
        """Over SCTP each message stands alone: garbage, a truncated M3UA
        message, an impossible length and ASPUP on a stream other than 0
        each get their ERR, and the same association then comes up; another
        association is not affected."""
        server = self.server()
        port = yield self.listen(server)
        description = "sctp:127.0.0.1:%d" % port.getHost().port
        good = yield self.connect(client_endpoint(reactor, description))
        bad = yield self.connect(client_endpoint(reactor, description))
        good.send(asp.aspup())
        yield good.until(2)
        bad.send(b"GET / HTTP/1.0\r\n\r\n")
        bad.send(asp.aspac()[:11])
        bad.send(b"\x01\x00\x01\x01\x7f\xff\xff\xff")
        yield bad.until(3)
        # (SCTP orders each stream, not streams among themselves)
        bad.send(asp.aspup(), stream=3)
        yield bad.until(4)
        self.assertEqual(bad.names(), [("ERR(invalid_version)", 0, 3), ("ERR(protocol_error)", 0, 3),
                                       ("ERR(protocol_error)", 0, 3),
                                       ("ERR(invalid_stream_identifier)", 0, 3)])
        bad.send(asp.aspup())
        bad.send(asp.aspac(routing_contexts=(7,)))
        yield bad.until(8)
        self.assertEqual([name for name, _s, _p in bad.names(4)],
                         ["ASPUP_ACK", "NTFY", "ASPAC_ACK", "NTFY"])
        good.send(asp.aspac(routing_contexts=(5,)))
        yield good.until(4)
        self.assertEqual(good.names(), [("ASPUP_ACK", 0, 3), ("NTFY", 0, 3),
                                        ("ASPAC_ACK", 0, 3), ("NTFY", 0, 3)])
        yield self.close(bad)
        yield self.close(good)
        yield self.server_idle(server)
        events = read_events(self.log_path)
        closed = {event["association"]: event for event in events
                  if event["event"] == "association_closed"}
        self.assertEqual({number: (event["messages"], event["refused"], event["asp_state"])
                          for number, event in closed.items()},
                         {1: (2, 0, "ASP-ACTIVE"), 2: (6, 4, "ASP-ACTIVE")})
        refused = [(event["association"], event["answers"]) for event in events
                   if event["event"] == "refused"]
        self.assertEqual(refused, [(2, ["ERR(invalid_version)"]), (2, ["ERR(protocol_error)"]),
                                   (2, ["ERR(protocol_error)"]),
                                   (2, ["ERR(invalid_stream_identifier)"])])
        # every message is logged with the stream it came on, refused or not
        self.assertEqual([event["stream"] for event in events
                          if event["event"] == "message" and event["association"] == 2],
                         [0, 0, 0, 3, 0, 0])

    @defer.inlineCallbacks
    def test_ss7tools_send(self):
        """``ss7tools send --connect sctp:HOST:PORT --stream 9``, a process:
        its M3UA DATA arrives on stream 9 with PPID 3 and the ERR it gets
        (no ASP is active) is printed."""
        server = self.server()
        port = yield self.listen(server)
        data = m3ua_data(0x101, 0x202, 3, 2, 9, b"\x09\x00\x03\x05\x07\x02\x42\x08\x04\x43\x01\x00\x06")
        out, err, code = yield utils.getProcessOutputAndValue(
            SS7TOOLS, ["send", "--connect", "sctp:127.0.0.1:%d" % port.getHost().port,
                       "--hex", data.hex(), "--stream", "9", "--expect", "1", "--wait", "60"],
            env=dict(os.environ, PYTHONPATH=ROOT), path=self.dir)
        self.assertEqual((code, err), (0, b""), out)
        answer = asp.err("unexpected_message", data)    # the offending message as diagnostic
        self.assertEqual(out.decode().splitlines()[:2], [
            "sent %d octets on stream 9, PPID 3" % len(data),
            "received MGMT ERR unexpected_message (%d octets) on stream 0, PPID 3: %s"
            % (len(answer), answer.hex())])
        yield self.server_idle(server)
        [message] = [event for event in read_events(self.log_path) if event["event"] == "message"]
        self.assertEqual((message["stream"], message["ppid"], message["size"],
                          message["m3ua_type"], message["opc"]), (9, 3, len(data), "DATA", 0x101))


SUMMARY = re.compile(r"^(PASSED|FAILED) \((?P<counts>[^)]*)\)\s*$", re.MULTILINE)
GUEST_TIMEOUT = 300


class GuestRun(unittest.TestCase):
    """L{ReplayOverSctpTests} inside one user-mode Linux guest."""

    if NO_KERNEL_SCTP is None:
        skip = "this kernel has SCTP: ReplayOverSctpTests runs directly"
    elif uml.unavailable_reason() is not None:
        skip = ("no SCTP anywhere: this kernel has none (%s) and %s; the replay's SCTP tests did"
                " not run" % (NO_KERNEL_SCTP, uml.unavailable_reason()))
    timeout = GUEST_TIMEOUT + 30

    def test_replay_over_sctp_in_a_guest(self):
        result = uml.run_trial(["tests.test_ss7_replay_sctp.ReplayOverSctpTests"],
                               timeout=GUEST_TIMEOUT)
        explain = "trial in the guest (%.1f s):\n%s" % (result.seconds, result.output[-20000:])
        summary = SUMMARY.search(result.output)
        self.assertIsNotNone(summary, explain)
        counts = {name.strip(): int(value) for name, value in (
            item.split("=") for item in summary.group("counts").split(","))}
        expected = {"successes": 4}
        if NO_CAPTURE is not None:
            # the one test that needs the shared capture says why it skipped
            expected = {"successes": 3, "skips": 1}
            self.assertIn(NO_CAPTURE, result.output, explain)
        self.assertEqual((result.status, summary.group(1), counts), (0, "PASSED", expected), explain)
