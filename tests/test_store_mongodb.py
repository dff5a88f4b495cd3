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
from pyhss.storage.ims_records import ImsRegistration, PublicIdentity
from pyhss.storage.ims_state import REGISTRATION, Assignment, Authentication
from pyhss.storage.interface import SubscriberQuery
from pyhss.storage.keys import QueryKeys
from pyhss.storage.mongodb import eir as mongo_eir, ims as mongo_ims
from pyhss.storage.records import ApnProfile, ServingNode
from pyhss.storage.records_eir import BLACKLISTED, HistoryLimit
from pyhss.storage.schema import SCHEMA_VERSION
from tests.store_contract import IMPI, IMPU, IMSI, OP, StoreContractMixin, ims_subscription, subscriber
from tests.store_contract_eir import IMEI, check

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
        self.replies = {("schema_version", "find_one"): [{"_id": SCHEMA_VERSION}]}   # an up-to-date database

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


class _ScriptedStore:
    """``self.store`` on a ScriptedDatabase (``self.db``)."""

    @defer.inlineCallbacks
    def setUp(self):
        self.db = ScriptedDatabase()
        self.clock = task.Clock()
        settings = Config.default(database={"backend": "mongodb", "server": {"query_timeout": 2}}).database.server
        self.store = MongoStore(settings, self.clock, connection=ScriptedConnection(self.db))
        yield self.store.opened
        self.db.calls.clear()


class ReplyHandlingTests(_ScriptedStore, unittest.TestCase):
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


class QueryAndRoleDocumentTests(unittest.TestCase):
    """The filters of subscriber listings and the IMS and EIR documents."""

    def test_subscriber_query_filter_is_exact(self):
        self.assertEqual(docs.subscriber_filter(QueryKeys(SubscriberQuery())), {})
        keys = QueryKeys(SubscriberQuery(msisdn="15551230001", imsi_prefix="00101", apn="Internet",
                                         enabled=True, after="001010000000001"))
        self.assertEqual(docs.subscriber_filter(keys), {
            "_id": {"$gte": "00101", "$lt": "00102", "$gt": "001010000000001"},
            "msisdn": "15551230001", "apns": "internet", "enabled": True})
        self.assertEqual(docs.subscriber_filter(QueryKeys(SubscriberQuery(imsi_prefix="0019"))),
                         {"_id": {"$gte": "0019", "$lt": "002"}})
        self.assertEqual(docs.subscriber_filter(QueryKeys(SubscriberQuery(imsi_prefix="999"))),
                         {"_id": {"$gte": "999"}})
        for query in (SubscriberQuery(msisdn="1555%"), SubscriberQuery(msisdn={"$gt": ""}),
                      SubscriberQuery(imsi_prefix="001.*"), SubscriberQuery(apn="inter%net"),
                      SubscriberQuery(apn={"$ne": None}), SubscriberQuery(after={"$gt": ""})):
            self.assertTrue(QueryKeys(query).matches_nothing, query)

    def test_ims_documents_round_trip(self):
        sub = ims_subscription(impus=(PublicIdentity(IMPU), PublicIdentity("sip:a;b%25@ims.test", barred=True,
                                                                           implicit_set=2)))
        document = mongo_ims.subscription_document(sub)
        self.assertEqual(document["uris"], [IMPU, "sip:a;b%25@ims.test"])
        registration = ImsRegistration(IMPI, "sip:scscf@ims.test", "scscf.ims.test", "ims.test", "peer", True,
                                       ((IMPU, "registered"),), 5.0)
        document["registration"] = mongo_ims.registration_document(registration)
        self.assertEqual(mongo_ims.subscription_from_document(document), (sub, registration))
        self.assertEqual(mongo_ims.subscription_from_document(None), (None, None))
        self.assertEqual(mongo_ims.revision_filter(dict(document, rev=4)), {"_id": IMPI, "rev": 4})
        for value in ({"$gt": ""}, ["x"], None, 5):
            self.assertIsNone(mongo_ims.impi_key(value))
            self.assertIsNone(mongo_ims.impu_key(value))
        self.assertIsNone(mongo_ims.impu_key("not a uri"))

    def test_eir_documents(self):
        from pyhss.storage.records_eir import EquipmentRule
        rule = EquipmentRule(IMEI, BLACKLISTED, imsi=IMSI, note="n", updated_at=1.5)
        self.assertEqual(mongo_eir.rule_from_document(mongo_eir.rule_document(rule)), rule)
        checks = [check(1.0), check(2.0)]
        documents = mongo_eir.check_documents(7, checks)
        self.assertEqual([d["_id"] for d in documents], [7, 8])
        self.assertEqual([mongo_eir.check_from_document(d) for d in documents], checks)
        self.assertEqual(mongo_eir.checks_filter(IMEI, None, 3), {"imei": IMEI, "checked_at": {"$gte": 3.0}})


class ScriptedRoleTests(_ScriptedStore, unittest.TestCase):
    """What the IMS, EIR and listing calls send, against scripted replies."""

    def test_provides_every_role(self):
        from zope.interface.verify import verifyObject
        from pyhss.storage.interface import IStore
        self.assertTrue(verifyObject(IStore, self.store))

    @defer.inlineCallbacks
    def test_hostile_identities_never_reach_the_server(self):
        for value in HOSTILE + ["not a uri", "sip:"]:
            self.assertIsNone((yield self.store.find_ims_subscription(value)))
            self.assertEqual((yield self.store.ims_lookup(impu=value)), (None, None))
        for value in [{"$gt": ""}, ["x"], 5]:
            self.assertIsNone((yield self.store.get_ims_subscription(value)))
            self.assertEqual((yield self.store.ims_lookup(impi=value)), (None, None))
            self.assertIsNone((yield self.store.get_equipment_rule(value)))
            self.assertEqual((yield self.store.match_equipment(value)), (None, None))
        self.assertEqual((yield self.store.list_subscribers(query=SubscriberQuery(msisdn="%"))), [])
        self.assertEqual((yield self.store.count_subscribers(SubscriberQuery(apn={"$gt": ""}))), 0)
        self.assertEqual(self.db.calls, [])

    @defer.inlineCallbacks
    def test_lookup_by_identity_sends_it_as_a_value(self):
        document = dict(mongo_ims.subscription_document(ims_subscription()), rev=0)
        self.db.reply("ims_subscription", "find_one", document)
        found, registration = yield self.store.ims_lookup(impu="SIP:" + IMPU[4:])
        self.assertEqual((found, registration), (ims_subscription(), ImsRegistration(IMPI)))
        self.assertEqual(self.db.calls, [("ims_subscription", "find_one", ({"uris": IMPU},), {})])

    @defer.inlineCallbacks
    def test_assign_is_a_compare_and_set_on_the_revision(self):
        document = dict(mongo_ims.subscription_document(ims_subscription()), rev=3)
        self.db.reply("ims_subscription", "find_one", document, dict(document, rev=4))
        self.db.reply("ims_subscription", "update_one", _Result(matched_count=0), _Result(matched_count=1))
        request = Assignment(REGISTRATION, IMPI, IMPU, "sip:scscf@ims.test", "scscf.ims.test", "ims.test",
                             "peer", 10.0)
        subscription, before, after, outcome, template = yield self.store.ims_assign(request)
        self.assertEqual(after.state(IMPU), "registered")
        updates = [call for call in self.db.calls if call[1] == "update_one"]
        self.assertEqual([call[2][0] for call in updates], [{"_id": IMPI, "rev": 3}, {"_id": IMPI, "rev": 4}])
        self.assertEqual(updates[-1][2][1]["$inc"], {"rev": 1})

    @defer.inlineCallbacks
    def test_authenticate_reserves_on_the_subscriber(self):
        from pyhss.storage.interface import RequiredState as Required
        document = dict(mongo_ims.subscription_document(ims_subscription()), rev=0)
        self.db.reply("ims_subscription", "find_one", document)
        self.db.reply("subscriber", "find_one", docs.subscriber_document(subscriber(sqn=40)))
        self.db.reply("subscriber", "find_one_and_update", {"_id": IMSI})
        self.db.reply("ims_subscription", "update_one", _Result(matched_count=1))
        request = Authentication(IMPI, IMPU, "sip:scscf@ims.test", "scscf.ims.test", "ims.test", "peer", 1.0,
                                 SqnRequest(1, 0), Required())
        subscription, before, found, sqns = yield self.store.ims_authenticate(request)
        self.assertEqual((found.sqn, sqns), (40, [41]))
        cas = [call for call in self.db.calls if call[1] == "find_one_and_update"]
        self.assertEqual(cas[0][2][0], {"_id": IMSI, "enabled": True, "sqn": Int64(40)})

    @defer.inlineCallbacks
    def test_check_history_numbers_from_a_counter(self):
        self.db.reply("counter", "find_one_and_update", {"_id": "equipment_check", "value": 12})
        self.db.reply("equipment_check", "find", [{"_id": 9}])
        self.db.reply("equipment_check", "delete_many", _Result(deleted_count=9))
        added = yield self.store.record_equipment_checks([check(1.0), check(2.0)], HistoryLimit(max_rows=3))
        self.assertEqual(added, (2, 9))
        inserted = [call for call in self.db.calls if call[1] == "insert_many"][0]
        self.assertEqual([d["_id"] for d in inserted[2][0]], [11, 12])
        deleted = [call for call in self.db.calls if call[1] == "delete_many"][0]
        self.assertEqual(deleted[2][0], {"_id": {"$lte": 9}})
