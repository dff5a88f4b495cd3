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

ECRs are answered from an in-process copy of the rules
(:class:`RuleIndex`) while it is current: triggers count every change to
``equipment_rule`` in ``equipment_rule_version``, whoever writes it (this
process's worker, ``pyhss-admin eir`` or any other connection), and each
ECR first looks at the WAL-index header (rewritten by every commit) and,
only when that moved, reads the version row on a read-only connection of
the reactor's.  A stale copy is not used: until the copy is
loaded again (on a thread of its own, a snapshot of rules and version in one
transaction) ECRs read the rules with SQL as before.  Saves the worker's
round trip and the query (bench/README.md).
"""

import mmap
import operator
import sqlite3
import time

from twisted.internet import defer, threads
from twisted.logger import Logger

from pyhss.storage.errors import DuplicateError, NotFoundError, ValidationError
from pyhss.storage.records_eir import (
    CHECK_FIELDS, RULE_FIELDS, TAC_DIGITS, EquipmentCheck, EquipmentRule, HistoryLimit, stored_rule,
)
from pyhss.storage.sqlite_worker import CONTROL

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

# Part of schema version 3 (sqlite_schema.py); being triggers, they count
# the writes of every connection, pyhss-admin's and other processes' too.
RULE_VERSION_STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS equipment_rule_version ("
    "id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO equipment_rule_version (id, version) VALUES (1, 0)",
) + tuple(
    f"CREATE TRIGGER IF NOT EXISTS equipment_rule_{event.lower()} AFTER {event} ON equipment_rule "
    f"BEGIN UPDATE equipment_rule_version SET version = version + 1; END"
    for event in ("INSERT", "UPDATE", "DELETE"))
SELECT_RULE_VERSION = "SELECT version FROM equipment_rule_version"
WAL_INDEX_HEADER = 48       # bytes: the first copy of the WAL-index header
# Above this many rules no copy is kept (about 180 bytes a rule): ECRs
# read them with SQL.
RULE_INDEX_LIMIT = 1_000_000
# A copy is loaded again at most this share of the time (a busy API
# changing rules every second would otherwise keep a thread loading).
RELOAD_DUTY = 0.1

log = Logger(namespace="pyhss.storage.sqlite")

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
    """The role's methods; the store provides ``_submit``, ``_read``,
    ``_worker``, ``_reactor``, ``path``, ``_busy_timeout`` and
    ``_rule_index``."""

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

    def _load_rules(self):
        """The RuleIndex's load: on a pool thread, or on the worker for a
        reactor without a thread pool."""
        reactor = self._reactor
        if not hasattr(reactor, "getThreadPool"):
            return self._worker.submit(CONTROL, lambda: load_rules(self._worker.connection()), ())
        return threads.deferToThreadPool(reactor, reactor.getThreadPool(), load_rules_from, self.path,
                                         self._busy_timeout)

    def match_equipment(self, imei):
        index = self._rule_index
        if index is not None and self._closed is None:
            rows = index.current()
            if rows is not None:
                imei_row = rows.get(imei)
                tac_row = rows.get(imei[:TAC_DIGITS])
                try:
                    return defer.succeed((None if imei_row is None else stored_rule(imei_row),
                                          None if tac_row is None else stored_rule(tac_row)))
                except ValidationError:     # a row another tool wrote wrong, as the SQL path says
                    return defer.fail()
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


class RuleIndex:
    """The rules in memory (key -> stored row) and whether they are
    current; used on the reactor thread only, but for ``close``.

    Whether anything was committed since the rules' version was last read
    is told by the WAL-index header (the first 48 bytes of the ``-shm``
    file, https://sqlite.org/walformat.html): every commit of every
    connection rewrites it (its frame count and checksums) before the
    COMMIT returns, and a reset of the WAL changes its salts.  Reading it
    from a shared mapping costs no system call; ``PRAGMA data_version``
    costs a lock and an unlock of the ``-shm`` file and an ``fstat`` per
    ECR, which made an ECR slower on the wall than the worker's round trip
    it saves.  Only when it moved is the version row read (a query on the
    reactor's read-only connection: once per commit, not per ECR).

    @param reader: a read-only connection to the file, used by the reactor
        (opened on the worker with ``check_same_thread=False``; a zero busy
        timeout: a reader that would wait fails and the ECR reads with SQL).
    @param header: the read-only mapping of the ``-shm`` file's start.
    @param load: ``load()`` -> Deferred of (version, rows or None), read in
        one transaction outside the worker's (on a thread of its own).
    """

    def __init__(self, reader, header, load, clock=time.monotonic):
        self.reader = reader
        self._header = header
        self._load = load
        self._clock = clock
        self._seen = None           # the header when the version was last read
        self._version = None        # equipment_rule_version as last read
        self._rows = None
        self._rows_version = None
        self.loading = None         # the load's Deferred while one runs
        self._next_load = 0.0       # monotonic time before which no load starts
        self._too_many = False

    def current(self):
        """The rows if they are the stored rules' version now, else None
        (and a load is started, unless one runs or the last was too recent)."""
        header = self._header[:WAL_INDEX_HEADER]
        if header != self._seen:
            try:
                self._version = self.reader.execute(SELECT_RULE_VERSION).fetchone()[0]
            except sqlite3.Error:
                # Busy (a WAL restart), or the table is gone: the worker's
                # SQL answers, or says what is wrong.
                self._seen = None
                return None
            self._seen = header         # read before the version: a commit between reads again
        if self._rows_version == self._version:
            return self._rows
        self._rows = None
        if self.loading is None and self._clock() >= self._next_load:
            started = self._clock()
            self.loading = self._load()
            self.loading.addBoth(self._loaded, started)
        return None

    def _loaded(self, result, started):
        self.loading = None
        took = self._clock() - started
        self._next_load = self._clock() + took * (1 - RELOAD_DUTY) / RELOAD_DUTY
        if isinstance(result, tuple):
            version, rows = result
            self._rows, self._rows_version = rows, version
            if rows is None and not self._too_many:
                self._too_many = True
                log.info("more than {limit} EIR rules: ECRs read them from SQLite", limit=RULE_INDEX_LIMIT)
        else:
            self._rows = self._rows_version = None
            log.failure("loading the EIR rules failed; ECRs read them from SQLite", result)

    def close(self):
        """On the worker, when the store stops."""
        reader, self.reader = self.reader, None
        if reader is not None:
            reader.close()
            self._header.close()


def open_rule_index(path, load):
    """On the worker, once the store's connection is open (the ``-shm``
    file exists): the RuleIndex of the file at ``path``."""
    with open(path + "-shm", "rb") as shm:
        header = mmap.mmap(shm.fileno(), WAL_INDEX_HEADER, prot=mmap.PROT_READ)
    try:
        reader = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False,
                                 cached_statements=4)
        reader.execute("PRAGMA query_only = 1")
    except BaseException:
        header.close()
        raise
    return RuleIndex(reader, header, load)


def load_rules_from(path, busy_timeout):
    """On a thread of its own: :func:`load_rules` on a connection of its
    own (the worker goes on answering; loading 100,000 rules on it held
    the ECRs that read SQL meanwhile up to 300 ms on a busy machine)."""
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    try:
        conn.execute("PRAGMA query_only = 1")
        return load_rules(conn)
    finally:
        conn.close()


def load_rules(conn):
    """(version, {key: row}) from one snapshot, or (version, None) past
    RULE_INDEX_LIMIT rules."""
    conn.execute("BEGIN")
    try:
        version = conn.execute(SELECT_RULE_VERSION).fetchone()[0]
        rows = {}
        cursor = conn.execute(SELECT_RULE)
        for row in cursor:
            rows[row[0]] = row
            if len(rows) > RULE_INDEX_LIMIT:
                cursor.close()
                return version, None
        return version, rows
    finally:
        conn.execute("COMMIT")


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
