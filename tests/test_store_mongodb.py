"""The MongoDB store.

No MongoDB server can be installed on this machine (neither Debian nor PyPI
ships one): the contract runs against a real ``mongod`` only when
PYHSS_TEST_MONGODB_URI names one (``mongodb://HOST:PORT/DATABASE``; that
database is dropped before each test).  Without one, what the adapter
sends and how it reads the replies are tested here against scripted
collections: the filters, updates and documents it builds, that hostile
keys never become a query, the SQN compare-and-set and its retry, the
outage lines.
"""

import os
import urllib.parse

from bson.binary import Binary
from bson.int64 import Int64
from twisted.internet import defer, reactor, task
from twisted.logger import globalLogPublisher
from twisted.trial import unittest

from pyhss.auc.sqn import SqnRequest
from pyhss.config import Config
from pyhss.storage.errors import StoreUnavailable
from pyhss.storage.interface import ANY_STATE, RequiredState
from pyhss.storage.mongodb import documents as docs
from pyhss.storage.mongodb.store import MongoStore, mongodb_uri
from pyhss.storage.records import ApnProfile, ServingNode
from tests.store_contract import IMSI, OP, StoreContractMixin, subscriber

MONGODB_URI = os.environ.get("PYHSS_TEST_MONGODB_URI")
HOSTILE = [{"$gt": ""}, {"$ne": None}, "$gt", "001010000000001'", "00101000000000%", "001010000000001\x00",
           ["001010000000001"], 1010000000001, None, "001010000000001 "]


def mongodb_settings():
    uri = urllib.parse.urlsplit(MONGODB_URI)
    server = {"host": uri.hostname or "127.0.0.1", "database": uri.path.lstrip("/") or "pyhss_test"}
    if uri.port:
        server["port"] = uri.port
    if uri.username:
        server["user"] = urllib.parse.unquote(uri.username)
        server["password"] = urllib.parse.unquote(uri.password or "")
    return Config.default(database={"backend": "mongodb", "server": server}).database.server


class MongoContractTests(StoreContractMixin, unittest.TestCase):
    if not MONGODB_URI:
        skip = ("no MongoDB server can be installed on this machine (no Debian or PyPI package): set "
                "PYHSS_TEST_MONGODB_URI=mongodb://HOST:PORT/DATABASE to run the contract against a real "
                "mongod (the database is dropped before each test)")

    @defer.inlineCallbacks
    def make_store(self):
        from txmongo.connection import ConnectionPool
        settings = mongodb_settings()
        connection = ConnectionPool(mongodb_uri(settings))
        yield connection.drop_database(settings.database)
        yield connection.disconnect()
        return MongoStore(settings, reactor)


# --- without a server ------------------------------------------------------------------

class DocumentTests(unittest.TestCase):
    def test_subscriber_round_trip_and_types(self):
        sub = subscriber(op=OP, opc=None, sqn=(1 << 48) - 1, msisdn="15551230001", apns=("ims", "internet"),
                         ue_ambr_ul=4294967295, periodic_rau_tau_timer=3240, access_restriction_data=0x20,
                         enabled=False)
        document = docs.subscriber_document(sub)
        self.assertEqual(document["_id"], IMSI)
        self.assertIsInstance(document["k"], Binary)
        self.assertIsInstance(document["sqn"], Int64)
        self.assertEqual(document["apns"], ["ims", "internet"])
        self.assertIsNone(document["opc"])
        self.assertEqual(docs.subscriber_from_document(document), sub)
        # A document carrying fields of ours (a load's mark) reads the same.
        self.assertEqual(docs.subscriber_from_document(dict(document, _import="x", sqn_reservations=3)), sub)

    def test_apn_and_node_round_trip(self):
        profile = ApnProfile("internet", ambr_ul=1, ambr_dl=2, pdn_type="ipv4v6", context_id=7)
        self.assertEqual(docs.apn_from_document(docs.apn_document(profile)), profile)
        self.assertEqual(docs.apn_document(profile)["_id"], "internet")
        node = ServingNode(IMSI, "mme'; $gt", "realm", None, 1.5, True)
        self.assertEqual(docs.node_from_document(docs.node_document(node)), node)

    def test_required_state_as_a_filter(self):
        self.assertEqual(docs.required_filter(IMSI, ANY_STATE), {"_id": IMSI})
        self.assertEqual(docs.required_filter(IMSI, RequiredState(roaming=True, restrictions=0x30)),
                         {"_id": IMSI, "enabled": True, "roaming_allowed": True,
                          "access_restriction_data": {"$bitsAllClear": Int64(0x30)}})

    def test_sqn_compare_and_set(self):
        query, update = docs.sqn_compare_and_set(IMSI, 10, 13, RequiredState())
        self.assertEqual(query, {"_id": IMSI, "enabled": True, "sqn": Int64(10)})
        self.assertEqual(update, {"$set": {"sqn": Int64(13)}, "$inc": {"sqn_reservations": 1}})

    def test_keys_are_data(self):
        for value in HOSTILE:
            self.assertIsNone(docs.imsi_key(value), repr(value))
        self.assertEqual(docs.imsi_key(IMSI), IMSI)
        self.assertIsNone(docs.apn_key({"$gt": ""}))
        self.assertIsNone(docs.apn_key("inter$net"))

    def test_uri_quotes_credentials(self):
        settings = Config.default(database={"backend": "mongodb", "server": {
            "host": "db.example.org", "user": "hss@x", "password": "p:w/@?", "database": "pyhss"}}).database.server
        self.assertEqual(mongodb_uri(settings), "mongodb://hss%40x:p%3Aw%2F%40%3F@db.example.org:27017/pyhss")


class _Result:
    def __init__(self, **values):
        self.__dict__.update(values)


class ScriptedCollection:
    """Records every call; answers from ``replies[method]`` in order
    (an exception instance is raised as the call's failure)."""

    def __init__(self, name, calls, replies):
        self.name = name
        self.calls = calls
        self.replies = replies

    def _answer(self, method, *args, **kwargs):
        self.calls.append((self.name, method, args, kwargs))
        queue = self.replies.get((self.name, method))
        value = queue.pop(0) if queue else None
        if isinstance(value, Exception):
            return defer.fail(value)
        if isinstance(value, defer.Deferred):     # an answer that never comes
            return value
        return defer.succeed(value)

    def __getattr__(self, method):
        return lambda *args, **kwargs: self._answer(method, *args, **kwargs)


class ScriptedDatabase:
    def __init__(self):
        self.calls = []
        self.replies = {("schema_version", "find_one"): [{"_id": 2}]}   # an up-to-date database

    def __getitem__(self, name):
        return ScriptedCollection(name, self.calls, self.replies)

    def reply(self, collection, method, *values):
        self.replies.setdefault((collection, method), []).extend(values)


class ScriptedConnection:
    def __init__(self, database):
        self.database = database

    def __getitem__(self, name):
        return self.database

    def disconnect(self):
        return defer.succeed(None)


class ReplyHandlingTests(unittest.TestCase):
    @defer.inlineCallbacks
    def setUp(self):
        self.db = ScriptedDatabase()
        self.clock = task.Clock()
        settings = Config.default(database={"backend": "mongodb", "server": {"query_timeout": 2}}).database.server
        self.store = MongoStore(settings, self.clock, connection=ScriptedConnection(self.db))
        yield self.store.opened
        self.db.calls.clear()

    @defer.inlineCallbacks
    def test_hostile_keys_never_reach_the_server(self):
        for value in HOSTILE:
            self.assertIsNone((yield self.store.get_subscriber(value)))
            self.assertIsNone((yield self.store.get_serving_node(value)))
            self.assertIsNone((yield self.store.get_apn(value)))
            self.assertEqual((yield self.store.reserve_sqns(value, SqnRequest(1))), (None, None))
            self.assertFalse((yield self.store.mark_purged(value, "mme")))
        self.assertEqual(self.db.calls, [])

    @defer.inlineCallbacks
    def test_lookup_sends_the_key_as_a_value(self):
        self.db.reply("subscriber", "find_one", docs.subscriber_document(subscriber()))
        self.assertEqual((yield self.store.get_subscriber(IMSI)), subscriber())
        self.assertEqual(self.db.calls, [("subscriber", "find_one", ({"_id": IMSI},), {})])

    @defer.inlineCallbacks
    def test_sqn_compare_and_set_retries_on_a_changed_sqn(self):
        first, second = subscriber(sqn=10), subscriber(sqn=12)
        self.db.reply("subscriber", "find_one", docs.subscriber_document(first), docs.subscriber_document(second))
        self.db.reply("subscriber", "find_one_and_update", None, {"_id": IMSI})   # lost the race, then won
        found, sqns = yield self.store.reserve_sqns(IMSI, SqnRequest(2, 0), RequiredState())
        self.assertEqual((found, sqns), (second, [13, 14]))
        updates = [call for call in self.db.calls if call[1] == "find_one_and_update"]
        self.assertEqual([call[2] for call in updates], [
            ({"_id": IMSI, "enabled": True, "sqn": Int64(10)},
             {"$set": {"sqn": Int64(12)}, "$inc": {"sqn_reservations": 1}}),
            ({"_id": IMSI, "enabled": True, "sqn": Int64(12)},
             {"$set": {"sqn": Int64(14)}, "$inc": {"sqn_reservations": 1}})])

    @defer.inlineCallbacks
    def test_refused_state_reserves_nothing(self):
        self.db.reply("subscriber", "find_one", docs.subscriber_document(subscriber(enabled=False)))
        found, sqns = yield self.store.reserve_sqns(IMSI, SqnRequest(1), RequiredState())
        self.assertIsNone(sqns)
        self.assertEqual([call[1] for call in self.db.calls], ["find_one"])

    @defer.inlineCallbacks
    def test_outage_logged_once_each_way(self):
        from pymongo.errors import AutoReconnect
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        self.db.reply("subscriber", "find_one", AutoReconnect("connection refused"), AutoReconnect("again"))
        for _ in range(2):
            yield self.assertFailure(self.store.get_subscriber(IMSI), StoreUnavailable)
        self.db.reply("subscriber", "find_one", defer.Deferred())
        pending = self.store.get_subscriber(IMSI)     # no reply comes: answered at the timeout
        self.clock.advance(2)
        yield self.assertFailure(pending, StoreUnavailable)
        self.assertIsNone((yield self.store.get_subscriber(IMSI)))   # back
        lines = [e for e in events if e.get("log_namespace") == "pyhss.storage.mongodb"]
        self.assertEqual([e["log_format"].split(":")[0].split(" after")[0] for e in lines],
                         ["database unavailable", "database available again"])
        self.assertEqual(lines[1]["failed"], 3)
