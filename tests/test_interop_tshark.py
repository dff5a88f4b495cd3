"""
tshark decodes every message pyhss sends without malformed-packet or expert
warnings, and names each command and AVP the way we meant.

The bytes come from a real exchange with a node listening on 127.0.0.1 (and
from messages built from every dictionary entry); they are written into a
pcap with synthetic Ethernet/IPv4/TCP framing on port 3868 and dissected
with C{tshark -r}.  A live capture on the loopback interface is checked the
same way where capturing is permitted.
"""

import os
import struct

from twisted.internet import defer, protocol, task
from twisted.trial import unittest

from tests import interop_helpers as helpers

# Expert severities as tshark prints them (epan/proto.h PI_*).
SEVERITY_WARNING = 0x00600000

SKIP_NO_TSHARK = (
    None if helpers.TSHARK else
    "tshark is not installed (apt-get install tshark; the test command"
    " installs it)")


# RFC 6733 7.5: for a missing AVP, Failed-AVP carries the AVP with "a
# zero-filled payload of the minimum required length" -- zero octets for an
# OctetString or UTF8String.  Wireshark flags such empty payloads as "Data
# is empty" (Undecoded); that one warning is expected in 5005 answers only.
EMPTY_PAYLOAD_WARNING = "Data is empty"
DIAMETER_MISSING_AVP = "5005"


def problems(frames):
    """
    Human-readable list of every malformed frame and every expert item at
    warning severity or above; empty when tshark is happy.
    """
    found = []
    for frame in frames:
        missing_avp_answer = (
            DIAMETER_MISSING_AVP in frame["diameter.Result-Code"])
        number = frame["frame.number"][0] if frame["frame.number"] else "?"
        if frame["_ws.malformed"]:
            found.append("frame %s: malformed (%s)" % (
                number, "; ".join(frame["_ws.expert.message"])))
        severities = frame["_ws.expert.severity"]
        messages = frame["_ws.expert.message"]
        for index, severity in enumerate(severities):
            if int(severity, 0) >= SEVERITY_WARNING:
                message = messages[index] if index < len(messages) else "?"
                if missing_avp_answer and message == EMPTY_PAYLOAD_WARNING:
                    continue
                found.append("frame %s: expert %s: %s" % (
                    number, severity, message))
    return found


def diameter_frames(frames):
    return [frame for frame in frames if frame["diameter.cmd.code"]]


def _avp(code, data, flags=0x40):
    length = 8 + len(data)
    return (struct.pack("!II", code, (flags << 24) | length) + data
            + b"\0" * (-length % 4))


def _message(flags, command, hop_by_hop, avps):
    body = b"".join(avps)
    return struct.pack("!IIIII", (1 << 24) | (20 + len(body)),
                       (flags << 24) | command, 0, hop_by_hop,
                       hop_by_hop) + body


_IDENTITY = [_avp(264, b"peer.example.org"), _avp(296, b"example.org")]


class PcapWriterTests(unittest.TestCase):
    """
    The synthetic capture itself is clean (checksums, sequence numbers), and
    the checks do catch a malformed message: without this the other tests
    could pass vacuously.
    """

    skip = SKIP_NO_TSHARK

    def _dissect(self, transcript):
        path = self.mktemp() + ".pcap"
        packets = helpers.write_transcript_pcap(path, transcript)
        frames = helpers.tshark_fields(path)
        self.assertEqual(len(frames), packets)
        return frames

    def test_clean_exchange(self):
        frames = self._dissect([
            ("client", _message(0x80, 280, 1, _IDENTITY)),
            ("server", _message(0x00, 280, 1,
                                [_avp(268, struct.pack("!I", 2001))]
                                + _IDENTITY)),
        ])
        self.assertEqual(problems(frames), [])
        diameter = diameter_frames(frames)
        self.assertEqual(
            [(f["diameter.cmd.code"], f["diameter.flags.request"])
             for f in diameter],
            [(["280"], ["1"]), (["280"], ["0"])])
        self.assertEqual(diameter[1]["diameter.Result-Code"], ["2001"])
        self.assertEqual(diameter[1]["diameter.avp.code"],
                         ["268", "264", "296"])

    def test_malformed_avp_is_reported(self):
        broken = _message(0x00, 280, 2, [_avp(268, b"\x07")] + _IDENTITY)
        found = problems(self._dissect([("server", broken)]))
        self.assertTrue(found)
        self.assertIn("malformed", " ".join(found))

    def test_unknown_avp_is_reported(self):
        odd = _message(0x00, 280, 3, [_avp(268, struct.pack("!I", 2001)),
                                      _avp(65000, b"????")] + _IDENTITY)
        found = problems(self._dissect([("server", odd)]))
        self.assertTrue([p for p in found if "Unknown AVP" in p], found)

    def test_two_messages_in_one_transcript_entry_are_split(self):
        one = _message(0x80, 280, 4, _IDENTITY)
        messages, rest = helpers.split_diameter_messages(one + one + one[:7])
        self.assertEqual(messages, [one, one])
        self.assertEqual(rest, one[:7])


# --- messages our node produces -----------------------------------------------

REALM = "interop.test"
NODE_HOST = "hss.interop.test"
CLIENT_HOST = "mme.interop.test"


def expected_avp_codes(avps):
    """AVP codes depth first, the order tshark lists diameter.avp.code."""
    codes = []
    for avp in avps:
        codes.append(str(avp.code))
        if isinstance(avp.value, list):
            codes.extend(expected_avp_codes(avp.value))
    return codes


def _flatten(frames, from_server, server_port):
    """One direction's Diameter fields, concatenated in frame order (a frame
    may carry several messages, a message may span frames)."""
    seen = {"cmd": [], "request": [], "error": [], "application": [],
            "avps": []}
    for frame in diameter_frames(frames):
        if (frame["tcp.srcport"] == [str(server_port)]) != from_server:
            continue
        seen["cmd"] += frame["diameter.cmd.code"]
        seen["request"] += frame["diameter.flags.request"]
        seen["error"] += frame["diameter.flags.error"]
        seen["application"] += frame["diameter.applicationId"]
        seen["avps"] += frame["diameter.avp.code"]
    return seen


def _meant(transcript, side):
    from pyhss.protocols.codec import decode_message
    meant = {"cmd": [], "request": [], "error": [], "application": [],
             "avps": []}
    for message_side, raw in transcript:
        if message_side != side:
            continue
        ours = decode_message(raw)
        meant["cmd"].append(str(ours.command_code))
        meant["request"].append("1" if ours.is_request else "0")
        meant["error"].append("1" if ours.is_error else "0")
        meant["application"].append(str(ours.application_id))
        meant["avps"] += expected_avp_codes(ours.avps)
    return meant


class TsharkDissectionMixin(object):
    """Dissect a capture and compare tshark's view with ours."""

    def assertCaptureAgrees(self, path, transcript, server_port=3868,
                            check_checksums=True):
        """
        tshark finds no problem in the capture at C{path}, and sees, in each
        direction, the commands, flags, application ids and AVP codes (depth
        first) of C{transcript}'s messages, in order.

        @return: the number of messages compared.
        """
        frames = helpers.tshark_fields(path, decode_port=server_port,
                                       check_checksums=check_checksums)
        found = problems(frames)
        if found:
            numbers = sorted({int(line.split()[1].rstrip(":"))
                              for line in found})
            self.fail("tshark reports problems:\n%s\n\n%s" % (
                "\n".join(found), helpers.tshark_verbose(
                    path, decode_port=server_port, frames=numbers)[-20000:]))
        for side in ("server", "client"):
            seen = _flatten(frames, side == "server", server_port)
            self.assertEqual(seen, _meant(transcript, side),
                             "tshark's view of the %s's messages" % (side,))
        return len(transcript)

    def assertTsharkAgrees(self, transcript):
        """Write C{transcript} as a synthetic capture and check it."""
        path = self.mktemp() + ".pcap"
        packets = helpers.write_transcript_pcap(path, transcript)
        self.assertGreater(packets, len(transcript))
        return self.assertCaptureAgrees(path, transcript)


VENDOR_3GPP_ID = 10415
APP_S6A_ID = 16777251
CMD_ULR_ID = 316
CMD_AIR_ID = 318
CMD_PUR_ID = 321


def _client_cer(origin_host, applications=((VENDOR_3GPP_ID, APP_S6A_ID),)):
    from pyhss.protocols.codec import Message
    cer = Message.request(0, 257, proxiable=False)
    cer.add("Origin-Host", origin_host).add("Origin-Realm", REALM)
    cer.add("Host-IP-Address", "127.0.0.1").add("Vendor-Id", 0)
    cer.add("Product-Name", "pyhss-interop-test")
    for vendor, application in applications:
        if vendor:
            cer.add("Vendor-Specific-Application-Id", [
                ("Vendor-Id", vendor), ("Auth-Application-Id", application)])
        else:
            cer.add("Auth-Application-Id", application)
    return cer


class ServerMessagesTests(TsharkDissectionMixin, unittest.TestCase):
    """
    Every kind of message our node sends, produced by a real exchange on
    127.0.0.1: CEA (2001 and 5010), DWA, DWR, DPA, DPR, and error answers
    3001, 3007, 5005 and 5001 with Failed-AVP, and 5012 from a failing handler.
    """

    skip = SKIP_NO_TSHARK
    timeout = 20

    @defer.inlineCallbacks
    def setUp(self):
        from tests.interop_nodes import start_node
        self.node = yield start_node(
            self, origin_host=NODE_HOST, origin_realm=REALM, watchdog=0.3,
            handlers={CMD_ULR_ID: self._update_location,
                      CMD_AIR_ID: self._failing_handler})

    def _update_location(self, request, peer):
        answer = self.node.node.answer(request, 2001)
        answer.add("Auth-Session-State", 1)
        answer.add("ULA-Flags", 1)
        return answer

    def _failing_handler(self, request, peer):
        raise RuntimeError("deliberate failure for the 5012 test")

    @defer.inlineCallbacks
    def _connect(self, origin_host):
        from twisted.internet import reactor
        client = yield protocol.ClientCreator(
            reactor, helpers.RecordingDiameterClient, origin_host,
            REALM).connectTCP("127.0.0.1", self.node.port)
        self.addCleanup(self._close, client)
        return client

    def _close(self, client):
        if client.transport.connected:
            client.transport.loseConnection()
        return client.lost

    def _s6a_request(self, command, client, *avps):
        from pyhss.protocols.codec import Message
        request = Message.request(APP_S6A_ID, command)
        request.add("Session-Id", "%s;1;%d" % (client.origin_host,
                                               client.next_id()))
        request.add("Auth-Session-State", 1)
        request.add("Origin-Host", client.origin_host)
        request.add("Origin-Realm", REALM)
        request.add("Destination-Realm", REALM)
        for name, value in avps:
            request.add(name, value)
        return request

    @staticmethod
    def _unknown_mandatory_avp():
        """
        An M-bit AVP our dictionary lacks but Wireshark's has (so tshark
        has no reason to warn about it inside our Failed-AVP).
        """
        from pyhss.protocols.codec import Avp
        from pyhss.protocols.dictionary import DICTIONARY
        # DCCA CC-Request-Type, CC-Request-Number, Multiple-Services-Indicator
        for code in (416, 415, 455):
            if DICTIONARY.avp_by_code(code, 0) is None:
                return Avp(code, 0, 0x40, struct.pack("!I", 1), None,
                           struct.pack("!II", code, 0x40000000 | 12)
                           + struct.pack("!I", 1))
        raise unittest.SkipTest("no unknown-to-us, known-to-Wireshark AVP")

    @defer.inlineCallbacks
    def test_exchange_dissects_cleanly(self):
        from pyhss.protocols.codec import Message
        client = yield self._connect(CLIENT_HOST)
        cea = yield client.request(_client_cer(CLIENT_HOST))
        self.assertEqual(cea.get("Result-Code"), 2001)

        dwa = yield client.request(
            Message.request(0, 280, proxiable=False).add(
                "Origin-Host", CLIENT_HOST).add("Origin-Realm", REALM))
        self.assertEqual(dwa.get("Result-Code"), 2001)

        # An S6a command with no handler here (PUR): 3001, E bit.
        unsupported = yield client.request(self._s6a_request(
            CMD_PUR_ID, client, ("User-Name", "001010000000001")))
        self.assertEqual(unsupported.get("Result-Code"), 3001)
        self.assertTrue(unsupported.is_error)

        # An application we do not serve (a DCCA CCR): 3007, E bit.
        unserved = yield client.request(
            Message.request(4, 272).add("Session-Id", "x;1;1").add(
                "Origin-Host", CLIENT_HOST).add("Origin-Realm", REALM).add(
                "Destination-Realm", REALM).add("Auth-Application-Id", 4))
        self.assertEqual(unserved.get("Result-Code"), 3007)
        self.assertTrue(unserved.is_error)

        # ULR without User-Name, RAT-Type, ULR-Flags, Visited-PLMN-Id: 5005.
        missing = yield client.request(
            self._s6a_request(CMD_ULR_ID, client))
        self.assertEqual(missing.get("Result-Code"), 5005)
        self.assertIsNotNone(missing.find("Failed-AVP"))

        # A complete ULR plus an M-bit AVP unknown to us: 5001.
        complete = (("User-Name", "001010000000001"), ("RAT-Type", 1004),
                    ("ULR-Flags", 34), ("Visited-PLMN-Id", b"\x00\xf1\x10"))
        request = self._s6a_request(CMD_ULR_ID, client, *complete)
        request.append(self._unknown_mandatory_avp())
        unknown = yield client.request(request)
        self.assertEqual(unknown.get("Result-Code"), 5001)
        self.assertIsNotNone(unknown.find("Failed-AVP"))

        # The same ULR without the stranger reaches the handler: 2001.
        accepted = yield client.request(
            self._s6a_request(CMD_ULR_ID, client, *complete))
        self.assertEqual(accepted.get("Result-Code"), 2001)

        # A handler that raises: 5012, and the connection stays up.
        failed = yield client.request(self._s6a_request(
            CMD_AIR_ID, client, ("User-Name", "001010000000001"),
            ("Visited-PLMN-Id", b"\x00\xf1\x10")))
        self.assertEqual(failed.get("Result-Code"), 5012)
        self.flushLoggedErrors(RuntimeError)

        # Silence for Tw: the node probes us with a DWR (we answer DWA).
        yield helpers.wait_until(
            lambda: client.server_requests, 5.0, "a DWR from the node")
        self.assertEqual(client.server_requests[0].command_code, 280)

        dpa = yield client.request(
            Message.request(0, 282, proxiable=False).add(
                "Origin-Host", CLIENT_HOST).add("Origin-Realm", REALM).add(
                "Disconnect-Cause", 0))
        self.assertEqual(dpa.get("Result-Code"), 2001)
        yield client.lost

        server_messages = [raw for side, raw in client.transcript
                           if side == "server"]
        self.assertGreaterEqual(len(server_messages), 10)
        self.assertTsharkAgrees(client.transcript)

    @defer.inlineCallbacks
    def test_no_common_application_and_disconnect_request(self):
        # CEA 5010 on one connection...
        refused = yield self._connect("refused." + CLIENT_HOST)
        cea = yield refused.request(_client_cer(
            "refused." + CLIENT_HOST, applications=((0, 4),)))
        self.assertEqual(cea.get("Result-Code"), 5010)
        yield refused.lost
        # ...and on another, the DPR our node sends when it stops.
        client = yield self._connect(CLIENT_HOST)
        cea = yield client.request(_client_cer(CLIENT_HOST))
        self.assertEqual(cea.get("Result-Code"), 2001)
        yield self.node.stop()
        self.assertEqual([m.command_code for m in client.server_requests],
                         [282])
        for transcript in (refused.transcript, client.transcript):
            self.assertTsharkAgrees(transcript)


class _CaptureProcess(protocol.ProcessProtocol):
    """tshark capturing to a file; C{started} fires once it captures."""

    def __init__(self):
        self.errors = bytearray()
        self.started = defer.Deferred()
        self.ended = defer.Deferred()

    def errReceived(self, data):
        self.errors.extend(data)
        if not self.started.called and b"Capturing on" in self.errors:
            self.started.callback(None)

    def outReceived(self, data):
        self.errors.extend(data)

    def processEnded(self, reason):
        if not self.started.called:
            self.started.errback(RuntimeError(
                "tshark could not capture: %s" % (
                    self.errors.decode("utf-8", "replace").strip(),)))
        self.ended.callback(reason.value.exitCode)


class LiveCaptureTests(TsharkDissectionMixin, unittest.TestCase):
    """
    The same checks on a live capture of the loopback interface (needs
    capture permission: root or dumpcap's capabilities).
    """

    skip = SKIP_NO_TSHARK
    timeout = 30

    @defer.inlineCallbacks
    def test_live_exchange_dissects_cleanly(self):
        from twisted.internet import reactor
        from pyhss.protocols.codec import Message
        from tests.interop_nodes import start_node
        node = yield start_node(self, origin_host=NODE_HOST,
                                origin_realm=REALM, watchdog=0.3)
        path = os.path.abspath(self.mktemp() + ".pcapng")
        capture = _CaptureProcess()
        reactor.spawnProcess(
            capture, helpers.TSHARK,
            [helpers.TSHARK, "-n", "-i", "lo", "-f",
             "tcp port %d" % (node.port,), "-w", path],
            env=dict(os.environ))

        def stop_capture():
            if not capture.ended.called:
                capture.transport.signalProcess("INT")
            return capture.ended
        self.addCleanup(stop_capture)
        timer = reactor.callLater(10, lambda: capture.started.called or
                                  capture.transport.signalProcess("KILL"))
        try:
            yield capture.started
        except RuntimeError as reason:
            raise unittest.SkipTest(str(reason))
        finally:
            if timer.active():
                timer.cancel()
        # tshark reports "Capturing on" a little before dumpcap's filter is
        # live; let it settle so the capture holds the whole connection.
        yield task.deferLater(reactor, 1.0, lambda: None)

        client = yield protocol.ClientCreator(
            reactor, helpers.RecordingDiameterClient, CLIENT_HOST,
            REALM).connectTCP("127.0.0.1", node.port)
        cea = yield client.request(_client_cer(CLIENT_HOST))
        self.assertEqual(cea.get("Result-Code"), 2001)
        dwa = yield client.request(
            Message.request(0, 280, proxiable=False).add(
                "Origin-Host", CLIENT_HOST).add("Origin-Realm", REALM))
        self.assertEqual(dwa.get("Result-Code"), 2001)
        yield helpers.wait_until(
            lambda: client.server_requests, 5.0, "a DWR from the node")
        yield node.stop()          # DPR from the node, our DPA, close
        yield client.lost

        # dumpcap writes its file in blocks: give the last packets a moment
        # to leave the kernel, then stop it (SIGINT flushes and closes).
        yield task.deferLater(reactor, 1.0, lambda: None)
        yield stop_capture()
        self.assertEqual([m.command_code for m in client.server_requests],
                         [280, 282])
        self.assertCaptureAgrees(path, client.transcript,
                                 server_port=node.port, check_checksums=False)
