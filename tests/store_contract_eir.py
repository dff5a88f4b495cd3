"""The equipment register's contract (``IEquipmentRegister``), run
against every adapter through ``tests.store_contract.StoreContractMixin``."""

from twisted.internet import defer
from zope.interface.verify import verifyObject

from pyhss.storage.errors import DuplicateError, NotFoundError, ValidationError
from pyhss.storage.interface import IEquipmentRegister
from pyhss.storage.records_eir import (
    BLACKLISTED, BY_DEFAULT, BY_IMEI, GREYLISTED, REFUSED, UNLIMITED, WHITELISTED, EquipmentCheck, EquipmentRule,
    HistoryLimit,
)

IMEI = "49015420323751"       # TS 23.003 Annex B's example: check digit 8
TAC = IMEI[:8]
OTHER_IMEI = "35780502398494"
IMSI = "001010000000001"


def check(at, imei=IMEI, imsi=IMSI, status=WHITELISTED, result_code=2001, reason=BY_IMEI, host="mme1.test"):
    return EquipmentCheck(at, host, result_code, reason, imei, "07", imsi, status)


class EquipmentRegisterContract:
    """IEquipmentRegister: rules by IMEI and TAC, the bounded history.
    Mixed with ``tests.store_contract.StoreFixture``."""

    def test_provides_equipment_register_role(self):
        self.assertTrue(verifyObject(IEquipmentRegister, self.store))

    @defer.inlineCallbacks
    def test_rules_round_trip_and_match(self):
        bound = EquipmentRule(IMEI + "8", BLACKLISTED, imsi=IMSI, note="stolen, case 42", updated_at=1700000000.25)
        self.assertEqual(bound.key, IMEI)     # the check digit is checked and dropped
        tac = EquipmentRule(TAC, GREYLISTED, updated_at=1.0)
        self.assertEqual((yield self.store.add_equipment_rule(bound)), bound)
        yield self.store.add_equipment_rule(tac)
        self.assertEqual((yield self.store.get_equipment_rule(IMEI)), bound)
        self.assertEqual((yield self.store.get_equipment_rule(TAC)), tac)
        self.assertIsNone((yield self.store.get_equipment_rule(OTHER_IMEI)))
        self.assertEqual((yield self.store.match_equipment(IMEI)), (bound, tac))
        self.assertEqual((yield self.store.match_equipment(TAC + "999999")), (None, tac))
        self.assertEqual((yield self.store.match_equipment(OTHER_IMEI)), (None, None))
        listed = yield self.store.list_equipment_rules()
        self.assertEqual([rule.key for rule in listed], [TAC, IMEI])
        self.assertEqual((yield self.store.list_equipment_rules(offset=1, limit=5)), [bound])

    @defer.inlineCallbacks
    def test_duplicate_replace_delete(self):
        yield self.store.add_equipment_rule(EquipmentRule(IMEI, WHITELISTED))
        e = yield self.assertFails(self.store.add_equipment_rule(EquipmentRule(IMEI, BLACKLISTED)), DuplicateError)
        self.assertIn(IMEI, str(e))
        self.assertEqual((yield self.store.get_equipment_rule(IMEI)).status, WHITELISTED)
        yield self.store.add_equipment_rule(EquipmentRule(IMEI, BLACKLISTED), replace=True)
        self.assertEqual((yield self.store.get_equipment_rule(IMEI)).status, BLACKLISTED)
        yield self.store.delete_equipment_rule(IMEI)
        self.assertIsNone((yield self.store.get_equipment_rule(IMEI)))
        yield self.assertFails(self.store.delete_equipment_rule(IMEI), NotFoundError)
        yield self.assertFails(self.store.add_equipment_rule({"key": IMEI}), ValidationError)

    @defer.inlineCallbacks
    def test_history_in_order_and_filtered(self):
        checks = [check(100.0), check(101.0, imei=OTHER_IMEI), check(102.0, imsi="001010000000002"),
                  check(103.0, imei="12 ab", imsi=None, status=None, result_code=5004, reason=REFUSED),
                  check(104.0, status=None, result_code=5422, reason=BY_DEFAULT)]
        self.assertEqual((yield self.store.record_equipment_checks(checks[:2], UNLIMITED)), (2, 0))
        self.assertEqual((yield self.store.record_equipment_checks(iter(checks[2:]), UNLIMITED)), (3, 0))
        self.assertEqual((yield self.store.count_equipment_checks()), 5)
        self.assertEqual((yield self.store.list_equipment_checks()), checks)
        self.assertEqual((yield self.store.list_equipment_checks(imei=IMEI)), [checks[0], checks[2], checks[4]])
        self.assertEqual((yield self.store.list_equipment_checks(imsi=IMSI)), [checks[0], checks[1], checks[4]])
        self.assertEqual((yield self.store.list_equipment_checks(imei=IMEI, imsi=IMSI)), [checks[0], checks[4]])
        self.assertEqual((yield self.store.list_equipment_checks(since=102.0)), checks[2:])
        # The newest ones, oldest first.
        self.assertEqual((yield self.store.list_equipment_checks(limit=2)), checks[3:])
        self.assertEqual((yield self.store.list_equipment_checks(imei=IMEI, limit=1)), [checks[4]])
        self.assertEqual((yield self.store.list_equipment_checks(imei=OTHER_IMEI, since=101.5)), [])

    @defer.inlineCallbacks
    def test_history_bounded_by_rows_and_age(self):
        first = [check(float(t)) for t in range(10)]
        self.assertEqual((yield self.store.record_equipment_checks(first, HistoryLimit(max_rows=4))), (10, 6))
        self.assertEqual((yield self.store.list_equipment_checks()), first[6:])
        more = [check(float(t)) for t in range(10, 13)]
        self.assertEqual((yield self.store.record_equipment_checks(more, HistoryLimit(max_rows=4))), (3, 3))
        self.assertEqual([c.checked_at for c in (yield self.store.list_equipment_checks())],
                         [9.0, 10.0, 11.0, 12.0])
        # By age: everything checked before 11 goes.
        self.assertEqual((yield self.store.record_equipment_checks([], HistoryLimit(before=11.0))), (0, 2))
        self.assertEqual([c.checked_at for c in (yield self.store.list_equipment_checks())], [11.0, 12.0])
        self.assertEqual((yield self.store.record_equipment_checks([check(13.0)], HistoryLimit(1, 13.0))),
                         (1, 2))
        self.assertEqual((yield self.store.count_equipment_checks()), 1)
        self.assertEqual((yield self.store.list_equipment_checks()), [check(13.0)])

    @defer.inlineCallbacks
    def test_history_refuses_what_is_not_a_check(self):
        yield self.assertFails(self.store.record_equipment_checks([check(1.0), ("x",)], UNLIMITED), ValidationError)
        yield self.assertFails(self.store.record_equipment_checks([check(1.0)], 5), ValidationError)
        self.assertEqual((yield self.store.count_equipment_checks()), 0)
