"""Unit tests of ss7tools.replay's sans-IO parts: the SIGTRAN framer, the
M3UA ASP state machine (message bytes from RFC 4666's formats), the
schedule on a task.Clock, and one job's ASP start-up and ending driven
through a StringTransport."""

import os
import shutil
import struct
import tempfile

from twisted.internet import defer, reactor, task
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial import unittest

from ss7tools import m3ua
from ss7tools.capture import iter_messages
from ss7tools.errors import FramingError
from ss7tools.replay import asp
from ss7tools.replay.client import (JobProtocol, ReplayJob, ReplaySettings, needs_asp_startup,
                                    routing_contexts)
from ss7tools.replay.record import Recorder
from ss7tools.replay.server import ReplayServer
from ss7tools.replay.framing import (MAX_MESSAGE_SIZE, CommonHeaderFramer, SigtranProtocol,
                                     implied_ppid, is_framable)
from ss7tools.replay.schedule import Pacer, SendErrors, Timeline, percentile
from ss7tools.replay.source import ReplayInput, ReplayMessage
from ss7tools.replay.timerfd import precise_waker


def message(msg_class, msg_type, body=b""):
    return struct.pack("!BBBBI", 1, 0, msg_class, msg_type, 8 + len(body)) + body


def param(tag, value):
    return struct.pack("!HH", tag, 4 + len(value)) + value + b"\0" * (-len(value) % 4)


def u32(value):
    return struct.pack("!I", value)


def data_message(rc=None, sls=0):
    body = param(0x0006, u32(rc)) if rc is not None else b""
    body += param(0x0210, struct.pack("!IIBBBB", 100, 200, 3, 2, 0, sls) + b"\x09\x00\x03")
    return message(1, 1, body)


ASPUP = message(3, 1)
ASPUP_ACK = message(3, 4)
ASPDN = message(3, 2)
ASPDN_ACK = message(3, 5)


class FramerTests(unittest.TestCase):

    def test_messages_cut_from_any_split_of_the_stream(self):
        messages = [ASPUP, data_message(7), message(3, 3, param(9, b"hello")), ASPDN]
        stream = b"".join(messages)
        for size in (1, 3, 8, 13, len(stream)):
            framer = CommonHeaderFramer()
            got = []
            for start in range(0, len(stream), size):
                got.extend(framer.feed(stream[start:start + size]))
            self.assertEqual(got, messages)
            self.assertEqual(framer.pending, 0)

    def test_partial_message_waits(self):
        framer = CommonHeaderFramer()
        whole = data_message()
        self.assertEqual(framer.feed(whole[:-1]), [])
        self.assertEqual(framer.pending, len(whole) - 1)
        self.assertEqual(framer.feed(whole[-1:]), [whole])

    def test_bad_headers(self):
        for bad, text in ((b"\x02\x00\x03\x01\x00\x00\x00\x08", "version 2"),
                          (b"\x01\x00\x03\x01\x00\x00\x00\x04", "below"),
                          (b"\x01\x00\x03\x01" + u32(MAX_MESSAGE_SIZE + 1), "above")):
            framer = CommonHeaderFramer()
            error = self.assertRaises(FramingError, framer.feed, ASPUP + bad)
            self.assertIn(text, str(error))

    def test_framable_and_implied_ppid(self):
        self.assertTrue(is_framable(ASPUP))
        self.assertFalse(is_framable(ASPUP + b"\0"))
        self.assertFalse(is_framable(b"\x02" + ASPUP[1:]))
        self.assertEqual(implied_ppid(ASPUP), 3)
        m2pa = struct.pack("!BBBBI", 1, 0, 11, 1, 17) + b"\0" * 9
        self.assertEqual(implied_ppid(m2pa), 5)


class Recording(SigtranProtocol):
    def __init__(self):
        self.received = []
        self.failed = []

    def message_received(self, data, stream, ppid):
        self.received.append((data, stream, ppid))


class MessageTransport(StringTransport):
    """A transport that keeps boundaries, as the SCTP transport's contract says."""

    def __init__(self):
        StringTransport.__init__(self)
        self.messages = []

    def write_message(self, data, stream=None, ppid=None):
        self.messages.append((data, stream, ppid))


class SigtranProtocolTests(unittest.TestCase):

    def test_tcp_frames_and_sends_bytes(self):
        protocol = Recording()
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(ASPUP + ASPDN[:5])
        protocol.dataReceived(ASPDN[5:])
        self.assertEqual(protocol.received, [(ASPUP, None, None), (ASPDN, None, None)])
        protocol.send_message(ASPUP_ACK, 0, 3)
        self.assertEqual(transport.value(), ASPUP_ACK)
        self.assertEqual(protocol.transport_name, "tcp")

    def test_garbage_aborts(self):
        protocol = Recording()
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(b"GET / HTTP/1.1\r\n\r\n")
        self.assertTrue(transport.disconnecting)
        self.assertEqual(protocol.received, [])

    def test_message_transport_keeps_stream_and_ppid(self):
        protocol = Recording()
        transport = MessageTransport()
        protocol.makeConnection(transport)
        protocol.message_received(ASPUP, 0, 3)
        protocol.send_message(data_message(), 5, 3)
        self.assertEqual(transport.messages, [(data_message(), 5, 3)])
        self.assertEqual(transport.value(), b"")
        self.assertEqual(protocol.transport_name, "sctp")


def decoded(data):
    return m3ua.decode(data)


class SgpMachineTests(unittest.TestCase):
    """Answers as RFC 4666 4.3.4 wants; bytes per its section 3 formats."""

    def receive(self, machine, data, stream=None):
        replies, note = machine.receive(data, stream)
        return [reply.data for reply in replies], note

    def test_aspup_acknowledged_then_notify_as_inactive(self):
        machine = asp.SgpMachine()
        replies, note = self.receive(machine, message(3, 1, param(0x11, u32(42))))
        self.assertIsNone(note)
        # ASP Up Ack (class 3, type 4), then NTFY: Status type 1
        # (AS-State_Change) info 2 (AS-INACTIVE) with the ASP Identifier
        self.assertEqual(replies, [
            bytes.fromhex("0100030400000008"),
            bytes.fromhex("0100000100000018" "000d0008" "00010002" "00110008" "0000002a")])
        self.assertEqual(machine.state, asp.INACTIVE)
        self.assertEqual(machine.asp_identifier, 42)

    def test_aspac_echoes_mode_and_contexts_then_notify_as_active(self):
        machine = asp.SgpMachine()
        self.receive(machine, ASPUP)
        contexts = param(0x0006, u32(7) + u32(9))
        replies, _ = self.receive(machine, message(4, 1, param(0x000B, u32(2)) + contexts))
        self.assertEqual(replies[0], message(4, 3, param(0x000B, u32(2)) + contexts))
        self.assertEqual(replies[1], message(0, 1, param(0x000D, struct.pack("!HH", 1, 3))
                                             + contexts))
        self.assertEqual(machine.state, asp.ACTIVE)
        self.assertEqual(machine.routing_contexts, (7, 9))
        # DATA now flows without an answer
        self.assertEqual(self.receive(machine, data_message(7)), ([], None))

    def test_err_bytes(self):
        machine = asp.SgpMachine()
        replies, note = self.receive(machine, message(4, 1))     # ASPAC while ASP-DOWN
        self.assertEqual(replies, [message(0, 0, param(0x000C, u32(0x06))
                                           + param(0x0007, message(4, 1)))])
        self.assertEqual(note, "ASPAC in ASP-DOWN")
        self.assertEqual(machine.state, asp.DOWN)

    def err_code(self, data):
        msg = decoded(data)
        self.assertEqual((msg.class_name, msg.type_name), ("MGMT", "ERR"))
        return asp.describe_err(msg)

    def test_transition_table(self):
        names = {"ASPUP": ASPUP, "ASPDN": ASPDN, "ASPAC": message(4, 1), "ASPIA": message(4, 2),
                 "DATA": data_message()}
        for (state, name), (actions, following) in asp.TRANSITIONS.items():
            machine = asp.SgpMachine()
            machine.state = state
            replies, _ = machine.receive(names[name])
            self.assertEqual(machine.state, following, (state, name))
            self.assertEqual(len(replies), len(actions), (state, name))
            for reply, action in zip(replies, actions):
                if action == "ack":
                    msg = decoded(reply.data)
                    self.assertEqual(msg.type_name, name + "_ACK")
                elif action.startswith("err:"):
                    self.assertEqual(self.err_code(reply.data), action[4:])
                else:
                    msg = decoded(reply.data)
                    self.assertEqual(msg.type_name, "NTFY")
                    status = asp.parameter(msg, 0x000D)
                    self.assertEqual(status, struct.pack(
                        "!HH", 1, 3 if action == "ntfy_active" else 2))
                self.assertEqual(reply.stream, 0)

    def test_aspup_while_active(self):
        machine = asp.SgpMachine()
        for data in (ASPUP, message(4, 1)):
            self.receive(machine, data)
        replies, note = self.receive(machine, ASPUP)
        self.assertEqual(self.err_code(replies[0]), "unexpected_message")
        self.assertEqual(replies[1], ASPUP_ACK)
        self.assertEqual(machine.state, asp.INACTIVE)

    def test_beat_echoes_heartbeat_data_in_any_state(self):
        for state in (asp.DOWN, asp.INACTIVE, asp.ACTIVE):
            machine = asp.SgpMachine()
            machine.state = state
            replies, _ = self.receive(machine, message(3, 3, param(0x0009, b"abcde")))
            self.assertEqual(replies, [message(3, 6, param(0x0009, b"abcde"))])
            self.assertEqual(machine.state, state)

    def test_refusals(self):
        cases = [
            (b"\x02" + ASPUP[1:], None, "invalid_version"),
            (message(7, 1), None, "unsupported_message_class"),      # SUA CLDT
            (message(3, 9), None, "unsupported_message_type"),
            (message(9, 1), None, "unsupported_message_class"),      # REG REQ: no RKM
            (ASPUP, 3, "invalid_stream_identifier"),
            (message(3, 4), None, "unexpected_message"),             # an ASP Up Ack to the SGP
            (message(2, 1, param(0x0012, u32(5))), None, "unexpected_message"),   # DUNA
            (ASPUP[:4] + u32(12) + b"\x00\x11\x00\x09", None, "parameter_field_error"),
        ]
        for data, stream, code in cases:
            machine = asp.SgpMachine()
            replies, note = self.receive(machine, data, stream)
            self.assertEqual([self.err_code(r) for r in replies], [code], data.hex())
            self.assertIsNotNone(note)
            self.assertEqual(machine.state, asp.DOWN)

    def test_unsupported_traffic_mode(self):
        machine = asp.SgpMachine()
        self.receive(machine, ASPUP)
        replies, _ = self.receive(machine, message(4, 1, param(0x000B, u32(5))))
        self.assertEqual(self.err_code(replies[0]), "unsupported_traffic_mode_type")
        self.assertEqual(machine.state, asp.INACTIVE)

    def test_daud_answered_with_dava(self):
        machine = asp.SgpMachine()
        body = param(0x0006, u32(3)) + param(0x0012, u32(1234))
        replies, _ = self.receive(machine, message(2, 3, body))
        self.assertEqual(replies, [message(2, 2, body)])

    def test_notes_errors_and_notify_without_answer(self):
        machine = asp.SgpMachine()
        self.assertEqual(self.receive(machine, asp.err("protocol_error")), ([], None))
        self.assertEqual(self.receive(machine, asp.ntfy(asp.AS_ACTIVE)), ([], None))


class TimelineTests(unittest.TestCase):

    def test_offsets_speed_gap_loop_rate(self):
        stamps = [100.0, 100.5, 101.0, 110.0]
        self.assertEqual(list(Timeline.from_stamps(stamps).offsets), [0.0, 0.5, 1.0, 10.0])
        self.assertEqual(list(Timeline.from_stamps(stamps, speed=2).offsets),
                         [0.0, 0.25, 0.5, 5.0])
        self.assertEqual(list(Timeline.from_stamps(stamps, max_gap=1.0).offsets),
                         [0.0, 0.5, 1.0, 2.0])
        looped = Timeline.from_stamps([0.0, 1.0, 2.0], loops=3)
        # each repetition one average gap (1 s) after the previous one's last
        self.assertEqual(list(looped.offsets), [0, 1, 2, 3, 4, 5, 6, 7, 8])
        self.assertEqual([looped.index(k) for k in range(9)], [0, 1, 2] * 3)
        capped = Timeline.from_stamps([0.0, 0.0, 0.0, 5.0], max_rate=10)
        self.assertEqual(list(capped.offsets), [0.0, 0.1, 0.2, 5.0])
        # a burst late in the capture is spread too
        burst = Timeline.from_stamps([0.0, 10.0, 10.0, 10.0], max_rate=10)
        self.assertEqual([round(o, 9) for o in burst.offsets], [0.0, 10.0, 10.1, 10.2])

    def test_bad_values(self):
        self.assertRaises(ValueError, Timeline.from_stamps, [0.0], speed=0)
        self.assertRaises(ValueError, Timeline.from_stamps, [0.0], loops=0)

    def test_percentile_nearest_rank(self):
        values = list(range(1, 101))
        self.assertEqual(percentile(values, 50), 50)
        self.assertEqual(percentile(values, 99), 99)
        self.assertEqual(percentile([7], 99), 7)
        self.assertIsNone(percentile([], 50))


class Sink:
    """A protocol stand-in that records what a job sends and when."""

    def __init__(self, clock, keeps_boundaries=False):
        self.clock = clock
        self.sent = []
        self.keeps_boundaries = keeps_boundaries
        self.transport = StringTransport()

    def send_message(self, data, stream, ppid):
        self.sent.append((self.clock.seconds(), data, stream, ppid))


def job_for(messages, clock, pacer=None, **settings):
    settings.setdefault("asp_mode", "off")
    return ReplayJob(ReplayInput("test", messages), ReplaySettings(**settings), clock,
                     pacer or Pacer(clock), b"t1")


class ScheduleTests(unittest.TestCase):
    """The schedule on a task.Clock: absolute instants, late messages."""

    COUNT = 100000

    def m2pa_messages(self, stamps):
        payload = struct.pack("!BBBBI", 1, 0, 11, 1, 20) + b"\0" * 12
        return [ReplayMessage(stamp, payload, 1, 5) for stamp in stamps]

    def test_no_drift_over_100000_messages(self):
        # gaps of 1 ms with jitter; the clock wakes in steps of 0.7 ms, never
        # on an instant: each message goes out at the first wake-up after
        # its instant, however many came before it
        start = 1700000000.0
        stamps = [start + k * 0.001 + (k % 7) * 0.00001 for k in range(self.COUNT)]
        clock = task.Clock()
        clock.advance(50.0)
        job = job_for(self.m2pa_messages(stamps), clock)
        sink = Sink(clock)
        job.connected(sink)
        origin = clock.seconds()
        step = 0.0007
        while len(sink.sent) < self.COUNT:
            clock.advance(step)
        self.assertEqual(job.sent, self.COUNT)
        offsets = job.timeline.offsets
        worst = 0.0
        for k, (when, _data, stream, ppid) in enumerate(sink.sent):
            due = origin + offsets[k]
            error = when - due
            self.assertGreaterEqual(error, -1e-9)
            worst = max(worst, error)
        self.assertLess(worst, step + 1e-6)
        # the last message left within one wake-up of its original instant
        self.assertLessEqual(abs(sink.sent[-1][0] - origin - (stamps[-1] - stamps[0])), step)
        summary = job.errors.summary()
        self.assertEqual(summary["late"], 0)
        self.assertLessEqual(summary["max_ms"], step * 1000 + 0.001)
        self.assertEqual((sink.sent[0][2], sink.sent[0][3]), (1, 5))
        # the end: M2PA only, so no BEAT; the connection is closed
        self.assertTrue(sink.transport.disconnecting)

    def test_late_messages_sent_at_once_and_counted(self):
        stamps = [k * 0.01 for k in range(200)]           # 10 ms apart, 2 s
        clock = task.Clock()
        job = job_for(self.m2pa_messages(stamps), clock, late_after=0.005)
        sink = Sink(clock)
        job.connected(sink)
        clock.advance(0.5)         # the reactor was busy for 0.5 s: 51 are due
        self.assertEqual(len(sink.sent), 51)
        self.assertEqual({when for when, *_ in sink.sent}, {0.5})
        # late: those due more than 5 ms before 0.5 s (0.00 .. 0.49)
        self.assertEqual(job.errors.late, 50)
        while len(sink.sent) < 200:
            clock.advance(0.001)
        # no drift: after the stall every message is on its instant again
        for k in range(60, 200):
            self.assertLessEqual(abs(sink.sent[k][0] - stamps[k]), 0.0011)
        self.assertEqual(job.errors.late, 50)

    def test_one_timer_for_many_senders(self):
        clock = task.Clock()
        pacer = Pacer(clock)
        sinks = []
        for n in range(50):
            job = job_for(self.m2pa_messages([k * 0.002 + n * 0.0001 for k in range(100)]),
                          clock, pacer)
            sink = Sink(clock)
            job.connected(sink)
            sinks.append(sink)
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        while any(len(s.sent) < 100 for s in sinks):
            clock.advance(0.0005)
            self.assertLessEqual(len(clock.getDelayedCalls()), 1)
        self.assertEqual(pacer.waiting, 0)

    def test_send_errors_merge(self):
        a, b = SendErrors(late_after=0.002), SendErrors(late_after=0.002)
        for value in (0.001, 0.003):
            a.add(value)
        b.add(0.0005)
        a.merge(b)
        self.assertEqual((a.count, a.late), (3, 1))
        self.assertEqual(a.summary()["max_ms"], 3.0)


class JobAspTests(unittest.TestCase):
    """One job's ASP start-up, replay and ending through a StringTransport."""

    def setUp(self):
        self.clock = task.Clock()
        self.messages = [ReplayMessage(0.0, data_message(7), 3, 3),
                         ReplayMessage(0.1, data_message(7, sls=1), 4, 3)]
        self.job = job_for(self.messages, self.clock, asp_mode="auto", ack_timeout=2.0)
        self.protocol = JobProtocol(self.job)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)
        self.framer = CommonHeaderFramer()

    def sent(self):
        data = self.transport.value()
        self.transport.clear()
        return [decoded(m) for m in self.framer.feed(data)]

    def test_startup_replay_and_ending(self):
        self.assertTrue(self.job.asp_startup)
        self.assertEqual([m.type_name for m in self.sent()], ["ASPUP"])
        self.protocol.dataReceived(ASPUP_ACK + asp.ntfy(asp.AS_INACTIVE))
        aspac = self.sent()
        self.assertEqual([m.type_name for m in aspac], ["ASPAC"])
        self.assertEqual(asp.parameter(aspac[0], 0x0006), u32(7))
        self.assertEqual(asp.parameter(aspac[0], 0x000B), u32(2))
        self.protocol.dataReceived(message(4, 3))
        self.clock.advance(0)
        self.assertEqual([m.type_name for m in self.sent()], ["DATA"])
        self.clock.advance(0.1)
        beat = self.sent()
        self.assertEqual([m.type_name for m in beat], ["DATA", "BEAT"])
        # a BEAT_ACK that echoes something else is not the acknowledgement
        self.protocol.dataReceived(message(3, 6, param(9, b"other")))
        self.assertEqual(self.sent(), [])
        self.protocol.dataReceived(message(3, 6, param(9, asp.parameter(beat[1], 9))))
        self.assertEqual([m.type_name for m in self.sent()], ["ASPIA"])
        self.protocol.dataReceived(message(4, 4))
        self.assertEqual([m.type_name for m in self.sent()], ["ASPDN"])
        self.protocol.dataReceived(ASPDN_ACK)
        self.assertTrue(self.transport.disconnecting)
        self.protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.job.state, "done")
        report = self.job.report()
        self.assertEqual((report["status"], report["sent"], report["late"]), ("ok", 2, 0))

    def test_refused_startup_fails_the_job(self):
        self.sent()
        self.protocol.dataReceived(ASPUP_ACK)
        self.protocol.dataReceived(asp.err("invalid_routing_context"))
        self.assertEqual(self.job.failure, "the server refused ASPAC: invalid_routing_context")
        self.assertTrue(self.transport.disconnecting)

    def test_missing_ack_times_out(self):
        self.clock.advance(2.0)
        self.assertEqual(self.job.failure, "no ASPUP_ACK within 2 s")

    def test_asp_mode_and_contexts(self):
        self.assertEqual(routing_contexts(self.messages), (7,))
        own = [ReplayMessage(0.0, ASPUP, 0, 3)] + self.messages
        self.assertFalse(needs_asp_startup(own, "auto"))
        self.assertTrue(needs_asp_startup(own, "on"))
        self.assertFalse(needs_asp_startup(self.messages, "off"))


class TimerFdTests(unittest.TestCase):
    """The pacer's precise timer on the real reactor."""

    def test_wakes_at_the_instant_and_is_given_back(self):
        woke = defer.Deferred()
        waker = precise_waker(reactor, lambda: woke.callback(reactor.seconds()))
        if waker is None:
            raise unittest.SkipTest("no timerfd on this system (not Linux)")
        self.addCleanup(waker.close)
        instant = reactor.seconds() + 0.01
        waker.arm(instant)

        def check(when):
            self.assertGreaterEqual(when, instant)
            waker.close()
            self.assertNotIn(waker, reactor.getReaders())
        return woke.addCallback(check)

    def test_pacer_on_a_clock_keeps_call_later(self):
        clock = task.Clock()
        pacer = Pacer(clock)
        self.assertIsNone(pacer._waker)
        pacer.close()


class StreamLimitTests(unittest.TestCase):

    def test_streams_beyond_the_negotiated_ones_wrap_and_are_counted(self):
        clock = task.Clock()
        payload = struct.pack("!BBBBI", 1, 0, 11, 1, 20) + b"\0" * 12
        messages = [ReplayMessage(0.0, payload, stream, 5) for stream in (1, 3, 9)]
        job = job_for(messages, clock)
        protocol = JobProtocol(job)
        transport = MessageTransport()
        transport.outbound_streams = 4
        protocol.makeConnection(transport)
        clock.advance(0)
        self.assertEqual([(stream, ppid) for _data, stream, ppid in transport.messages],
                         [(1, 5), (3, 5), (1, 5)])
        self.assertEqual(job.report()["restreamed"], 1)


class ServerOverMessageTransportTests(unittest.TestCase):
    """The server's association over a transport that keeps boundaries, as
    the SCTP transport's contract says (write_message, message_received
    with stream and PPID): what the UML runs will exercise for real."""

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.record = os.path.join(self.dir, "r.pcap")
        self.clock = task.Clock()
        self.clock.advance(1700000000.0)
        self.server = ReplayServer(self.clock, recorder=Recorder(self.record), console=False)
        self.protocol = self.server.buildProtocol(None)
        self.transport = MessageTransport()
        self.transport.outbound_streams = self.transport.inbound_streams = 17
        self.protocol.makeConnection(self.transport)

    def test_streams_and_ppids_kept_and_bad_messages_answered(self):
        protocol = self.protocol
        protocol.message_received(ASPUP, 0, 3)
        protocol.message_received(message(4, 1), 0, 3)
        protocol.message_received(data_message(7), 5, 3)
        protocol.message_received(b"\x07garbage", 2, 3)        # stands alone over SCTP
        protocol.message_received(ASPDN, 3, 3)                  # management off stream 0
        m2pa = struct.pack("!BBBBI", 1, 0, 11, 1, 20) + b"\0" * 12
        protocol.message_received(m2pa, 1, 5)
        answers = [(decoded(data).type_name, stream, ppid)
                   for data, stream, ppid in self.transport.messages]
        self.assertEqual(answers, [("ASPUP_ACK", 0, 3), ("NTFY", 0, 3), ("ASPAC_ACK", 0, 3),
                                   ("NTFY", 0, 3), ("ERR", 0, 3), ("ERR", 0, 3)])
        self.assertEqual(asp.describe_err(decoded(self.transport.messages[4][0])),
                         "invalid_version")
        self.assertEqual(asp.describe_err(decoded(self.transport.messages[5][0])),
                         "invalid_stream_identifier")
        self.assertFalse(self.transport.disconnecting)
        self.assertEqual(self.protocol.machine.state, asp.ACTIVE)
        self.server.stop()
        recorded = [(m.stream, m.ppid, bytes(m.payload)) for m in iter_messages(self.record)]
        self.assertEqual(recorded, [(0, 3, ASPUP), (0, 3, message(4, 1)), (5, 3, data_message(7)),
                                    (2, 3, b"\x07garbage"), (3, 3, ASPDN), (1, 5, m2pa)])
