"""Hostile values never reach a database as code, on every backend that
runs here (memory, SQLite, a real MariaDB and PostgreSQL; MongoDB's
filters are checked in test_store_mongodb).

Quotes, semicolons, backslashes, ``%`` and ``_``, NUL bytes, MongoDB
operators, padding: through the store's lookups, ``pyhss-admin``
arguments and CSV import, and the User-Name of S6a requests.  A lookup
finds nothing; a field whose syntax the specifications fix (IMSI, MSISDN,
APN labels) refuses the value (exit 2, a Diameter error); a free-text
field (the serving MME's identity) stores it and gives it back as it was;
no other record changes.
"""

import os

from twisted.internet import defer, reactor
from twisted.internet.error import ConnectionDone
from twisted.python import failure
from twisted.trial import unittest

from pyhss.apps.s6a import S6aApplication
from pyhss.auc.sqn import SqnRequest
from pyhss.config import Config
from pyhss.node import DiameterNode
from pyhss.protocols import codec
from pyhss.protocols.dictionary import APP_S6A, CMD_NOR, CMD_PUR
from pyhss.protocols.peer import ROLE_RESPONDER, DiameterProtocol
from pyhss.storage import open_store
from pyhss.storage.errors import NotFoundError, ValidationError
from pyhss.storage.records import ApnProfile, ServingNode, Subscriber
from tests.peer_helpers import cer
from tests.test_admin import K, OPC, AdminFixture
from tests.test_s6a_air import HOME, IMSI, air
from tests.test_s6a_location import ulr
from tests.test_store_outage import AnswerTransport
from tests.test_store_sqlserver import server_or_skip

HOSTILE = [
    "001010000000001' OR '1'='1", "001010000000001'; DROP TABLE subscriber; --", "001010000000001\\",
    "\\'", "%", "_", "00101000000000%", "0010100000000_1", "001010000000001\x00", "\x00", '{"$gt": ""}',
    "$gt", "$where", "001010000000001 ", " 001010000000001", "00101000000000\uff11", "internet'--",
    "inter%net", "inter_net", "internet\x00", "internet;ims", "INTERNET' OR ''='",
]
OPERATORS = [{"$gt": ""}, {"$ne": None}, ["001010000000001"], 1010000000001, None]
FREE_TEXT = "mme'; DROP TABLE serving_node; -- %_\\ \"x\" $gt {\"$ne\": 1} \u00e9\u6f22"


def request(command, imsi):
    avps = [("Session-Id", "mme.test;1;9"), ("Auth-Session-State", 1), ("Origin-Host", "mme.test"),
            ("Origin-Realm", "test"), ("Destination-Realm", "epc.mnc001.mcc001.3gppnetwork.org"),
            ("User-Name", imsi)]
    return codec.Message.request(APP_S6A, command, avps)


class _HostileTests(AdminFixture):
    """``database()``: the config's database section for this backend.

    pyhss-admin and CSV refuse these values before any query, the same
    code whatever the backend: the server backends run a sample of them
    (``cli_values``), SQLite all."""

    cli_values = HOSTILE

    def setUp(self):
        AdminFixture.setUp(self)
        import yaml
        with open(self.config) as handle:
            data = yaml.safe_load(handle)
        data["database"] = self.database()
        data["control"]["socket"] = ""
        with open(self.config, "w") as handle:
            yaml.safe_dump(data, handle)
        self.database_config = Config.default(database=data["database"]).database

    def database(self):
        return {"backend": "sqlite", "sqlite": {"path": os.path.abspath(self.mktemp())}}

    @defer.inlineCallbacks
    def open(self):
        store = open_store(self.database_config, reactor)
        self.addCleanup(store.close)
        yield store.opened
        return store

    @defer.inlineCallbacks
    def provision(self, store):
        yield store.add_apn(ApnProfile("internet"))
        yield store.add_apn(ApnProfile("ims"))
        yield store.add_subscriber(Subscriber(IMSI, bytes.fromhex(K), opc=bytes.fromhex(OPC), sqn=32,
                                              msisdn="15551230001", apns=("internet", "ims")))
        yield store.add_subscriber(Subscriber("001010000000002", bytes.fromhex(K), opc=bytes.fromhex(OPC)))
        yield store.set_serving_node(ServingNode(IMSI, "mme1.test", "test", "mme1.test", 1.0))

    @defer.inlineCallbacks
    def snapshot(self, store):
        subscribers = yield store.list_subscribers()
        nodes = []
        for subscriber in subscribers:
            nodes.append((yield store.get_serving_node(subscriber.imsi)))
        return subscribers, (yield store.list_apns()), nodes

    @defer.inlineCallbacks
    def test_hostile_values_everywhere(self):
        store = yield self.open()
        yield self.provision(store)
        before = yield self.snapshot(store)
        yield self.store_lookups(store)
        yield self.admin_arguments()
        yield self.csv_import()
        yield self.diameter_user_names(store)
        self.assertEqual((yield self.snapshot(store)), before)
        # A free-text field keeps what it is given, byte for byte.
        node = ServingNode("001010000000002", FREE_TEXT, FREE_TEXT + "realm", FREE_TEXT + "peer", 2.5)
        yield store.set_serving_node(node)
        self.assertEqual((yield store.get_serving_node("001010000000002")), node)
        # Diameter identities compare case-insensitively in ASCII, as SQLite's lower().
        self.assertTrue((yield store.mark_purged("001010000000002", FREE_TEXT.replace("mme", "MME"))))
        self.assertFalse((yield store.mark_purged("001010000000002", "%")))
        self.assertEqual((yield self.snapshot(store))[0], before[0])

    @defer.inlineCallbacks
    def store_lookups(self, store):
        for value in HOSTILE + OPERATORS:
            self.assertIsNone((yield store.get_subscriber(value)), repr(value))
            self.assertIsNone((yield store.get_serving_node(value)), repr(value))
            self.assertIsNone((yield store.get_apn(value)), repr(value))
            self.assertEqual((yield store.reserve_sqns(value, SqnRequest(1))), (None, None), repr(value))
            self.assertFalse((yield store.mark_purged(value, "mme1.test")), repr(value))
            self.assertFalse((yield store.mark_purged(IMSI, value)), repr(value))
            yield self.assertFailure(store.update_subscriber(value, msisdn="1"), NotFoundError, ValidationError)
            yield self.assertFailure(store.delete_subscriber(value), NotFoundError, ValidationError)
            yield self.assertFailure(store.delete_apn(value), NotFoundError, ValidationError)

    @defer.inlineCallbacks
    def admin_arguments(self):
        for value in self.cli_values:
            for argv in (["subscriber", "show", value], ["subscriber", "delete", value],
                         ["subscriber", "add", "--imsi", value, "--k", K, "--opc", OPC],
                         ["subscriber", "add", "--imsi", "001010000000009", "--k", K, "--opc", OPC,
                          "--msisdn", value],
                         ["subscriber", "update", IMSI, "--msisdn", value],
                         ["apn", "add", value], ["apn", "show", value], ["apn", "delete", value]):
                yield self.admin(*argv, status=2)
            if value not in ("internet;ims",):     # ';' separates APNs in CSV, not on the command line
                yield self.admin("subscriber", "update", IMSI, "--apn", value, status=2)

    @defer.inlineCallbacks
    def csv_import(self):
        path = os.path.join(self.directory, "hostile.csv")
        for value in self.cli_values:
            if value.strip() != value:
                continue      # the CSV format trims cells, by design
            quoted = '"' + value.replace('"', '""') + '"'
            for row in (f"{quoted},{K},{OPC},,", f"001010000000009,{K},{OPC},{quoted},",
                        f"001010000000009,{K},{OPC},,{quoted}"):
                if value == "internet;ims" and row.endswith(quoted):
                    continue      # in APN lists, ";" separates names
                with open(path, "w", newline="") as handle:
                    handle.write("imsi,k,opc,msisdn,apns\n"
                                 f"001010000000008,{K},{OPC},,\n{row}\n")
                error = yield self.admin("import", path, status=2)
                self.assertIn(f"{path}:3: ", error)

    @defer.inlineCallbacks
    def diameter_user_names(self, store):
        node = DiameterNode("hss.epc.mnc001.mcc001.3gppnetwork.org", "epc.mnc001.mcc001.3gppnetwork.org",
                            reactor)
        S6aApplication(node, store, "001", "01").register()
        connection = DiameterProtocol(node, ROLE_RESPONDER)
        transport = AnswerTransport()
        connection.makeConnection(transport)
        connection.dataReceived(cer(origin_host="mme.test", origin_realm="test").encode())
        sent = 1
        for value in HOSTILE:
            for message in (air(imsi=value), ulr(mme="mme.test", imsi=value, plmn=HOME),
                            request(CMD_PUR, value), request(CMD_NOR, value)):
                message.hop_by_hop = sent
                connection.dataReceived(message.encode())
                sent += 1
        yield transport.wait_for(sent)
        codes = transport.codes[1:]
        self.assertEqual(len(codes), 4 * len(HOSTILE))
        # USER_UNKNOWN (5001), or the codec's refusal of the value (5004): never 2001, never 5012.
        self.assertEqual(set(codes) - {5001, 5004}, set(), codes)
        self.assertGreater(codes.count(5001), len(HOSTILE))
        self.flushLoggedErrors()
        connection.connectionLost(failure.Failure(ConnectionDone()))


class SqliteHostileTests(_HostileTests, unittest.TestCase):
    pass


SAMPLE = ["001010000000001' OR '1'='1", "00101000000000%", '{"$gt": ""}', "inter%net", "internet\x00"]


class MariaDbHostileTests(_HostileTests, unittest.TestCase):
    cli_values = SAMPLE
    def database(self):
        server = server_or_skip("mariadb")
        name = server.create_database()
        self.addCleanup(server.drop_database, name)
        return server.server_config(name)


class PostgresHostileTests(_HostileTests, unittest.TestCase):
    cli_values = SAMPLE
    def database(self):
        server = server_or_skip("postgresql")
        name = server.create_database()
        self.addCleanup(server.drop_database, name)
        return server.server_config(name)
