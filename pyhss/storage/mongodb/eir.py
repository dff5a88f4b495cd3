"""The equipment register (IEquipmentRegister) on MongoDB: collections
``equipment_rule`` (``_id`` the IMEI or TAC) and ``equipment_check``, a
mixin of :class:`~pyhss.storage.mongodb.store.MongoStore`.

A check's ``_id`` is its number in the history: a batch takes the next
numbers with one ``find_one_and_update`` ``$inc`` of a counter document
(atomic, so numbers never repeat whatever process writes), and the
newest N are kept by deleting every check at or below the number of the
(N+1)-th newest, found on ``_id``'s index.
"""

import operator

from twisted.internet import defer
from twisted.python.failure import Failure

from pyhss.storage.errors import DuplicateError, NotFoundError, ValidationError
from pyhss.storage.keys import equipment_key, text_key
from pyhss.storage.mongodb.subscribers import is_duplicate
from pyhss.storage.records_eir import (
    CHECK_FIELDS, RULE_FIELDS, TAC_DIGITS, EquipmentCheck, EquipmentRule, HistoryLimit, stored_rule,
)

EQUIPMENT_RULES = "equipment_rule"
EQUIPMENT_CHECKS = "equipment_check"
COUNTERS = "counter"
CHECK_COUNTER = "equipment_check"
_check_values = operator.attrgetter(*CHECK_FIELDS)


def rule_document(rule):
    return {"_id": rule.key, **{name: getattr(rule, name) for name in RULE_FIELDS[1:]}}


def rule_from_document(document):
    if document is None:
        return None
    return stored_rule((document["_id"],) + tuple(document.get(name) for name in RULE_FIELDS[1:]))


def check_documents(first_number, checks):
    return [dict(zip(CHECK_FIELDS, _check_values(check)), _id=first_number + index)
            for index, check in enumerate(checks)]


def check_from_document(document):
    return EquipmentCheck(*(document.get(name) for name in CHECK_FIELDS))


def checks_filter(imei, imsi, since):
    query = {}
    if imei is not None:
        query["imei"] = imei
    if imsi is not None:
        query["imsi"] = imsi
    if since is not None:
        query["checked_at"] = {"$gte": float(since)}
    return query


def _text_or_none(value):
    return value is None or text_key(value) is not None


class EquipmentRole:
    """IEquipmentRegister for :class:`~pyhss.storage.mongodb.store.MongoStore`."""

    def add_equipment_rule(self, rule, replace=False):
        if not isinstance(rule, EquipmentRule):
            return defer.fail(ValidationError(f"expected an EquipmentRule, got {type(rule).__name__}"))
        return self._call(self._add_rule, rule, bool(replace), key=rule.key)

    @defer.inlineCallbacks
    def _add_rule(self, rule, replace):
        collection = self._collection(EQUIPMENT_RULES)
        if replace:
            yield collection.replace_one({"_id": rule.key}, rule_document(rule), upsert=True)
            return rule
        try:
            yield collection.insert_one(rule_document(rule))
        except Exception:
            failure = Failure()
            if is_duplicate(failure):
                raise DuplicateError(f"a rule for {rule.kind.upper()} {rule.key} already exists") from None
            failure.raiseException()
        return rule

    def get_equipment_rule(self, key):
        if equipment_key(key) is None:
            return self._nothing(None)
        return self._call(lambda: self._collection(EQUIPMENT_RULES).find_one({"_id": key}).addCallback(
            rule_from_document))

    def delete_equipment_rule(self, key):
        if equipment_key(key) is None:
            return defer.fail(NotFoundError(f"no rule for {key}"))
        return self._call(self._delete_rule, key, key=key)

    @defer.inlineCallbacks
    def _delete_rule(self, key):
        result = yield self._collection(EQUIPMENT_RULES).delete_one({"_id": key})
        if not result.deleted_count:
            raise NotFoundError(f"no rule for {key}")

    def list_equipment_rules(self, offset=0, limit=None):
        return self._call(lambda: self._collection(EQUIPMENT_RULES).find(
            {}, sort=[("_id", 1)], skip=offset, limit=limit or 0).addCallback(
            lambda found: [rule_from_document(d) for d in found]))

    def count_equipment_rules(self):
        return self._call(lambda: self._collection(EQUIPMENT_RULES).count_documents({}))

    def match_equipment(self, imei):
        if equipment_key(imei) is None:
            return self._nothing((None, None))
        return self._call(self._match, imei)

    @defer.inlineCallbacks
    def _match(self, imei):
        found = yield self._collection(EQUIPMENT_RULES).find({"_id": {"$in": [imei, imei[:TAC_DIGITS]]}})
        imei_rule = tac_rule = None
        for document in found:
            rule = rule_from_document(document)
            if len(rule.key) == TAC_DIGITS:
                tac_rule = rule
            else:
                imei_rule = rule
        return imei_rule, tac_rule

    def record_equipment_checks(self, checks, limit):
        if not isinstance(limit, HistoryLimit):
            return defer.fail(ValidationError(f"expected a HistoryLimit, got {type(limit).__name__}"))
        checks = list(checks)
        for check in checks:
            if type(check) is not EquipmentCheck:
                return defer.fail(ValidationError(f"expected an EquipmentCheck, got {type(check).__name__}"))
        return self._call(self._record_checks, checks, limit.max_rows, limit.before)

    @defer.inlineCallbacks
    def _record_checks(self, checks, max_rows, before):
        history = self._collection(EQUIPMENT_CHECKS)
        if checks:
            counter = yield self._collection(COUNTERS).find_one_and_update(
                {"_id": CHECK_COUNTER}, {"$inc": {"value": len(checks)}}, upsert=True,
                return_document=True)
            last = int(counter["value"])
            yield history.insert_many(check_documents(last - len(checks) + 1, checks), ordered=True)
        removed = 0
        if max_rows:
            bound = yield history.find({}, projection={"_id": 1}, sort=[("_id", -1)], skip=max_rows, limit=1)
            if bound:
                result = yield history.delete_many({"_id": {"$lte": bound[0]["_id"]}})
                removed += result.deleted_count
        if before is not None:
            # Checks are numbered in time order: the first one new enough bounds the rest.
            first = yield history.find({"checked_at": {"$gte": float(before)}}, projection={"_id": 1},
                                       sort=[("_id", 1)], limit=1)
            old = {"_id": {"$lt": first[0]["_id"]}} if first else {}
            result = yield history.delete_many(old)
            removed += result.deleted_count
        return len(checks), removed

    def list_equipment_checks(self, imei=None, imsi=None, since=None, limit=None):
        if not (_text_or_none(imei) and _text_or_none(imsi)) or limit == 0:
            return self._nothing([])
        return self._call(self._list_checks, imei, imsi, since, limit)

    @defer.inlineCallbacks
    def _list_checks(self, imei, imsi, since, limit):
        found = yield self._collection(EQUIPMENT_CHECKS).find(checks_filter(imei, imsi, since),
                                                              sort=[("_id", -1)], limit=limit or 0)
        checks = [check_from_document(document) for document in found]
        checks.reverse()    # selected newest first
        return checks

    def count_equipment_checks(self):
        return self._call(lambda: self._collection(EQUIPMENT_CHECKS).count_documents({}))
