"""The cx section of config.yaml: its checks, and cx.enabled deciding
whether Cx is loaded and announced in the CEA."""

from twisted.internet import task
from twisted.trial import unittest

from pyhss import apps
from pyhss.apps.cx import CxApplication
from pyhss.config import Config, ConfigError, load_config_data
from pyhss.node import DiameterNode
from pyhss.protocols.dictionary import APP_CX, APP_S13, APP_S6A
from pyhss.storage.memory import MemoryStore

HSS = {"OriginHost": "hss.test", "OriginRealm": "test", "MCC": "001", "MNC": "01"}


class CxConfigTests(unittest.TestCase):

    def load(self, cx):
        return load_config_data({"hss": HSS, "cx": cx, "database": {"backend": "memory"}}, "cfg.yaml")

    def test_defaults_and_policy(self):
        config = self.load({"visited_networks": ["IMS.test"], "max_auth_items": 3, "mandatory_capabilities": [1],
                            "scscf_names": ["sip:scscf.ims.test:6060"], "primary_ccf": "aaa://ccf.ims.test",
                            "keep_server_name": False})
        application = CxApplication.from_config(DiameterNode("h.test", "test", task.Clock()), MemoryStore(), config)
        policy = application.policy
        self.assertEqual((policy.max_auth_items, policy.keep_server_name), (3, False))
        self.assertTrue(policy.roaming_allowed(b'"ims.test"'))
        self.assertFalse(policy.roaming_allowed(b"other.test"))
        self.assertEqual(policy.server_capabilities(), [("Mandatory-Capability", 1),
                                                        ("Server-Name", "sip:scscf.ims.test:6060")])
        self.assertEqual(policy.charging_information(),
                         [("Primary-Charging-Collection-Function-Name", "aaa://ccf.ims.test")])
        self.assertEqual(application.auc.ind_bits, config.s6a.ind_bits)   # one SQN policy for S6a and Cx

    def test_refusals_name_the_key(self):
        for cx, key in [({"max_auth_items": 0}, "cx.max_auth_items"), ({"scscf_names": ["http://x"]}, "cx.scscf_names"),
                        ({"enabled": "yes"}, "cx.enabled"), ({"digest_qop": "none"}, "cx.digest_qop"),
                        ({"primary_ccf": "a b"}, "cx.primary_ccf"), ({"colour": 1}, "cx.colour")]:
            with self.assertRaises(ConfigError) as caught:
                self.load(cx)
            self.assertIn("cfg.yaml: " + key, str(caught.exception))

    def test_disabled_cx_is_neither_loaded_nor_announced(self):
        for enabled, expected in ((True, {APP_S6A, APP_CX, APP_S13}), (False, {APP_S6A, APP_S13})):
            node = DiameterNode("h.test", "test", task.Clock())
            loaded = apps.load_applications(node, MemoryStore(), self.load({"enabled": enabled}))
            self.assertEqual(set(loaded), expected)
            cea = node.messages.capabilities_answer(node.messages.capabilities_request("127.0.0.1"), 2001, None,
                                                    "127.0.0.1")
            announced = {g.get("Auth-Application-Id") for g in cea.find_all("Vendor-Specific-Application-Id")}
            self.assertEqual(announced, expected)
        self.assertIsNotNone(Config.default().cx)
