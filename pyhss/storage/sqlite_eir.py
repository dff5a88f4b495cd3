"""The equipment register (:class:`~pyhss.storage.interface.IEquipmentRegister`)
in SQL, mixed into :class:`~pyhss.storage.sqlite.SqliteStore`: its tables
(schema version 2, :data:`EIR_SCHEMA`), its statements and what each
method does on the worker's connection.

The history table's row ids only grow: checks are added at the top and
the oldest removed from the bottom, so the ids in the table are
consecutive and keeping the newest N is one ``DELETE ... WHERE id <= ?``
found from ``max(id)`` (no count over the table per write).

It has no index but its row id, so a batch of checks is appended to the
last pages of the file.  Indexes on the IMEI and the IMSI (random keys)
made every batch rewrite index pages all over the file, into the WAL:
with them the ECR p99 under load (batches of 1000) never came under
26 ms, without them it was 9 to 14 ms (bench/README.md).
``pyhss-admin eir history --imei/--imsi`` reads the table from its newest
row instead: about 0.1 to 0.2 s per million checks kept.
"""

import operator
import sqlite3

from twisted.internet import defer

from pyhss.storage.errors import DuplicateError, NotFoundError, ValidationError
from pyhss.storage.records_eir import (
    CHECK_FIELDS, RULE_FIELDS, TAC_DIGITS, EquipmentCheck, EquipmentRule, HistoryLimit, stored_rule,
)

EIR_SCHEMA = """
CREATE TABLE IF NOT EXISTS equipment_rule (
    key TEXT PRIMARY KEY NOT NULL,
    status INTEGER NOT NULL,
    imsi TEXT,
    note TEXT,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS equipment_check (
    id INTEGER PRIMARY KEY,
    checked_at REAL NOT NULL,
    origin_host TEXT NOT NULL,
    result_code INTEGER NOT NULL,
    reason TEXT NOT NULL,
    imei TEXT,
    software_version TEXT,
    imsi TEXT,
    status INTEGER
);
"""

_RULE_COLUMNS = ", ".join(RULE_FIELDS)
_CHECK_COLUMNS = ", ".join(CHECK_FIELDS)
SELECT_RULE = f"SELECT {_RULE_COLUMNS} FROM equipment_rule"
MATCH_RULES = SELECT_RULE + " WHERE key IN (?, ?)"
INSERT_RULE = f"INSERT INTO equipment_rule ({_RULE_COLUMNS}) VALUES ({', '.join('?' for _ in RULE_FIELDS)})"
REPLACE_RULE = INSERT_RULE.replace("INSERT", "INSERT OR REPLACE", 1)
INSERT_CHECK = (f"INSERT INTO equipment_check ({_CHECK_COLUMNS}) "
                f"VALUES ({', '.join('?' for _ in CHECK_FIELDS)})")


_check_row = operator.attrgetter(*CHECK_FIELDS)


def rule_from_row(row):
    return None if row is None else stored_rule(row)


def _matched(cursor):
    imei_rule = tac_rule = None
    for row in cursor:
        rule = stored_rule(row)
        if len(rule.key) == TAC_DIGITS:
            tac_rule = rule
        else:
            imei_rule = rule
    return imei_rule, tac_rule


def _checks(cursor):
    found = [EquipmentCheck(*row[1:]) for row in cursor]
    found.reverse()     # selected newest first
    return found


class SqliteEquipmentRegister:
    """The role's methods; the store provides ``_submit`` and ``_read``."""

    def add_equipment_rule(self, rule, replace=False):
        if not isinstance(rule, EquipmentRule):
            return defer.fail(ValidationError(f"expected an EquipmentRule, got {type(rule).__name__}"))
        return self._submit(_add_rule, rule, replace, write=True)

    def get_equipment_rule(self, key):
        return self._submit(self._read, SELECT_RULE + " WHERE key = ?", (key,),
                            lambda c: rule_from_row(c.fetchone()))

    def delete_equipment_rule(self, key):
        return self._submit(_delete_rule, key, write=True)

    def list_equipment_rules(self, offset=0, limit=None):
        return self._submit(self._read, SELECT_RULE + " ORDER BY key LIMIT ? OFFSET ?",
                            (-1 if limit is None else limit, offset), lambda c: [stored_rule(row) for row in c])

    def count_equipment_rules(self):
        return self._submit(self._read, "SELECT count(*) FROM equipment_rule", (), lambda c: c.fetchone()[0])

    def match_equipment(self, imei):
        return self._submit(self._read, MATCH_RULES, (imei, imei[:TAC_DIGITS]), _matched)

    def record_equipment_checks(self, checks, limit):
        if not isinstance(limit, HistoryLimit):
            return defer.fail(ValidationError(f"expected a HistoryLimit, got {type(limit).__name__}"))
        # Made rows on the worker: the reactor only hands the list over.
        return self._submit(_record_checks, list(checks), limit.max_rows, limit.before, write=True)

    def list_equipment_checks(self, imei=None, imsi=None, since=None, limit=None):
        where, args = [], []
        for column, value, comparison in (("imei", imei, "="), ("imsi", imsi, "="), ("checked_at", since, ">=")):
            if value is not None:
                where.append(f"{column} {comparison} ?")
                args.append(value)
        sql = f"SELECT id, {_CHECK_COLUMNS} FROM equipment_check"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(-1 if limit is None else limit)
        return self._submit(self._read, sql, tuple(args), _checks)

    def count_equipment_checks(self):
        return self._submit(self._read, "SELECT count(*) FROM equipment_check", (), lambda c: c.fetchone()[0])


# --- on the worker ---------------------------------------------------------------------

def _add_rule(conn, rule, replace):
    row = tuple(getattr(rule, name) for name in RULE_FIELDS)
    try:
        conn.execute(REPLACE_RULE if replace else INSERT_RULE, row)
    except sqlite3.IntegrityError:
        raise DuplicateError(f"a rule for {rule.kind.upper()} {rule.key} already exists") from None
    return rule


_add_rule.single_write = True


def _delete_rule(conn, key):
    if conn.execute("DELETE FROM equipment_rule WHERE key = ?", (key,)).rowcount == 0:
        raise NotFoundError(f"no rule for {key}")


_delete_rule.single_write = True


def _record_checks(conn, checks, max_rows, before):
    for check in checks:
        if type(check) is not EquipmentCheck:
            raise ValidationError(f"expected an EquipmentCheck, got {type(check).__name__}")
    rows = list(map(_check_row, checks))
    conn.executemany(INSERT_CHECK, rows)
    removed = 0
    if max_rows:
        last = conn.execute("SELECT max(id) FROM equipment_check").fetchone()[0]
        if last is not None and last > max_rows:
            removed += conn.execute("DELETE FROM equipment_check WHERE id <= ?", (last - max_rows,)).rowcount
    if before is not None:
        # Rows are in time order: the first one new enough bounds the rest.
        row = conn.execute("SELECT id FROM equipment_check WHERE checked_at >= ? ORDER BY id LIMIT 1",
                           (before,)).fetchone()
        if row is None:
            removed += conn.execute("DELETE FROM equipment_check").rowcount
        else:
            removed += conn.execute("DELETE FROM equipment_check WHERE id < ?", (row[0],)).rowcount
    return len(rows), removed
