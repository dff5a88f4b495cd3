"""How the SQL stores keep records: schema, column order, conversions, statements.

Columns are the record's dataclass fields in order; APN lists are kept as
space-separated text and flags as 0/1.  Rows read back become records
through :func:`pyhss.storage.records.stored_subscriber` (rows the store
wrote, checked inline) or the validating constructors.
"""

from pyhss.storage.records import (
    APN_FIELDS, SERVING_NODE_FIELDS, SUBSCRIBER_FIELDS, ApnProfile, ServingNode, Subscriber, stored_subscriber,
)

# Column order is the dataclass field order; these fields need converting.
_ENCODE = {"apns": " ".join, "enabled": int, "roaming_allowed": int, "purged": int}
_DECODE = {"apns": lambda text: tuple(text.split()), "enabled": bool, "roaming_allowed": bool, "purged": bool}


def _codec(names):
    encoders = [_ENCODE.get(name) for name in names]
    decoders = [_DECODE.get(name) for name in names]

    def encode(record):
        return tuple(getattr(record, name) if enc is None else enc(getattr(record, name))
                     for name, enc in zip(names, encoders))

    def decode(row):
        return tuple(value if dec is None else dec(value) for value, dec in zip(row, decoders))
    return encode, decode


encode_subscriber, _decode_subscriber = _codec(SUBSCRIBER_FIELDS)
encode_apn, _decode_apn = _codec(APN_FIELDS)
encode_node, _decode_node = _codec(SERVING_NODE_FIELDS)


def _columns(names):
    return ", ".join(names)


def _placeholders(names):
    return ", ".join("?" for _ in names)


SUBSCRIBER_COLUMNS = _columns(SUBSCRIBER_FIELDS)
SELECT_SUBSCRIBER = f"SELECT {SUBSCRIBER_COLUMNS} FROM subscriber WHERE imsi = ?"
INSERT_SUBSCRIBER = f"INSERT INTO subscriber ({SUBSCRIBER_COLUMNS}) VALUES ({_placeholders(SUBSCRIBER_FIELDS)})"
REPLACE_SUBSCRIBER = INSERT_SUBSCRIBER.replace("INSERT", "INSERT OR REPLACE", 1)
INSERT_LINK = "INSERT INTO subscriber_apn (apn, imsi) VALUES (?, ?)"
INSERT_APN = f"INSERT INTO apn ({_columns(APN_FIELDS)}) VALUES ({_placeholders(APN_FIELDS)})"
SELECT_APN = f"SELECT {_columns(APN_FIELDS)} FROM apn"
REPLACE_NODE = (f"INSERT OR REPLACE INTO serving_node ({_columns(SERVING_NODE_FIELDS)}) "
                f"VALUES ({_placeholders(SERVING_NODE_FIELDS)})")
SELECT_APN_BY_NAME = SELECT_APN + " WHERE name = ?"
SELECT_NODE = f"SELECT {_columns(SERVING_NODE_FIELDS)} FROM serving_node WHERE imsi = ?"

# Rows of the apn table repeat (every ULR reads its subscriber's APNs):
# row -> ApnProfile, a row being the whole record, so never stale.
_APN_ROWS = {}
_APN_ROWS_MAX = 1024


def subscriber_from_row(row):
    if row is None:
        return None
    return stored_subscriber(row) or Subscriber(*_decode_subscriber(row))


def apn_from_row(row):
    if row is None:
        return None
    profile = _APN_ROWS.get(row)
    if profile is None:
        profile = ApnProfile(*_decode_apn(row))
        if len(_APN_ROWS) >= _APN_ROWS_MAX:
            _APN_ROWS.clear()
        _APN_ROWS[row] = profile
    return profile


def node_from_row(row):
    return None if row is None else ServingNode(*_decode_node(row))
