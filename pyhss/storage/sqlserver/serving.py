"""The serving-node role (IServingNodes) on a SQL server: the ``serving_node``
table and what ULR, PUR and CLR do to it.

Every write locks the subscriber's row first (``SELECT ... FOR UPDATE``),
so writes for one IMSI are serialised and "insert or replace" is a plain
INSERT or UPDATE chosen from what the transaction read, the same SQL on
every dialect.
"""

import sqlalchemy as sa

from pyhss.storage.errors import NotFoundError
from pyhss.storage.interface import ANY_STATE
from pyhss.storage.records import SERVING_NODE_FIELDS, ServingNode
from pyhss.storage.keys import ascii_lower, is_imsi
from pyhss.storage.sqlserver.base import METADATA, TABLE_OPTIONS, DriverStatement, for_update, identity
from pyhss.storage.sqlserver.subscribers import (
    SELECT_APN, SELECT_SUBSCRIBER_FOR_UPDATE, apn_from_row, apn_table, subscriber_from_row, subscriber_table,
)

serving_node_table = sa.Table(
    "serving_node", METADATA,
    sa.Column("imsi", sa.String(15), sa.ForeignKey("subscriber.imsi", ondelete="CASCADE"), primary_key=True),
    sa.Column("mme_host", identity(), nullable=False),
    sa.Column("mme_realm", identity(), nullable=False),
    sa.Column("peer", identity()),
    sa.Column("updated_at", sa.Float(53), nullable=False),
    sa.Column("purged", sa.Boolean, nullable=False),
    **TABLE_OPTIONS,
)

NODE_COLUMNS = [serving_node_table.c[name] for name in SERVING_NODE_FIELDS]
SELECT_NODE = sa.select(*NODE_COLUMNS).where(serving_node_table.c.imsi == sa.bindparam("imsi"))
INSERT_NODE = serving_node_table.insert()
UPDATE_NODE = serving_node_table.update().where(serving_node_table.c.imsi == sa.bindparam("key"))
SUBSCRIBER_EXISTS = for_update(sa.select(subscriber_table.c.imsi).where(subscriber_table.c.imsi == sa.bindparam("imsi")),
                               subscriber_table)


def node_from_row(row):
    if row is None:
        return None
    imsi, host, realm, peer, updated_at, purged = row
    return ServingNode(imsi, host, realm, peer, updated_at, bool(purged))


def _node_values(node):
    return {name: getattr(node, name) for name in SERVING_NODE_FIELDS}


def _store(conn, node, old):
    values = _node_values(node)
    if old is None:
        conn.execute(INSERT_NODE, values)
    else:
        del values["imsi"]
        conn.execute(UPDATE_NODE, dict(values, key=node.imsi))


def get_serving_node(conn, imsi):
    return node_from_row(conn.execute(SELECT_NODE, {"imsi": imsi}).first())


def set_serving_node(conn, node):
    if conn.execute(SUBSCRIBER_EXISTS, {"imsi": node.imsi}).first() is None:
        raise NotFoundError(f"no subscriber {node.imsi}")
    _store(conn, node, conn.execute(SELECT_NODE, {"imsi": node.imsi}).first())


_SELECT_SUBSCRIBER = DriverStatement(SELECT_SUBSCRIBER_FOR_UPDATE)
_SELECT_NODE = DriverStatement(SELECT_NODE)
_SELECT_APN = DriverStatement(SELECT_APN.where(apn_table.c.name == sa.bindparam("name")))
_INSERT_NODE = DriverStatement(INSERT_NODE.values({name: sa.bindparam(name) for name in SERVING_NODE_FIELDS}))
_UPDATE_NODE = DriverStatement(UPDATE_NODE.values({name: sa.bindparam(name) for name in SERVING_NODE_FIELDS[1:]}))


def swap_serving_node(conn, node, required):
    # ULR's hot path, on the driver's cursor (the statements rendered once).
    imsi = node.imsi
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        subscriber = subscriber_from_row(_SELECT_SUBSCRIBER.execute(conn, cursor, {"imsi": imsi}).fetchone())
        old = node_from_row(_SELECT_NODE.execute(conn, cursor, {"imsi": imsi}).fetchone()) if subscriber else None
        if not required.met_by(subscriber):
            return subscriber, old, None
        profiles = [apn_from_row(_SELECT_APN.execute(conn, cursor, {"name": name}).fetchone())
                    for name in subscriber.apns]
        values = _node_values(node)
        if old is None:
            _INSERT_NODE.execute(conn, cursor, values)
        else:
            values["key"] = imsi
            _UPDATE_NODE.execute(conn, cursor, values)
        return subscriber, old, profiles
    finally:
        cursor.close()


def mark_purged(conn, imsi, mme_host):
    node = node_from_row(conn.execute(for_update(SELECT_NODE, serving_node_table), {"imsi": imsi}).first())
    if node is None or ascii_lower(node.mme_host) != ascii_lower(mme_host):
        return False
    conn.execute(UPDATE_NODE, {"key": imsi, "purged": True})
    return True


class ServingRole:
    """IServingNodes for :class:`~pyhss.storage.sqlserver.store.SqlStore`."""

    def get_serving_node(self, imsi):
        if not is_imsi(imsi):
            return self._nothing(None)
        return self._job(get_serving_node, imsi, key=imsi)

    def set_serving_node(self, node):
        if not isinstance(node, ServingNode):
            return self._refuse(f"expected a ServingNode, got {type(node).__name__}")
        return self._job(set_serving_node, node, key=node.imsi)

    def swap_serving_node(self, node, required=ANY_STATE):
        if not isinstance(node, ServingNode):
            return self._refuse(f"expected a ServingNode, got {type(node).__name__}")
        return self._job(swap_serving_node, node, required, key=node.imsi)

    def mark_purged(self, imsi, mme_host):
        if not is_imsi(imsi) or not isinstance(mme_host, str):
            return self._nothing(False)
        return self._job(mark_purged, imsi, mme_host, key=imsi)
