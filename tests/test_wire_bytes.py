"""
The bytes we put on the wire, pinned: CEA, DWA, AIA, ULA, PUA, NOA, error
answers, and the IDR/CLR we send, for fixed requests through a whole node
(connection, node, S6a, AuC, memory store) with a deterministic RAND.

Refactoring must not change a byte of them; a deliberate change of what we
send updates the digests here, in the same commit, saying why.
"""

import hashlib
import itertools
import struct

from twisted.internet import task
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.trial import unittest

from pyhss.apps.s6a import S6aApplication, ULR_S6A_S6D_INDICATOR
from pyhss.auc.centre import AuthenticationCentre
from pyhss.auc.kdf import encode_plmn_id
from pyhss.auc.sqn import join
from pyhss.node import DiameterNode, Timers
from pyhss.protocols import codec
from pyhss.protocols.dictionary import (
    APP_BASE, APP_S6A, CMD_AIR, CMD_CER, CMD_DWR, CMD_NOR, CMD_PUR, CMD_ULR, VENDOR_3GPP)
from pyhss.protocols.peer import DiameterProtocol
from pyhss.storage.memory import MemoryStore
from pyhss.storage.records import ApnProfile, Subscriber

IMSI = "001010000000001"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
HOME = encode_plmn_id("001", "01")
MME = "mme.wire.test"
REALM = "wire.test"

# sha256 of each answer's bytes (of requests we send: with hop-by-hop and
# end-to-end zeroed), and its length.
PINNED = {
    "cea": ("aa87054bb8edaed4258c32d001563c7a272e41da8b946f55af3a10381fe302d5", 200),
    "dwa": ("02fb899785742dd12c8af25c46d10660443694697cec6a3135b1ff35eaf72047", 112),
    "aia": ("58fe977ac1069865deb5d7752495f1a7b2449bd41fdfb3ae90631c9f87795629", 608),
    "aia_unknown_user": ("c3885f7321fb11141ce2290f60fd511cb3b908f8473424bae9507bd6121f0979", 160),
    "ula": ("80cfd2bc5dbac5e86cd90a267a7e81b9f068fa088c2ee8469b5ee63194b39475", 456),
    "noa": ("cfb041deeab91ae7d430ec2e2221b1a5c29082bd3bd3b7c9eb2c0c0ad5b30e75", 140),
    "unknown_command": ("d26e9ec7c5233b47ae064e1ab7ae6a033fea895ff5fb16a57fa9b6e5010c0c5a", 112),
    "missing_avp": ("7488e2be82c841266476257cd4da7066d301392a953b76c6b855a55cffad50fd", 132),
    "idr": ("46510d0c5cc38580b70b4bdd25e97fd0bc223bed420e4a38dec46a2a47c81d41", 504),
    "clr": ("81a9246bc383cc0e584896c56cf3826b79b8fba1d959e6662bb170d71d633eb7", 236),
    "pua": ("4ecdb8231e55ffe9529428ab1f451b83bc11358806ad1df5fee08042819f6b8a", 156),
}


def counting_random():
    """Deterministic octets in place of os.urandom."""
    counter = itertools.count(1)
    return lambda n: bytes(next(counter) & 0xFF for _ in range(n))


def request(application, command, avps, hop_by_hop):
    return codec.Message.request(application, command, avps, hop_by_hop=hop_by_hop,
                                 end_to_end=0x5000 + hop_by_hop).encode()


def s6a(command, hop_by_hop, *extra, imsi=IMSI):
    return request(APP_S6A, command, [
        ("Session-Id", "%s;1;%d" % (MME, hop_by_hop)), ("Auth-Session-State", 1),
        ("Origin-Host", MME), ("Origin-Realm", REALM),
        ("Destination-Realm", "epc.mnc001.mcc001.3gppnetwork.org"), ("User-Name", imsi),
    ] + list(extra), hop_by_hop)


def without_ids(data):
    return data[:12] + b"\0" * 8 + data[20:]


class PinnedAnswers(object):
    """What the wire-bytes tests of every application share: a node on a
    fixed clock, one connection over a StringTransport, and the check that
    C{self.all_answers()} (name -> bytes) hash to C{self.pinned}."""

    pinned = None

    def start_node(self, origin_host, realm):
        self.clock = task.Clock()
        self.clock.advance(1700000000)
        self.node = DiameterNode(origin_host, realm, self.clock,
                                 timers=Timers(), origin_state_id=42, watchdog_jitter=0)

    def connect(self):
        self.connection = DiameterProtocol(self.node)
        self.transport = StringTransport(
            hostAddress=IPv4Address("TCP", "192.0.2.1", 3868),
            peerAddress=IPv4Address("TCP", "192.0.2.2", 40000))
        self.connection.makeConnection(self.transport)

    def exchange(self, data):
        self.transport.clear()
        self.connection.dataReceived(data)
        return self.transport.value()

    def test_bytes_unchanged(self):
        answers = self.all_answers()
        for name, data in answers.items():
            self.assertTrue(data, name)
            self.assertEqual(struct.unpack_from("!I", data)[0] & 0xFFFFFF, len(data), name)
        found = dict((name, (hashlib.sha256(data).hexdigest(), len(data)))
                     for name, data in answers.items())
        self.assertEqual(found, self.pinned)


class WireBytesTests(PinnedAnswers, unittest.TestCase):

    pinned = PINNED

    def setUp(self):
        self.start_node("hss.wire.test", "epc.mnc001.mcc001.3gppnetwork.org")
        self.store = MemoryStore()
        auc = AuthenticationCentre(self.store, ind_bits=5, max_vectors=32, random=counting_random())
        self.app = S6aApplication(self.node, self.store, "001", "01", auc=auc)
        self.app.register()
        self.successResultOf(self.store.add_apn(ApnProfile("internet", qci=9, arp_priority=8,
                                                           ambr_ul=50_000_000, ambr_dl=100_000_000)))
        self.successResultOf(self.store.add_subscriber(Subscriber(
            IMSI, K, opc=OPC, amf=b"\x80\x00", sqn=join(100, 3), msisdn="15551230001",
            apns=("internet",))))
        self.connect()

    def all_answers(self):
        answers = {}
        answers["cea"] = self.exchange(request(APP_BASE, CMD_CER, [
            ("Origin-Host", MME), ("Origin-Realm", REALM), ("Host-IP-Address", "192.0.2.2"),
            ("Vendor-Id", 0), ("Product-Name", "wire"),
            ("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR_3GPP),
                                                ("Auth-Application-Id", APP_S6A)])], 1))
        answers["dwa"] = self.exchange(request(APP_BASE, CMD_DWR, [
            ("Origin-Host", MME), ("Origin-Realm", REALM)], 2))
        answers["aia"] = self.exchange(s6a(
            CMD_AIR, 3, ("Visited-PLMN-Id", HOME),
            ("Requested-EUTRAN-Authentication-Info", [("Number-Of-Requested-Vectors", 2)]),
            ("Requested-UTRAN-GERAN-Authentication-Info", [("Number-Of-Requested-Vectors", 1)])))
        answers["aia_unknown_user"] = self.exchange(s6a(
            CMD_AIR, 4, ("Visited-PLMN-Id", HOME),
            ("Requested-EUTRAN-Authentication-Info", [("Number-Of-Requested-Vectors", 1)]),
            imsi="001019999999999"))
        answers["ula"] = self.exchange(s6a(
            CMD_ULR, 5, ("RAT-Type", 1004), ("ULR-Flags", ULR_S6A_S6D_INDICATOR),
            ("Visited-PLMN-Id", HOME)))
        answers["noa"] = self.exchange(s6a(CMD_NOR, 7))
        answers["unknown_command"] = self.exchange(request(APP_S6A, 999, [
            ("Session-Id", "x;1"), ("Origin-Host", MME), ("Origin-Realm", REALM)], 8))
        answers["missing_avp"] = self.exchange(request(APP_S6A, CMD_AIR, [
            ("Session-Id", "x;2"), ("Auth-Session-State", 1), ("Origin-Host", MME),
            ("Origin-Realm", REALM), ("Destination-Realm", "epc.mnc001.mcc001.3gppnetwork.org"),
            ("User-Name", IMSI)], 9))
        self.transport.clear()
        self.successResultOf(self.store.add_subscriber(Subscriber(
            "001010000000002", K, opc=OPC, apns=("internet",))))
        self.app.insert_subscriber_data(IMSI)
        answers["idr"] = without_ids(self.transport.value())
        self.transport.clear()
        self.app.withdraw_subscription(IMSI)
        answers["clr"] = without_ids(self.transport.value())
        answers["pua"] = self.exchange(s6a(CMD_PUR, 6))
        return answers

