"""S6a ULR/ULA, CLR to the old MME, PUR/PUA and NOR/NOA."""

from twisted.internet import task
from twisted.trial import unittest

from pyhss.apps.s6a import (
    CLR_S6A_S6D_INDICATOR,
    INITIAL_ATTACH_PROCEDURE,
    MME_UPDATE_PROCEDURE,
    OPERATOR_DETERMINED_BARRING,
    SUBSCRIPTION_WITHDRAWAL,
    ULR_INITIAL_ATTACH,
    ULR_S6A_S6D_INDICATOR,
    ULR_SKIP_SUBSCRIBER_DATA,
    S6aApplication,
    encode_msisdn,
)
from pyhss.auc.kdf import encode_plmn_id
from pyhss.node import DiameterNode, Peer
from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import APP_S6A, CMD_CLR, CMD_IDR, CMD_NOR, CMD_PUR, CMD_ULR, VENDOR_3GPP
from pyhss.protocols.peer import OPEN
from pyhss.storage.memory import MemoryStore
from pyhss.storage.records import ApnProfile, ServingNode, Subscriber

IMSI = "001010000000001"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
HOME = encode_plmn_id("001", "01")
EUTRAN = 1004


def request(command, mme="mme1.test", imsi=IMSI, **extra):
    avps = [
        ("Session-Id", "%s;1;%d" % (mme, command)),
        ("Auth-Session-State", 1),
        ("Origin-Host", mme),
        ("Origin-Realm", "test"),
        ("Destination-Realm", "epc.mnc001.mcc001.3gppnetwork.org"),
        ("User-Name", imsi),
    ]
    avps.extend(extra.items())
    return codec.Message.request(APP_S6A, command, avps)


def ulr(mme="mme1.test", imsi=IMSI, flags=ULR_S6A_S6D_INDICATOR, rat=EUTRAN, plmn=HOME):
    return request(CMD_ULR, mme, imsi, **{"RAT-Type": rat, "ULR-Flags": flags, "Visited-PLMN-Id": plmn})


class FakeConnection:
    state = OPEN

    def __init__(self):
        self.sent = []

    def send_request(self, message):
        self.sent.append(message)

    name = "fake"


class S6aFixture:
    """An HSS node with the S6a application, two subscribers, two APNs."""

    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(1000)
        self.node = DiameterNode("hss.test", "epc.mnc001.mcc001.3gppnetwork.org", self.clock)
        self.store = MemoryStore()
        self.app = S6aApplication(self.node, self.store, "001", "01")
        self.app.register()
        self.successResultOf(self.store.add_apn(ApnProfile("internet", qci=9, arp_priority=8,
                                                           ambr_ul=50_000_000, ambr_dl=100_000_000)))
        self.successResultOf(self.store.add_apn(ApnProfile("ims", qci=5, arp_priority=1, pdn_type="ipv4v6")))
        self.successResultOf(self.store.add_subscriber(Subscriber(
            IMSI, K, opc=OPC, msisdn="3361234567", apns=("internet", "ims"), ue_ambr_ul=1_000_000,
            ue_ambr_dl=2_000_000, periodic_rau_tau_timer=3240)))
        self.successResultOf(self.store.add_subscriber(Subscriber("001010000000002", K, opc=OPC)))

    def call(self, handler, message, peer=None):
        answer = self.successResultOf(handler(message, peer))
        return codec.decode_message(answer.encode())

    def connect_mme(self, host):
        connection = FakeConnection()
        self.node.peers[host.lower()] = Peer(host, "test", frozenset([APP_S6A]), frozenset([APP_S6A]),
                                             connection, self.clock.seconds())
        return connection


class LocationTests(S6aFixture, unittest.TestCase):
    def test_registered(self):
        for command in (CMD_ULR, CMD_PUR, CMD_NOR):
            self.assertIn((APP_S6A, command), self.node.handlers)

    def test_ula_with_subscription_data(self):
        answer = self.call(self.app.update_location, ulr())
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS)
        self.assertEqual(answer.get("ULA-Flags"), 1)
        data = answer.find("Subscription-Data")
        self.assertEqual(data.get("MSISDN"), bytes.fromhex("3316325476"))  # 10 digits, no filler
        self.assertEqual(data.get("Subscriber-Status"), 0)
        self.assertEqual(data.get("Network-Access-Mode"), 2)
        self.assertEqual(data.get("AMBR/Max-Requested-Bandwidth-UL"), 1_000_000)
        self.assertEqual(data.get("AMBR/Max-Requested-Bandwidth-DL"), 2_000_000)
        self.assertEqual(data.get("Subscribed-Periodic-RAU-TAU-Timer"), 3240)
        profile = data.find("APN-Configuration-Profile")
        configs = profile.find_all("APN-Configuration")
        self.assertEqual([c.get("Service-Selection") for c in configs], ["internet", "ims"])
        self.assertEqual(profile.get("Context-Identifier"), configs[0].get("Context-Identifier"))
        self.assertEqual(profile.get("All-APN-Configurations-Included-Indicator"), 0)
        ims = configs[1]
        self.assertEqual(ims.get("PDN-Type"), 2)
        self.assertEqual(ims.get("EPS-Subscribed-QoS-Profile/QoS-Class-Identifier"), 5)
        self.assertEqual(ims.get("EPS-Subscribed-QoS-Profile/Allocation-Retention-Priority/Priority-Level"), 1)
        self.assertIsNone(ims.find("AMBR"))
        self.assertEqual(configs[0].get("AMBR/Max-Requested-Bandwidth-DL"), 100_000_000)
        self.assertEqual(len({c.get("Context-Identifier") for c in configs}), 2)

    def test_changed_apn_profile_in_next_ula(self):
        # The APN-Configuration-Profile is encoded once per set of profiles:
        # a profile changed in the store must still show in the next ULA.
        first = self.call(self.app.update_location, ulr(imsi="001010000000002"))
        self.assertIsNone(first.find("Subscription-Data/APN-Configuration-Profile"))
        self.successResultOf(self.store.add_apn(ApnProfile("iot", qci=8, arp_priority=9)))
        self.successResultOf(self.store.update_subscriber("001010000000002", apns=("iot",)))
        answer = self.call(self.app.update_location, ulr(imsi="001010000000002"))
        path = "Subscription-Data/APN-Configuration-Profile/APN-Configuration/EPS-Subscribed-QoS-Profile/"
        self.assertEqual(answer.get(path + "QoS-Class-Identifier"), 8)
        self.successResultOf(self.store.update_subscriber("001010000000002", apns=()))
        self.successResultOf(self.store.delete_apn("iot"))
        self.successResultOf(self.store.add_apn(ApnProfile("iot", qci=7, arp_priority=9)))
        self.successResultOf(self.store.update_subscriber("001010000000002", apns=("iot",)))
        answer = self.call(self.app.update_location, ulr(imsi="001010000000002"))
        self.assertEqual(answer.get(path + "QoS-Class-Identifier"), 7)
        self.assertEqual(codec.validate(answer), [])

    def test_minimal_subscriber_well_formed(self):
        answer = self.call(self.app.update_location, ulr(imsi="001010000000002"))
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS)
        data = answer.find("Subscription-Data")
        self.assertIsNone(data.find("MSISDN"))
        self.assertIsNone(data.find("APN-Configuration-Profile"))
        self.assertEqual(data.get("Network-Access-Mode"), 2)
        self.assertEqual(codec.validate(answer), [])

    def test_skip_subscriber_data(self):
        answer = self.call(self.app.update_location, ulr(flags=ULR_S6A_S6D_INDICATOR | ULR_SKIP_SUBSCRIBER_DATA))
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS)
        self.assertIsNone(answer.find("Subscription-Data"))

    def test_serving_node_stored(self):
        peer = Peer("dra.test", "test", frozenset([APP_S6A]), frozenset([APP_S6A]), FakeConnection(), 0)
        self.call(self.app.update_location, ulr(), peer)
        serving = self.successResultOf(self.store.get_serving_node(IMSI))
        self.assertEqual((serving.mme_host, serving.mme_realm, serving.peer, serving.updated_at, serving.purged),
                         ("mme1.test", "test", "dra.test", 1000, False))

    def test_errors(self):
        answer = self.call(self.app.update_location, ulr(imsi="001019999999999"))
        self.assertEqual(answer.get("Experimental-Result/Experimental-Result-Code"),
                         results.DIAMETER_ERROR_USER_UNKNOWN)
        self.successResultOf(self.store.update_subscriber(IMSI, access_restriction_data=1 << 4))
        answer = self.call(self.app.update_location, ulr())
        self.assertEqual(answer.get("Experimental-Result/Experimental-Result-Code"),
                         results.DIAMETER_ERROR_RAT_NOT_ALLOWED)
        answer = self.call(self.app.update_location, ulr(rat=1000))  # UTRAN is allowed
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS)
        self.successResultOf(self.store.update_subscriber(IMSI, roaming_allowed=False))
        answer = self.call(self.app.update_location, ulr(plmn=encode_plmn_id("208", "95")))
        self.assertEqual(answer.get("Experimental-Result/Experimental-Result-Code"),
                         results.DIAMETER_ERROR_ROAMING_NOT_ALLOWED)
        self.successResultOf(self.store.update_subscriber(IMSI, enabled=False))
        answer = self.call(self.app.update_location, ulr())
        self.assertEqual(answer.get("Experimental-Result/Experimental-Result-Code"),
                         results.DIAMETER_ERROR_UNKNOWN_EPS_SUBSCRIPTION)

    def test_bad_visited_plmn_id(self):
        answer = self.call(self.app.update_location, ulr(plmn=b"\x00\xf1\x10\x00"))
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_INVALID_AVP_VALUE)
        self.assertIsNone(self.successResultOf(self.store.get_serving_node(IMSI)))

    def test_clr_to_old_mme(self):
        old = self.connect_mme("mme1.test")
        self.call(self.app.update_location, ulr(mme="mme1.test"), self.node.peer("mme1.test"))
        self.assertEqual(old.sent, [])  # same MME again: no CLR
        self.call(self.app.update_location, ulr(mme="mme2.test"))
        self.assertEqual(len(old.sent), 1)
        clr = codec.decode_message(old.sent[0].encode())
        self.assertEqual((clr.command_code, clr.is_request), (CMD_CLR, True))
        self.assertEqual(clr.get("Destination-Host"), "mme1.test")
        self.assertEqual(clr.get("User-Name"), IMSI)
        self.assertEqual(clr.get("Cancellation-Type"), MME_UPDATE_PROCEDURE)
        self.assertEqual(clr.get("CLR-Flags"), CLR_S6A_S6D_INDICATOR)
        self.assertEqual(codec.validate(clr), [])
        # The CLA is matched and logged; nothing is left pending.
        self.node.answer_received(old, old.sent[0].answer(results.DIAMETER_SUCCESS))
        self.assertEqual(len(self.node.pending), 0)
        serving = self.successResultOf(self.store.get_serving_node(IMSI))
        self.assertEqual(serving.mme_host, "mme2.test")

    def test_clr_initial_attach(self):
        old = self.connect_mme("mme1.test")
        self.call(self.app.update_location, ulr(mme="mme1.test"), self.node.peer("mme1.test"))
        self.call(self.app.update_location, ulr(mme="mme2.test", flags=ULR_S6A_S6D_INDICATOR | ULR_INITIAL_ATTACH))
        self.assertEqual(old.sent[0].get("Cancellation-Type"), INITIAL_ATTACH_PROCEDURE)

    def test_no_clr_when_disabled_or_not_connected(self):
        self.call(self.app.update_location, ulr(mme="mme1.test"))
        answer = self.call(self.app.update_location, ulr(mme="mme2.test"))  # mme1 not connected
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS)
        old = self.connect_mme("mme2.test")
        self.app.cancel_old_mme = False
        self.call(self.app.update_location, ulr(mme="mme3.test"))
        self.assertEqual(old.sent, [])

    def test_clr_timeout_is_logged_not_raised(self):
        old = self.connect_mme("mme1.test")
        serving = ServingNode(IMSI, "mme1.test", "test", "mme1.test", 0.0)
        d = self.app.cancel_location(serving, MME_UPDATE_PROCEDURE)
        self.assertEqual(len(old.sent), 1)
        self.clock.advance(self.node.timers.request_timeout + 1)
        self.assertIsNone(self.successResultOf(d))

    def test_pur(self):
        self.call(self.app.update_location, ulr(mme="mme1.test"))
        answer = self.call(self.app.purge_ue, request(CMD_PUR, "mme9.test"))
        self.assertEqual((answer.get("Result-Code"), answer.get("PUA-Flags")), (results.DIAMETER_SUCCESS, 0))
        self.assertFalse(self.successResultOf(self.store.get_serving_node(IMSI)).purged)
        answer = self.call(self.app.purge_ue, request(CMD_PUR, "mme1.test"))
        self.assertEqual((answer.get("Result-Code"), answer.get("PUA-Flags")), (results.DIAMETER_SUCCESS, 1))
        self.assertTrue(self.successResultOf(self.store.get_serving_node(IMSI)).purged)
        answer = self.call(self.app.purge_ue, request(CMD_PUR, "mme1.test", imsi="001019999999999"))
        self.assertEqual(answer.get("Experimental-Result/Experimental-Result-Code"),
                         results.DIAMETER_ERROR_USER_UNKNOWN)
        self.assertEqual(answer.get("Experimental-Result/Vendor-Id"), VENDOR_3GPP)

    def test_no_clr_to_purged_mme(self):
        old = self.connect_mme("mme1.test")
        self.call(self.app.update_location, ulr(mme="mme1.test"))
        self.call(self.app.purge_ue, request(CMD_PUR, "mme1.test"))
        self.call(self.app.update_location, ulr(mme="mme2.test"))
        self.assertEqual(old.sent, [])

    def test_nor(self):
        answer = self.call(self.app.notify, request(CMD_NOR))
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS)
        answer = self.call(self.app.notify, request(CMD_NOR, imsi="not-an-imsi"))
        self.assertEqual(answer.get("Experimental-Result/Experimental-Result-Code"),
                         results.DIAMETER_ERROR_USER_UNKNOWN)

    def test_msisdn_tbcd(self):
        self.assertEqual(encode_msisdn("12345"), bytes.fromhex("2143f5"))
        self.assertEqual(encode_msisdn("1234"), bytes.fromhex("2143"))


class PushTests(S6aFixture, unittest.TestCase):
    """IDR after a profile change and CLR for subscription withdrawal."""

    def test_idr_with_new_profile(self):
        mme = self.connect_mme("mme1.test")
        self.call(self.app.update_location, ulr(mme="mme1.test"))
        self.successResultOf(self.store.update_subscriber(IMSI, msisdn="4915112345678"))
        d = self.app.insert_subscriber_data(IMSI)
        self.assertEqual(len(mme.sent), 1)
        idr = codec.decode_message(mme.sent[0].encode())
        self.assertEqual((idr.command_code, idr.is_request), (CMD_IDR, True))
        self.assertEqual(codec.validate(idr), [])
        self.assertEqual(idr.get("Subscription-Data/MSISDN"), encode_msisdn("4915112345678"))
        self.assertEqual(idr.get("Destination-Host"), "mme1.test")
        self.node.answer_received(mme, mme.sent[0].answer(results.DIAMETER_SUCCESS))
        self.assertEqual(self.successResultOf(d), results.DIAMETER_SUCCESS)

    def test_idr_for_disabled_subscriber_bars_service(self):
        mme = self.connect_mme("mme1.test")
        self.call(self.app.update_location, ulr(mme="mme1.test"))
        self.successResultOf(self.store.update_subscriber(IMSI, enabled=False))
        self.app.insert_subscriber_data(IMSI)
        idr = codec.decode_message(mme.sent[0].encode())
        self.assertEqual(codec.validate(idr), [])
        self.assertEqual(idr.get("Subscription-Data/Subscriber-Status"), OPERATOR_DETERMINED_BARRING)
        self.assertEqual(idr.get("Subscription-Data/Operator-Determined-Barring"), 1)

    def test_idr_without_serving_mme(self):
        self.assertIsNone(self.successResultOf(self.app.insert_subscriber_data(IMSI)))
        self.call(self.app.update_location, ulr(mme="mme1.test"))  # registered, not connected
        self.assertIsNone(self.successResultOf(self.app.insert_subscriber_data(IMSI)))

    def test_withdrawal(self):
        mme = self.connect_mme("mme1.test")
        self.call(self.app.update_location, ulr(mme="mme1.test"))
        d = self.app.withdraw_subscription(IMSI)
        clr = mme.sent[0]
        self.assertEqual(clr.get("Cancellation-Type"), SUBSCRIPTION_WITHDRAWAL)
        self.node.answer_received(mme, clr.answer(results.DIAMETER_SUCCESS))
        self.assertEqual(self.successResultOf(d), results.DIAMETER_SUCCESS)
        self.assertIsNone(self.successResultOf(self.app.withdraw_subscription("001010000000002")))
