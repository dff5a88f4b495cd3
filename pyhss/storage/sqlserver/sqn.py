"""The SQN reservation role (ISqnReservation) on a SQL server.

The general path is one transaction: ``SELECT ... FOR UPDATE`` of the
subscriber's row (MSSQL: UPDLOCK), :func:`pyhss.auc.sqn.advance` on what
it read, one ``UPDATE``, COMMIT.  The row lock makes every other
reservation for the IMSI, from any connection of any process, wait for
this one's commit and read the value it wrote: no two callers ever start
from the same SQN.

An AIR without resynchronisation takes one round trip instead of three.
Its ``advance`` is arithmetic on SEQ and IND (each + count, modulo their
widths), which SQL can do in the UPDATE itself:

- PostgreSQL: one ``UPDATE ... WHERE imsi = ? AND <required state>
  RETURNING <the row>`` in autocommit: one statement, atomic on the row.
- MariaDB/MySQL (no UPDATE ... RETURNING before 11): ``START TRANSACTION;
  UPDATE ...; SELECT ROW_COUNT(), <the row>; COMMIT`` sent as one
  multi-statement round trip; the SELECT reads the row the UPDATE locked.

The SQN before the update follows from the one after (adding count
modulo each width is a bijection), so the SQNs handed out are
``advance(old, request)``, the same as the general path's.  A row that
was not updated (unknown IMSI, or a state the request refuses) is told
apart by the general path's read, so the answers are the same.
"""

import contextlib

import sqlalchemy as sa

from pyhss.auc.sqn import SqnRequest, advance
from pyhss.storage.errors import ValidationError
from pyhss.storage.interface import ANY_STATE
from pyhss.storage.keys import is_imsi
from pyhss.storage.records import SQN_MAX, SUBSCRIBER_FIELDS
from pyhss.storage.sqlserver.base import DriverStatement
from pyhss.storage.sqlserver.subscribers import SELECT_SUBSCRIBER_FOR_UPDATE, subscriber_from_row, subscriber_table

UPDATE_SQN = (subscriber_table.update()
              .where(subscriber_table.c.imsi == sa.bindparam("key"))
              .values(sqn=sa.bindparam("sqn")))


_SELECT = DriverStatement(SELECT_SUBSCRIBER_FOR_UPDATE)
_UPDATE = DriverStatement(UPDATE_SQN)
_SQN = SUBSCRIBER_FIELDS.index("sqn")
_COLUMNS = ", ".join(SUBSCRIBER_FIELDS)


def reserve_sqns(conn, imsi, request, required):
    """The general path, in the job's transaction."""
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        current = subscriber_from_row(_SELECT.execute(conn, cursor, {"imsi": imsi}).fetchone())
        if not required.met_by(current):
            return current, None
        new_sqn, sqns = advance(current.sqn, request)
        if new_sqn != current.sqn:
            _UPDATE.execute(conn, cursor, {"key": imsi, "sqn": new_sqn})
        return current, sqns
    finally:
        cursor.close()


def _new_sqn_sql(request):
    """SQL for the SQN after ``request`` (no resync), from column sqn.
    Only integers derived from the request go in the text (and no '%':
    the drivers' placeholders are %s)."""
    bits = request.ind_bits
    count = request.count
    return (f"(((((sqn >> {bits}) + {count}) & {request._seq_mask}) << {bits}) "
            f"| MOD((sqn & {request._ind_mask}) + {count}, {request._ind_mask + 1}))")


def _old_sqn(new_sqn, request):
    bits = request.ind_bits
    seq = ((new_sqn >> bits) - request.count) & request._seq_mask
    ind = ((new_sqn & request._ind_mask) - request.count) % (request._ind_mask + 1)
    return (seq << bits) | ind


def _required_sql(required, placeholder):
    clauses, args = [], []
    if required.enabled:
        clauses.append("enabled = TRUE")
    if required.roaming:
        clauses.append("roaming_allowed = TRUE")
    if required.restrictions:
        clauses.append(f"(access_restriction_data & {placeholder}) = 0")
        args.append(required.restrictions)
    return "".join(" AND " + clause for clause in clauses), args


# A stored SQN out of range (written by another tool) would wrap in the
# arithmetic: such a row is left to the general path, which refuses it.
IN_POLICY = f" AND sqn BETWEEN 0 AND {SQN_MAX}"

_STATEMENTS = {}


def _statement(dialect, request, required):
    """The one-round-trip SQL for (count, ind bits, required state), made once."""
    shape = (dialect, request.count, request.ind_bits, required.enabled, required.roaming,
             bool(required.restrictions))
    sql = _STATEMENTS.get(shape)
    if sql is None:
        condition, _ = _required_sql(required, "%s")
        update = f"UPDATE subscriber SET sqn = {_new_sqn_sql(request)} WHERE imsi = %s{IN_POLICY}{condition}"
        if dialect == "postgresql":
            sql = f"{update} RETURNING {_COLUMNS}"
        else:
            sql = (f"START TRANSACTION; {update}; SELECT ROW_COUNT(), {_COLUMNS} FROM subscriber "
                   f"WHERE imsi = %s; COMMIT")
        _STATEMENTS[shape] = sql
    return sql


@contextlib.contextmanager
def autocommitted(dbapi):
    """A driver cursor whose statements commit one by one (PostgreSQL)."""
    dbapi.autocommit = True
    try:
        with dbapi.cursor() as cursor:
            yield cursor
    finally:
        dbapi.autocommit = False


@contextlib.contextmanager
def rolled_back_on_error(dbapi):
    """A driver cursor for a multi-statement transaction (MariaDB): a
    statement that fails ends it, so that the transaction it started does
    not stay open for the connection's next job."""
    cursor = dbapi.cursor()
    try:
        yield cursor
    except Exception:
        try:
            dbapi.rollback()
        except Exception:
            pass
        raise
    finally:
        cursor.close()


def _one_round_trip(conn, imsi, request, required):
    """(subscriber as read, sqns) when the row was updated, else None."""
    dialect = conn.dialect.name
    sql = _statement(dialect, request, required)
    _, args = _required_sql(required, "%s")
    dbapi = conn.connection.dbapi_connection
    if dialect == "postgresql":
        with autocommitted(dbapi) as cursor:
            cursor.execute(sql, [imsi] + args)
            row = cursor.fetchone()
        if row is None:
            return None
        row = list(row)
    else:
        with rolled_back_on_error(dbapi) as cursor:
            cursor.execute(sql, [imsi] + args + [imsi])
            cursor.nextset()                  # the UPDATE
            cursor.nextset()                  # the SELECT
            found = cursor.fetchone()
            while cursor.nextset():           # the COMMIT
                pass
        if found is None or not found[0]:
            return None
        row = list(found[1:])
    new_sqn = int(row[_SQN])
    row[_SQN] = _old_sqn(new_sqn, request)
    current = subscriber_from_row(row)
    checked_sqn, sqns = advance(current.sqn, request)
    if checked_sqn != new_sqn:    # a row some other tool wrote an SQN out of range into
        raise ValidationError(f"stored SQN of {imsi} does not follow the SQN policy")
    return current, sqns


def reserve_sqns_fast(conn, imsi, request, required):
    """AIR without resync: one round trip; else (or when nothing was
    updated) the general path in a transaction of its own."""
    if request.resync_sqn is None and request.count > 0:
        found = _one_round_trip(conn, imsi, request, required)
        if found is not None:
            return found
    with conn.begin():
        return reserve_sqns(conn, imsi, request, required)


# The runner starts no transaction for it: it makes its own.
reserve_sqns_fast.own_transaction = True

# The backends (database.backend) whose AIR takes the one-round-trip path.
ONE_ROUND_TRIP = ("postgresql", "mariadb")


class SqnRole:
    """ISqnReservation for :class:`~pyhss.storage.sqlserver.store.SqlStore`."""

    def reserve_sqns(self, imsi, request, required=ANY_STATE):
        if type(request) is not SqnRequest:
            return self._fail(ValidationError(f"expected a SqnRequest, got {type(request).__name__}"))
        if not is_imsi(imsi):
            return self._nothing((None, None))
        if self.sqn_batcher is not None and request.resync_sqn is None and request.count > 0:
            return self.sqn_batcher.add(imsi, request, required)
        job = reserve_sqns_fast if self.one_round_trip_sqn else reserve_sqns
        return self._job(job, imsi, request, required, key=imsi)
