"""The REST API in memory: twisted.web's parser and our resources over a
StringTransport, the memory store, S6a on a node whose MME is a real
DiameterProtocol on a StringTransport (as tests/test_control.py)."""

import json

from twisted.logger import globalLogPublisher
from twisted.trial import unittest

from pyhss.api import tokens
from pyhss.apps.s6a import SUBSCRIPTION_WITHDRAWAL, encode_msisdn
from pyhss.config import Config
from pyhss.protocols import results
from pyhss.protocols.dictionary import CMD_CLR, CMD_IDR
from tests.api_helpers import K_HEX, OP_HEX, OPC_HEX, SECRETS, InMemoryApi
from tests.peer_helpers import PEER_HOST, open_connection, read_messages
from tests.test_s6a_air import air
from tests.test_s6a_location import ulr

IMSI = "001010000000001"


def new_subscriber(imsi=IMSI, **fields):
    body = {"imsi": imsi, "k": K_HEX, "opc": OPC_HEX, "apns": ["internet"], "msisdn": "15551230001"}
    body.update(fields)
    return body


class ApiFixture:
    def setUp(self):
        self.api = InMemoryApi(self)
        self.assertEqual(self.api.request("POST", "/apns", {"name": "internet", "ambr_ul": 1000}).status, 201)

    def assertProblem(self, response, status, *fields):
        self.assertEqual(response.status, status, response)
        self.assertEqual(response.headers["content-type"], "application/problem+json")
        body = response.json
        self.assertEqual(body["status"], status)
        if fields:
            self.assertEqual([e["field"] for e in body["errors"]], list(fields))
        return body


class SubscriberResourceTests(ApiFixture, unittest.TestCase):

    def test_create_get_list_patch_put_delete(self):
        created = self.api.request("POST", "/subscribers", new_subscriber())
        self.assertEqual(created.status, 201, created)
        self.assertEqual(created.headers["location"], f"/subscribers/{IMSI}")
        self.assertEqual(created.json["msisdn"], "15551230001")
        got = self.api.request("GET", f"/subscribers/{IMSI}").json
        self.assertEqual(got, created.json)
        self.assertEqual(got["amf"], "8000")
        listed = self.api.request("GET", "/subscribers").json
        self.assertEqual((listed["total"], listed["offset"], listed["limit"]), (1, 0, 100))
        self.assertEqual(listed["items"], [got])
        patched = self.api.request("PATCH", f"/subscribers/{IMSI}", {"ue_ambr_ul": 5000, "roaming_allowed": False})
        self.assertEqual((patched.status, patched.json["ue_ambr_ul"], patched.json["roaming_allowed"]),
                         (200, 5000, False))
        self.assertEqual(patched.json["idr"]["reason"], "no-serving-mme")
        stored = self.successResultOf(self.api.store.get_subscriber(IMSI))
        self.assertEqual((stored.ue_ambr_ul, stored.roaming_allowed), (5000, False))
        self.successResultOf(self.api.store.update_subscriber(IMSI, sqn=77))
        replaced = self.api.request("PUT", f"/subscribers/{IMSI}", {"apns": [], "amf": "1234"})
        self.assertEqual(replaced.status, 200, replaced)
        stored = self.successResultOf(self.api.store.get_subscriber(IMSI))
        # Left out: back to defaults, but keys and SQN stay.
        self.assertEqual((stored.msisdn, stored.ue_ambr_ul, stored.roaming_allowed, stored.amf, stored.sqn),
                         (None, None, True, b"\x12\x34", 77))
        self.assertEqual(stored.k.hex().upper(), K_HEX)
        self.assertEqual(self.api.request("DELETE", f"/subscribers/{IMSI}").status, 204)
        self.assertProblem(self.api.request("GET", f"/subscribers/{IMSI}"), 404)
        self.assertProblem(self.api.request("DELETE", f"/subscribers/{IMSI}"), 404)

    def test_filters_and_paging(self):
        for index, msisdn in enumerate(("111", "222", "111")):
            self.assertEqual(self.api.request("POST", "/subscribers", new_subscriber(
                f"00101000000000{index}", msisdn=msisdn, enabled=index != 2)).status, 201)
        page = self.api.request("GET", "/subscribers?msisdn=111").json
        self.assertEqual([s["imsi"] for s in page["items"]], ["001010000000000", "001010000000002"])
        self.assertEqual(page["total"], 2)
        page = self.api.request("GET", "/subscribers?msisdn=111&enabled=true").json
        self.assertEqual([s["imsi"] for s in page["items"]], ["001010000000000"])
        page = self.api.request("GET", "/subscribers?limit=1&offset=1").json
        self.assertEqual(([s["imsi"] for s in page["items"]], page["total"]), (["001010000000001"], 3))
        page = self.api.request("GET", "/subscribers?after=001010000000001&apn=INTERNET").json
        self.assertEqual([s["imsi"] for s in page["items"]], ["001010000000002"])
        self.assertProblem(self.api.request("GET", "/subscribers?limit=0&colour=red&enabled=maybe"), 400,
                           "limit", "colour", "enabled")

    def test_bad_fields_all_named(self):
        body = self.assertProblem(self.api.request("POST", "/subscribers", {
            "imsi": "12", "k": "00", "msisdn": "12a", "ue_ambr_ul": -1, "colour": "red", "apns": "internet"}),
            400, "imsi", "k", "msisdn", "ue_ambr_ul", "colour", "apns", "opc")
        problems = {e["field"]: e["problem"] for e in body["errors"]}
        self.assertEqual(problems["msisdn"], "must be 1-15 digits, got '12a'")
        self.assertEqual(problems["ue_ambr_ul"], "must be an integer 0..4294967295, got -1")
        self.assertEqual(problems["colour"], "unknown field")
        self.assertEqual(problems["opc"], "one of opc and op is required")
        self.assertProblem(self.api.request("POST", "/subscribers", new_subscriber(op=OP_HEX)), 400, "op")
        self.assertProblem(self.api.request("POST", "/subscribers", new_subscriber(apns=["nowhere"])), 400, "apns")
        self.assertEqual(self.api.request("POST", "/subscribers", new_subscriber()).status, 201)
        self.assertProblem(self.api.request("POST", "/subscribers", new_subscriber()), 409)
        self.assertProblem(self.api.request("PATCH", f"/subscribers/{IMSI}", {"imsi": "001010000000009"}), 400,
                           "imsi")
        self.assertProblem(self.api.request("PATCH", f"/subscribers/{IMSI}", {}), 400, None)
        self.assertProblem(self.api.request("PATCH", "/subscribers/001019999999999", {"msisdn": "1"}), 404)
        self.assertProblem(self.api.request("GET", "/subscribers/12"), 400, "imsi")

    def test_bodies_refused_cleanly(self):
        self.assertProblem(self.api.request("POST", "/subscribers", raw=b"{not json"), 400, None)
        self.assertProblem(self.api.request("POST", "/subscribers", raw=b'{"imsi": "1", "imsi": "2"}'), 400, "imsi")
        self.assertProblem(self.api.request("POST", "/subscribers", raw=b'{"sqn": NaN}'), 400, None)
        self.assertProblem(self.api.request("POST", "/subscribers", raw=b"\xff\xfe"), 400, None)
        self.assertProblem(self.api.request("POST", "/subscribers", raw=b"[" * 100000 + b"]" * 100000), 413)
        self.assertProblem(self.api.request("POST", "/subscribers", raw=b"[1, 2]"), 400, None)
        response = self.api.request("POST", "/subscribers", new_subscriber(), headers={"Content-Type": "text/plain"})
        self.assertProblem(response, 415)
        response = self.api.request("DELETE", "/subscribers")
        self.assertProblem(response, 405)
        self.assertEqual(response.headers["allow"], "GET, POST")
        self.assertProblem(self.api.request("GET", "/nothing"), 404)
        self.assertProblem(self.api.request("POST", f"/subscribers/{IMSI}/cancel", {"x": 1}), 400, None)

    def test_keys_never_in_a_response_or_log(self):
        lines = []
        globalLogPublisher.addObserver(lines.append)
        self.addCleanup(globalLogPublisher.removeObserver, lines.append)
        responses = [self.api.request("POST", "/subscribers", new_subscriber())]
        responses.append(self.api.request("POST", "/subscribers", new_subscriber("001010000000002", opc=None,
                                                                                 op=OP_HEX)))
        responses += [self.api.request("GET", f"/subscribers/{IMSI}"), self.api.request("GET", "/subscribers"),
                      self.api.request("PATCH", f"/subscribers/{IMSI}", {"k": OPC_HEX, "opc": K_HEX}),
                      self.api.request("PUT", f"/subscribers/{IMSI}", {"op": OPC_HEX}),
                      self.api.request("POST", "/subscribers", new_subscriber()),
                      self.api.request("PATCH", f"/subscribers/{IMSI}", {"k": K_HEX[:-2] + "ZZ"}),
                      self.api.request("GET", "/openapi.json"), self.api.request("GET", "/metrics")]
        for response in responses:
            for secret in SECRETS:
                self.assertNotIn(secret.encode(), response.body.upper())
            self.assertNotIn(b'"k"', response.body if response.status < 300 and b"openapi" not in response.body
                             else b"")
        stored = self.successResultOf(self.api.store.get_subscriber(IMSI))
        self.assertEqual((stored.k.hex().upper(), stored.opc, stored.op.hex().upper()), (OPC_HEX, None, OPC_HEX))
        text = json.dumps([{k: str(v) for k, v in event.items()} for event in lines]).upper()
        for secret in SECRETS:
            self.assertNotIn(secret, text)


class ApnResourceTests(ApiFixture, unittest.TestCase):

    def test_apn_profiles(self):
        got = self.api.request("GET", "/apns/INTERNET").json
        self.assertEqual((got["name"], got["context_id"], got["arp_preemption_capability"]),
                         ("internet", 1, "disabled"))
        self.assertProblem(self.api.request("POST", "/apns", {"name": "Internet"}), 409)
        self.assertProblem(self.api.request("POST", "/apns", {"name": "ims", "qci": 0, "pdn_type": "x",
                                                              "arp_preemption_capability": 0}),
                           400, "qci", "pdn_type", "arp_preemption_capability")
        self.assertEqual(self.api.request("POST", "/apns", {"name": "ims", "qci": 5}).json["context_id"], 2)
        patched = self.api.request("PATCH", "/apns/ims", {"arp_preemption_vulnerability": "disabled"}).json
        self.assertEqual((patched["qci"], patched["arp_preemption_vulnerability"]), (5, "disabled"))
        replaced = self.api.request("PUT", "/apns/ims", {"ambr_dl": 7}).json
        self.assertEqual((replaced["qci"], replaced["ambr_dl"], replaced["context_id"]), (9, 7, 2))
        self.assertProblem(self.api.request("PATCH", "/apns/ims", {"context_id": 1}), 409)
        self.assertEqual([a["name"] for a in self.api.request("GET", "/apns").json["items"]], ["ims", "internet"])
        self.assertEqual(self.api.request("POST", "/subscribers", new_subscriber(apns=["ims"])).status, 201)
        self.assertProblem(self.api.request("DELETE", "/apns/ims"), 409)
        self.assertEqual(self.api.request("DELETE", "/apns/internet").status, 204)


class ServedSubscriberTests(ApiFixture, unittest.TestCase):
    """A change to a served subscriber sends IDR; cancel sends CLR."""

    def setUp(self):
        ApiFixture.setUp(self)
        self.assertEqual(self.api.request("POST", "/subscribers", new_subscriber()).status, 201)
        self.mme, self.mme_transport = open_connection(self.api.node)
        self.mme.dataReceived(ulr(mme=PEER_HOST, imsi=IMSI).encode())
        (ula,) = read_messages(self.mme_transport)
        self.assertEqual(ula.get("Result-Code"), results.DIAMETER_SUCCESS)

    def test_serving_state_read_only(self):
        serving = self.api.request("GET", f"/subscribers/{IMSI}/serving").json
        self.assertEqual((serving["mme_host"], serving["purged"]), (PEER_HOST, False))
        self.assertProblem(self.api.request("PUT", f"/subscribers/{IMSI}/serving", {"purged": True}), 405)
        self.assertProblem(self.api.request("GET", "/subscribers/001019999999999/serving"), 404)

    def test_patch_sends_idr_and_waits_for_the_ida(self):
        transport = self.api.send("PATCH", f"/subscribers/{IMSI}", {"msisdn": "4915112345678"})
        self.assertEqual(transport.value(), b"")
        (idr,) = read_messages(self.mme_transport)
        self.assertEqual(idr.command_code, CMD_IDR)
        self.assertEqual(idr.get("Subscription-Data/MSISDN"), encode_msisdn("4915112345678"))
        self.mme.dataReceived(idr.answer(result_code=results.DIAMETER_SUCCESS).encode())
        response = self.api.response(transport)
        self.assertEqual(response.json["idr"], {"sent": True, "mme": PEER_HOST, "result_code": 2001,
                                                "reason": None, "message": f"IDR sent to {PEER_HOST}: 2001"})
        no_idr = self.api.request("PATCH", f"/subscribers/{IMSI}", {"amf": "0000"})
        self.assertEqual(no_idr.json["idr"]["reason"], "not-needed")
        self.assertEqual(read_messages(self.mme_transport), [])

    def test_cancel_sends_clr(self):
        transport = self.api.send("POST", f"/subscribers/{IMSI}/cancel")
        (clr,) = read_messages(self.mme_transport)
        self.assertEqual((clr.command_code, clr.get("Cancellation-Type")), (CMD_CLR, SUBSCRIPTION_WITHDRAWAL))
        self.mme.dataReceived(clr.answer(result_code=results.DIAMETER_SUCCESS).encode())
        response = self.api.response(transport)
        self.assertEqual((response.status, response.json["sent"], response.json["result_code"]), (200, True, 2001))
        # Refused by the MME: 502 with the outcome.
        transport = self.api.send("POST", f"/subscribers/{IMSI}/cancel")
        (clr,) = read_messages(self.mme_transport)
        self.mme.dataReceived(clr.answer(result_code=results.DIAMETER_UNABLE_TO_COMPLY).encode())
        body = self.assertProblem(self.api.response(transport), 502)
        self.assertEqual(body["outcome"]["result_code"], results.DIAMETER_UNABLE_TO_COMPLY)
        self.assertProblem(self.api.request("POST", "/subscribers/001019999999999/cancel"), 404)

    def test_metrics_present_and_moving(self):
        def sample(name, **labels):
            text = self.api.request("GET", "/metrics").body.decode()
            wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else "")
            for line in text.splitlines():
                if line.startswith(wanted + " "):
                    return float(line.split()[-1])
            return None

        self.assertEqual(sample("pyhss_diameter_requests_total", app="s6a", command="ULR", result="2001"), 1.0)
        self.assertIsNone(sample("pyhss_diameter_requests_total", app="s6a", command="AIR", result="2001"))
        for count in (1, 2):
            self.mme.dataReceived(air(IMSI).encode())
            (aia,) = read_messages(self.mme_transport)
            self.assertEqual(sample("pyhss_diameter_requests_total", app="s6a", command="AIR", result="2001"),
                             float(count))
        self.assertEqual(sample("pyhss_diameter_request_duration_seconds_count", app="s6a", command="AIR"), 2.0)
        self.assertEqual(sample("pyhss_store_operations_total", operation="reserve_sqns"), 2.0)
        self.assertEqual(sample("pyhss_store_errors_total", operation="reserve_sqns"), 0.0)
        for _ in range(8):      # one call in 8 is timed
            self.api.request("GET", f"/subscribers/{IMSI}")
        self.assertGreaterEqual(sample("pyhss_store_operation_duration_seconds_count", operation="get_subscriber"),
                                1.0)
        self.assertEqual(sample("pyhss_diameter_peer_up", peer=PEER_HOST, realm="test.realm",
                                remote=self.mme.remote), 1.0)
        self.assertEqual(sample("pyhss_diameter_peers", state="open"), 1.0)
        transport = self.api.send("POST", f"/subscribers/{IMSI}/cancel")
        (clr,) = read_messages(self.mme_transport)
        self.mme.dataReceived(clr.answer(result_code=results.DIAMETER_SUCCESS).encode())
        self.api.response(transport)
        self.assertEqual(sample("pyhss_diameter_sent_requests_total", app="s6a", command="CLR", result="2001"), 1.0)
        self.assertEqual(sample("pyhss_control_requests_total", command="CancelSubscription", outcome="ok"), 1.0)
        self.assertEqual(sample("pyhss_api_requests_total", method="POST", route="/subscribers/{imsi}/cancel",
                                status="200"), 1.0)
        self.assertGreater(sample("process_resident_memory_bytes"), 0)


class TokenTests(ApiFixture, unittest.TestCase):

    def setUp(self):
        ApiFixture.setUp(self)
        self.writer = self.api.token_file.add("ops")
        self.reader = self.api.token_file.add("grafana", read_only=True)
        self.api.authenticator.reload()

    def test_tokens(self):
        lines = []
        globalLogPublisher.addObserver(lines.append)
        self.addCleanup(globalLogPublisher.removeObserver, lines.append)
        self.assertProblem(self.api.request("GET", "/subscribers"), 401)
        self.assertProblem(self.api.request("GET", "/subscribers", token="pyhss_nope"), 401)
        self.assertEqual(self.api.request("GET", "/subscribers", token=self.reader).status, 200)
        self.assertEqual(self.api.request("GET", "/metrics", token=self.reader).status, 200)
        self.assertEqual(self.api.request("GET", "/metrics").status, 401)
        self.assertProblem(self.api.request("POST", "/subscribers", new_subscriber(), token=self.reader), 403)
        self.assertEqual(self.api.request("POST", "/subscribers", new_subscriber(), token=self.writer).status, 201)
        writes = [event for event in lines if event.get("log_format", "").startswith("api: ")]
        self.assertEqual([(e["token"], e["method"], e["status"]) for e in writes], [("ops", "POST", 201)])
        # Pages carry no data: open without a token.
        self.assertEqual(self.api.request("GET", "/console/subscribers").status, 200)
        self.assertEqual(self.api.request("GET", "/openapi.json").status, 200)
        # Removed: refused within a second.
        self.api.token_file.remove("ops")
        self.api.clock.advance(tokens.RELOAD_INTERVAL)
        self.assertProblem(self.api.request("GET", "/subscribers", token=self.writer), 401)
        self.assertEqual(self.api.request("GET", "/subscribers", token=self.reader).status, 200)

    def test_token_file_private_and_hashed(self):
        import os
        import stat
        self.assertEqual(stat.S_IMODE(os.stat(self.api.token_file.path).st_mode), 0o600)
        with open(self.api.token_file.path) as handle:
            text = handle.read()
        self.assertNotIn(self.writer, text)
        self.assertIn(tokens.digest(self.writer), text)

    def test_no_token_refuses_other_than_loopback(self):
        directory = self.mktemp()
        config = Config.default(api={"listen": "tcp:8080:interface=0.0.0.0", "process": "reactor",
                                     "tokens": directory + "/tokens.json"})
        self.assertIn("needs an API token", tokens.check_listen(config))
        tokens.TokenFile(config.api.tokens).add("ops")
        self.assertIsNone(tokens.check_listen(config))
        loopback = Config.default(api={"listen": "tcp:8080:interface=127.0.0.1", "process": "reactor",
                                       "tokens": directory + "/none.json"})
        self.assertIsNone(tokens.check_listen(loopback))


class CrossSiteTests(ApiFixture, unittest.TestCase):

    def test_cross_site_writes_refused(self):
        response = self.api.request("POST", "/apns", {"name": "ims"}, headers={"Origin": "https://evil.example"})
        self.assertProblem(response, 403)
        response = self.api.request("POST", "/apns", {"name": "ims"}, headers={"Sec-Fetch-Site": "cross-site"})
        self.assertProblem(response, 403)
        response = self.api.request("POST", "/apns", {"name": "ims"}, headers={"Origin": "http://127.0.0.1:8080"})
        self.assertEqual(response.status, 201)
        # No token configured: a rebinding name is not this server.
        self.assertProblem(self.api.request("GET", "/subscribers", headers={"Host": "evil.example:8080"}), 403)
        self.assertEqual(self.api.request("GET", "/subscribers", headers={"Host": "localhost:8080"}).status, 200)

    def test_console_pages(self):
        self.assertIn(b'id="search"', self.api.request("GET", "/console/subscribers").body)
        page = self.api.request("GET", "/console/subscribers/new").body
        self.assertIn(b'id="f-k" name="k" data-kind="secret"', page)
        self.assertIn(b'<option value="disabled">', self.api.request("GET", "/console/apns/internet").body)
        self.assertIn(b'id="rates"', self.api.request("GET", "/").body)
        self.assertEqual(self.api.request("GET", "/console/nothing/at/all").status, 404)

    def test_security_headers(self):
        response = self.api.request("GET", "/console/subscribers")
        self.assertEqual(response.headers["x-frame-options"], "DENY")
        self.assertIn("script-src 'self'", response.headers["content-security-policy"])
        self.assertEqual(response.headers["x-content-type-options"], "nosniff")
