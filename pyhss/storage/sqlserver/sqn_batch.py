"""AIR's SQN reservations batched: the AIRs waiting when a thread is free
are reserved together in one job (:class:`~pyhss.storage.sqlserver.batches.KeyedBatcher`),
on one round trip or two:

- PostgreSQL: ``UPDATE subscriber SET sqn = <arithmetic> WHERE imsi =
  ANY(%s) AND <required state> RETURNING <the rows>`` in autocommit (one
  statement per request shape; almost always one).  A row not returned
  (unknown IMSI, refused state) takes the general locked path
  (:func:`~pyhss.storage.sqlserver.sqn.reserve_sqns`) in the same job.
- MariaDB/MySQL: ``START TRANSACTION; SELECT <the rows> ... FOR UPDATE``,
  then :func:`pyhss.auc.sqn.advance` on each in Python (the general
  path's own logic, refusals and unknown IMSIs included), then one
  ``UPDATE ... SET sqn = CASE imsi ... END ...; COMMIT``.

Batched AIRs keep their order per IMSI among themselves
(:mod:`~pyhss.storage.sqlserver.batches`); a resync or any other call for
the IMSI takes the runner's per-IMSI lane and is not ordered with them
(each is still atomic on the row).  Across processes the row locks
(PostgreSQL's UPDATE, MariaDB's FOR UPDATE, rows taken in key order) keep
each reservation atomic.  A failed batch job
fails each of its requests with its error and assigns nothing twice: the
PostgreSQL statement is atomic, the MariaDB transaction is rolled back.
"""

import collections

from pyhss.auc.sqn import advance
from pyhss.storage.errors import StoreError, ValidationError
from pyhss.storage.sqlserver.sqn import (
    IN_POLICY, _COLUMNS, _SQN, _new_sqn_sql, _old_sqn, _required_sql, autocommitted, reserve_sqns,
    rolled_back_on_error)
from pyhss.storage.sqlserver.subscribers import subscriber_from_row


def _general(conn, entry):
    with conn.begin():
        return reserve_sqns(conn, entry.imsi, *entry.args)


def _outcome(function, *args):
    """(True, value) or (False, the exception) of a per-request step whose
    error belongs to that request alone (a stored SQN out of policy)."""
    try:
        return True, function(*args)
    except StoreError as error:
        return False, error


# --- PostgreSQL: one UPDATE ... RETURNING per request shape ---------------------------
def _postgresql_statement(request, required):
    condition, args = _required_sql(required, "%s")
    return (f"UPDATE subscriber SET sqn = {_new_sqn_sql(request)} WHERE imsi = ANY(%s){IN_POLICY}{condition} "
            f"RETURNING {_COLUMNS}"), args


def _postgresql_checked(row, request):
    row = list(row)
    new_sqn = int(row[_SQN])
    row[_SQN] = _old_sqn(new_sqn, request)
    current = subscriber_from_row(row)
    checked_sqn, sqns = advance(current.sqn, request)
    if checked_sqn != new_sqn:
        raise ValidationError(f"stored SQN of {current.imsi} does not follow the SQN policy")
    return current, sqns


def reserve_batch_postgresql(conn, entries):
    shapes = collections.defaultdict(list)
    for entry in entries:
        request, required = entry.args
        shapes[(request.count, request.ind_bits, required.enabled, required.roaming,
                required.restrictions)].append(entry)
    results = {}
    with autocommitted(conn.connection.dbapi_connection) as cursor:
        for group in shapes.values():
            sql, args = _postgresql_statement(*group[0].args)
            cursor.execute(sql, [[entry.imsi for entry in group]] + args)
            rows = {row[0]: row for row in cursor.fetchall()}
            for entry in group:
                row = rows.get(entry.imsi)
                if row is not None:
                    results[entry.imsi] = _outcome(_postgresql_checked, row, entry.args[0])
    return [results.get(entry.imsi) or _outcome(_general, conn, entry) for entry in entries]


# --- MariaDB/MySQL: SELECT ... FOR UPDATE, advance, one UPDATE with CASE ----------------
def reserve_batch_mariadb(conn, entries):
    imsis = sorted(entry.imsi for entry in entries)
    marks = ", ".join(["%s"] * len(imsis))
    dbapi = conn.connection.dbapi_connection
    with rolled_back_on_error(dbapi) as cursor:
        cursor.execute(f"START TRANSACTION; SELECT {_COLUMNS} FROM subscriber WHERE imsi IN ({marks}) "
                       f"FOR UPDATE", imsis)
        cursor.nextset()
        rows = {row[0]: row for row in cursor.fetchall()}
        outcomes, updates = [], []
        for entry in entries:
            request, required = entry.args
            ok, current = _outcome(subscriber_from_row, rows.get(entry.imsi))
            if not ok:
                outcomes.append((False, current))
            elif not required.met_by(current):
                outcomes.append((True, (current, None)))
            else:
                ok, advanced = _outcome(advance, current.sqn, request)
                if not ok:
                    outcomes.append((False, advanced))
                    continue
                new_sqn, sqns = advanced
                if new_sqn != current.sqn:
                    updates.append((entry.imsi, new_sqn))
                outcomes.append((True, (current, sqns)))
        if updates:
            cases = " ".join(["WHEN %s THEN %s"] * len(updates))
            marks = ", ".join(["%s"] * len(updates))
            args = [value for pair in updates for value in pair] + [imsi for imsi, _ in updates]
            cursor.execute(f"UPDATE subscriber SET sqn = CASE imsi {cases} END WHERE imsi IN ({marks}); "
                           f"COMMIT", args)
            while cursor.nextset():
                pass
        else:
            dbapi.commit()
    return outcomes


BATCH_JOBS = {"postgresql": reserve_batch_postgresql, "mariadb": reserve_batch_mariadb}
for _job in BATCH_JOBS.values():
    _job.own_transaction = True
