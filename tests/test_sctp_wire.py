"""
pyhss.sctp.wire: the send/receive information and the notifications, read
from bytes a Linux 6.1 kernel wrote (captured inside user-mode Linux) and
from the structures of <linux/sctp.h>.
"""

import socket
import struct

from twisted.trial import unittest

from pyhss.sctp import wire
from pyhss.sctp.errors import MalformedNotification, SCTPError

# Captured from recvmsg inside user-mode Linux 6.1 (tests/uml.py):
# the COMM_UP of a 10x10-stream association (id 6) ...
COMM_UP = bytes.fromhex("0180000014000000" "0000" "0000" "0a00" "0a00" "06000000")
# ... the ABORT of another (id 4): COMM_LOST with the ABORT's cause 12 (User
# Initiated Abort, in network byte order) and the ABORT chunk header as
# sac_info ...
COMM_LOST = bytes.fromhex("0180000018000000" "0100" "000c" "0000" "0000" "04000000" "000c0004")
# ... and the peer's graceful close: SHUTDOWN_EVENT, then SHUTDOWN_COMP.
SHUTDOWN_EVENT = bytes.fromhex("058000000c000000" "06000000")
SHUTDOWN_COMPLETE = bytes.fromhex("0180000014000000" "0300" "0000" "0000" "0000" "06000000")


def _sockaddr_in(host, port):
    data = struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + socket.inet_aton(host)
    return data + bytes(128 - len(data))


class SendReceiveInfoTests(unittest.TestCase):

    def test_round_trip(self):
        item = wire.send_info(7, 46)
        self.assertEqual(item[:2], (wire.IPPROTO_SCTP, wire.SCTP_SNDRCV))
        self.assertEqual(len(item[2]), 32)
        self.assertEqual(wire.received_info([item]), (7, 46))

    def test_ppid_travels_in_network_order(self):
        level, kind, data = wire.send_info(0, 46)
        self.assertEqual(data[8:12], b"\x00\x00\x00\x2e")

    def test_other_items_and_short_items_are_not_it(self):
        self.assertIsNone(wire.received_info([]))
        self.assertIsNone(wire.received_info([(socket.SOL_SOCKET, 1, bytes(32))]))
        self.assertIsNone(wire.received_info([(wire.IPPROTO_SCTP, wire.SCTP_SNDRCV, bytes(8))]))


class NotificationTests(unittest.TestCase):

    def test_communication_up_from_the_kernel(self):
        event = wire.parse_notification(COMM_UP)
        self.assertIsInstance(event, wire.AssociationChange)
        self.assertEqual((event.state, event.outbound_streams, event.inbound_streams,
                          event.association_id), (wire.AssociationChange.COMMUNICATION_UP, 10, 10, 6))
        self.assertEqual(event.describe(), "communication up (10 inbound, 10 outbound streams)")

    def test_communication_lost_from_the_kernel(self):
        event = wire.parse_notification(COMM_LOST)
        self.assertEqual((event.state, event.error), (wire.AssociationChange.COMMUNICATION_LOST, 12))
        self.assertEqual(event.describe(), "communication lost (User Initiated Abort, cause 12)")

    def test_graceful_shutdown_from_the_kernel(self):
        self.assertIsInstance(wire.parse_notification(SHUTDOWN_EVENT), wire.ShutdownEvent)
        self.assertEqual(wire.parse_notification(SHUTDOWN_COMPLETE).describe(), "shutdown complete")

    def test_peer_address_change(self):
        body = _sockaddr_in("127.0.0.4", 2905) + struct.pack("=iii", 1, 0, 3)
        event = wire.parse_notification(wire.notification_bytes(wire.PeerAddressChange.TYPE, 0, body))
        self.assertEqual((event.address, event.state, event.association_id), (("127.0.0.4", 2905), 1, 3))
        self.assertEqual(event.describe(), "peer address 127.0.0.4:2905 unreachable")

    def test_peer_address_change_ipv6(self):
        address = struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", 3868, 0) \
            + socket.inet_pton(socket.AF_INET6, "::1")
        body = address + bytes(128 - len(address)) + struct.pack("=iii", 4, 0, 1)
        event = wire.parse_notification(wire.notification_bytes(wire.PeerAddressChange.TYPE, 0, body))
        self.assertEqual(event.address, ("::1", 3868))
        self.assertEqual(event.describe(), "peer address ::1:3868 made primary")

    def test_send_failed_keeps_the_message(self):
        info = wire.send_info(3, 46)[2]
        body = struct.pack("=I", 2) + info + struct.pack("=i", 9) + b"lost message"
        event = wire.parse_notification(wire.notification_bytes(wire.SendFailed.TYPE, 0, body))
        self.assertEqual((event.error, event.stream, event.ppid, event.association_id, event.data),
                         (2, 3, 46, 9, b"lost message"))

    def test_remote_error(self):
        body = struct.pack("!H", 5) + b"\0\0" + struct.pack("=i", 2) + b"cause"
        event = wire.parse_notification(wire.notification_bytes(wire.RemoteError.TYPE, 0, body))
        self.assertEqual((event.error, event.association_id, event.data), (5, 2, b"cause"))
        self.assertEqual(event.describe(), "the peer reported an error (Unresolvable Address, cause 5)")

    def test_partial_delivery_aborted(self):
        body = struct.pack("=IiII", 0, 4, 1, 0)
        event = wire.parse_notification(wire.notification_bytes(wire.PartialDelivery.TYPE, 0, body))
        self.assertEqual((event.indication, event.association_id), (wire.PartialDelivery.ABORTED, 4))

    def test_unknown_type_comes_back_with_its_bytes(self):
        data = wire.notification_bytes(0x800C, 0, b"\x01\x02\x03\x04")
        event = wire.parse_notification(data)
        self.assertIsInstance(event, wire.UnknownNotification)
        self.assertEqual((event.type, event.data), (0x800C, data))

    def test_every_type_refuses_a_short_body(self):
        for cls in wire.NOTIFICATIONS.values():
            data = wire.notification_bytes(cls.TYPE, 0, bytes(cls.SIZE - 9))
            self.assertRaises(MalformedNotification, wire.parse_notification, data)

    def test_length_must_match(self):
        self.assertRaises(MalformedNotification, wire.parse_notification, COMM_UP + b"\0\0\0\0")
        self.assertRaises(MalformedNotification, wire.parse_notification, COMM_UP[:-4])
        self.assertRaises(MalformedNotification, wire.parse_notification, COMM_UP[:5])

    def test_errors_share_the_root(self):
        self.assertTrue(issubclass(MalformedNotification, SCTPError))
