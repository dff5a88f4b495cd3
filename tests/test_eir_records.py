"""Equipment identities (TS 23.003 6.2, Annex B) and the EIR's records."""

from twisted.trial import unittest

from pyhss.protocols.dictionary import DICTIONARY
from pyhss.storage.errors import ValidationError
from pyhss.storage.records_eir import (
    BLACKLISTED, BY_IMEI, EQUIPMENT_STATUS_NAMES, GREYLISTED, REFUSED, WHITELISTED, EquipmentCheck, EquipmentRule,
    HistoryLimit, answered_check, check_software_version, check_tac, check_user_imsi, imei_from_wire, luhn_check_digit, parse_imei,
    printable, stored_rule,
)

# TS 23.003 Annex B's worked example: IMEI 49015420323751, check digit 8.
ANNEX_B_IMEI, ANNEX_B_CHECK_DIGIT = "49015420323751", "8"


class IdentityTests(unittest.TestCase):

    def test_luhn_check_digit_of_the_annex_b_example(self):
        self.assertEqual(luhn_check_digit(ANNEX_B_IMEI), ANNEX_B_CHECK_DIGIT)
        # Every 15-digit IMEI built this way passes the Luhn test (the
        # digits sum to a multiple of 10 with every second one doubled).
        for body in ("35780502398494", "00000000000000", "99999999999999", "01234567890123"):
            digits = body + luhn_check_digit(body)
            total = sum(int(d) if i % 2 == 0 else sum(divmod(int(d) * 2, 10))
                        for i, d in enumerate(reversed(digits)))
            self.assertEqual(total % 10, 0, digits)

    def test_imei_from_wire(self):
        self.assertEqual(imei_from_wire(ANNEX_B_IMEI), ANNEX_B_IMEI)
        self.assertEqual(imei_from_wire(ANNEX_B_IMEI + ANNEX_B_CHECK_DIGIT), ANNEX_B_IMEI)
        # The spare digit an MS sends instead of the check digit.
        self.assertEqual(imei_from_wire(ANNEX_B_IMEI + "0"), ANNEX_B_IMEI)

    def test_imei_from_wire_refusals(self):
        for value, problem in (
                (ANNEX_B_IMEI + "7", "neither the check digit 8 nor the spare digit 0"),
                (ANNEX_B_IMEI[:13], "14 or 15 digits, got 13"),
                (ANNEX_B_IMEI + "80", "14 or 15 digits, got 16"),
                ("", "digits"),
                ("4901542032375A", "digits"),
                (" 49015420323751", "digits"),
                ("\u0664" * 14, "digits"),          # Arabic-Indic digits are not ASCII
                (None, "digits")):
            e = self.assertRaises(ValidationError, imei_from_wire, value)
            self.assertIn(problem, str(e))

    def test_parse_imei_wants_the_check_digit(self):
        self.assertEqual(parse_imei(ANNEX_B_IMEI), ANNEX_B_IMEI)
        self.assertEqual(parse_imei(ANNEX_B_IMEI + ANNEX_B_CHECK_DIGIT), ANNEX_B_IMEI)
        e = self.assertRaises(ValidationError, parse_imei, ANNEX_B_IMEI + "0")
        self.assertIn("check digit of 49015420323751 is 8, not 0", str(e))
        self.assertRaises(ValidationError, parse_imei, "4901542032375180")
        self.assertRaises(ValidationError, parse_imei, "49015420")

    def test_other_identities(self):
        self.assertEqual(check_tac("49015420"), "49015420")
        self.assertEqual(check_software_version("07"), "07")
        self.assertEqual(check_user_imsi("001010000000001"), "001010000000001")
        self.assertEqual(check_user_imsi("0010100"), "0010100")
        for check, value in ((check_tac, "4901542"), (check_tac, "4901542a"), (check_software_version, "7"),
                             (check_software_version, "123"), (check_software_version, "0x"),
                             (check_user_imsi, "00101"), (check_user_imsi, "0010100000000001"),
                             (check_user_imsi, "00101000000000a")):
            self.assertRaises(ValidationError, check, value)

    def test_printable(self):
        self.assertEqual(printable("ab\x1b[31mc\u00e9"), "ab?[31mc?")
        self.assertEqual(printable("9" * 40), "9" * 32)
        self.assertEqual(printable(b"\x01\xff"), "01ff")
        self.assertIsNone(printable(None))

    def test_status_names_are_the_dictionary_enum(self):
        enum = DICTIONARY.avp("Equipment-Status").enum
        self.assertEqual(EQUIPMENT_STATUS_NAMES, {value: name.lower() for value, name in enum.items()})
        self.assertEqual((WHITELISTED, BLACKLISTED, GREYLISTED), (0, 1, 2))


class RecordTests(unittest.TestCase):

    def test_rule_keys(self):
        self.assertEqual(EquipmentRule(ANNEX_B_IMEI + "8", WHITELISTED).key, ANNEX_B_IMEI)
        self.assertEqual(EquipmentRule(ANNEX_B_IMEI, WHITELISTED).kind, "imei")
        self.assertEqual(EquipmentRule("49015420", GREYLISTED).kind, "tac")
        for key in (ANNEX_B_IMEI + "0", "4901542", "490154203237", "x" * 14, 49015420):
            e = self.assertRaises(ValidationError, EquipmentRule, key, WHITELISTED)
            self.assertIn("IMEI (14 digits, or 15 with the check digit) or a TAC (8 digits)", str(e))

    def test_rule_fields(self):
        rule = EquipmentRule(ANNEX_B_IMEI, BLACKLISTED, imsi="001010000000001", note="stolen", updated_at=5)
        self.assertEqual((rule.status, rule.imsi, rule.note), (BLACKLISTED, "001010000000001", "stolen"))
        e = self.assertRaises(ValidationError, EquipmentRule, "49015420", WHITELISTED, imsi="001010000000001")
        self.assertIn("needs an IMEI rule", str(e))
        for bad in (dict(status=3), dict(status=True), dict(status=None), dict(status=BLACKLISTED, imsi="123"),
                    dict(status=BLACKLISTED, note="x" * 201), dict(status=BLACKLISTED, note="a\nb"),
                    dict(status=BLACKLISTED, updated_at="now")):
            self.assertRaises(ValidationError, EquipmentRule, ANNEX_B_IMEI, **bad)

    def test_check_fields(self):
        check = EquipmentCheck(1.5, "mme.test", 2001, BY_IMEI, ANNEX_B_IMEI, "07", "001010000000001", WHITELISTED)
        self.assertEqual(check.status, WHITELISTED)
        EquipmentCheck(1.5, "mme.test", 5004, REFUSED, "abc?", None, None, None)
        for bad in (dict(result_code=20), dict(result_code=True), dict(reason="because"),
                    dict(status=7), dict(imei="9" * 33), dict(origin_host="a\x00b"), dict(checked_at=None)):
            values = dict(checked_at=1.0, origin_host="mme.test", result_code=2001, reason=BY_IMEI)
            values.update(bad)
            self.assertRaises(ValidationError, EquipmentCheck, **values)

    def test_history_limit(self):
        self.assertEqual((HistoryLimit().max_rows, HistoryLimit().before), (0, None))
        self.assertEqual(HistoryLimit(5, 10).before, 10)
        for bad in (dict(max_rows=-1), dict(max_rows=1.5), dict(max_rows=True), dict(before="x")):
            self.assertRaises(ValidationError, HistoryLimit, **bad)


class FastConstructorTests(unittest.TestCase):
    """The constructors that skip __post_init__ build what it would."""

    def test_answered_check_is_the_checked_one(self):
        values = (1.5, "mme.test", 2001, BY_IMEI, ANNEX_B_IMEI, "07", "001010000000001", WHITELISTED)
        fast = answered_check(*values)
        self.assertEqual(fast, EquipmentCheck(*values))
        self.assertIs(type(fast), EquipmentCheck)
        self.assertRaises(AttributeError, setattr, fast, "imei", "x")     # still frozen

    def test_stored_rule(self):
        for row in ((ANNEX_B_IMEI, BLACKLISTED, "001010000000001", "stolen", 5.0),
                    ("49015420", GREYLISTED, None, None, 0.0)):
            self.assertEqual(stored_rule(row), EquipmentRule(*row))
        # A row another tool wrote wrong is checked, and refused by name.
        for row in ((ANNEX_B_IMEI, 7, None, None, 0.0), ("49015420", 0, "001010000000001", None, 0.0),
                    ("4901542x", 0, None, None, 0.0), (ANNEX_B_IMEI, 0, None, "a\tb", 0.0)):
            self.assertRaises(ValidationError, stored_rule, row)
        # An integer time (another tool) goes the checking way and is kept.
        self.assertEqual(stored_rule((ANNEX_B_IMEI, 0, None, None, 3)).updated_at, 3)
