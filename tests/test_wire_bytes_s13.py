"""
The ECAs we put on the wire, pinned (as tests/test_wire_bytes.py pins the
S6a answers): each status, unknown equipment, and the error answers with
Failed-AVP, for fixed ECRs through a whole node (connection, node, S13,
memory store).

A deliberate change of what we send updates the digests here, in the same
commit, saying why.
"""

from twisted.trial import unittest

from pyhss.apps.s13 import S13Application
from pyhss.protocols.dictionary import APP_BASE, APP_S13, CMD_CER, CMD_ECR, VENDOR_3GPP
from pyhss.storage.memory import MemoryStore
from pyhss.storage.records_eir import BLACKLISTED, GREYLISTED, EquipmentRule
from tests.test_wire_bytes import PinnedAnswers, REALM, request

MME = "mme.wire.test"
IMEI = "49015420323751"

PINNED = {
    "eca_blacklisted": ("73f4ff8da8c4a748bc3be478cb571e6dad326266b0fba0712d25b4f94586253f", 156),
    "eca_greylisted_tac": ("2bb01914af6339307bd64ade6d085122f590de521004ba4eb43ed784e1447948", 156),
    "eca_unknown_equipment": ("8a49eeef1fc679ce4ab40c4b928406c5e0a83b9c6d51e26aff1ead52334b8f6c", 160),
    "eca_invalid_imei": ("84d3ce18e80c062736acbe617a0557c5314a960bd8b1bd6c56c6315c2e658281", 268),
    "eca_no_imei": ("717bd13c6ce9a8f09f2bbc4e5ef1879d9776601bf68234e5db95514e85fb3591", 280),
    "eca_repeated_imei": ("619e012f7f132b7d4aa030683decf3ece3c03dd72dce78674fad1567a723f489", 224),
}


def ecr(hop_by_hop, terminal, imsi="001010000000001"):
    avps = [("Session-Id", "%s;1;%d" % (MME, hop_by_hop)), ("Auth-Session-State", 1), ("Origin-Host", MME),
            ("Origin-Realm", REALM), ("Destination-Realm", "epc.mnc001.mcc001.3gppnetwork.org"),
            ("Terminal-Information", terminal), ("User-Name", imsi)]
    return request(APP_S13, CMD_ECR, avps, hop_by_hop)


class EcaWireBytesTests(PinnedAnswers, unittest.TestCase):

    pinned = PINNED

    def setUp(self):
        self.start_node("hss.wire.test", "epc.mnc001.mcc001.3gppnetwork.org")
        self.store = MemoryStore()
        self.app = S13Application(self.node, self.store)
        self.app.register()
        self.successResultOf(self.store.add_equipment_rule(EquipmentRule(IMEI, BLACKLISTED)))
        self.successResultOf(self.store.add_equipment_rule(EquipmentRule("35123456", GREYLISTED)))
        self.connect()
        self.exchange(request(APP_BASE, CMD_CER, [
            ("Origin-Host", MME), ("Origin-Realm", REALM), ("Host-IP-Address", "192.0.2.2"),
            ("Vendor-Id", 0), ("Product-Name", "wire"),
            ("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR_3GPP), ("Auth-Application-Id", APP_S13)])], 1))

    def all_answers(self):
        return {
            "eca_blacklisted": self.exchange(ecr(2, [("IMEI", IMEI + "8"), ("Software-Version", "01")])),
            "eca_greylisted_tac": self.exchange(ecr(3, [("IMEI", "35123456000001"), ("Software-Version", "42")])),
            "eca_unknown_equipment": self.exchange(ecr(4, [("IMEI", "01020304050607")])),
            "eca_invalid_imei": self.exchange(ecr(5, [("IMEI", IMEI + "7")])),
            "eca_no_imei": self.exchange(ecr(6, [("Software-Version", "01")])),
            "eca_repeated_imei": self.exchange(ecr(7, [("IMEI", IMEI), ("IMEI", IMEI)])),
        }

