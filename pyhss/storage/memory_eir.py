"""The equipment register (:class:`~pyhss.storage.interface.IEquipmentRegister`)
in dictionaries, mixed into :class:`~pyhss.storage.memory.MemoryStore`.

The history is a deque in check order: the oldest are dropped from its
left, as the SQL store deletes its lowest row ids.
"""

import collections
import itertools

from pyhss.storage.errors import DuplicateError, NotFoundError, ValidationError
from pyhss.storage.memory_calls import deferred as _deferred, page
from pyhss.storage.records_eir import TAC_DIGITS, EquipmentCheck, EquipmentRule, HistoryLimit


class MemoryEquipmentRegister:
    """The role's methods; the store calls :meth:`_init_equipment` and
    provides ``_check_open``."""

    def _init_equipment(self):
        self._equipment_rules = {}
        self._equipment_checks = collections.deque()

    @_deferred
    def add_equipment_rule(self, rule, replace=False):
        self._check_open()
        if not isinstance(rule, EquipmentRule):
            raise ValidationError(f"expected an EquipmentRule, got {type(rule).__name__}")
        if not replace and rule.key in self._equipment_rules:
            raise DuplicateError(f"a rule for {rule.kind.upper()} {rule.key} already exists")
        self._equipment_rules[rule.key] = rule
        return rule

    @_deferred
    def get_equipment_rule(self, key):
        self._check_open()
        return self._equipment_rules.get(key)

    @_deferred
    def delete_equipment_rule(self, key):
        self._check_open()
        if self._equipment_rules.pop(key, None) is None:
            raise NotFoundError(f"no rule for {key}")

    @_deferred
    def list_equipment_rules(self, offset=0, limit=None):
        self._check_open()
        return [self._equipment_rules[key] for key in page(sorted(self._equipment_rules), offset, limit)]

    @_deferred
    def count_equipment_rules(self):
        self._check_open()
        return len(self._equipment_rules)

    @_deferred
    def match_equipment(self, imei):
        self._check_open()
        rules = self._equipment_rules
        return rules.get(imei), rules.get(imei[:TAC_DIGITS])

    @_deferred
    def record_equipment_checks(self, checks, limit):
        self._check_open()
        checks = list(checks)
        for check in checks:
            if not isinstance(check, EquipmentCheck):
                raise ValidationError(f"expected an EquipmentCheck, got {type(check).__name__}")
        if not isinstance(limit, HistoryLimit):
            raise ValidationError(f"expected a HistoryLimit, got {type(limit).__name__}")
        history = self._equipment_checks
        history.extend(checks)
        removed = 0
        if limit.max_rows:
            while len(history) > limit.max_rows:
                history.popleft()
                removed += 1
        if limit.before is not None:
            while history and history[0].checked_at < limit.before:
                history.popleft()
                removed += 1
        return len(checks), removed

    @_deferred
    def list_equipment_checks(self, imei=None, imsi=None, since=None, limit=None):
        self._check_open()
        found = [check for check in reversed(self._equipment_checks)
                 if (imei is None or check.imei == imei) and (imsi is None or check.imsi == imsi)
                 and (since is None or check.checked_at >= since)]
        if limit is not None:
            found = list(itertools.islice(found, limit))
        found.reverse()
        return found

    @_deferred
    def count_equipment_checks(self):
        self._check_open()
        return len(self._equipment_checks)
