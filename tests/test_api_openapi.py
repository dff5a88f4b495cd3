"""The OpenAPI document: valid OpenAPI 3.1, and every route served is in it (and nothing else)."""

import os

from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from twisted.trial import unittest

from pyhss.api.openapi import build_document
from pyhss.api.resources import COLLECTIONS
from pyhss.api.rest import Router
from pyhss.api.site import swagger_ui_files
from pyhss.provisioning import SUBSCRIBER
from tests.api_helpers import InMemoryApi


class OpenApiTests(unittest.TestCase):

    def setUp(self):
        self.api = InMemoryApi(self)
        self.document = self.api.request("GET", "/openapi.json").json

    def test_valid_openapi_3_1(self):
        self.assertEqual(self.document["openapi"], "3.1.0")
        validate(self.document)
        broken = build_document(COLLECTIONS)
        broken["paths"]["/subscribers"]["get"]["responses"] = "none"
        self.assertRaises(OpenAPIValidationError, validate, broken)

    def test_every_route_documented(self):
        router = Router(COLLECTIONS, None, None)
        served = {(route.method.lower(), route.template) for route in router.routes}
        documented = {(method, path) for path, operations in self.document["paths"].items()
                      for method in operations if method != "parameters"}
        self.assertEqual(served, documented)
        self.assertIn(("post", "/subscribers/{imsi}/cancel"), served)
        self.assertIn(("get", "/subscribers/{imsi}/serving"), served)
        for route in (("post", "/ims/subscriptions/{impi}/deregister"), ("patch", "/ims/subscriptions/{impi}"),
                      ("put", "/ims/ifc-templates/{name}"), ("post", "/eir/rules"), ("delete", "/eir/rules/{key}"),
                      ("get", "/eir/checks")):
            self.assertIn(route, served)
        self.assertNotIn(("post", "/eir/checks"), served)       # the history is read-only
        deregister = self.document["paths"]["/ims/subscriptions/{impi}/deregister"]["post"]
        self.assertEqual([p["name"] for p in deregister["parameters"]], ["impu", "reason"])

    def test_schemas_are_the_rules(self):
        schemas = self.document["components"]["schemas"]
        read = schemas["Subscriber"]["properties"]
        for secret in ("k", "opc", "op"):
            self.assertNotIn(secret, read)
            self.assertTrue(schemas["SubscriberCreate"]["properties"][secret]["writeOnly"])
        self.assertEqual(read["ue_ambr_ul"], dict(SUBSCRIBER.rules["ue_ambr_ul"].json_schema(), default=None)
                         if "default" in read["ue_ambr_ul"] else SUBSCRIBER.rules["ue_ambr_ul"].json_schema())
        self.assertEqual(read["ue_ambr_ul"]["maximum"], 0xFFFFFFFF)
        self.assertEqual(schemas["ApnProfileCreate"]["properties"]["pdn_type"]["enum"], ["ipv4", "ipv6", "ipv4v6"])
        self.assertEqual(schemas["SubscriberCreate"]["required"], ["imsi", "k"])
        # The SIP Digest password is write-only; HA1 is in no schema.
        self.assertNotIn("digest_password", schemas["ImsSubscription"]["properties"])
        self.assertTrue(schemas["ImsSubscriptionCreate"]["properties"]["digest_password"]["writeOnly"])
        self.assertNotIn("digest_ha1", str(self.document))
        self.assertEqual(schemas["EquipmentRuleCreate"]["properties"]["status"]["enum"],
                         ["whitelisted", "blacklisted", "greylisted"])
        self.assertTrue(schemas["EquipmentRule"]["properties"]["updated_at"]["readOnly"])

    def test_docs_page_served_from_the_package(self):
        page = self.api.request("GET", "/docs")
        self.assertEqual(page.status, 200)
        self.assertIn(b"/docs/ui/swagger-ui-bundle.js", page.body)
        # Served as static files (fetched over a socket in test_api_process).
        bundle = os.path.join(swagger_ui_files(), "swagger-ui-bundle.js")
        self.assertGreater(os.path.getsize(bundle), 100000)
