"""
S6a against an MME built on freeDiameter: Debian's freeDiameterd loads our
extension tests/fd_mme/fd_mme.c (libfreediameter-dev 1.2.1, the library
Open5GS's MME uses), connects to a pyhss node on 127.0.0.1 announcing S6a
in its CER, and sends AIR (E-UTRAN, UTRAN/GERAN, unknown IMSI), ULR, NOR,
PUR and ULR again.  Every answer goes through freeDiameter's own parser:
its dictionary (Debian's dict_dcca_3gpp plus what the extension adds) and
the TS 29.272 ABNF rules the extension registers (fd_msg_parse_rules).
Then pyhss sends IDR and CLR, as ``pyhss-admin subscriber update`` and
``cancel`` make it do, and the extension answers them.

What the MME received is checked the way a UE would: each authentication
vector is recomputed with pyhss's Milenage from the RAND and the stored
key, SQN recovered from AUTN with AK.
"""

import json
import os

from twisted.internet import defer, reactor
from twisted.trial import unittest

from pyhss.apps.s6a import SUBSCRIPTION_WITHDRAWAL, S6aApplication, encode_msisdn
from pyhss.apps.s6a_control import CancelSubscription, ProfileChanged
from pyhss.auc.kdf import derive_kasme, encode_plmn_id
from pyhss.auc.milenage import Milenage
from pyhss.control import ControlLocator
from pyhss.protocols import results
from pyhss.storage.memory import MemoryStore
from pyhss.storage.records import ApnProfile, Subscriber
from tests import fd_mme_build
from tests import interop_helpers as helpers
from tests.interop_nodes import node_peer_state, start_node

REALM = "epc.mnc001.mcc001.3gppnetwork.org"
HSS_HOST = "hss." + REALM
MME_HOST = "mme." + REALM
IMSI = "001010000000001"
UNKNOWN_IMSI = "001019999999999"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
MSISDN = "15551230001"
NEW_MSISDN = "15551230002"
HOME_PLMN = encode_plmn_id("001", "01")

STEPS = ("air-eutran", "air-utran-geran", "air-unknown-imsi", "ulr", "nor", "pur", "ulr-after-purge")
# Upper bounds for each wait; the test takes a few seconds.
STEPS_TIMEOUT = 15.0
PUSH_TIMEOUT = 5.0


def avp_values(avps, *path):
    """Every value at C{path} (AVP names, outermost first) in the
    extension's [[name, value], ...] lists."""
    found = [value for name, value in avps if name == path[0]]
    if len(path) == 1:
        return found
    return [value for group in found for value in avp_values(group, *path[1:])]


def avp_value(avps, *path):
    values = avp_values(avps, *path)
    return values[0] if values else None


def xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


class MmeOutput(object):
    """The extension's JSON lines, read again on every look."""

    def __init__(self, path):
        self.path = path

    def events(self, event=None):
        if not os.path.exists(self.path):
            return []
        with open(self.path) as handle:
            lines = [json.loads(line) for line in handle if line.strip()]
        return [line for line in lines if event is None or line["event"] == event]

    def one(self, event, label):
        matching = [line for line in self.events(event) if line["label"] == label]
        return matching[0] if len(matching) == 1 else None


class FreeDiameterMmeTests(unittest.TestCase):

    skip = fd_mme_build.SKIP_REASON
    timeout = 40

    @defer.inlineCallbacks
    def setUp(self):
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        extension = fd_mme_build.build_extension(directory)
        # The CEA goes out once freeDiameterd is ready for it: freeDiameter
        # 1.2.1 can lose one that comes sooner (FreeDiameterProcess.cea_gate).
        self.hss = yield start_node(
            self, origin_host=HSS_HOST, origin_realm=REALM,
            hold_cer=lambda index: self.freediameter.cea_gate(HSS_HOST)(index))
        self.store = MemoryStore()
        yield self.store.add_apn(ApnProfile("internet", qci=9, arp_priority=8, ambr_ul=50000000,
                                            ambr_dl=100000000))
        yield self.store.add_subscriber(Subscriber(IMSI, K, opc=OPC, msisdn=MSISDN, apns=("internet",)))
        self.app = S6aApplication(self.hss.node, self.store, "001", "01")
        self.app.register()
        config, output = fd_mme_build.write_configs(
            directory, extension, identity=MME_HOST, realm=REALM, hss_host=HSS_HOST, hss_realm=REALM,
            hss_port=self.hss.port, imsi=IMSI, unknown_imsi=UNKNOWN_IMSI, visited_plmn=HOME_PLMN)
        self.mme = MmeOutput(output)
        self.freediameter = helpers.FreeDiameterProcess.spawn(reactor, config)
        self.addCleanup(self.freediameter.stop, reactor)

    def explain(self):
        return "extension output:\n%s\nfreeDiameterd output:\n%s" % (
            "\n".join(json.dumps(line) for line in self.mme.events()), self.freediameter.text()[-6000:])

    def wait_for(self, predicate, timeout, description):
        return helpers.wait_or_fail(self, predicate, timeout, description, self.explain)

    def answer(self, label):
        line = self.mme.one("answer", label)
        self.assertIsNotNone(line, "no single answer recorded for %s\n%s" % (label, self.explain()))
        return line

    def assert_parsed_cleanly(self, line):
        """freeDiameter resolved every AVP and found the ABNF kept."""
        self.assertEqual((line["parse"], line["unknown_avps"]), ("ok", 0), json.dumps(line))

    def check_eutran_vector(self, milenage, vector):
        """The vector as the UE would check it; returns its SQN."""
        rand, xres, autn, kasme = (bytes.fromhex(avp_value(vector, name))
                                   for name in ("RAND", "XRES", "AUTN", "KASME"))
        sqn = xor(autn[:6], milenage.f5(rand))
        amf = autn[6:8]
        self.assertTrue(amf[0] & 0x80, "AMF separation bit")
        self.assertEqual(milenage.f1(rand, sqn, amf), autn[8:], "MAC-A")
        res, ck, ik, _ = milenage.f2345(rand)
        self.assertEqual(xres, res)
        self.assertEqual(kasme, derive_kasme(ck, ik, HOME_PLMN, autn[:6]))
        return int.from_bytes(sqn, "big")

    def check_utran_vector(self, milenage, vector):
        rand, xres, autn, ck, ik = (bytes.fromhex(avp_value(vector, name)) for name in (
            "RAND", "XRES", "AUTN", "Confidentiality-Key", "Integrity-Key"))
        sqn = xor(autn[:6], milenage.f5(rand))
        self.assertEqual(milenage.f1(rand, sqn, autn[6:8]), autn[8:], "MAC-A")
        self.assertEqual(milenage.f2345(rand)[:3], (xres, ck, ik))
        return int.from_bytes(sqn, "big")

    @defer.inlineCallbacks
    def test_mme_procedures_and_hss_pushes(self):
        mme = self.mme
        yield self.wait_for(
            lambda: (mme.events("done") or mme.events("error") or mme.events("parse-error")
                     or not self.freediameter.running),
            STEPS_TIMEOUT, "the extension to finish its requests")
        self.assertTrue(self.freediameter.running, self.explain())
        # freeDiameter drops a 2xxx answer that breaks its dictionary or the
        # ABNF rules (the extension's hook records it): none may be.
        self.assertEqual(mme.events("parse-error"), [], self.explain())
        self.assertEqual(mme.events("error"), [], self.explain())
        self.assertEqual(node_peer_state(self.hss, MME_HOST), "open")
        self.assertEqual(self.hss.node.peer(MME_HOST).applications, frozenset([16777251]))
        answers = mme.events("answer")
        self.assertEqual([line["label"] for line in answers], list(STEPS), self.explain())
        for line in answers:
            self.assert_parsed_cleanly(line)
            self.assertEqual(line["application"], 16777251)

        # AIA: two E-UTRAN vectors, then UTRAN quintuplets, all verifiable
        # with the subscriber's key; one SQN each, increasing.
        milenage = Milenage(K, OPC)
        eutran = self.answer("air-eutran")
        self.assertEqual((eutran["command"], eutran["result_code"]),
                         ("Authentication-Information-Answer", results.DIAMETER_SUCCESS))
        vectors = avp_values(eutran["avps"], "Authentication-Info", "E-UTRAN-Vector")
        self.assertEqual([avp_value(v, "Item-Number") for v in vectors], [1, 2])
        sqns = [self.check_eutran_vector(milenage, vector) for vector in vectors]
        utran = self.answer("air-utran-geran")
        self.assertEqual(utran["result_code"], results.DIAMETER_SUCCESS)
        quintuplets = avp_values(utran["avps"], "Authentication-Info", "UTRAN-Vector")
        self.assertEqual(len(quintuplets), 2, json.dumps(utran))
        sqns += [self.check_utran_vector(milenage, vector) for vector in quintuplets]
        self.assertEqual(sqns, sorted(set(sqns)))
        self.assertEqual((yield self.store.get_subscriber(IMSI)).sqn, sqns[-1])

        unknown = self.answer("air-unknown-imsi")
        self.assertEqual((unknown["result_code"], unknown["experimental_result_code"]),
                         (None, results.DIAMETER_ERROR_USER_UNKNOWN))
        self.assertEqual(avp_value(unknown["avps"], "Experimental-Result", "Vendor-Id"), 10415)
        self.assertEqual(avp_values(unknown["avps"], "Authentication-Info"), [])

        # ULA: Subscription-Data with the MSISDN and the APN.
        for label in ("ulr", "ulr-after-purge"):
            ula = self.answer(label)
            self.assertEqual((ula["command"], ula["result_code"]),
                             ("Update-Location-Answer", results.DIAMETER_SUCCESS))
            self.assertEqual(avp_value(ula["avps"], "ULA-Flags"), 1)
            data = avp_values(ula["avps"], "Subscription-Data")
            self.assertEqual(len(data), 1, json.dumps(ula))
            self.assertEqual(avp_value(data[0], "MSISDN"), encode_msisdn(MSISDN).hex())
            apn = avp_values(data[0], "APN-Configuration-Profile", "APN-Configuration")
            self.assertEqual([bytes.fromhex(avp_value(c, "Service-Selection")).decode() for c in apn],
                             ["internet"])
            self.assertEqual(avp_value(apn[0], "EPS-Subscribed-QoS-Profile", "QoS-Class-Identifier"), 9)

        nor = self.answer("nor")
        self.assertEqual((nor["command"], nor["result_code"]), ("Notify-Answer", results.DIAMETER_SUCCESS))
        pua = self.answer("pur")
        self.assertEqual((pua["command"], pua["result_code"]), ("Purge-UE-Answer", results.DIAMETER_SUCCESS))
        # The purging MME is the registered one: freeze M-TMSI.
        self.assertEqual(avp_value(pua["avps"], "PUA-Flags"), 1)

        # HSS-initiated: IDR after a profile change, then CLR, as the
        # control socket's ProfileChanged and CancelSubscription do.
        locator = ControlLocator([self.app])
        yield self.store.update_subscriber(IMSI, msisdn=NEW_MSISDN)
        idr_outcome = yield locator.respond(ProfileChanged, imsi=IMSI)
        self.assertEqual((idr_outcome["sent"], idr_outcome["mme"], idr_outcome["result_code"]),
                         (True, MME_HOST, results.DIAMETER_SUCCESS), self.explain())
        clr_outcome = yield locator.respond(CancelSubscription, imsi=IMSI)
        self.assertEqual((clr_outcome["sent"], clr_outcome["result_code"]),
                         (True, results.DIAMETER_SUCCESS), self.explain())
        idr = mme.one("request", "idr")
        clr = mme.one("request", "clr")
        self.assertIsNotNone(idr, self.explain())
        self.assertIsNotNone(clr, self.explain())
        self.assert_parsed_cleanly(idr)
        self.assert_parsed_cleanly(clr)
        self.assertEqual(idr["command"], "Insert-Subscriber-Data-Request")
        self.assertEqual(avp_value(idr["avps"], "Subscription-Data", "MSISDN"), encode_msisdn(NEW_MSISDN).hex())
        self.assertEqual(clr["command"], "Cancel-Location-Request")
        self.assertEqual(avp_value(clr["avps"], "Cancellation-Type"), SUBSCRIPTION_WITHDRAWAL)
        for request in (idr, clr):
            self.assertEqual(bytes.fromhex(avp_value(request["avps"], "Destination-Host")).decode(), MME_HOST)
            self.assertEqual(bytes.fromhex(avp_value(request["avps"], "User-Name")).decode(), IMSI)

        # Nothing was dropped, refused by the parser or left unanswered.
        for event in ("parse-error", "dropped", "routing-error", "timeout"):
            self.assertEqual(mme.events(event), [], self.explain())
        self.assertEqual(self.freediameter.lines("ERROR"), [], self.explain())
