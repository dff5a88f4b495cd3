"""S13 ECR/ECA (TS 29.272 6.2.1): every answer the EIR gives, through the
handler and through a node's connection."""

from twisted.internet import defer, task
from twisted.trial import unittest

from pyhss.apps.s13 import S13Application
from pyhss.apps.s13_history import CheckHistory
from pyhss.apps.s13_policy import EirPolicy
from pyhss.config import Config
from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import APP_S13, CMD_ECR, VENDOR_3GPP
from pyhss.storage.errors import StoreError
from pyhss.storage.memory import MemoryStore
from pyhss.storage.records_eir import (
    BLACKLISTED, BY_DEFAULT, BY_IMEI, BY_TAC, GREYLISTED, IMSI_MISMATCH, REFUSED, STORE_FAILED, WHITELISTED,
    EquipmentCheck, EquipmentRule, luhn_check_digit,
)
from tests.peer_helpers import PEER_HOST, make_node, open_connection, read_messages

IMSI = "001010000000001"
OTHER_IMSI = "001010000000002"
WHITE = "35123456000001"
BLACK = "35123456000002"
GREY = "35123456000003"
BOUND = "35123456000004"
TAC = "86000000"            # a greylisted TAC
IN_TAC = TAC + "123456"
OVERRIDDEN = TAC + "000009"   # in the TAC, but whitelisted by its own rule
UNKNOWN = "01020304050607"
MME = "mme1.test"


def ecr(imei=WHITE, software_version="07", imsi=IMSI, mme=MME, terminal=None, extra=(), hop_by_hop=None):
    """An ECR as an MME sends it; ``terminal`` replaces Terminal-Information's children."""
    if terminal is None:
        terminal = []
        if imei is not None:
            terminal.append(("IMEI", imei))
        if software_version is not None:
            terminal.append(("Software-Version", software_version))
    avps = [
        ("Session-Id", f"{mme};1;ecr"),
        ("Auth-Session-State", 1),
        ("Origin-Host", mme),
        ("Origin-Realm", "test"),
        ("Destination-Realm", "epc.mnc001.mcc001.3gppnetwork.org"),
        ("Terminal-Information", terminal),
    ]
    if imsi is not None:
        avps.append(("User-Name", imsi))
    avps.extend(extra)
    return codec.Message.request(APP_S13, CMD_ECR, avps, hop_by_hop=hop_by_hop, end_to_end=hop_by_hop)


class S13Fixture:
    """An EIR with a rule of each kind, a history on a clock."""

    batch_size = 3

    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(1_700_000_000)
        self.node = make_node(self.clock, applications=())
        self.store = MemoryStore()
        for rule in (EquipmentRule(WHITE, WHITELISTED), EquipmentRule(BLACK, BLACKLISTED),
                     EquipmentRule(GREY, GREYLISTED), EquipmentRule(BOUND, WHITELISTED, imsi=IMSI),
                     EquipmentRule(TAC, GREYLISTED), EquipmentRule(OVERRIDDEN, WHITELISTED)):
            self.successResultOf(self.store.add_equipment_rule(rule))
        self.history = CheckHistory(self.store, self.clock, self.node.log_summary, batch_size=self.batch_size,
                                    flush_interval=1.0)
        self.app = S13Application(self.node, self.store, EirPolicy(), self.history)
        self.app.register()

    def call(self, message):
        answer = self.successResultOf(self.app.me_identity_check(message, None))
        return codec.decode_message(answer.encode())

    def assertStatus(self, answer, status):
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS)
        self.assertIsNone(answer.find("Experimental-Result"))
        self.assertEqual(answer.get("Equipment-Status"), status)
        self.assertEqual(codec.validate(answer), [])

    def assertUnknownEquipment(self, answer):
        self.assertIsNone(answer.find("Result-Code"))
        self.assertEqual(answer.get("Experimental-Result/Vendor-Id"), VENDOR_3GPP)
        self.assertEqual(answer.get("Experimental-Result/Experimental-Result-Code"),
                         results.DIAMETER_ERROR_EQUIPMENT_UNKNOWN)
        self.assertIsNone(answer.find("Equipment-Status"))
        self.assertEqual(codec.validate(answer), [])

    def assertRefused(self, answer, code, failed, text):
        """Result-Code ``code``, Failed-AVP holding ``failed`` ((name,
        value) or (name, [(child, value)])), an Error-Message with ``text``."""
        self.assertEqual(answer.get("Result-Code"), code)
        self.assertFalse(answer.is_error)       # 5xxx: not a protocol error
        self.assertIsNone(answer.find("Equipment-Status"))
        self.assertEqual(answer.get("Auth-Session-State"), 1)
        (inside,) = answer.find("Failed-AVP").value
        name, value = failed
        self.assertEqual(inside.name, name)
        if isinstance(value, list):
            self.assertEqual([(child.name, child.value) for child in inside.value], value)
        else:
            self.assertEqual(inside.value, value)
        self.assertIn(text, answer.get("Error-Message"))
        self.assertEqual(codec.validate(answer), [])

    def checks(self):
        """Every check written so far (the history flushed first)."""
        while self.history.pending:
            self.clock.advance(self.history.flush_interval)
        return self.successResultOf(self.store.list_equipment_checks())


class EcrAnswerTests(S13Fixture, unittest.TestCase):

    def test_registered_for_ecr(self):
        self.assertIn((APP_S13, CMD_ECR), self.node.handlers)
        self.assertEqual(self.node.applications[APP_S13], VENDOR_3GPP)

    def test_whitelisted_blacklisted_greylisted(self):
        for imei, status in ((WHITE, WHITELISTED), (BLACK, BLACKLISTED), (GREY, GREYLISTED)):
            self.assertStatus(self.call(ecr(imei)), status)

    def test_answer_layout(self):
        answer = self.call(ecr(BLACK))
        self.assertEqual([avp.name for avp in answer.avps],
                         ["Session-Id", "Result-Code", "Origin-Host", "Origin-Realm", "Auth-Session-State",
                          "Equipment-Status"])
        self.assertEqual(answer.get("Session-Id"), f"{MME};1;ecr")
        self.assertEqual(answer.get("Origin-Host"), "hss.test.realm")
        self.assertEqual(answer.get("Auth-Session-State"), 1)
        self.assertEqual((answer.command_code, answer.application_id), (CMD_ECR, APP_S13))
        self.assertTrue(answer.is_proxiable)
        self.assertFalse(answer.is_request)
        status = answer.find("Equipment-Status")
        self.assertEqual((status.vendor_id, status.flags), (VENDOR_3GPP, 0xC0))
        # The bytes written directly are what the codec would write.
        slow = ecr(BLACK, hop_by_hop=5).answer(results.DIAMETER_SUCCESS)
        slow.avps += self.node.origin_avps()
        slow.add("Auth-Session-State", 1).add("Equipment-Status", BLACKLISTED)
        fast = self.successResultOf(self.app.me_identity_check(ecr(BLACK, hop_by_hop=5), None))
        self.assertEqual(fast.encode(), slow.encode())

    def test_proxy_info_comes_back(self):
        proxy = ("Proxy-Info", [("Proxy-Host", "dra.test"), ("Proxy-State", b"\x01\x02")])
        answer = self.call(ecr(GREY, extra=[proxy]))
        self.assertStatus(answer, GREYLISTED)
        self.assertEqual(answer.get("Proxy-Info/Proxy-State"), b"\x01\x02")

    def test_tac_rule_and_exact_rule_first(self):
        self.assertStatus(self.call(ecr(IN_TAC)), GREYLISTED)
        self.assertStatus(self.call(ecr(OVERRIDDEN)), WHITELISTED)

    def test_unknown_equipment_by_default(self):
        self.assertUnknownEquipment(self.call(ecr(UNKNOWN)))

    def test_configured_status_for_unknown_equipment(self):
        self.app.policy = EirPolicy(unknown_status=WHITELISTED)
        self.assertStatus(self.call(ecr(UNKNOWN)), WHITELISTED)

    def test_imsi_binding(self):
        self.assertStatus(self.call(ecr(BOUND, imsi=IMSI)), WHITELISTED)
        self.assertStatus(self.call(ecr(BOUND, imsi=OTHER_IMSI)), BLACKLISTED)
        # Without User-Name the binding cannot be shown to hold.
        self.assertStatus(self.call(ecr(BOUND, imsi=None)), BLACKLISTED)
        self.app.policy = EirPolicy(imsi_mismatch_status=None)
        self.assertUnknownEquipment(self.call(ecr(BOUND, imsi=OTHER_IMSI)))
        self.app.policy = EirPolicy(imsi_mismatch_status=GREYLISTED)
        self.assertStatus(self.call(ecr(BOUND, imsi=OTHER_IMSI)), GREYLISTED)
        # Unbound rules ignore the IMSI.
        self.assertStatus(self.call(ecr(WHITE, imsi=None)), WHITELISTED)

    def test_fifteen_digit_imei(self):
        # The check digit, or the spare digit an MS sends in its place.
        self.assertStatus(self.call(ecr(BLACK + luhn_check_digit(BLACK))), BLACKLISTED)
        self.assertStatus(self.call(ecr(BLACK + "0")), BLACKLISTED)

    def test_no_software_version_is_fine(self):
        self.assertStatus(self.call(ecr(GREY, software_version=None)), GREYLISTED)

    def test_policy_from_config(self):
        config = Config.default(s13={"unknown_status": "greylisted", "imsi_mismatch_status": "unknown",
                                     "history": {"enabled": False}})
        node = make_node(task.Clock(), applications=())
        app = S13Application.from_config(node, self.store, config)
        self.assertIsNone(app.history)
        self.assertEqual((app.policy.unknown_status, app.policy.imsi_mismatch_status), (GREYLISTED, None))
        self.assertEqual(self.successResultOf(app.stop()), 0)
        app = S13Application.from_config(node, self.store, Config.default())
        self.assertEqual((app.policy.unknown_status, app.policy.imsi_mismatch_status), (None, BLACKLISTED))
        self.assertEqual((app.history.batch_size, app.history.flush_interval, app.history.max_rows),
                         (1000, 1.0, 1_000_000))


class EcrRefusalTests(S13Fixture, unittest.TestCase):
    """A Terminal-Information or User-Name that cannot be evaluated."""

    def test_bad_check_digit(self):
        wrong = str((int(luhn_check_digit(BLACK)) + 1) % 10 or 1)
        self.assertRefused(self.call(ecr(BLACK + wrong)), results.DIAMETER_INVALID_AVP_VALUE,
                           ("Terminal-Information", [("IMEI", BLACK + wrong)]), "neither the check digit")

    def test_malformed_imeis(self):
        for imei, text in (("3512345600000", "14 or 15 digits, got 13"),
                           ("3512345600000123", "14 or 15 digits, got 16"), ("35123456ABCDEF", "digits"),
                           ("", "digits"), ("\u0663" * 14, "digits")):
            answer = self.call(ecr(imei))
            self.assertRefused(answer, results.DIAMETER_INVALID_AVP_VALUE,
                               ("Terminal-Information", [("IMEI", imei)]), text)

    def test_malformed_software_version(self):
        for version in ("7", "123", "0a"):
            self.assertRefused(self.call(ecr(WHITE, software_version=version)), results.DIAMETER_INVALID_AVP_VALUE,
                               ("Terminal-Information", [("Software-Version", version)]), "2 digits")

    def test_malformed_user_name(self):
        self.assertRefused(self.call(ecr(WHITE, imsi="sip:alice@example.org")), results.DIAMETER_INVALID_AVP_VALUE,
                           ("User-Name", "sip:alice@example.org"), "IMSI")

    def test_meid_alone(self):
        answer = self.call(ecr(terminal=[("3GPP2-MEID", bytes(7)), ("Software-Version", "01")]))
        self.assertRefused(answer, results.DIAMETER_MISSING_AVP, ("Terminal-Information", [("IMEI", "")]),
                           "has no IMEI")

    def test_meid_beside_an_imei_is_ignored(self):
        self.assertStatus(self.call(ecr(terminal=[("IMEI", BLACK), ("3GPP2-MEID", bytes(7))])), BLACKLISTED)

    def test_twice(self):
        self.assertRefused(self.call(ecr(terminal=[("IMEI", WHITE), ("IMEI", BLACK)])),
                           results.DIAMETER_AVP_OCCURS_TOO_MANY_TIMES,
                           ("Terminal-Information", [("IMEI", BLACK)]), "IMEI given more than once")
        self.assertRefused(self.call(ecr(terminal=[("IMEI", WHITE), ("Software-Version", "01"),
                                                   ("Software-Version", "02")])),
                           results.DIAMETER_AVP_OCCURS_TOO_MANY_TIMES,
                           ("Terminal-Information", [("Software-Version", "02")]), "Software-Version")
        answer = self.call(ecr(WHITE, extra=[("Terminal-Information", [("IMEI", BLACK)])]))
        self.assertRefused(answer, results.DIAMETER_AVP_OCCURS_TOO_MANY_TIMES,
                           ("Terminal-Information", [("IMEI", BLACK)]), "Terminal-Information given more than once")
        answer = self.call(ecr(WHITE, extra=[("User-Name", OTHER_IMSI)]))
        self.assertRefused(answer, results.DIAMETER_AVP_OCCURS_TOO_MANY_TIMES, ("User-Name", OTHER_IMSI),
                           "User-Name given more than once")


class EcrOverConnectionTests(S13Fixture, unittest.TestCase):
    """Through a node's connection: the node's validation and its 5012."""

    def setUp(self):
        S13Fixture.setUp(self)
        self.connection, self.transport = open_connection(self.node, vendor_specific=((VENDOR_3GPP, APP_S13),))

    def exchange(self, message):
        self.connection.dataReceived(message.encode())
        (answer,) = read_messages(self.transport)
        return answer

    def test_ecr_answered(self):
        answer = self.exchange(ecr(BLACK, mme=PEER_HOST, hop_by_hop=77))
        self.assertStatus(answer, BLACKLISTED)
        self.assertEqual((answer.hop_by_hop, answer.end_to_end), (77, 77))

    def test_missing_terminal_information_is_the_nodes_5005(self):
        message = ecr(WHITE, mme=PEER_HOST)
        message.avps = [avp for avp in message.avps if avp.name != "Terminal-Information"]
        answer = self.exchange(message)
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_MISSING_AVP)
        self.assertEqual(answer.find("Failed-AVP").value[0].name, "Terminal-Information")
        self.assertEqual(self.checks(), [])     # the handler never ran

    def test_store_failure_is_5012(self):
        self.patch(self.store, "match_equipment", lambda imei: defer.fail(StoreError("disk on fire")))
        answer = self.exchange(ecr(WHITE, mme=PEER_HOST))
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_UNABLE_TO_COMPLY)
        self.assertEqual(len(self.flushLoggedErrors(StoreError)), 1)
        (check,) = self.checks()
        self.assertEqual((check.result_code, check.reason, check.imei), (5012, STORE_FAILED, WHITE))


class EcrHistoryTests(S13Fixture, unittest.TestCase):
    """Every check reaches the history, which the answer does not wait for."""

    def test_every_outcome_recorded(self):
        self.clock.advance(0.5)
        for message in (ecr(WHITE), ecr(IN_TAC, software_version=None), ecr(UNKNOWN, imsi=None),
                        ecr(BOUND, imsi=OTHER_IMSI, mme="mme2.test"), ecr("35\x1b[2J", imsi="x")):
            self.call(message)
        now = self.clock.seconds()
        self.assertEqual(self.checks(), [
            EquipmentCheck(now, MME, 2001, BY_IMEI, WHITE, "07", IMSI, WHITELISTED),
            EquipmentCheck(now, MME, 2001, BY_TAC, IN_TAC, None, IMSI, GREYLISTED),
            EquipmentCheck(now, MME, 5422, BY_DEFAULT, UNKNOWN, "07", None, None),
            EquipmentCheck(now, "mme2.test", 2001, IMSI_MISMATCH, BOUND, "07", OTHER_IMSI, BLACKLISTED),
            # A refused check keeps what came, made printable.
            EquipmentCheck(now, MME, 5004, REFUSED, "35?[2J", "07", "x", None),
        ])

    def test_answer_before_the_write(self):
        self.assertStatus(self.call(ecr(WHITE)), WHITELISTED)
        self.assertEqual(self.successResultOf(self.store.count_equipment_checks()), 0)
        self.assertEqual(self.history.pending, 1)
        self.clock.advance(0.99)
        self.assertEqual(self.successResultOf(self.store.count_equipment_checks()), 0)
        self.clock.advance(0.01)
        self.assertEqual(self.successResultOf(self.store.count_equipment_checks()), 1)
        self.assertEqual((self.history.pending, self.history.written), (0, 1))

    def test_full_batch_written_at_once(self):
        writes = []
        record = self.store.record_equipment_checks
        self.patch(self.store, "record_equipment_checks",
                   lambda checks, limit: writes.append(len(checks)) or record(checks, limit))
        for _ in range(7):
            self.call(ecr(WHITE))
        self.assertEqual(writes, [])            # after this reactor turn, not inside the handler
        self.clock.advance(0)
        self.assertEqual(writes, [3, 3])
        self.clock.advance(1.0)
        self.assertEqual(writes, [3, 3, 1])
        self.assertEqual(self.successResultOf(self.store.count_equipment_checks()), 7)

    def test_stop_writes_what_waits(self):
        self.call(ecr(WHITE))
        self.call(ecr(BLACK))
        self.assertEqual(self.successResultOf(self.app.stop()), 0)
        self.assertEqual(self.successResultOf(self.store.count_equipment_checks()), 2)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        # Checks after the stop wait for no timer.
        self.call(ecr(GREY))
        self.assertEqual(self.clock.getDelayedCalls(), [])
