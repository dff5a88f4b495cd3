"""``ss7tools send``, ``udp-server`` / ``udp-load`` and ``rate``."""

import io
import os
import shutil
import tempfile
from argparse import Namespace

from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, serverFromString
from twisted.trial import unittest

from pyhss.sctp import unavailable_reason
from ss7tools import cli, m3ua
from ss7tools.errors import ReplayInputError
from ss7tools.replay import asp, endpoints, rate, udp
from ss7tools.replay.commands import run_rate, send_once
from ss7tools.replay.server import ReplayServer


class EndpointStringTests(unittest.TestCase):
    """The replay's endpoint strings (run over SCTP in
    tests/test_ss7_replay_sctp.py)."""

    def test_short_client_form(self):
        for short, long in [
                ("sctp:127.0.0.1:2905", "sctp:host=127.0.0.1:port=2905"),
                ("tcp:localhost:2905", "tcp:host=localhost:port=2905"),
                ("sctp:[::1]:2905", "sctp:host=\\:\\:1:port=2905"),
                ("sctp:127.0.0.1:2905:streams=17:rto_min=0.2",
                 "sctp:host=127.0.0.1:port=2905:streams=17:rto_min=0.2"),
                ("sctp:host=127.0.0.1:port=2905", "sctp:host=127.0.0.1:port=2905"),
                ("sctp:127.0.0.1:2905:17", "sctp:127.0.0.1:2905:17")]:
            self.assertEqual(endpoints.client_description(short), long)

    def test_sctp_streams_unless_given(self):
        default = endpoints.DEFAULT_SCTP_STREAMS
        for description, expected in [
                ("sctp:2905:interface=127.0.0.1", "sctp:2905:interface=127.0.0.1:streams=%d" % default),
                ("sctp:host=127.0.0.1:port=2905", "sctp:host=127.0.0.1:port=2905:streams=%d" % default),
                ("SCTP:2905:streams=17", "SCTP:2905:streams=17"),
                ("sctp:host=127.0.0.1:port=2905:streams=5:rto_min=0.2",
                 "sctp:host=127.0.0.1:port=2905:streams=5:rto_min=0.2"),
                ("tcp:2905", "tcp:2905")]:
            self.assertEqual(endpoints.with_default_streams(description), expected)


class SendTests(unittest.TestCase):

    @defer.inlineCallbacks
    def test_one_message_and_its_answers(self):
        server = ReplayServer(reactor, console=False)
        port = yield serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(server)
        self.addCleanup(port.stopListening)
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
        replies = yield send_once(reactor, endpoint, asp.aspup(), 0, 3, expect=2, wait=30)
        self.assertEqual([m3ua.decode(data).type_name for data, _s, _p in replies],
                         ["ASPUP_ACK", "NTFY"])
        self.assertEqual(server.counters.messages, 1)

    def test_refusals(self):
        stderr = io.StringIO()
        self.patch(cli.sys, "stderr", stderr)
        from ss7tools.replay import commands
        self.patch(commands.sys, "stderr", stderr)
        cases = [
            (["send", "--connect", "tcp:127.0.0.1:9", "--hex", "zz"], "not hexadecimal"),
            (["send", "--connect", "tcp:127.0.0.1:9", "--hex", "0100030100000009"],
             "over TCP a message must be one SIGTRAN message"),
            (["send", "--connect", "tcp:127.0.0.1:9", "--file", "/nonexistent/m.bin"],
             "No such file"),
        ]
        if unavailable_reason() is not None:
            cases.append((["send", "--connect", "sctp:127.0.0.1:2905", "--hex", "0100030100000008"],
                          "SCTP cannot be used on this host"))
        for argv, text in cases:
            stderr.seek(0)
            stderr.truncate()
            self.assertEqual(cli.main(argv), 2, argv)
            lines = stderr.getvalue().strip().splitlines()
            self.assertEqual(len(lines), 1, lines)
            self.assertIn(text, lines[0])


class UdpLoadTests(unittest.TestCase):
    """Generator and sink on loopback: the sink's counts per client are what
    the generator says it sent, churned clients included."""

    @defer.inlineCallbacks
    def test_counts_match_with_churn(self):
        expected_fins = defer.Deferred()
        fins = set()
        load_done = []

        def on_fin(client_id):
            fins.add(client_id)
            if load_done and len(fins) == load_done[0] and not expected_fins.called:
                expected_fins.callback(None)

        sink = udp.UdpSink(on_fin=on_fin)
        server_port = reactor.listenUDP(0, sink, interface="127.0.0.1")
        self.addCleanup(server_port.stopListening)
        udp.enlarge_receive_buffer(server_port)
        load = udp.UdpLoad(reactor, ("127.0.0.1", server_port.getHost().port), clients=8,
                           rate=50, duration=0.6, churn=4.0, seed=7)
        client_port = reactor.listenUDP(0, load, interface="127.0.0.1")
        self.addCleanup(client_port.stopListening)
        generated = yield load.run()
        load_done.append(generated["total"]["clients"])
        if len(fins) < load_done[0]:
            yield expected_fins
        received = sink.report()
        # churn replaced clients: more ids than the 8 alive at a time, all unique
        self.assertGreater(generated["total"]["clients"], 8)
        self.assertEqual(set(received["clients"]), set(generated["clients"]))
        for name, count in generated["clients"].items():
            self.assertEqual(received["clients"][name]["received"], count["sent"], name)
            self.assertEqual(received["clients"][name]["lost"], 0)
            self.assertTrue(received["clients"][name]["finished"])
        self.assertEqual(received["total"]["received"], generated["total"]["sent"])
        self.assertEqual(generated["total"]["send_errors"], 0)

    def test_sink_counts_loss_and_reordering(self):
        sink = udp.UdpSink()
        cid = b"r" * 8 + (1).to_bytes(8, "big")
        for number in (0, 2, 1, 5):
            sink.datagramReceived(udp.datagram(cid, number, 0.0), None)
        sink.datagramReceived(b"not ours", None)
        count = sink.report()["clients"][cid.hex()]
        self.assertEqual(count, {"received": 4, "lost": 2, "reordered": 1, "finished": False})
        sink.datagramReceived(udp.datagram(cid, 8, 0.0, fin=True), None)
        count = sink.report()["clients"][cid.hex()]
        self.assertEqual((count["lost"], count["finished"]), (4, True))
        self.assertEqual(sink.report()["total"]["foreign"], 1)

    def test_bad_values(self):
        self.assertRaises(ValueError, udp.UdpLoad, reactor, ("127.0.0.1", 9), 0, 1, 1)
        self.assertRaises(ValueError, udp.UdpLoad, reactor, ("127.0.0.1", 9), 1, 1, 1, churn=-1)


class RateTests(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.sys_net = os.path.join(self.dir, "net")
        self.proc = os.path.join(self.dir, "dev")
        with open(self.proc, "w") as handle:
            handle.write(
                "Inter-|   Receive                                                |  Transmit\n"
                " face |bytes    packets errs drop fifo frame compressed multicast|bytes"
                "    packets errs drop fifo colls carrier compressed\n"
                "    lo:  123456     789    0    0    0     0          0         0   654321"
                "      987    0    0    0     0       0          0\n")

    def write_sys(self, name, **values):
        statistics = os.path.join(self.sys_net, name, "statistics")
        os.makedirs(statistics, exist_ok=True)
        for field, value in values.items():
            with open(os.path.join(statistics, field), "w") as handle:
                handle.write("%d\n" % value)

    def test_sys_then_proc(self):
        self.write_sys("eth9", rx_packets=1, rx_bytes=2, tx_packets=3, tx_bytes=4)
        self.assertEqual(rate.read_counters("eth9", self.sys_net, self.proc),
                         {"rx_packets": 1, "rx_bytes": 2, "tx_packets": 3, "tx_bytes": 4})
        self.assertEqual(rate.read_counters("lo", self.sys_net, self.proc),
                         {"rx_packets": 789, "rx_bytes": 123456, "tx_packets": 987,
                          "tx_bytes": 654321})

    def test_missing_interface_is_one_line(self):
        self.write_sys("eth9", rx_packets=1, rx_bytes=2, tx_packets=3, tx_bytes=4)
        error = self.assertRaises(ReplayInputError, rate.read_counters, "wlan7", self.sys_net,
                                  self.proc)
        self.assertEqual(str(error), "no interface wlan7 here (interfaces: eth9)")
        self.assertRaises(ReplayInputError, rate.read_counters, "../etc", self.sys_net, self.proc)

    def test_meter(self):
        meter = rate.RateMeter()
        base = {"rx_packets": 100, "rx_bytes": 1000, "tx_packets": 50, "tx_bytes": 500}
        self.assertIsNone(meter.sample(10.0, base))
        rates = meter.sample(12.0, {"rx_packets": 300, "rx_bytes": 5000, "tx_packets": 50,
                                    "tx_bytes": 700})
        self.assertEqual(rates, {"rx_packets_per_s": 100.0, "rx_bytes_per_s": 2000.0,
                                 "tx_packets_per_s": 0.0, "tx_bytes_per_s": 100.0})
        # counters reset (interface re-created): counted from zero
        rates = meter.sample(13.0, {"rx_packets": 7, "rx_bytes": 70, "tx_packets": 1,
                                    "tx_bytes": 10})
        self.assertEqual(rates["rx_packets_per_s"], 7.0)

    def test_command_on_an_absolute_schedule(self):
        now = [100.0]
        slept = []

        def sleep(seconds):
            slept.append(round(seconds, 6))
            now[0] += seconds + 0.25       # each wake-up a quarter second late
        out = io.StringIO()
        args = Namespace(interface="lo", interval=1.0, count=3, json=True)
        self.assertEqual(run_rate(args, sleep=sleep, clock=lambda: now[0], out=out), 0)
        self.assertEqual(len(out.getvalue().splitlines()), 3)
        # the lateness is not carried over: the next sleep is shorter
        self.assertEqual(slept, [1.0, 0.75, 0.75])

    def test_command_refuses_missing_interface(self):
        stderr = io.StringIO()
        from ss7tools.replay import commands
        self.patch(commands.sys, "stderr", stderr)
        self.assertEqual(cli.main(["rate", "no-such-interface0"]), 2)
        self.assertIn("no interface no-such-interface0 here", stderr.getvalue())
        self.assertEqual(len(stderr.getvalue().splitlines()), 1)
