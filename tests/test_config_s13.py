"""config.yaml's s13 section: the EIR's answers and its check history."""

import os

import yaml
from twisted.trial import unittest

from pyhss.config import EQUIPMENT_ANSWERS, ConfigError, load_config
from tests.test_config import MINIMAL_HSS, SHIPPED


class S13ConfigTests(unittest.TestCase):

    def write(self, data):
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as handle:
            yaml.safe_dump(data, handle)
        return path

    def assertError(self, data, key, text):
        path = self.write(data)
        error = self.assertRaises(ConfigError, load_config, path)
        self.assertEqual(error.key, key)
        self.assertIn(text, str(error))
        self.assertTrue(str(error).startswith(path + ": " + key + ": "), str(error))

    def test_defaults(self):
        s13 = load_config(self.write({"hss": MINIMAL_HSS})).s13
        self.assertEqual((s13.unknown_status, s13.imsi_mismatch_status), ("unknown", "blacklisted"))
        history = s13.history
        self.assertEqual((history.enabled, history.batch_size, history.flush_interval, history.max_rows,
                          history.max_age, history.max_pending), (True, 1000, 1.0, 1_000_000, 0.0, 100_000))
        self.assertEqual(load_config(SHIPPED).s13, s13)

    def test_answers_are_the_equipment_statuses_and_unknown(self):
        self.assertEqual(EQUIPMENT_ANSWERS, ("whitelisted", "blacklisted", "greylisted", "unknown"))
        s13 = load_config(self.write({"hss": MINIMAL_HSS, "s13": {
            "unknown_status": "greylisted", "imsi_mismatch_status": "unknown",
            "history": {"enabled": False, "batch_size": 10, "flush_interval": 0.25, "max_rows": 0,
                        "max_age": 86400, "max_pending": 50}}})).s13
        self.assertEqual((s13.unknown_status, s13.imsi_mismatch_status), ("greylisted", "unknown"))
        self.assertEqual((s13.history.enabled, s13.history.batch_size, s13.history.flush_interval,
                          s13.history.max_rows, s13.history.max_age, s13.history.max_pending),
                         (False, 10, 0.25, 0, 86400.0, 50))

    def test_refusals_name_the_key(self):
        for section, key, text in (
                ({"unknown_status": "WHITELISTED"}, "s13.unknown_status",
                 "expected one of whitelisted, blacklisted, greylisted, unknown"),
                ({"imsi_mismatch_status": 1}, "s13.imsi_mismatch_status", "unknown value the number 1"),
                ({"history": {"batch_size": 0}}, "s13.history.batch_size", "between 1 and 100000"),
                ({"history": {"flush_interval": 0}}, "s13.history.flush_interval", "greater than 0"),
                ({"history": {"max_rows": -1}}, "s13.history.max_rows", "between 0 and"),
                ({"history": {"max_age": "1d"}}, "s13.history.max_age", "number of seconds"),
                ({"history": {"max_pending": 0}}, "s13.history.max_pending", "between 1 and"),
                ({"history": {"enabled": "yes"}}, "s13.history.enabled", "true or false"),
                ({"history": {"size": 5}}, "s13.history.size", "unknown key"),
                ({"default": "whitelisted"}, "s13.default", "unknown key")):
            self.assertError({"hss": MINIMAL_HSS, "s13": section}, key, text)
