"""MongoDB's side of :mod:`pyhss.storage.schema`: one step per version
(indexes; documents need no table), and the version record.

The ``schema_version`` collection holds one document per version applied
(``{"_id": version}``); the highest is the database's version.  Index
creation is idempotent, so two pyhss processes starting together on a
new database both succeed.
"""

from pymongo import ASCENDING
from twisted.internet import defer

from pyhss.storage.mongodb.documents import APNS, SUBSCRIBERS, VERSIONS
from pyhss.storage.mongodb.eir import EQUIPMENT_CHECKS
from pyhss.storage.mongodb.ims import IMS_SUBSCRIPTIONS
from pyhss.storage.schema import pending


@defer.inlineCallbacks
def _version_1(db):
    yield db[SUBSCRIBERS].create_index([("msisdn", ASCENDING)], name="subscriber_by_msisdn")
    yield db[APNS].create_index([("context_id", ASCENDING)], unique=True, name="apn_context_id")


@defer.inlineCallbacks
def _version_2(db):
    # IMS: an identity belongs to one subscription (a unique multikey
    # index), subscriptions found by their subscriber and iFC template.
    # EIR: rules and checks are found by _id; history filters scan.
    subscriptions = db[IMS_SUBSCRIPTIONS]
    yield subscriptions.create_index([("uris", ASCENDING)], unique=True, name="ims_subscription_by_uri")
    yield subscriptions.create_index([("imsi", ASCENDING)], name="ims_subscription_by_imsi")
    yield subscriptions.create_index([("ifc", ASCENDING)], name="ims_subscription_by_ifc")
    yield db[EQUIPMENT_CHECKS].create_index([("checked_at", ASCENDING)], name="equipment_check_by_time")


@defer.inlineCallbacks
def _version_3(db):
    # Deleting an APN, or listing its users, finds them with an exact match on this multikey index.
    yield db[SUBSCRIBERS].create_index([("apns", ASCENDING)], name="subscriber_by_apn")


MIGRATIONS = {
    1: _version_1,
    2: _version_2,
    3: _version_3,
}


@defer.inlineCallbacks
def stored_version(db):
    newest = yield db[VERSIONS].find_one({}, sort=[("_id", -1)])
    return None if newest is None else int(newest["_id"])


@defer.inlineCallbacks
def migrate(db, where, upto=None):
    """Apply the pending steps; returns the versions applied."""
    applied = []
    for version in pending((yield stored_version(db)), where, MIGRATIONS):
        if upto is not None and version > upto:
            break
        yield MIGRATIONS[version](db)
        yield db[VERSIONS].update_one({"_id": version}, {"$set": {"_id": version}}, upsert=True)
        applied.append(version)
    return applied
