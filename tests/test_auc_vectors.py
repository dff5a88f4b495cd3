"""KDF / K_ASME, PLMN id, c2/c3, the three vector kinds, resynchronisation
and the AuthenticationCentre facade.

Where each expected value comes from is said next to it; values "computed
by hand" were worked out digit by digit from the formula in the spec text,
not produced by this code.
"""

import hashlib
import hmac

from twisted.internet import defer
from twisted.trial import unittest

from pyhss.auc.centre import AuthenticationCentre, VectorSet
from pyhss.auc.conversions import c2, c3
from pyhss.auc.errors import (
    AUTHENTICATION_DATA_UNAVAILABLE,
    InvalidKeyMaterial,
    InvalidVectorRequest,
    MalformedResyncInfo,
    ResyncError,
    ResyncMacMismatch,
    UnknownSubscriber,
)
from pyhss.auc.kdf import decode_plmn_id, derive_kasme, encode_plmn_id, kdf
from pyhss.auc.milenage import Milenage
from pyhss.auc.resync import compute_auts, resynchronise
from pyhss.auc.sqn import advance, split
from pyhss.auc.vectors import eutran_amf, eutran_vector, geran_vector, utran_vector

h = bytes.fromhex

# TS 35.208 4.3 test set 1 (see tests/test_milenage.py).
SET1_K = h("465b5ce8b199b49faa5f0a2ee238a6bc")
SET1_OPC = h("cd63cb71954a9f4e48a5994e37a02baf")
SET1_RAND = h("23553cbe9637a89d218ae64dae47bf35")
SET1_SQN = h("ff9bb4d0b607")
SET1_AMF = h("b9b9")
SET1_F1 = h("4a9ffac354dfafb3")
SET1_F2 = h("a54211d5e3ba50bf")
SET1_F3 = h("b40ba9a3c58b2a05bbf0d987b21bf8cb")
SET1_F4 = h("f769bcd751044604127672711c6d3441")
SET1_F5 = h("aa689c648370")

# A complete E-UTRAN vector an OpenAirInterface HSS produced, published
# (inputs and outputs from OAI logs) in the Magma project's MILENAGE
# tests: K, OP = 0x11 * 16, RAND = 00..0f, SQN = 7351, AMF = 8000,
# serving network MCC 208 / MNC 95.  Independent of this code base.
OAI_K = h("8baf473f2f8fd09487cccbd7097c6862")
OAI_OP = b"\x11" * 16
OAI_OPC = h("8e27b6af0e692e750f32667a3b14605d")
OAI_RAND = bytes(range(16))
OAI_SQN = 7351
OAI_AMF = h("8000")
OAI_PLMN = h("02f859")
OAI_XRES = h("2daf873d73f310c6")
OAI_AUTN = h("6fbfa3801f5780007bde59886e96e4fe")
OAI_KASME = h("8748c1c0a2826fa405b1e27ea104434ae556c765e8f061ebdb8ae286c44616c2")

# Same project, resynchronisation case: f1* with SQN_MS = 0 and the dummy
# AMF 0000 for K = OAI_K, OPc = OAI_OPC and this RAND gives this MAC-S.
RESYNC_RAND = h("cd14a753977fbc718e62bddb535d88f8")
RESYNC_MAC_S_SQN0 = h("db5f6360591f34ea")

# GSM-MILENAGE conformance data, 3GPP TS 55.205 test sets 1-6 (same K,
# RAND and OPc as TS 35.208 sets 1-6): SRES = c2(RES) and Kc = c3(CK, IK).
TS_55_205 = [
    ("465b5ce8b199b49faa5f0a2ee238a6bc", "23553cbe9637a89d218ae64dae47bf35", "cd63cb71954a9f4e48a5994e37a02baf",
     "46f8416a", "eae4be823af9a08b"),
    ("fec86ba6eb707ed08905757b1bb44b8f", "9f7c8d021accf4db213ccff0c7f71a6a", "1006020f0a478bf6b699f15c062e42b3",
     "8c308a5e", "aa01739b8caa976d"),
    ("9e5944aea94b81165c82fbf9f32db751", "ce83dbc54ac0274a157c17f80d017bd6", "a64a507ae1a2a98bb88eb4210135dc87",
     "cfbce3fe", "9a8ec95f408cc507"),
    ("4ab1deb05ca6ceb051fc98e77d026a84", "74b0cd6031a1c8339b2b6ce2b8c4a186", "dcf07cbd51855290b92a07a9891e523e",
     "9655e265", "cdc1dc0841b81a22"),
    ("6c38a116ac280c454f59332ee35c8c4f", "ee6466bc96202c5a557abbeff8babf63", "3803ef5363b947c6aaa225e58fae3934",
     "13688f17", "df75bc5ea899879f"),
    ("2d609d4db0ac5bf0d2c0de267014de0d", "194aa756013896b74b4a2a3b0af4539e", "c35a0ab0bcbfc9252caff15f24efbde0",
     "553d00b3", "84b417ae3aeab4f3"),
]


class KdfTests(unittest.TestCase):
    def test_kasme_published_example(self):
        m = Milenage.from_op(OAI_K, OAI_OP)
        self.assertEqual(m.opc, OAI_OPC)
        vector = eutran_vector(m, OAI_SQN, OAI_AMF, OAI_PLMN, rand=OAI_RAND)
        self.assertEqual(vector.xres, OAI_XRES)
        self.assertEqual(vector.autn, OAI_AUTN)
        self.assertEqual(vector.kasme, OAI_KASME)

    def test_kasme_structure(self):
        """TS 33.401 A.2 / TS 33.220 B.2 written out independently:
        HMAC-SHA-256(CK || IK, 0x10 || SN id || 0x0003 || SQN^AK || 0x0006)."""
        sqn_xor_ak = bytes(a ^ b for a, b in zip(SET1_SQN, SET1_F5))
        s = b"\x10" + OAI_PLMN + b"\x00\x03" + sqn_xor_ak + b"\x00\x06"
        expected = hmac.new(SET1_F3 + SET1_F4, s, hashlib.sha256).digest()
        self.assertEqual(derive_kasme(SET1_F3, SET1_F4, OAI_PLMN, sqn_xor_ak), expected)
        self.assertEqual(kdf(SET1_F3 + SET1_F4, 0x10, OAI_PLMN, sqn_xor_ak), expected)

    def test_kdf_lengths_and_no_parameters(self):
        key = b"k" * 32
        self.assertEqual(kdf(key, 0x6C), hmac.new(key, b"\x6c", hashlib.sha256).digest())
        self.assertEqual(
            kdf(key, 0x11, b"\x00" * 300),
            hmac.new(key, b"\x11" + b"\x00" * 300 + b"\x01\x2c", hashlib.sha256).digest(),
        )
        self.assertRaises(InvalidKeyMaterial, kdf, key, 0x100)

    def test_kasme_rejects_bad_lengths(self):
        self.assertRaises(InvalidKeyMaterial, derive_kasme, SET1_F3, SET1_F4, b"\x02\xf8", b"\x00" * 6)
        self.assertRaises(InvalidKeyMaterial, derive_kasme, SET1_F3, SET1_F4, OAI_PLMN, b"\x00" * 5)
        self.assertRaises(InvalidKeyMaterial, derive_kasme, SET1_F3[:8], SET1_F4, OAI_PLMN, b"\x00" * 6)


class PlmnIdTests(unittest.TestCase):
    def test_two_digit_mnc(self):
        self.assertEqual(encode_plmn_id("208", "95"), h("02f859"))
        self.assertEqual(encode_plmn_id("001", "01"), h("00f110"))

    def test_three_digit_mnc(self):
        # TS 24.008 10.5.1.13 layout: MCC 310, MNC 410 -> 13 00 14.
        self.assertEqual(encode_plmn_id("310", "410"), h("130014"))

    def test_round_trip(self):
        for mcc, mnc in (("208", "95"), ("310", "410"), ("001", "01"), ("999", "999")):
            self.assertEqual(decode_plmn_id(encode_plmn_id(mcc, mnc)), (mcc, mnc))

    def test_rejects_bad_input(self):
        self.assertRaises(InvalidKeyMaterial, encode_plmn_id, "20", "95")
        self.assertRaises(InvalidKeyMaterial, encode_plmn_id, "208", "9")
        self.assertRaises(InvalidKeyMaterial, encode_plmn_id, "2a8", "95")
        self.assertRaises(InvalidKeyMaterial, decode_plmn_id, h("0af859"))
        self.assertRaises(InvalidKeyMaterial, decode_plmn_id, h("02f8"))


class ConversionTests(unittest.TestCase):
    def test_c2_hand_computed(self):
        # 32-bit XRES is its own SRES.
        self.assertEqual(c2(h("01020304")), h("01020304"))
        # 64-bit: 01020304 ^ 05060708 = 0404040c.
        self.assertEqual(c2(h("0102030405060708")), h("0404040c"))
        # 96-bit, zero padded: 11223344 ^ 55667788 ^ 99aabbcc ^ 00000000.
        self.assertEqual(c2(h("112233445566778899aabbcc")), h("ddeeff00"))
        # 128-bit: f0000000 ^ 0f000000 ^ 00f00000 ^ 000f0001.
        self.assertEqual(c2(h("f00000000f00000000f00000000f0001")), h("ffff0001"))

    def test_c3_hand_computed(self):
        # CK1 ^ CK2 = 8888888888888888, IK1 ^ IK2 = 0808080808080808.
        ck = h("00112233445566778899aabbccddeeff")
        ik = h("0f0e0d0c0b0a09080706050403020100")
        self.assertEqual(c3(ck, ik), h("8080808080808080"))

    def test_ts_55_205(self):
        for k, rand, opc, sres, kc in TS_55_205:
            vector = geran_vector(Milenage(h(k), h(opc)), rand=h(rand))
            self.assertEqual((vector.rand, vector.sres, vector.kc), (h(rand), h(sres), h(kc)), k)

    def test_bad_lengths(self):
        self.assertRaises(InvalidKeyMaterial, c2, b"\x00" * 3)
        self.assertRaises(InvalidKeyMaterial, c2, b"\x00" * 17)
        self.assertRaises(InvalidKeyMaterial, c3, b"\x00" * 16, b"\x00" * 8)


class VectorTests(unittest.TestCase):
    def setUp(self):
        self.m = Milenage(SET1_K, SET1_OPC)
        self.sqn = int.from_bytes(SET1_SQN, "big")

    def test_utran_vector_from_ts_35_208(self):
        v = utran_vector(self.m, self.sqn, SET1_AMF, rand=SET1_RAND)
        sqn_xor_ak = bytes(a ^ b for a, b in zip(SET1_SQN, SET1_F5))
        self.assertEqual(v.autn, sqn_xor_ak + SET1_AMF + SET1_F1)
        self.assertEqual((v.rand, v.xres, v.ck, v.ik, v.sqn), (SET1_RAND, SET1_F2, SET1_F3, SET1_F4, self.sqn))

    def test_eutran_vector_sets_separation_bit(self):
        v = eutran_vector(self.m, self.sqn, h("3939"), OAI_PLMN, rand=SET1_RAND)
        self.assertEqual(v.autn[6:8], h("b939"))
        # MAC-A covers the AMF actually sent.
        self.assertEqual(v.autn[8:], self.m.f1(SET1_RAND, SET1_SQN, h("b939")))
        self.assertEqual(v.autn[:6], bytes(a ^ b for a, b in zip(SET1_SQN, SET1_F5)))
        self.assertEqual(v.xres, SET1_F2)
        self.assertEqual(len(v.kasme), 32)
        self.assertEqual(eutran_amf(h("0000")), h("8000"))
        self.assertEqual(eutran_amf(h("8000")), h("8000"))

    def test_kasme_depends_on_serving_network(self):
        a = eutran_vector(self.m, self.sqn, SET1_AMF, encode_plmn_id("208", "95"), rand=SET1_RAND)
        b = eutran_vector(self.m, self.sqn, SET1_AMF, encode_plmn_id("208", "93"), rand=SET1_RAND)
        self.assertEqual(a.autn, b.autn)
        self.assertNotEqual(a.kasme, b.kasme)

    def test_random_rand(self):
        a = eutran_vector(self.m, 32, SET1_AMF, OAI_PLMN)
        b = eutran_vector(self.m, 33, SET1_AMF, OAI_PLMN)
        self.assertEqual(len(a.rand), 16)
        self.assertNotEqual(a.rand, b.rand)
        self.assertNotEqual(geran_vector(self.m).rand, geran_vector(self.m).rand)

    def test_repr_has_no_keys(self):
        v = eutran_vector(self.m, self.sqn, SET1_AMF, OAI_PLMN, rand=SET1_RAND)
        self.assertNotIn(v.kasme.hex(), repr(v))
        self.assertNotIn(v.xres.hex(), repr(v))


class ResyncTests(unittest.TestCase):
    def setUp(self):
        self.m = Milenage(OAI_K, OAI_OPC)

    def test_published_mac_s(self):
        auts = compute_auts(self.m, RESYNC_RAND, 0)
        self.assertEqual(auts[6:], RESYNC_MAC_S_SQN0)
        result = resynchronise(self.m, RESYNC_RAND + auts)
        self.assertEqual(result.sqn_ms, 0)
        self.assertEqual(result.rand, RESYNC_RAND)

    def test_valid_auts_recovers_sqn_ms_and_continues(self):
        sqn_ms = (123456 << 5) | 7  # SEQ_MS = 123456, IND_MS = 7
        auts = compute_auts(self.m, RESYNC_RAND, sqn_ms)
        # AUTS conceals SQN_MS.
        self.assertNotEqual(auts[:6], sqn_ms.to_bytes(6, "big"))
        result = resynchronise(self.m, RESYNC_RAND + auts)
        self.assertEqual(result.sqn_ms, sqn_ms)
        # The AuC was behind (SEQ_HE = 10): reset to SQN_MS and continue.
        new_stored, sqns = advance(10 << 5, result.request(3))
        self.assertEqual([split(s) for s in sqns], [(123457, 8), (123458, 9), (123459, 10)])
        self.assertEqual(new_stored, sqns[-1])

    def test_auc_ahead_keeps_its_counter(self):
        sqn_ms = 1000 << 5
        result = resynchronise(self.m, RESYNC_RAND + compute_auts(self.m, RESYNC_RAND, sqn_ms))
        current = (1005 << 5) | 3
        new_stored, sqns = advance(current, result.request(1))
        self.assertEqual(split(sqns[0]), (1006, 4))
        # ... unless it is further ahead than the USIM accepts (delta).
        _, sqns = advance(current, result.request(1, delta=4))
        self.assertEqual(split(sqns[0]), (1001, 1))

    def test_forged_auts_every_mac_bit(self):
        auts = compute_auts(self.m, RESYNC_RAND, 5 << 5)
        for bit in range(64):
            forged = bytearray(auts)
            forged[6 + bit // 8] ^= 0x80 >> (bit % 8)
            error = self.assertRaises(ResyncMacMismatch, resynchronise, self.m, RESYNC_RAND + bytes(forged))
            self.assertEqual(error.experimental_result, AUTHENTICATION_DATA_UNAVAILABLE)

    def test_forged_concealed_sqn(self):
        auts = bytearray(compute_auts(self.m, RESYNC_RAND, 5 << 5))
        auts[5] ^= 1
        self.assertRaises(ResyncMacMismatch, resynchronise, self.m, RESYNC_RAND + bytes(auts))

    def test_other_key_fails(self):
        auts = compute_auts(self.m, RESYNC_RAND, 5 << 5)
        other = Milenage(SET1_K, SET1_OPC)
        self.assertRaises(ResyncMacMismatch, resynchronise, other, RESYNC_RAND + auts)

    def test_malformed(self):
        for bad in (b"", b"\x00" * 29, b"\x00" * 31, "x" * 30, None):
            self.assertRaises(MalformedResyncInfo, resynchronise, self.m, bad)
        self.assertTrue(issubclass(MalformedResyncInfo, ResyncError))


class SerialisingStore:
    """Just enough of IStore for the AuC: reserve_sqns applies the request
    to the stored value (pyhss.auc.sqn.advance); ``deferred=True`` queues
    calls to release them later in any order, like concurrent transactions
    that commit one at a time."""

    def __init__(self, sqn=0, deferred=False):
        self.sqn = {}
        self.initial = sqn
        self.deferred = deferred
        self.pending = []
        self.calls = 0

    def reserve_sqns(self, imsi, request):
        self.calls += 1
        if not self.deferred:
            return defer.maybeDeferred(self._run, imsi, request)
        d = defer.Deferred()
        self.pending.append((d, imsi, request))
        return d

    def _run(self, imsi, request):
        new, sqns = advance(self.sqn.get(imsi, self.initial), request)
        self.sqn[imsi] = new
        return imsi, sqns

    def release(self, order):
        pending, self.pending = self.pending, []
        for index in order:
            d, imsi, request = pending[index]
            d.callback(self._run(imsi, request))


class Subscriber:
    """Duck-typed stand-in for pyhss.storage.records.Subscriber."""

    def __init__(self, imsi, k, opc=None, op=None, amf=b"\x00\x00"):
        self.imsi, self.k, self.opc, self.op, self.amf = imsi, k, opc, op, amf


class CentreTests(unittest.TestCase):
    def setUp(self):
        self.store = SerialisingStore(sqn=(41 << 5) | 31)
        counter = iter(range(10**6))
        self.centre = AuthenticationCentre(self.store, random=lambda n: next(counter).to_bytes(n, "big"))
        self.sub = Subscriber("001010000000001", OAI_K, op=OAI_OP, amf=b"\x00\x00")

    def result(self, d):
        return self.successResultOf(d)

    def test_eutran_and_utran_in_one_reservation(self):
        vs = self.result(self.centre.generate(self.sub, eutran=2, utran=1, geran=2, serving_network_id=OAI_PLMN))
        self.assertIsInstance(vs, VectorSet)
        self.assertEqual(self.store.calls, 1)
        self.assertEqual([split(v.sqn) for v in vs.eutran + vs.utran], [(42, 0), (43, 1), (44, 2)])
        self.assertEqual(self.store.sqn[self.sub.imsi], (44 << 5) | 2)
        self.assertEqual(vs.eutran[0].autn[6:8], h("8000"))
        self.assertEqual(vs.utran[0].autn[6:8], h("0000"))
        self.assertEqual(len(vs.geran), 2)
        self.assertEqual(len({v.rand for v in vs.eutran + vs.utran + vs.geran}), 5)

    def test_resync_success(self):
        m = Milenage(OAI_K, OAI_OPC)
        auts = compute_auts(m, RESYNC_RAND, (500 << 5) | 4)
        vs = self.result(self.centre.generate(self.sub, eutran=1, serving_network_id=OAI_PLMN,
                                              resync_info=RESYNC_RAND + auts))
        self.assertTrue(vs.resynchronised)
        self.assertEqual(split(vs.eutran[0].sqn), (501, 5))
        self.assertEqual(self.store.sqn[self.sub.imsi], vs.eutran[0].sqn)

    def test_resync_forged_leaves_sqn_alone(self):
        m = Milenage(OAI_K, OAI_OPC)
        auts = bytearray(compute_auts(m, RESYNC_RAND, (500 << 5) | 4))
        auts[-1] ^= 1
        failure = self.failureResultOf(
            self.centre.generate(self.sub, eutran=1, serving_network_id=OAI_PLMN,
                                 resync_info=RESYNC_RAND + bytes(auts)),
            ResyncMacMismatch,
        )
        self.assertEqual(failure.value.experimental_result, 4181)
        self.assertEqual(self.store.calls, 0)
        self.assertEqual(self.store.sqn, {})

    def test_bad_requests_fail_the_deferred(self):
        self.failureResultOf(self.centre.generate(self.sub, eutran=33, serving_network_id=OAI_PLMN),
                             InvalidVectorRequest)
        self.failureResultOf(self.centre.generate(self.sub, utran=-1), InvalidVectorRequest)
        self.failureResultOf(self.centre.generate(self.sub, eutran=1), InvalidVectorRequest)
        self.failureResultOf(self.centre.generate(Subscriber("1", b"short", op=OAI_OP), utran=1),
                             InvalidKeyMaterial)
        self.assertEqual(self.store.calls, 0)

    def test_sqn_requests_are_plain_and_shared(self):
        # One per count, built once: an AIR allocates none.
        request = self.centre.sqn_request(2)
        self.assertIs(self.centre.sqn_request(2), request)
        self.assertEqual((request.count, request.ind_bits, request.resync_sqn), (2, 5, None))
        resync = self.centre.sqn_request(1, resync_sqn=500 << 5)
        self.assertEqual((resync.count, resync.resync_sqn), (1, 500 << 5))
        self.assertIsNot(self.centre.sqn_request(1, resync_sqn=500 << 5), resync)

    def test_unknown_subscriber(self):
        class Gone:
            def reserve_sqns(self, imsi, request):
                return defer.succeed((None, None))
        centre = AuthenticationCentre(Gone())
        self.failureResultOf(centre.generate(self.sub, eutran=1, serving_network_id=OAI_PLMN), UnknownSubscriber)

    def test_geran_only_needs_no_sqn(self):
        vs = self.result(self.centre.generate(self.sub, geran=3))
        self.assertEqual(len(vs.geran), 3)
        self.assertEqual(self.store.calls, 0)

    def test_concurrent_airs_never_share_sqn(self):
        store = SerialisingStore(sqn=0, deferred=True)
        centre = AuthenticationCentre(store)
        ds = [centre.generate(self.sub, eutran=1 + i % 3, serving_network_id=OAI_PLMN) for i in range(60)]
        # Commit order differs from request order.
        store.release([(i * 37) % 60 for i in range(60)])
        sqns = [v.sqn for d in ds for v in self.result(d).eutran]
        self.assertEqual(len(sqns), sum(1 + i % 3 for i in range(60)))
        self.assertEqual(len(set(sqns)), len(sqns))
        self.assertEqual(store.sqn[self.sub.imsi], max(sqns))
