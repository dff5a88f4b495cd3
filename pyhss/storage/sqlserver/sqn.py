"""The SQN reservation role (ISqnReservation) on a SQL server.

One transaction per AIR: ``SELECT ... FOR UPDATE`` of the subscriber's
row (MSSQL: UPDLOCK), :func:`pyhss.auc.sqn.advance` on what it read, one
``UPDATE``, COMMIT.  The row lock makes every other reservation for the
IMSI, from any connection of any process, wait for this one's commit and
read the value it wrote: no two callers ever start from the same SQN.
(``advance`` is not an increment, IND steps modulo 2**ind_bits and a
resynchronisation may reset SEQ, so it runs here rather than as SQL.)
"""

import sqlalchemy as sa

from pyhss.auc.sqn import SqnRequest, advance
from pyhss.storage.errors import ValidationError
from pyhss.storage.interface import ANY_STATE
from pyhss.storage.keys import is_imsi
from pyhss.storage.sqlserver.base import DriverStatement
from pyhss.storage.sqlserver.subscribers import SELECT_SUBSCRIBER_FOR_UPDATE, subscriber_from_row, subscriber_table

UPDATE_SQN = (subscriber_table.update()
              .where(subscriber_table.c.imsi == sa.bindparam("key"))
              .values(sqn=sa.bindparam("sqn")))


_SELECT = DriverStatement(SELECT_SUBSCRIBER_FOR_UPDATE)
_UPDATE = DriverStatement(UPDATE_SQN)


def reserve_sqns(conn, imsi, request, required):
    # The driver's cursor directly: one AIR is two statements and a COMMIT.
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


class SqnRole:
    """ISqnReservation for :class:`~pyhss.storage.sqlserver.store.SqlStore`."""

    def reserve_sqns(self, imsi, request, required=ANY_STATE):
        if type(request) is not SqnRequest:
            return self._fail(ValidationError(f"expected a SqnRequest, got {type(request).__name__}"))
        if not is_imsi(imsi):
            return self._nothing((None, None))
        return self._job(reserve_sqns, imsi, request, required, key=imsi)
