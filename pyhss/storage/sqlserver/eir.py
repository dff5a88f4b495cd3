"""The equipment register (IEquipmentRegister) on a SQL server: EIR rules
by IMEI or TAC and the history of checks (schema version 2, as in SQLite).

The history's ids only grow (an identity column); the newest N are kept
by deleting every row at or below the id of the (N+1)-th newest, found
on the primary key's index, so ids need not be consecutive (sequences
and MariaDB's auto-increment leave gaps).  Like SQLite's, the history
has no index but its id: batches are appended to the end of it.
"""

import operator

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from pyhss.storage.errors import DuplicateError, NotFoundError, ValidationError
from pyhss.storage.keys import equipment_key, text_key
from pyhss.storage.records_eir import (
    CHECK_FIELDS, RULE_FIELDS, TAC_DIGITS, EquipmentCheck, EquipmentRule, HistoryLimit, stored_rule,
)
from pyhss.storage.sqlserver.base import METADATA, TABLE_OPTIONS, for_update

equipment_rule_table = sa.Table(
    "equipment_rule", METADATA,
    sa.Column("key", sa.String(14), primary_key=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("imsi", sa.String(15)),
    sa.Column("note", sa.String(200)),
    sa.Column("updated_at", sa.Float(53), nullable=False),
    **TABLE_OPTIONS,
)

equipment_check_table = sa.Table(
    "equipment_check", METADATA,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("checked_at", sa.Float(53), nullable=False),
    sa.Column("origin_host", sa.String(255), nullable=False),
    sa.Column("result_code", sa.Integer, nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("imei", sa.String(32)),
    sa.Column("software_version", sa.String(32)),
    sa.Column("imsi", sa.String(32)),
    sa.Column("status", sa.Integer),
    **TABLE_OPTIONS,
)

EIR_TABLES = (equipment_rule_table, equipment_check_table)

_r = equipment_rule_table.c
_c = equipment_check_table.c
_RULE_COLUMNS = [_r[name] for name in RULE_FIELDS]
_CHECK_COLUMNS = [_c[name] for name in CHECK_FIELDS]
SELECT_RULE = sa.select(*_RULE_COLUMNS)
_check_values = operator.attrgetter(*CHECK_FIELDS)


def _rule(row):
    if row is None:
        return None
    key, status, imsi, note, updated_at = row
    return stored_rule((key, int(status), imsi, note, float(updated_at)))


def _check(row):
    checked_at, origin_host, result_code, reason, imei, software_version, imsi, status = row
    return EquipmentCheck(float(checked_at), origin_host, int(result_code), reason, imei, software_version, imsi,
                          None if status is None else int(status))


# --- jobs (in a transaction, on a pool thread) ------------------------------------------

def add_rule(conn, rule, replace):
    values = {name: getattr(rule, name) for name in RULE_FIELDS}
    if replace and conn.execute(for_update(sa.select(_r.key).where(_r.key == rule.key),
                                           equipment_rule_table)).first() is not None:
        conn.execute(equipment_rule_table.update().where(_r.key == rule.key), values)
        return rule
    try:
        with conn.begin_nested():
            conn.execute(equipment_rule_table.insert(), values)
    except sa_exc.IntegrityError:
        raise DuplicateError(f"a rule for {rule.kind.upper()} {rule.key} already exists") from None
    return rule


def get_rule(conn, key):
    return _rule(conn.execute(SELECT_RULE.where(_r.key == key)).first())


def delete_rule(conn, key):
    if conn.execute(equipment_rule_table.delete().where(_r.key == key)).rowcount == 0:
        raise NotFoundError(f"no rule for {key}")


def list_rules(conn, offset, limit):
    query = SELECT_RULE.order_by(_r.key).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [_rule(row) for row in conn.execute(query)]


def match(conn, imei):
    imei_rule = tac_rule = None
    for row in conn.execute(SELECT_RULE.where(_r.key.in_([imei, imei[:TAC_DIGITS]]))):
        rule = _rule(row)
        if len(rule.key) == TAC_DIGITS:
            tac_rule = rule
        else:
            imei_rule = rule
    return imei_rule, tac_rule


def record_checks(conn, checks, max_rows, before):
    for check in checks:
        if type(check) is not EquipmentCheck:
            raise ValidationError(f"expected an EquipmentCheck, got {type(check).__name__}")
    if checks:
        conn.execute(equipment_check_table.insert(),
                     [dict(zip(CHECK_FIELDS, _check_values(check))) for check in checks])
    removed = 0
    if max_rows:
        bound = conn.execute(sa.select(_c.id).order_by(_c.id.desc()).offset(max_rows).limit(1)).scalar()
        if bound is not None:
            removed += conn.execute(equipment_check_table.delete().where(_c.id <= bound)).rowcount
    if before is not None:
        # Rows are in time order: the first one new enough bounds the rest.
        first = conn.execute(sa.select(_c.id).where(_c.checked_at >= before).order_by(_c.id).limit(1)).scalar()
        old = equipment_check_table.delete()
        if first is not None:
            old = old.where(_c.id < first)
        removed += conn.execute(old).rowcount
    return len(checks), removed


def list_checks(conn, imei, imsi, since, limit):
    query = sa.select(*_CHECK_COLUMNS)
    if imei is not None:
        query = query.where(_c.imei == imei)
    if imsi is not None:
        query = query.where(_c.imsi == imsi)
    if since is not None:
        query = query.where(_c.checked_at >= since)
    query = query.order_by(_c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    found = [_check(row) for row in conn.execute(query)]
    found.reverse()     # selected newest first
    return found


def _count(table):
    def count(conn):
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    return count


count_rules = _count(equipment_rule_table)
count_checks = _count(equipment_check_table)


def _text_or_none(value):
    return value is None or text_key(value) is not None


class EquipmentRole:
    """IEquipmentRegister for :class:`~pyhss.storage.sqlserver.store.SqlStore`."""

    def add_equipment_rule(self, rule, replace=False):
        if not isinstance(rule, EquipmentRule):
            return self._refuse(f"expected an EquipmentRule, got {type(rule).__name__}")
        return self._job(add_rule, rule, bool(replace), key=rule.key)

    def get_equipment_rule(self, key):
        if equipment_key(key) is None:
            return self._nothing(None)
        return self._job(get_rule, key)

    def delete_equipment_rule(self, key):
        if equipment_key(key) is None:
            return self._fail(NotFoundError(f"no rule for {key}"))
        return self._job(delete_rule, key, key=key)

    def list_equipment_rules(self, offset=0, limit=None):
        return self._job(list_rules, offset, limit)

    def count_equipment_rules(self):
        return self._job(count_rules)

    def match_equipment(self, imei):
        if equipment_key(imei) is None:
            return self._nothing((None, None))
        return self._job(match, imei)

    def record_equipment_checks(self, checks, limit):
        if not isinstance(limit, HistoryLimit):
            return self._refuse(f"expected a HistoryLimit, got {type(limit).__name__}")
        return self._job(record_checks, list(checks), limit.max_rows, limit.before)

    def list_equipment_checks(self, imei=None, imsi=None, since=None, limit=None):
        if not (_text_or_none(imei) and _text_or_none(imsi)):
            return self._nothing([])
        return self._job(list_checks, imei, imsi, since, limit)

    def count_equipment_checks(self):
        return self._job(count_checks)
