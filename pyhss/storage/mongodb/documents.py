"""Records to MongoDB documents and back, and every filter and update the
MongoDB store sends: pure functions, so that what reaches the server can
be checked without one.

Hostile data stays data: field names are ours, never a caller's; keys
are checked before they go in a filter (an IMSI is a string of 14-15
digits, an APN name a normalised label list), so ``{"$gt": ""}`` or any
other operator object in place of a key finds nothing without a query;
values are strings, integers, booleans, bytes or lists of strings, and a
string that starts with ``$`` is matched as the string it is (MongoDB
reads operators from field names, never from values).
"""

from bson.binary import Binary
from bson.int64 import Int64

from pyhss.storage.keys import apn_key, is_imsi
from pyhss.storage.records import APN_FIELDS, SERVING_NODE_FIELDS, SUBSCRIBER_FIELDS, ApnProfile, ServingNode, Subscriber

__all__ = ["apn_key", "imsi_key"]

SUBSCRIBERS = "subscriber"
APNS = "apn"
SERVING_NODES = "serving_node"
VERSIONS = "schema_version"
# Field marking the documents of a bulk load in progress (its token).
IMPORT_MARK = "_import"

_BYTES = ("k", "opc", "op", "amf")
_LONGS = ("sqn", "ue_ambr_ul", "ue_ambr_dl", "periodic_rau_tau_timer", "access_restriction_data")


def imsi_key(value):
    """``value`` when it can be an IMSI, else None (the lookup finds nothing)."""
    return value if is_imsi(value) else None


def subscriber_document(subscriber):
    document = {"_id": subscriber.imsi}
    for name in SUBSCRIBER_FIELDS[1:]:
        document[name] = _value(name, getattr(subscriber, name))
    return document


def _value(name, value):
    if value is None:
        return None
    if name in _BYTES:
        return Binary(value)
    if name in _LONGS:
        return Int64(value)
    if name == "apns":
        return list(value)
    return value


def subscriber_changes(changes):
    """The ``$set`` of an update of some Subscriber fields (after the
    record checked them)."""
    return {"$set": {name: _value(name, value) for name, value in changes.items()}}


def subscriber_from_document(document):
    if document is None:
        return None
    values = {}
    for name in SUBSCRIBER_FIELDS[1:]:
        value = document.get(name)
        if name in _BYTES and value is not None:
            value = bytes(value)
        elif name in _LONGS and value is not None:
            value = int(value)
        elif name == "apns":
            value = tuple(value or ())
        values[name] = value
    return Subscriber(document["_id"], **values)


def apn_document(profile):
    document = {"_id": profile.name}
    for name in APN_FIELDS[1:]:
        value = getattr(profile, name)
        document[name] = Int64(value) if isinstance(value, int) and name in ("ambr_ul", "ambr_dl", "context_id") \
            else value
    return document


def apn_from_document(document):
    if document is None:
        return None
    values = {name: document.get(name) for name in APN_FIELDS[1:]}
    for name in ("ambr_ul", "ambr_dl", "context_id"):
        if values[name] is not None:
            values[name] = int(values[name])
    return ApnProfile(document["_id"], **values)


def node_document(node):
    return {"_id": node.imsi, **{name: getattr(node, name) for name in SERVING_NODE_FIELDS[1:]}}


def node_from_document(document):
    if document is None:
        return None
    return ServingNode(document["_id"], **{name: document.get(name) for name in SERVING_NODE_FIELDS[1:]})


def required_filter(imsi, required):
    """The filter matching subscriber ``imsi`` only in the state
    ``required`` (a RequiredState) asks for."""
    query = {"_id": imsi}
    if required.enabled:
        query["enabled"] = True
    if required.roaming:
        query["roaming_allowed"] = True
    if required.restrictions:
        query["access_restriction_data"] = {"$bitsAllClear": Int64(required.restrictions)}
    return query


def sqn_compare_and_set(imsi, current_sqn, new_sqn, required):
    """(filter, update) of one SQN reservation: matches only while the
    stored SQN is still ``current_sqn`` and the subscriber meets
    ``required``, sets ``new_sqn``, counts the reservation."""
    query = required_filter(imsi, required)
    query["sqn"] = Int64(current_sqn)
    return query, {"$set": {"sqn": Int64(new_sqn)}, "$inc": {"sqn_reservations": 1}}


def subscriber_filter(keys):
    """The filter of a SubscriberQuery's QueryKeys (pyhss.storage.keys):
    exact values and ranges, never a pattern."""
    query = {}
    imsi = {}
    if keys.imsi_low is not None:
        imsi["$gte"] = keys.imsi_low
        if keys.imsi_high is not None:
            imsi["$lt"] = keys.imsi_high
    if keys.after is not None:
        imsi["$gt"] = keys.after
    if imsi:
        query["_id"] = imsi
    if keys.msisdn is not None:
        query["msisdn"] = keys.msisdn
    if keys.apn is not None:
        query["apns"] = keys.apn        # an element of the array, exactly
    if keys.enabled is not None:
        query["enabled"] = keys.enabled
    return query


def in_list(keys):
    return {"_id": {"$in": list(keys)}}
