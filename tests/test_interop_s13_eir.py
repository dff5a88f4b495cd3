"""
S13 against an MME built on freeDiameter: Debian's freeDiameterd loads our
extension (tests/fd_mme/, in its S13 role; libfreediameter-dev 1.2.1, the
library Open5GS's MME is built on), connects to a pyhss node on 127.0.0.1
announcing S13 alone in its CER, and sends ECRs for a whitelisted, a
blacklisted and a greylisted IMEI, one known by its TAC only, an IMEI
bound to another IMSI, an unknown one, and malformed ones.  Every ECA goes
through freeDiameter's own parser: its dictionary (dict_dcca_3gpp plus what
the extension adds) and the TS 29.272 ECR/ECA ABNF rules the extension
registers (fd_msg_parse_rules).  Then the checks are in pyhss's history.
"""

import json
import os

from twisted.internet import defer, reactor
from twisted.trial import unittest

from pyhss.apps.s13 import S13Application
from pyhss.apps.s13_history import CheckHistory
from pyhss.apps.s13_policy import EirPolicy
from pyhss.protocols import results
from pyhss.storage.memory import MemoryStore
from pyhss.storage.records_eir import BLACKLISTED, GREYLISTED, WHITELISTED, EquipmentRule, luhn_check_digit
from tests import fd_mme_build
from tests import interop_helpers as helpers
from tests.interop_nodes import node_peer_state, start_node
from tests.test_interop_s6a_mme import MmeOutput, avp_value, avp_values

REALM = "epc.mnc001.mcc001.3gppnetwork.org"
EIR_HOST = "eir." + REALM
MME_HOST = "mme." + REALM
IMSI = "001010000000001"
OTHER_IMSI = "001010000000002"
WHITE, BLACK, GREY, BOUND = "35123456000001", "35123456000002", "35123456000003", "35123456000004"
TAC = "86000000"
UNKNOWN = "01020304050607"

# (label, IMEI, Software-Version, User-Name, what the EIR answers):
# an Equipment-Status, or a Result-Code / Experimental-Result-Code.
ECRS = (
    ("whitelisted", WHITE + luhn_check_digit(WHITE), "01", IMSI, ("status", WHITELISTED)),
    ("blacklisted", BLACK, "02", IMSI, ("status", BLACKLISTED)),
    ("greylisted", GREY + "0", "03", None, ("status", GREYLISTED)),     # spare digit, no IMSI
    ("by-tac", TAC + "123456", "04", IMSI, ("status", GREYLISTED)),
    ("bound-to-another-imsi", BOUND, "05", OTHER_IMSI, ("status", BLACKLISTED)),
    ("unknown", UNKNOWN, "06", IMSI, ("experimental", results.DIAMETER_ERROR_EQUIPMENT_UNKNOWN)),
    ("malformed-imei", "3512345600000A", "07", IMSI, ("result", results.DIAMETER_INVALID_AVP_VALUE)),
    ("bad-check-digit", BLACK + str((int(luhn_check_digit(BLACK)) + 1) % 10 or 1), "08", IMSI,
     ("result", results.DIAMETER_INVALID_AVP_VALUE)),
    ("malformed-software-version", WHITE, "123", IMSI, ("result", results.DIAMETER_INVALID_AVP_VALUE)),
    ("no-imei", None, "09", IMSI, ("result", results.DIAMETER_MISSING_AVP)),
)
STEPS_TIMEOUT = 15.0


class FreeDiameterS13Tests(unittest.TestCase):

    skip = fd_mme_build.SKIP_REASON
    timeout = 40

    @defer.inlineCallbacks
    def setUp(self):
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        extension = fd_mme_build.build_extension(directory)
        # The CEA goes out once freeDiameterd is ready for it (see the S6a test).
        self.eir = yield start_node(
            self, origin_host=EIR_HOST, origin_realm=REALM,
            hold_cer=lambda index: self.freediameter.cea_gate(EIR_HOST)(index))
        self.store = MemoryStore()
        for rule in (EquipmentRule(WHITE, WHITELISTED), EquipmentRule(BLACK, BLACKLISTED),
                     EquipmentRule(GREY, GREYLISTED), EquipmentRule(TAC, GREYLISTED),
                     EquipmentRule(BOUND, WHITELISTED, imsi=IMSI)):
            yield self.store.add_equipment_rule(rule)
        node = self.eir.node
        self.history = CheckHistory(self.store, reactor, node.log_summary, flush_interval=0.05)
        self.app = S13Application(node, self.store, EirPolicy(), self.history)
        self.app.register()
        self.addCleanup(self.app.stop)
        config, output = fd_mme_build.write_s13_configs(
            directory, extension, identity=MME_HOST, realm=REALM, eir_host=EIR_HOST, eir_realm=REALM,
            eir_port=self.eir.port, ecrs=[step[:4] for step in ECRS])
        self.mme = MmeOutput(output)
        self.freediameter = helpers.FreeDiameterProcess.spawn(reactor, config)
        self.addCleanup(self.freediameter.stop, reactor)

    def explain(self):
        return "extension output:\n%s\nfreeDiameterd output:\n%s" % (
            "\n".join(json.dumps(line) for line in self.mme.events()), self.freediameter.text()[-6000:])

    @defer.inlineCallbacks
    def test_ecr_for_every_kind_of_imei(self):
        mme = self.mme
        yield helpers.wait_or_fail(
            self, lambda: (mme.events("done") or mme.events("error") or mme.events("parse-error")
                           or not self.freediameter.running),
            STEPS_TIMEOUT, "the extension to finish its ECRs", self.explain)
        self.assertTrue(self.freediameter.running, self.explain())
        for event in ("parse-error", "error", "dropped", "routing-error", "timeout"):
            self.assertEqual(mme.events(event), [], self.explain())
        # The MME announced S13 alone, and that is what we share.
        self.assertEqual(node_peer_state(self.eir, MME_HOST), "open")
        self.assertEqual(self.eir.node.peer(MME_HOST).applications, frozenset([16777252]))
        answers = mme.events("answer")
        self.assertEqual([line["label"] for line in answers], [step[0] for step in ECRS], self.explain())
        for line, (label, imei, version, imsi, expected) in zip(answers, ECRS):
            # freeDiameter resolved every AVP and found the ECA's ABNF kept.
            self.assertEqual((line["parse"], line["unknown_avps"]), ("ok", 0), json.dumps(line))
            self.assertEqual((line["command"], line["application"]), ("ME-Identity-Check-Answer", 16777252))
            self.assertEqual(avp_value(line["avps"], "Auth-Session-State"), 1)
            self.assertEqual(bytes.fromhex(avp_value(line["avps"], "Origin-Host")).decode(), EIR_HOST)
            kind, value = expected
            status = avp_value(line["avps"], "Equipment-Status")
            if kind == "status":
                self.assertEqual((line["result_code"], status), (results.DIAMETER_SUCCESS, value), label)
            elif kind == "experimental":
                self.assertEqual((line["result_code"], line["experimental_result_code"], status),
                                 (None, value, None), label)
                self.assertEqual(avp_value(line["avps"], "Experimental-Result", "Vendor-Id"), 10415)
            else:
                self.assertEqual((line["result_code"], status), (value, None), label)
                # Failed-AVP holds the offending AVP inside its Terminal-Information.
                (failed,) = avp_values(line["avps"], "Failed-AVP", "Terminal-Information")
                name = "Software-Version" if "software" in label else "IMEI"
                self.assertEqual([child[0] for child in failed], [name], json.dumps(line))
                self.assertTrue(avp_value(line["avps"], "Error-Message"), label)
        # Every check is in the history, refused ones too, in order.
        yield self.app.stop()
        checks = yield self.store.list_equipment_checks()
        self.assertEqual([(c.imei, c.imsi, c.origin_host) for c in checks[:3]],
                         [(WHITE, IMSI, MME_HOST), (BLACK, IMSI, MME_HOST), (GREY, None, MME_HOST)])
        self.assertEqual([(c.result_code, c.reason) for c in checks],
                         [(2001, "imei")] * 3 + [(2001, "tac"), (2001, "imsi-mismatch"), (5422, "unknown")]
                         + [(5004, "refused")] * 3 + [(5005, "refused")])
        self.assertEqual(self.freediameter.lines("ERROR"), [], self.explain())
