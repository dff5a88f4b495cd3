"""The REST API's IMS (Cx) and EIR (S13) resources in memory, as
tests/test_api_rest.py: twisted.web's parser and our resources over a
StringTransport, the memory store, and a Cx application whose S-CSCF is a
connection the test answers (as tests/test_admin_ims.py over the control
socket)."""

import hashlib
import json
from urllib.parse import quote

from twisted.internet import defer
from twisted.logger import globalLogPublisher
from twisted.trial import unittest

from pyhss.apps.cx import CxApplication
from pyhss.control import ControlLocator
from pyhss.node import Peer
from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import APP_CX
from pyhss.protocols.peer import OPEN
from pyhss.storage.ims_state import REGISTRATION, Assignment
from pyhss.storage.records_eir import UNLIMITED, EquipmentCheck
from tests.api_helpers import K_HEX, OPC_HEX, SECRETS, InMemoryApi
from tests.test_cx import IFC

IMSI = "001010000000001"
IMPI = "alice@ims.test"
IMPU = "sip:alice@ims.test"
TEL = "tel:+15551230001"
SCSCF_HOST = "scscf.ims.test"
PASSWORD = "correct horse battery staple"
HA1 = hashlib.md5(f"{IMPI}:ims.test:{PASSWORD}".encode()).hexdigest()
IMEI = "49015420323751"
IMEI_15 = "490154203237518"     # with its check digit (TS 23.003 Annex B)


class Scscf:
    """A connected S-CSCF: what it got is in ``received``; the test answers."""

    state = OPEN
    name = "scscf"

    def __init__(self, node):
        self.node = node
        self.received = []

    def send_request(self, message):
        self.received.append(message)

    def answer(self, code=results.DIAMETER_SUCCESS):
        message = self.received[-1]
        self.node.answer_received(self, message.answer(code))
        return codec.decode_message(message.encode())


def new_ims(**fields):
    body = {"impi": IMPI, "imsi": IMSI, "impus": [IMPU, {"uri": TEL, "barred": False, "implicit_set": 1}]}
    body.update(fields)
    return body


class Fixture:
    def setUp(self):
        self.api = InMemoryApi(self)
        self.cx = CxApplication(self.api.node, self.api.store)
        self.api.server.locator = ControlLocator([self.api.app, self.cx])
        self.scscf = Scscf(self.api.node)
        self.api.node.peers[SCSCF_HOST] = Peer(SCSCF_HOST, "ims.test", frozenset([APP_CX]), frozenset([APP_CX]),
                                               self.scscf, 0)
        subscriber = {"imsi": IMSI, "k": K_HEX, "opc": OPC_HEX}
        self.assertEqual(self.api.request("POST", "/subscribers", subscriber).status, 201)
        self.logged = []
        globalLogPublisher.addObserver(self.logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.logged.append)

    def assertProblem(self, response, status, *fields):
        self.assertEqual(response.status, status, response)
        self.assertEqual(response.headers["content-type"], "application/problem+json")
        if fields:
            self.assertEqual([e["field"] for e in response.json["errors"]], list(fields))
        return response.json

    def registered(self):
        return self.api.store.ims_assign(Assignment(REGISTRATION, IMPI, IMPU, "sip:scscf.ims.test:6060",
                                                    SCSCF_HOST, "ims.test", SCSCF_HOST, 1.0))


class ImsSubscriptionTests(Fixture, unittest.TestCase):

    @defer.inlineCallbacks
    def test_create_get_list_patch_put_delete(self):
        created = self.api.request("POST", "/ims/subscriptions", new_ims(digest_password=PASSWORD))
        self.assertEqual(created.status, 201, created)
        self.assertEqual(created.headers["location"], f"/ims/subscriptions/{IMPI}")
        self.assertEqual(created.json, {
            "impi": IMPI, "imsi": IMSI, "digest_realm": "ims.test", "ifc": None,
            "impus": [{"uri": IMPU, "barred": False, "implicit_set": 1},
                      {"uri": TEL, "barred": False, "implicit_set": 1}]})
        stored = yield self.api.store.get_ims_subscription(IMPI)
        self.assertEqual(stored.digest_ha1, HA1)        # only HA1 is kept
        self.assertEqual(self.api.request("GET", f"/ims/subscriptions/{IMPI}").json, created.json)
        listed = self.api.request("GET", "/ims/subscriptions").json
        self.assertEqual((listed["total"], listed["items"]), (1, [created.json]))
        # A change to what no S-CSCF holds: no PPR.
        patched = self.api.request("PATCH", f"/ims/subscriptions/{IMPI}", {"impus": [IMPU]})
        self.assertEqual((patched.status, [i["uri"] for i in patched.json["impus"]]), (200, [IMPU]))
        self.assertEqual(patched.json["ppr"]["reason"], "not-registered")
        # Replace keeps the digest (write-only, like K) unless it names it.
        replaced = self.api.request("PUT", f"/ims/subscriptions/{IMPI}", {"imsi": IMSI, "impus": [TEL]})
        self.assertEqual((replaced.status, replaced.json["digest_realm"]), (200, "ims.test"))
        self.assertEqual((yield self.api.store.get_ims_subscription(IMPI)).digest_ha1, HA1)
        removed = self.api.request("PATCH", f"/ims/subscriptions/{IMPI}", {"digest_password": None})
        self.assertEqual(removed.json["digest_realm"], None)
        self.assertIsNone((yield self.api.store.get_ims_subscription(IMPI)).digest_ha1)
        self.assertEqual(self.api.request("DELETE", f"/ims/subscriptions/{IMPI}").status, 204)
        self.assertProblem(self.api.request("GET", f"/ims/subscriptions/{IMPI}"), 404)
        self.assertProblem(self.api.request("DELETE", f"/ims/subscriptions/{IMPI}"), 404)

    def test_bad_fields_named(self):
        response = self.api.request("POST", "/ims/subscriptions", {
            "impi": "no-realm", "imsi": "12", "impus": ["http://x"], "ifc": "bad name", "colour": "red"})
        self.assertProblem(response, 400, "impi", "imsi", "impus", "ifc", "colour")
        self.assertProblem(self.api.request("POST", "/ims/subscriptions", {"impi": IMPI}), 400, "imsi", "impus")
        self.assertProblem(self.api.request("POST", "/ims/subscriptions", new_ims(impus=[IMPU, IMPU])), 400,
                           "impus")
        self.assertProblem(self.api.request("POST", "/ims/subscriptions", new_ims(digest_realm="x")), 400,
                           "digest_realm")
        # Store-side refusals: an unknown subscriber, an unknown iFC template, a duplicate.
        self.assertProblem(self.api.request("POST", "/ims/subscriptions", new_ims(imsi="001019999999999")), 400)
        self.assertProblem(self.api.request("POST", "/ims/subscriptions", new_ims(ifc="nope")), 400)
        self.assertEqual(self.api.request("POST", "/ims/subscriptions", new_ims()).status, 201)
        self.assertProblem(self.api.request("POST", "/ims/subscriptions", new_ims()), 409)
        self.assertProblem(self.api.request("PATCH", f"/ims/subscriptions/{IMPI}", {"impi": "bob@ims.test"}), 400,
                           "impi")
        self.assertProblem(self.api.request("PATCH", "/ims/subscriptions/bob@ims.test", {"ifc": None}), 404)

    def test_secrets_never_in_a_response_or_log(self):
        responses = [self.api.request("POST", "/ims/subscriptions", new_ims(digest_password=PASSWORD)),
                     self.api.request("GET", f"/ims/subscriptions/{IMPI}"),
                     self.api.request("GET", "/ims/subscriptions"),
                     self.api.request("PATCH", f"/ims/subscriptions/{IMPI}", {"digest_password": PASSWORD + "!"}),
                     self.api.request("PATCH", f"/ims/subscriptions/{IMPI}", {"digest_password": 7}),
                     self.api.request("GET", "/openapi.json")]
        self.assertEqual([r.status for r in responses], [201, 200, 200, 200, 400, 200])
        for response in responses:
            for secret in (PASSWORD, HA1, K_HEX, OPC_HEX) + SECRETS:
                self.assertNotIn(secret.encode(), response.body)
        self.assertNotIn("digest_ha1", json.dumps(responses[-1].json))
        text = repr(self.logged)
        self.assertNotIn(PASSWORD, text)
        self.assertNotIn(HA1, text)

    def test_ifc_templates(self):
        created = self.api.request("POST", "/ims/ifc-templates", {"name": "voice", "xml": IFC})
        self.assertEqual(created.status, 201, created)
        self.assertIn("sip:voicemail.ims.test", created.json["xml"])
        self.assertEqual(self.api.request("GET", "/ims/ifc-templates").json["items"], [created.json])
        self.assertProblem(self.api.request("POST", "/ims/ifc-templates", {"name": "voice", "xml": IFC}), 409)
        self.assertProblem(self.api.request("POST", "/ims/ifc-templates", {"name": "bad", "xml": "<unclosed>"}),
                           400, "xml")
        self.assertProblem(self.api.request("POST", "/ims/ifc-templates", {"name": "a b", "xml": IFC}), 400, "name")
        self.assertEqual(self.api.request("POST", "/ims/subscriptions", new_ims(ifc="voice")).status, 201)
        self.assertProblem(self.api.request("DELETE", "/ims/ifc-templates/voice"), 409)
        replaced = self.api.request("PUT", "/ims/ifc-templates/voice", {"xml": IFC})
        self.assertEqual((replaced.status, replaced.json["users"], replaced.json["ppr"]), (200, [IMPI], []))
        self.assertProblem(self.api.request("PUT", "/ims/ifc-templates/nope", {"xml": IFC}), 404)


class RegisteredImsTests(Fixture, unittest.TestCase):
    """RTR and PPR go out as pyhss-admin's control commands send them."""

    @defer.inlineCallbacks
    def setUp(self):
        Fixture.setUp(self)
        self.assertEqual(self.api.request("POST", "/ims/ifc-templates", {"name": "voice", "xml": IFC}).status, 201)
        self.assertEqual(self.api.request("POST", "/ims/subscriptions", new_ims()).status, 201)
        yield self.registered()

    def test_registration_read_only(self):
        registration = self.api.request("GET", f"/ims/subscriptions/{IMPI}/registration").json
        self.assertEqual((registration["scscf_host"], registration["server_name"], registration["states"]),
                         (SCSCF_HOST, "sip:scscf.ims.test:6060", [{"uri": IMPU, "state": "registered"},
                                                                   {"uri": TEL, "state": "registered"}]))
        self.assertProblem(self.api.request("PUT", f"/ims/subscriptions/{IMPI}/registration", {}), 405)
        self.assertProblem(self.api.request("GET", "/ims/subscriptions/bob@ims.test/registration"), 404)

    def test_deregister_sends_rtr(self):
        transport = self.api.send("POST", f"/ims/subscriptions/{IMPI}/deregister?reason=contract%20ended")
        self.assertEqual(transport.value(), b"")        # waits for the RTA
        rtr = self.scscf.answer()
        self.assertEqual((rtr.get("User-Name"), rtr.get("Destination-Host")), (IMPI, SCSCF_HOST))
        self.assertEqual(rtr.get("Deregistration-Reason/Reason-Info"), "contract ended")
        self.assertEqual(sorted(a.value for a in rtr.find_all("Public-Identity")), sorted([IMPU, TEL]))
        response = self.api.response(transport)
        self.assertEqual((response.status, response.json["sent"], response.json["result_code"]), (200, True, 2001))
        self.assertEqual(response.json["message"], f"RTR sent to {SCSCF_HOST}: 2001")
        # Nothing registered now: done, nothing sent.
        again = self.api.request("POST", f"/ims/subscriptions/{IMPI}/deregister")
        self.assertEqual((again.status, again.json["reason"]), (200, "not-registered"))
        registration = self.api.request("GET", f"/ims/subscriptions/{IMPI}/registration").json
        self.assertEqual((registration["scscf_host"], registration["states"]), (None, []))
        self.assertEqual(len(self.scscf.received), 1)

    @defer.inlineCallbacks
    def test_deregister_one_identity_and_refusals(self):
        transport = self.api.send("POST", f"/ims/subscriptions/{IMPI}/deregister?impu={quote(TEL)}")
        rtr = self.scscf.answer(results.DIAMETER_UNABLE_TO_COMPLY)
        self.assertEqual(rtr.get("User-Name"), IMPI)
        body = self.assertProblem(self.api.response(transport), 502)
        self.assertEqual(body["outcome"]["result_code"], results.DIAMETER_UNABLE_TO_COMPLY)
        _, registration = yield self.api.store.ims_lookup(impi=IMPI)
        self.assertTrue(registration.registered)        # refused: kept
        self.assertProblem(self.api.request("POST", f"/ims/subscriptions/{IMPI}/deregister?impu=sip:bob@ims.test"),
                           400, "impu")
        self.assertProblem(self.api.request("POST", f"/ims/subscriptions/{IMPI}/deregister?colour=red"), 400,
                           "colour")
        self.assertProblem(self.api.request("POST", "/ims/subscriptions/bob@ims.test/deregister"), 404)

    def test_change_sends_ppr(self):
        transport = self.api.send("PATCH", f"/ims/subscriptions/{IMPI}", {"ifc": "voice"})
        ppr = self.scscf.answer()
        self.assertEqual((ppr.name, ppr.get("User-Name")), ("PPR", IMPI))
        self.assertIn(b"sip:voicemail.ims.test", ppr.get("User-Data"))
        response = self.api.response(transport)
        self.assertEqual((response.json["ppr"]["sent"], response.json["ppr"]["result_code"]), (True, 2001))
        # A change the S-CSCF is not given: no PPR.
        unchanged = self.api.request("PATCH", f"/ims/subscriptions/{IMPI}", {"digest_password": PASSWORD})
        self.assertEqual(unchanged.json["ppr"]["reason"], "not-needed")
        self.assertEqual(len(self.scscf.received), 1)
        # A replaced template: PPR to each registered user.
        transport = self.api.send("PUT", "/ims/ifc-templates/voice", {"xml": IFC})
        self.scscf.answer()
        replaced = self.api.response(transport)
        self.assertEqual([(p["impi"], p["result_code"]) for p in replaced.json["ppr"]], [(IMPI, 2001)])


class EirTests(Fixture, unittest.TestCase):

    def test_rules(self):
        created = self.api.request("POST", "/eir/rules", {"key": IMEI_15, "status": "blacklisted", "imsi": IMSI,
                                                          "note": "stolen"})
        self.assertEqual(created.status, 201, created)
        self.assertEqual(created.headers["location"], f"/eir/rules/{IMEI}")
        self.assertEqual({k: created.json[k] for k in ("key", "status", "imsi", "note")},
                         {"key": IMEI, "status": "blacklisted", "imsi": IMSI, "note": "stolen"})
        self.assertEqual(self.api.request("POST", "/eir/rules", {"key": "49015420", "status": "greylisted"}).status,
                         201)
        listed = self.api.request("GET", "/eir/rules?limit=1").json
        self.assertEqual((listed["total"], [r["key"] for r in listed["items"]]), (2, ["49015420"]))
        self.assertEqual(self.api.request("GET", f"/eir/rules/{IMEI_15}").json, created.json)
        self.assertProblem(self.api.request("POST", "/eir/rules", {"key": IMEI, "status": "whitelisted"}), 409)
        replaced = self.api.request("PUT", f"/eir/rules/{IMEI}", {"status": "whitelisted"})
        self.assertEqual((replaced.status, replaced.json["status"], replaced.json["imsi"]), (200, "whitelisted", None))
        self.assertProblem(self.api.request("PUT", "/eir/rules/35000000", {"status": "whitelisted"}), 404)
        self.assertEqual(self.api.request("DELETE", f"/eir/rules/{IMEI}").status, 204)
        self.assertProblem(self.api.request("GET", f"/eir/rules/{IMEI}"), 404)

    def test_bad_rules_named(self):
        bad = self.api.request("POST", "/eir/rules", {"key": "490154203237519", "status": "black",
                                                      "note": "a\nb", "updated_at": 1})
        self.assertProblem(bad, 400, "key", "status", "note", "updated_at")
        self.assertProblem(self.api.request("POST", "/eir/rules", {"key": "49015420", "status": "blacklisted",
                                                                   "imsi": IMSI}), 400)
        self.assertProblem(self.api.request("GET", "/eir/rules/12"), 400, "key")

    @defer.inlineCallbacks
    def test_history_read_only_with_filters(self):
        checks = [EquipmentCheck(1000.0 + n, "mme.test", 2001, "unknown", imei, "01", imsi, 0)
                  for n, (imei, imsi) in enumerate([(IMEI, IMSI), ("35000000000000", IMSI), (IMEI, None)])]
        yield self.api.store.record_equipment_checks(checks, UNLIMITED)
        listed = self.api.request("GET", "/eir/checks").json
        self.assertEqual((listed["total"], [c["checked_at"] for c in listed["items"]]), (3, [1000.0, 1001.0, 1002.0]))
        self.assertEqual(listed["items"][0], {"checked_at": 1000.0, "origin_host": "mme.test", "result_code": 2001,
                                              "reason": "unknown", "imei": IMEI, "software_version": "01",
                                              "imsi": IMSI, "status": "whitelisted"})
        by_imei = self.api.request("GET", f"/eir/checks?imei={IMEI_15}").json
        self.assertEqual((by_imei["total"], [c["checked_at"] for c in by_imei["items"]]), (2, [1000.0, 1002.0]))
        by_imsi = self.api.request("GET", f"/eir/checks?imsi={IMSI}&limit=1").json
        self.assertEqual((by_imsi["total"], [c["checked_at"] for c in by_imsi["items"]]), (2, [1001.0]))
        older = self.api.request("GET", "/eir/checks?limit=1&offset=1").json
        self.assertEqual([c["checked_at"] for c in older["items"]], [1001.0])
        since = self.api.request("GET", "/eir/checks?since=1970-01-01T00:16:41Z").json
        self.assertEqual([c["checked_at"] for c in since["items"]], [1001.0, 1002.0])
        self.assertProblem(self.api.request("GET", "/eir/checks?since=yesterday"), 400, "since")
        self.assertProblem(self.api.request("GET", "/eir/checks?imei=12"), 400, "imei")
        self.assertProblem(self.api.request("POST", "/eir/checks", {}), 405)
        self.assertProblem(self.api.request("DELETE", "/eir/checks"), 405)


class ConsoleListTests(Fixture, unittest.TestCase):
    """A read-only list page per new collection, its columns the read schema's."""

    def test_list_pages(self):
        page = self.api.request("GET", "/console/ims_subscriptions")
        self.assertEqual(page.status, 200)
        self.assertIn(b'data-list="/ims/subscriptions"', page.body)
        self.assertIn(b'<th data-field="impus">', page.body)
        self.assertNotIn(b"digest_password", page.body)
        self.assertIn(b"<h1>IMS subscriptions</h1>", page.body)
        for name, path in (("ifc_templates", "/ims/ifc-templates"), ("eir_rules", "/eir/rules"),
                           ("eir_checks", "/eir/checks")):
            page = self.api.request("GET", f"/console/{name}")
            self.assertIn(f'data-list="{path}"'.encode(), page.body)
            self.assertIn(f'href="/console/{name}"'.encode(), page.body)
        self.assertIn(b"<h1>Equipment checks</h1>", page.body)
        # No record forms for them (the list is all the console shows).
        self.assertEqual(self.api.request("GET", f"/console/ims_subscriptions/{IMPI}").status, 404)
        self.assertEqual(self.api.request("GET", f"/console/eir_rules/{IMEI}").status, 404)
