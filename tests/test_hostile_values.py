"""Hostile values never reach a database as code, on every backend that
runs here (memory, SQLite, a real MariaDB and PostgreSQL; MongoDB's
filters are checked in test_store_mongodb).

Quotes, semicolons, backslashes, ``%`` and ``_``, NUL bytes, MongoDB
operators, padding: through the store's lookups, ``pyhss-admin``
arguments and CSV import, the User-Name of S6a requests, the User-Name and
Public-Identity of Cx requests, and the REST API (subscribers, their
listing filters, IMS subscriptions).  A lookup finds nothing; a field
whose syntax the specifications fix (IMSI, MSISDN, APN labels) refuses
the value (exit 2, a Diameter error, HTTP 400); a field that allows such
characters (the serving MME's identity; IMS public identities, SIP URIs
that may hold ``;`` and ``%``) stores it and gives it back byte for byte;
no other record changes.
"""

import os

from twisted.internet import defer, reactor
from twisted.internet.error import ConnectionDone
from twisted.python import failure
from twisted.trial import unittest

from urllib.parse import quote

from pyhss.apps.cx import CxApplication
from pyhss.apps.cx_policy import CxPolicy
from pyhss.apps.s6a import S6aApplication
from pyhss.auc.sqn import SqnRequest
from pyhss.config import Config
from pyhss.node import DiameterNode
from pyhss.protocols import codec
from pyhss.protocols.dictionary import APP_S6A, CMD_NOR, CMD_PUR
from pyhss.protocols.peer import ROLE_RESPONDER, DiameterProtocol
from pyhss.storage import open_store
from pyhss.storage.errors import NotFoundError, ValidationError
from pyhss.storage.ims_records import IfcTemplate, ImsSubscription, PublicIdentity
from pyhss.storage.ims_state import REGISTRATION
from pyhss.storage.records import ApnProfile, ServingNode, Subscriber
from tests.api_helpers import InMemoryApi
from tests.peer_helpers import cer
from tests.test_admin import K, OPC, AdminFixture
from tests.test_cx import IFC, lir, mar, sar, uar
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
IMPI = "alice@ims.test"
# Public identities are SIP URIs, whose syntax allows ';' and '%' (and quotes):
# stored and given back byte for byte.
SIP_URIS = ["sip:o'brien;transport=tcp%3B--@ims.test", "sip:%_;DROP%20TABLE%20ims_subscription;--@ims.test",
            "sip:$gt;\\'x=%00@ims.test"]
# Near the stored ones, or patterns that would match them: found by nothing.
URI_PROBES = ["sip:%@ims.test", "sip:_'brien;transport=tcp%3B--@ims.test", "sip:o'brien;transport=tcp%3B--@IMS.test",
              "sip:o'brien;transport=tcp%3b--@ims.test", "sip:%_;DROP%20TABLE%20ims_subscription;--@ims.tes_",
              "sip:alice@ims.test' OR '1'='1", "tel:%", "sip:*@ims.test"]
CX_POLICY = CxPolicy(visited_networks=("ims.test",))


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
        yield store.add_ifc_template(IfcTemplate("voice", IFC))
        yield store.add_ims_subscription(ImsSubscription(IMPI, IMSI, ("sip:alice@ims.test", SIP_URIS[0]), ifc="voice"))

    @defer.inlineCallbacks
    def snapshot(self, store):
        subscribers = yield store.list_subscribers()
        nodes = []
        for subscriber in subscribers:
            nodes.append((yield store.get_serving_node(subscriber.imsi)))
        ims = yield store.list_ims_subscriptions()
        registrations = []
        for subscription in ims:
            registrations.append((yield store.ims_lookup(subscription.impi))[1])
        return subscribers, (yield store.list_apns()), nodes, ims, registrations

    @defer.inlineCallbacks
    def test_hostile_values_everywhere(self):
        store = yield self.open()
        yield self.provision(store)
        before = yield self.snapshot(store)
        yield self.store_lookups(store)
        yield self.admin_arguments()
        yield self.csv_import()
        yield self.diameter_user_names(store)
        yield self.cx_identities(store)
        yield self.rest_api(store)
        self.assertEqual((yield self.snapshot(store)), before)
        yield self.sip_uris_kept(store)
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


    @defer.inlineCallbacks
    def cx_identities(self, store):
        """UAR, MAR, SAR and LIR naming hostile private or public identities."""
        node = DiameterNode("hss.ims.test", "ims.test", reactor)
        CxApplication(node, store, CX_POLICY).register()
        codes = []
        for value in HOSTILE + URI_PROBES:
            for message in (lir(value), uar(impu=value), uar(impi=value), mar(impu=value), mar(impi=value),
                            sar(REGISTRATION, impu=value), sar(REGISTRATION, impi=value)):
                codes.append((yield self.cx_code(node, message)))
        # Unknown (5001, 5002 identities that do not match) or refused (5004/5005); never a
        # success, never a store failure (5012).
        self.assertEqual(set(codes) - {5001, 5002, 5003, 5004, 5005}, set(), codes)
        self.assertIn(5001, codes)
        self.flushLoggedErrors()

    @staticmethod
    @defer.inlineCallbacks
    def cx_code(node, message):
        answer = yield node.handlers[(message.application_id, message.command_code)](message, None)
        decoded = codec.decode_message(answer.encode())
        return decoded.get("Result-Code") or decoded.get("Experimental-Result/Experimental-Result-Code")

    @defer.inlineCallbacks
    def sip_uris_kept(self, store):
        """SIP URIs holding ';', '%' and quotes: provisioned over the REST
        API, registered by SAR, found by LIR, given back byte for byte."""
        api = InMemoryApi(self, store=store)
        body = {"impi": "bob@ims.test", "imsi": "001010000000002", "impus": SIP_URIS[1:]}
        created = yield api.ask("POST", "/ims/subscriptions", body)
        self.assertEqual(created.status, 201, created)
        shown = yield api.ask("GET", "/ims/subscriptions/bob@ims.test")
        self.assertEqual([i["uri"] for i in shown.json["impus"]], SIP_URIS[1:])
        node = DiameterNode("hss.ims.test", "ims.test", reactor)
        CxApplication(node, store, CX_POLICY).register()
        for impi, uri in ((IMPI, SIP_URIS[0]), ("bob@ims.test", SIP_URIS[1]), ("bob@ims.test", SIP_URIS[2])):
            self.assertEqual((yield self.cx_code(node, sar(REGISTRATION, impi=impi, impu=uri))), 2001, uri)
            subscription, registration = yield store.ims_lookup(impu=uri)
            self.assertEqual(subscription.impi, impi)
            self.assertEqual(registration.state(uri), "registered")
            self.assertEqual((yield self.cx_code(node, lir(uri))), 2001, uri)
            self.assertEqual((yield store.find_ims_subscription(uri)).identity(uri).uri, uri)
        for probe in URI_PROBES:
            self.assertIsNone((yield store.find_ims_subscription(probe)), probe)
            self.assertEqual((yield self.cx_code(node, lir(probe))) in (5001, 5004), True, probe)

    @defer.inlineCallbacks
    def rest_api(self, store):
        api = InMemoryApi(self, store=store)
        for value in HOSTILE:
            path = quote(value, safe="")
            for method, url, body in (("GET", f"/subscribers/{path}", None),
                                      ("DELETE", f"/subscribers/{path}", None),
                                      ("PATCH", f"/subscribers/{IMSI}", {"msisdn": value}),
                                      ("PATCH", f"/subscribers/{IMSI}", {"apns": [value]}),
                                      ("POST", "/subscribers", {"imsi": value, "k": K, "opc": OPC}),
                                      ("GET", f"/apns/{path}", None),
                                      ("GET", f"/ims/subscriptions/{path}", None),
                                      ("DELETE", f"/ims/subscriptions/{path}", None)):
                response = yield api.ask(method, url, body)
                self.assertIn(response.status, (400, 404), (method, url, body, response))
            for name in ("msisdn", "imsi_prefix", "apn", "after"):
                response = yield api.ask("GET", f"/subscribers?{name}={path}")
                if response.status == 200:      # a filter nothing can meet
                    self.assertEqual(response.json["items"], [], (name, value))
                else:
                    self.assertEqual(response.status, 400, (name, value, response))


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


class IdentitySyntaxTests(unittest.TestCase):
    """What a SIP URI may hold (RFC 3261: ';' and '%' escapes yes, raw
    control characters no) decides what is stored and what is refused."""

    def test_sip_uris_with_semicolons_and_percent_are_identities(self):
        for uri in SIP_URIS:
            self.assertEqual(PublicIdentity(uri).uri, uri)

    def test_control_characters_are_refused(self):
        from pyhss.storage.ims_records import check_impi, normalise_impu
        for uri in ("sip:a\x00b@ims.test", "sip:a\nb@ims.test", "tel:+1555;x=\x7f", "sip:\x1b[2J@ims.test"):
            self.assertRaises(ValidationError, normalise_impu, uri)
        for impi in ("a\x00@ims.test", "a\r@ims.test"):
            self.assertRaises(ValidationError, check_impi, impi)
