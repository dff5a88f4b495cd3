"""S6a AIR -> AIA: every answer is checked the way a UE would check it
(recover SQN with f5, verify MAC-A with f1, recompute XRES and K_ASME)."""

from twisted.internet import defer, reactor, task
from twisted.trial import unittest

from pyhss.apps.s6a import S6aApplication
from pyhss.apps.s6a_messages import authentication_information_answer
from pyhss.apps.s6a_plans import AirPlan
from pyhss.config import Config
from pyhss.auc.conversions import c2, c3
from pyhss.auc.kdf import derive_kasme, encode_plmn_id
from pyhss.auc.milenage import Milenage
from pyhss.auc.resync import compute_auts
from pyhss.auc.sqn import join, split
from pyhss.auc.centre import VectorSet
from pyhss.auc.vectors import EutranVector
from pyhss.node import DiameterNode
from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import APP_S6A, CMD_AIR, VENDOR_3GPP
from pyhss.storage.memory import MemoryStore
from pyhss.storage.records import Subscriber
from pyhss.storage.sqlite import SqliteStore

IMSI = "001010000000001"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
HOME = encode_plmn_id("001", "01")
VISITED = encode_plmn_id("208", "95")


def air(imsi=IMSI, plmn=HOME, eutran=1, utran_geran=None, resync=None, utran_resync=None):
    avps = [
        ("Session-Id", "mme.test;1;2"),
        ("Auth-Session-State", 1),
        ("Origin-Host", "mme.test"),
        ("Origin-Realm", "test"),
        ("Destination-Realm", "epc.mnc001.mcc001.3gppnetwork.org"),
    ]
    if imsi is not None:
        avps.append(("User-Name", imsi))
    avps.append(("Visited-PLMN-Id", plmn))
    if eutran is not None:
        group = [("Number-Of-Requested-Vectors", eutran), ("Immediate-Response-Preferred", 0)]
        if resync is not None:
            group.append(("Re-Synchronization-Info", resync))
        avps.append(("Requested-EUTRAN-Authentication-Info", group))
    if utran_geran is not None:
        group = [("Number-Of-Requested-Vectors", utran_geran)]
        if utran_resync is not None:
            group.append(("Re-Synchronization-Info", utran_resync))
        avps.append(("Requested-UTRAN-GERAN-Authentication-Info", group))
    return codec.Message.request(APP_S6A, CMD_AIR, avps)


def experimental_code(answer):
    return answer.get("Experimental-Result/Experimental-Result-Code")


class UE:
    """The USIM side of AKA, for checking what the HSS sends."""

    def __init__(self, k=K, opc=OPC):
        self.m = Milenage(k, opc)

    def check_eutran(self, testcase, vector, plmn):
        rand, xres, autn, kasme = (vector.get(n) for n in ("RAND", "XRES", "AUTN", "KASME"))
        ak = self.m.f5(rand)
        sqn = bytes(a ^ b for a, b in zip(autn[:6], ak))
        amf = autn[6:8]
        testcase.assertTrue(amf[0] & 0x80, "separation bit")
        testcase.assertEqual(self.m.f1(rand, sqn, amf), autn[8:], "MAC-A")
        res, ck, ik, _ = self.m.f2345(rand)
        testcase.assertEqual(res, xres)
        testcase.assertEqual(derive_kasme(ck, ik, plmn, autn[:6]), kasme)
        return int.from_bytes(sqn, "big")

    def check_utran(self, testcase, vector):
        rand, xres, autn = (vector.get(n) for n in ("RAND", "XRES", "AUTN"))
        sqn = bytes(a ^ b for a, b in zip(autn[:6], self.m.f5(rand)))
        testcase.assertEqual(self.m.f1(rand, sqn, autn[6:8]), autn[8:])
        res, ck, ik, _ = self.m.f2345(rand)
        testcase.assertEqual((res, ck, ik),
                             (xres, vector.get("Confidentiality-Key"), vector.get("Integrity-Key")))
        return int.from_bytes(sqn, "big")


class AirTests(unittest.TestCase):
    def setUp(self):
        self.clock = task.Clock()
        self.node = DiameterNode("hss.test", "epc.mnc001.mcc001.3gppnetwork.org", self.clock)
        self.store = MemoryStore()
        self.app = S6aApplication(self.node, self.store, "001", "01", max_vectors=8)
        self.app.register()
        self.ue = UE()
        self.successResultOf(self.store.add_subscriber(
            Subscriber(IMSI, K, opc=OPC, amf=b"\x00\x00", sqn=join(100, 3))))

    def ask(self, request):
        answer = self.successResultOf(self.app.authentication_information(request, None))
        # The answer encodes and decodes cleanly.
        return codec.decode_message(answer.encode())

    def test_aia_bytes_as_the_generic_answer(self):
        # The AIA is written as bytes; it must be what node.answer() and the
        # Avp objects would have made, Proxy-Info included (RFC 6733 6.2).
        request = air().add("Proxy-Info", [("Proxy-Host", "relay.test"), ("Proxy-State", b"\x01\x02")])
        request.hop_by_hop, request.end_to_end = 0x1234, 0x5678
        request = codec.decode_message(request.encode())
        answer = self.successResultOf(self.app.authentication_information(request, None))
        self.assertEqual([avp.name for avp in answer.avps], [
            "Session-Id", "Result-Code", "Proxy-Info", "Origin-Host", "Origin-Realm",
            "Auth-Session-State", "Authentication-Info"])
        expected = self.node.answer(request, results.DIAMETER_SUCCESS)
        expected.add("Auth-Session-State", 1).append(answer.find("Authentication-Info"))
        self.assertEqual(answer.encode(), expected.encode())
        self.assertEqual((answer.hop_by_hop, answer.end_to_end, answer.is_request), (0x1234, 0x5678, False))

    def test_eutran_vectors_encode_as_generic_avps(self):
        # pyhss.auc's sizes take one precompiled pack, other sizes (a 4-octet
        # XRES) the per-AVP writers: both must be the Avp objects' encoding.
        request = codec.decode_message(air().encode())
        vectors = VectorSet((EutranVector(b"\x01" * 16, b"\x02" * 8, b"\x03" * 16, b"\x04" * 32, 1),
                             EutranVector(b"\x05" * 16, b"\x06" * 4, b"\x07" * 16, b"\x08" * 32, 2)), (), (), False)
        answer = authentication_information_answer(AirPlan(self.app.policy, request), vectors,
                                                   self.node.origin_avps())
        expected = codec.Avp.new("Authentication-Info", [
            ("E-UTRAN-Vector", [("Item-Number", number), ("RAND", v.rand), ("XRES", v.xres), ("AUTN", v.autn),
                                ("KASME", v.kasme)])
            for number, v in enumerate(vectors.eutran, 1)])
        self.assertEqual(answer.find("Authentication-Info").encode(), expected.encode())

    def stored_sqn(self):
        return self.successResultOf(self.store.get_subscriber(IMSI)).sqn

    def test_registered_with_node(self):
        self.assertEqual(self.node.applications[APP_S6A], VENDOR_3GPP)
        self.assertIn((APP_S6A, CMD_AIR), self.node.handlers)

    def test_eutran_vectors(self):
        answer = self.ask(air(eutran=3))
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS)
        self.assertEqual(answer.get("Auth-Session-State"), 1)
        self.assertEqual(answer.get("Session-Id"), "mme.test;1;2")
        self.assertFalse(answer.is_request)
        vectors = answer.find("Authentication-Info").find_all("E-UTRAN-Vector")
        self.assertEqual([v.get("Item-Number") for v in vectors], [1, 2, 3])
        sqns = [self.ue.check_eutran(self, v, HOME) for v in vectors]
        self.assertEqual([split(s) for s in sqns], [(101, 4), (102, 5), (103, 6)])
        self.assertEqual(self.stored_sqn(), sqns[-1])
        self.assertEqual(len({v.get("RAND") for v in vectors}), 3)

    def test_count_capped(self):
        answer = self.ask(air(eutran=1000))
        self.assertEqual(len(answer.find("Authentication-Info").find_all("E-UTRAN-Vector")), 8)

    def test_default_one_vector(self):
        request = air(eutran=None)
        request.add("Requested-EUTRAN-Authentication-Info", [("Immediate-Response-Preferred", 1)])
        answer = self.ask(request)
        self.assertEqual(len(answer.find("Authentication-Info").find_all("E-UTRAN-Vector")), 1)

    def test_utran_quintuplets_and_eutran_share_the_sqn_space(self):
        answer = self.ask(air(eutran=1, utran_geran=2))
        info = answer.find("Authentication-Info")
        e = [self.ue.check_eutran(self, v, HOME) for v in info.find_all("E-UTRAN-Vector")]
        u = [self.ue.check_utran(self, v) for v in info.find_all("UTRAN-Vector")]
        self.assertEqual(len(set(e + u)), 3)
        self.assertEqual([v.get("Item-Number") for v in info.find_all("UTRAN-Vector")], [2, 3])
        # UTRAN AUTN carries the AMF as stored (no separation bit).
        self.assertEqual(info.find("UTRAN-Vector").get("AUTN")[6:8], b"\x00\x00")

    def test_geran_triplets(self):
        self.app.policy.utran_geran_vectors = "geran"
        answer = self.ask(air(eutran=None, utran_geran=2))
        triplets = answer.find("Authentication-Info").find_all("GERAN-Vector")
        self.assertEqual(len(triplets), 2)
        for t in triplets:
            res, ck, ik, _ = self.ue.m.f2345(t.get("RAND"))
            self.assertEqual(t.get("SRES"), c2(res))
            self.assertEqual(t.get("Kc"), c3(ck, ik))
        self.assertEqual(self.stored_sqn(), join(100, 3))

    def test_nothing_requested(self):
        answer = self.ask(air(eutran=None))
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS)
        self.assertIsNone(answer.find("Authentication-Info"))
        self.assertEqual(self.stored_sqn(), join(100, 3))

    def test_unknown_imsi(self):
        answer = self.ask(air(imsi="001019999999999"))
        self.assertIsNone(answer.get("Result-Code"))
        self.assertEqual(answer.get("Experimental-Result/Vendor-Id"), VENDOR_3GPP)
        self.assertEqual(experimental_code(answer), results.DIAMETER_ERROR_USER_UNKNOWN)
        self.assertFalse(answer.is_error)

    def test_garbage_imsi(self):
        answer = self.ask(air(imsi="not-an-imsi"))
        self.assertEqual(experimental_code(answer), results.DIAMETER_ERROR_USER_UNKNOWN)

    def test_disabled_subscriber(self):
        self.successResultOf(self.store.update_subscriber(IMSI, enabled=False))
        answer = self.ask(air())
        self.assertEqual(experimental_code(answer), results.DIAMETER_ERROR_UNKNOWN_EPS_SUBSCRIPTION)
        self.assertEqual(self.stored_sqn(), join(100, 3))

    def test_roaming(self):
        answer = self.ask(air(plmn=VISITED))
        self.ue.check_eutran(self, answer.find("Authentication-Info/E-UTRAN-Vector"), VISITED)
        self.successResultOf(self.store.update_subscriber(IMSI, roaming_allowed=False))
        answer = self.ask(air(plmn=VISITED))
        self.assertEqual(experimental_code(answer), results.DIAMETER_ERROR_ROAMING_NOT_ALLOWED)
        # At home it still works.
        answer = self.ask(air(plmn=HOME))
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS)

    def test_bad_visited_plmn_id(self):
        answer = self.ask(air(plmn=b"\x00\xf1"))
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_INVALID_AVP_VALUE)
        self.assertEqual(answer.get("Failed-AVP/Visited-PLMN-Id"), b"\x00\xf1")
        self.assertEqual(self.stored_sqn(), join(100, 3))

    def test_resync_valid(self):
        rand = bytes(range(16))
        sqn_ms = join(5000, 17)
        auts = compute_auts(self.ue.m, rand, sqn_ms)
        answer = self.ask(air(eutran=2, resync=rand + auts))
        sqns = [self.ue.check_eutran(self, v, HOME)
                for v in answer.find("Authentication-Info").find_all("E-UTRAN-Vector")]
        self.assertEqual([split(s) for s in sqns], [(5001, 18), (5002, 19)])
        self.assertEqual(self.stored_sqn(), sqns[-1])

    def test_resync_in_utran_geran_group(self):
        rand = bytes(16)
        auts = compute_auts(self.ue.m, rand, join(7000, 0))
        answer = self.ask(air(eutran=None, utran_geran=1, utran_resync=rand + auts))
        sqn = self.ue.check_utran(self, answer.find("Authentication-Info/UTRAN-Vector"))
        self.assertEqual(split(sqn), (7001, 1))

    def test_resync_forged(self):
        rand = bytes(range(16))
        auts = bytearray(compute_auts(self.ue.m, rand, join(5000, 17)))
        auts[10] ^= 0x04
        answer = self.ask(air(eutran=2, resync=rand + bytes(auts)))
        self.assertEqual(experimental_code(answer), results.DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE)
        self.assertIsNone(answer.find("Authentication-Info"))
        self.assertEqual(self.stored_sqn(), join(100, 3))

    def test_resync_wrong_length(self):
        answer = self.ask(air(resync=b"\x00" * 29))
        self.assertEqual(experimental_code(answer), results.DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE)
        self.assertEqual(self.stored_sqn(), join(100, 3))

    def test_op_subscriber(self):
        op = bytes.fromhex("cdc202d5123e20f62b6d676ac72cb318")  # TS 35.208 set 1 OP
        self.successResultOf(self.store.add_subscriber(Subscriber("001010000000002", K, op=op)))
        answer = self.ask(air(imsi="001010000000002"))
        self.ue.check_eutran(self, answer.find("Authentication-Info/E-UTRAN-Vector"), HOME)


class FakeConnection:
    """What DiameterNode.dispatch needs of a connection."""

    def __init__(self):
        self.pending = 0
        self.peer = None
        self.sent = []

    def send_answer(self, answer):
        self.sent.append(answer)

    name = "fake"


class DispatchTests(unittest.TestCase):
    def test_register_from_config(self):
        config = Config.default()
        node = DiameterNode.from_config(config, task.Clock())
        app = S6aApplication.from_config(node, MemoryStore(), config)
        app.register()
        self.assertEqual(app.policy.home_plmn, encode_plmn_id("001", "01"))
        self.assertIn((APP_S6A, CMD_AIR), node.handlers)

    def test_missing_user_name_is_5005(self):
        node = DiameterNode("hss.test", "epc.mnc001.mcc001.3gppnetwork.org", task.Clock())
        S6aApplication(node, MemoryStore(), "001", "01").register()
        connection = FakeConnection()
        node.dispatch(connection, air(imsi=None))
        self.assertEqual(connection.sent[0].get("Result-Code"), results.DIAMETER_MISSING_AVP)


class ConcurrentAirTests(unittest.TestCase):
    """Many AIRs for one IMSI in flight at once against the SQLite store
    (its reserve_sqns runs on the store's worker thread): no SQN twice."""

    @defer.inlineCallbacks
    def test_no_sqn_repeats(self):
        store = SqliteStore(self.mktemp() + ".sqlite3", reactor)
        self.addCleanup(store.close)
        yield store.add_subscriber(Subscriber(IMSI, K, opc=OPC))
        node = DiameterNode("hss.test", "epc.mnc001.mcc001.3gppnetwork.org", task.Clock())
        app = S6aApplication(node, store, "001", "01")
        answers = yield defer.gatherResults(
            [app.authentication_information(air(eutran=1 + i % 4), None) for i in range(80)])
        ue = UE()
        sqns = [ue.check_eutran(self, v, HOME)
                for a in answers for v in a.find("Authentication-Info").find_all("E-UTRAN-Vector")]
        self.assertEqual(len(sqns), sum(1 + i % 4 for i in range(80)))
        self.assertEqual(len(set(sqns)), len(sqns))
        self.assertEqual((yield store.get_subscriber(IMSI)).sqn, max(sqns))
