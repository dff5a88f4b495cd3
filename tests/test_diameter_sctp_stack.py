"""
pyhss over a real kernel SCTP stack: one HSS serving TCP and SCTP at
once, and Diameter clients over SCTP: CER/CEA, DWR/DWA both ways, AIR/AIA
with every vector checked as a UE would, a 60 KiB message (fragmented by
SCTP below a 1500-byte MTU), 10,000 requests over 10 streams, a peer that
aborts and one that shuts down, a multi-homed client, and the HSS dialling
an SCTP peer itself.  Failures stay contained: a malformed notification,
an association that vanishes mid-message, a peer that stops reading.

Skipped where the kernel has no SCTP; the test command runs it inside
user-mode Linux (tests/test_sctp_uml.py).
"""

from twisted.internet import defer, error, reactor
from twisted.logger import formatEvent, globalLogPublisher

from pyhss.auc.sqn import join
from pyhss.protocols import codec, transport
from pyhss.protocols.dictionary import APP_S6A, VENDOR_3GPP
from pyhss.sctp import SctpOptions, wire
from pyhss.storage.records import Subscriber
from tests import sctp_stack_helpers as stack
from tests.interop_helpers import wait_until
from tests.interop_nodes import start_node
from tests.test_s6a_air import HOME, IMSI, K, OPC, UE, air

DIAMETER = 46
TCP_PEER = "tcp-mme.stack.test"
LARGE = 61440               # 60 KiB


def provision(hss, imsi=IMSI):
    return hss.store.add_subscriber(Subscriber(imsi, K, opc=OPC, sqn=join(100, 3)))


def air_request(vectors=1, session=1):
    request = air(eutran=vectors)
    request.find("Session-Id").value = "mme.stack.test;%d" % (session,)
    return request


class LogLines(object):
    def __init__(self, testcase):
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        testcase.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def containing(self, text):
        return [line for line in map(formatEvent, self.events) if text in line]


class DiameterOverSctpTests(stack.StackTestCase):

    @defer.inlineCallbacks
    def test_tcp_and_sctp_on_one_node_capabilities_and_watchdog_both_ways(self):
        logs = LogLines(self)
        hss = stack.start_hss(self, timers={"watchdog": 0.3})
        self.assertEqual(sorted(hss.ports), ["sctp", "tcp"])
        client = yield stack.connect_client(self, "127.0.0.1", hss.sctp_port, "mme1.stack.test")
        yield transport.connect_peer(_tcp_node(self), "127.0.0.1", hss.tcp_port, reactor)
        self.assertEqual({name: hss.connection(name).transport_name
                          for name in ("mme1.stack.test", TCP_PEER)},
                         {"mme1.stack.test": "sctp", TCP_PEER: "tcp"})
        dwa, stream, ppid = yield client.request(stack.dwr("mme1.stack.test"), stream=5)
        self.assertEqual((dwa.name, dwa.get("Result-Code"), stream, ppid), ("DWA", 2001, 0, DIAMETER))
        # The HSS's own watchdog (Tw 0.3 s) probes us; we answer on stream 0.
        yield wait_until(lambda: hss.connection("mme1.stack.test").counters["dwa_received"] >= 2,
                         10, "two of the HSS's DWRs answered")
        self.assertEqual({(stream, ppid) for _, stream, ppid in client.server_requests("DWR")},
                         {(0, DIAMETER)})
        self.assertTrue(logs.containing("open on 127.0.0.1:"))
        self.assertTrue(logs.containing("over sctp"))
        self.assertTrue(logs.containing("communication up"))

    @defer.inlineCallbacks
    def test_air_vectors_checked_as_a_ue_would(self):
        hss = stack.start_hss(self)
        yield provision(hss)
        client = yield stack.connect_client(self, "127.0.0.1", hss.sctp_port, "mme.stack.test")
        aia, stream, ppid = yield client.request(air_request(vectors=3), stream=1)
        self.assertEqual((aia.get("Result-Code"), ppid), (2001, DIAMETER))
        self.assertIn(stream, range(1, 10))
        vectors = aia.find("Authentication-Info").value
        self.assertEqual(len(vectors), 3)
        ue = UE()
        for vector in vectors:
            ue.check_eutran(self, vector, HOME)

    @defer.inlineCallbacks
    def test_60_kib_message_fragmented_and_reassembled(self):
        hss = stack.start_hss(self)
        yield provision(hss)
        client = yield stack.connect_client(self, "127.0.0.1", hss.sctp_port, "mme.stack.test")
        request = air_request()
        request.append(codec.Avp(4242, value=b"\x5a" * (LARGE - len(request.encode()) - 8)))  # unknown, not M
        data = request.encode()
        self.assertEqual(len(data), LARGE)
        before = stack.snmp()
        request.hop_by_hop = request.end_to_end = client.next_id()
        answered = client.waiting[request.hop_by_hop] = defer.Deferred()
        client.transport.write_message(request.encode(), stream=2, ppid=DIAMETER)
        aia, stream, ppid = yield answered
        self.assertEqual(aia.get("Result-Code"), 2001)
        UE().check_eutran(self, aia.find("Authentication-Info").value[0], HOME)
        after = stack.snmp()
        if stack.loopback_mtu() < LARGE:
            self.assertGreater(after["SctpFragUsrMsgs"], before["SctpFragUsrMsgs"])
            self.assertGreater(after["SctpReasmUsrMsgs"], before["SctpReasmUsrMsgs"])

    @defer.inlineCallbacks
    def test_ten_thousand_requests_over_ten_streams_all_matched(self):
        hss = stack.start_hss(self)
        yield provision(hss)
        client = yield stack.connect_client(self, "127.0.0.1", hss.sctp_port, "mme.stack.test",
                                            options=SctpOptions(ppid=DIAMETER, streams=10))
        self.assertEqual(client.transport.outbound_streams, 10)
        total, window = 10000, 100
        template = air_request()
        answers = {}
        streams_out = set()
        finished = defer.Deferred()
        state = {"sent": 0}

        def send():
            index = state["sent"]
            state["sent"] += 1
            template.find("Session-Id").value = "mme.stack.test;%d" % (index,)
            stream = index % 10
            streams_out.add(stream)
            client.request(template, stream=stream).addCallback(answered, template.hop_by_hop, index)

        def answered(result, hop_by_hop, index):
            message, stream, ppid = result
            self.assertNotIn(hop_by_hop, answers)
            answers[hop_by_hop] = (message.get("Result-Code"), message.get("Session-Id"), index,
                                   stream, ppid)
            if state["sent"] < total:
                send()
            elif len(answers) == total and not finished.called:
                finished.callback(None)

        for _ in range(window):
            send()
        yield finished
        self.assertEqual(len(answers), total)
        self.assertEqual(streams_out, set(range(10)))
        self.assertEqual({code for code, _, _, _, _ in answers.values()}, {2001})
        self.assertEqual(sorted(session for _, session, _, _, _ in answers.values()),
                         sorted("mme.stack.test;%d" % (i,) for i in range(total)))
        self.assertEqual({stream for _, _, _, stream, _ in answers.values()}, set(range(1, 10)))
        self.assertEqual({ppid for _, _, _, _, ppid in answers.values()}, {DIAMETER})
        self.assertEqual(client.waiting, {})

    @defer.inlineCallbacks
    def test_peer_that_aborts(self):
        logs = LogLines(self)
        hss = stack.start_hss(self)
        steady = yield stack.connect_client(self, "127.0.0.1", hss.sctp_port, "steady.stack.test")
        abrupt = yield stack.connect_client(self, "127.0.0.1", hss.sctp_port, "abrupt.stack.test")
        served = hss.connection("abrupt.stack.test")
        closed = served.when_closed()
        before = stack.snmp()["SctpAborteds"]
        abrupt.transport.abortConnection()      # SO_LINGER 0: an ABORT chunk
        yield closed
        self.assertGreater(stack.snmp()["SctpAborteds"], before)
        self.assertIsNone(hss.node.peer("abrupt.stack.test"))
        self.assertTrue(logs.containing("peer abrupt.stack.test disconnected"), logs.containing("abrupt"))
        self.assertTrue(logs.containing("the peer aborted the association"), logs.containing("stack.test"))
        dwa, _, _ = yield steady.request(stack.dwr("steady.stack.test"))
        self.assertEqual(dwa.get("Result-Code"), 2001)

    @defer.inlineCallbacks
    def test_graceful_shutdown_both_ways(self):
        hss = stack.start_hss(self)
        leaving = yield stack.connect_client(self, "127.0.0.1", hss.sctp_port, "leaving.stack.test")
        staying = yield stack.connect_client(self, "127.0.0.1", hss.sctp_port, "staying.stack.test")
        served = hss.connection("leaving.stack.test")
        closed = served.when_closed()
        reasons = []
        served.connectionLost = _recording(served.connectionLost, reasons)
        dpa, stream, _ = yield leaving.request(stack.dpr("leaving.stack.test"))
        self.assertEqual((dpa.name, dpa.get("Result-Code"), stream), ("DPA", 2001, 0))
        leaving.transport.loseConnection()      # SHUTDOWN after the data
        yield closed
        self.assertTrue(reasons[0].check(error.ConnectionDone), reasons[0])
        # The HSS stopping: DPR on stream 0, our DPA, then the association closes cleanly.
        yield hss.service.stopService()
        reason = yield staying.lost
        self.assertEqual([(stream, ppid) for _, stream, ppid in staying.server_requests("DPR")],
                         [(0, DIAMETER)])
        self.assertIsInstance(reason, error.ConnectionDone)

    @defer.inlineCallbacks
    def test_multi_homed_client_and_server(self):
        logs = LogLines(self)
        hss = stack.start_hss(self, hss={"bind_addresses": ["127.0.0.1", "127.0.0.2"]},
                              sctp={"rto_initial": 0.2, "rto_min": 0.1})
        self.assertEqual(set(hss.ports["sctp"].getHost().addresses), {"127.0.0.1", "127.0.0.2"})
        self.assertEqual(len(hss.service.ports), 3)     # TCP on each address, SCTP on both
        yield provision(hss)
        client = yield stack.connect_client(
            self, ["127.0.0.1", "127.0.0.2"], hss.sctp_port, "mme.stack.test",
            local_addresses=["127.0.0.3", "127.0.0.4"])
        served = hss.connection("mme.stack.test")
        self.assertEqual(set(served.transport.getPeer().addresses), {"127.0.0.3", "127.0.0.4"})
        self.assertEqual(set(client.transport.getPeer().addresses), {"127.0.0.1", "127.0.0.2"})
        self.assertEqual(set(client.transport.getHost().addresses), {"127.0.0.3", "127.0.0.4"})
        aia, _, _ = yield client.request(air_request(), stream=3)
        self.assertEqual(aia.get("Result-Code"), 2001)
        # The client's second address, not used to set the association up,
        # is confirmed by a heartbeat: a peer address change, logged.
        yield wait_until(lambda: logs.containing("confirmed"), 10, "an address confirmed")
        self.assertTrue([line for line in logs.containing("confirmed")
                         if "peer address 127.0.0." in line], logs.containing("peer address"))

    @defer.inlineCallbacks
    def test_hss_dials_an_sctp_peer_and_redials(self):
        mme = yield start_node(self, "mme.dial.test", "dial.test", transport="sctp",
                               handlers={317: lambda request, peer: _answer(mme, request)})
        hss = stack.start_hss(self, hss={"connect_peers": [
            {"origin_host": "mme.dial.test", "addresses": ["127.0.0.1"], "port": mme.port,
             "transport": "sctp", "local_addresses": ["127.0.0.5", "127.0.0.6"]}]},
            timers={"reconnect_min": 0.05, "reconnect_max": 0.2})
        first = yield wait_until(lambda: hss.node.peer("mme.dial.test"), 10, "the HSS to dial the MME")
        self.assertEqual((first.connection.role, first.connection.transport_name), ("initiator", "sctp"))
        self.assertEqual(set(first.connection.transport.getHost().addresses), {"127.0.0.5", "127.0.0.6"})
        clr = codec.Message.request(APP_S6A, 317, [
            ("Session-Id", "hss;clr;1"), ("Auth-Session-State", 1), ("Origin-Host", stack.HSS_HOST),
            ("Origin-Realm", stack.HSS_REALM), ("Destination-Host", "mme.dial.test"),
            ("Destination-Realm", "dial.test"), ("User-Name", IMSI), ("Cancellation-Type", 0)])
        answer = yield hss.node.send_request("mme.dial.test", clr)
        self.assertEqual(answer.get("Result-Code"), 2001)
        mme.peer(stack.HSS_HOST).connection.abort()
        second = yield wait_until(
            lambda: hss.node.peer("mme.dial.test") not in (None, first) and hss.node.peer("mme.dial.test"),
            10, "the HSS to dial again")
        self.assertEqual(second.connection.transport_name, "sctp")


class ContainmentTests(stack.StackTestCase):
    """Trouble on one association never reaches the others."""

    @defer.inlineCallbacks
    def test_malformed_notification(self):
        logs = LogLines(self)
        hss = stack.start_hss(self)
        other = yield stack.connect_client(self, "127.0.0.1", hss.sctp_port, "other.stack.test")
        client = yield stack.connect_client(self, "127.0.0.1", hss.sctp_port, "mme.stack.test")
        served = hss.connection("mme.stack.test").transport
        # The kernel never writes these: they are slipped in before the
        # next real read of the HSS's socket.
        _inject(served, [wire.notification_bytes(wire.AssociationChange.TYPE, 0, b"\x00\x01"),
                         b"\x01\x80\x00\x00\xff\xff\x00\x00",
                         wire.notification_bytes(0x8A00, 0, b"unknown")])
        dwa, _, _ = yield client.request(stack.dwr("mme.stack.test"))
        self.assertEqual(dwa.get("Result-Code"), 2001)
        self.assertEqual(len(logs.containing("ignoring a malformed SCTP notification")), 2)
        dwa, _, _ = yield other.request(stack.dwr("other.stack.test"))
        self.assertEqual(dwa.get("Result-Code"), 2001)

    @defer.inlineCallbacks
    def test_association_vanishing_mid_message(self):
        hss = stack.start_hss(self)
        yield provision(hss)
        other = yield stack.connect_client(self, "127.0.0.1", hss.sctp_port, "other.stack.test")
        client = yield stack.connect_client(self, "127.0.0.1", hss.sctp_port, "mme.stack.test")
        served = hss.connection("mme.stack.test")
        closed = served.when_closed()
        request = air_request()
        request.append(codec.Avp(4242, value=b"\x5a" * 40000))
        data = request.encode()
        client.transport.write_message(data[:20000], stream=1, ppid=DIAMETER)   # the first part only
        yield wait_until(lambda: served.framer.buffered == 20000, 10, "the first part to arrive")
        client.transport.abortConnection()
        yield closed
        self.assertEqual(served.framer.buffered, 0)
        aia, _, _ = yield other.request(air_request(), stream=4)
        self.assertEqual(aia.get("Result-Code"), 2001)

    @defer.inlineCallbacks
    def test_peer_that_stops_reading(self):
        logs = LogLines(self)
        hss = stack.start_hss(self, limits={"write_stall_timeout": 1.0, "max_write_buffer": 65536})
        yield provision(hss)
        other = yield stack.connect_client(self, "127.0.0.1", hss.sctp_port, "other.stack.test")
        stuck = yield stack.connect_client(self, "127.0.0.1", hss.sctp_port, "stuck.stack.test",
                                           options=SctpOptions(ppid=DIAMETER, receive_buffer=4096))
        served = hss.connection("stuck.stack.test")
        closed = served.when_closed()
        stuck.transport.pauseProducing()        # reads nothing more
        for index in range(400):                 # answers of about 5 KB each
            stuck.request(air_request(vectors=32, session=index), stream=1 + index % 9).addErrback(
                lambda reason: None)
        yield wait_until(lambda: not served.reading, 10, "the HSS to stop reading the stuck peer")
        queued = served.transport.queued_bytes
        self.assertGreater(queued, 0)
        # Meanwhile the other association is served at once.
        for attempt in range(3):
            aia, _, _ = yield other.request(air_request(vectors=2, session=1000 + attempt))
            self.assertEqual(aia.get("Result-Code"), 2001)
        # Bounded as over TCP: max_write_buffer, and the answers to the
        # last read (at most max_write_buffer bytes of requests).
        requests = 65536 // len(air_request(vectors=32).encode()) + 2
        self.assertLess(queued, 65536 + requests * 6000)
        yield closed                                    # dropped after write_stall_timeout
        self.assertTrue(logs.containing("dropping stuck.stack.test"))
        aia, _, _ = yield other.request(air_request(session=2000))
        self.assertEqual(aia.get("Result-Code"), 2001)


def _inject(connection, notifications):
    """Have C{connection}'s next read return C{notifications} (bytes, as
    the kernel would flag them) before what its socket holds."""
    real = connection._read_some

    def read_some():
        del connection._read_some
        flags = wire.MSG_NOTIFICATION | wire.MSG_EOR
        return [(data, [], flags) for data in notifications] + real()
    connection._read_some = read_some


def _recording(method, reasons):
    def connectionLost(reason):
        reasons.append(reason)
        return method(reason)
    return connectionLost


def _answer(running, request):
    return running.node.answer(request, 2001).add("Auth-Session-State", 1)


def _tcp_node(testcase):
    from pyhss.node import DiameterNode
    node = DiameterNode(TCP_PEER, stack.REALM, reactor, watchdog_jitter=0)
    node.register_application(APP_S6A, VENDOR_3GPP)
    testcase.addCleanup(node.stop)
    return node
