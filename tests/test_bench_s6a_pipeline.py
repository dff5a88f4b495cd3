"""bench/s6a_pipeline.py at a tiny size: it provisions, answers every
request of the S6a and Cx kinds with 2001 and reports the CPU split by thread."""

import os
import subprocess
import sys

from twisted.trial import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "bench", "s6a_pipeline.py")


class PipelineTests(unittest.TestCase):
    def run_pipeline(self, kind):
        db = os.path.abspath(self.mktemp()) + ".sqlite3"
        result = subprocess.run(
            [sys.executable, SCRIPT, "--request", kind, "--requests", "120", "--window", "50",
             "--subscribers", "300", "--variants", "120", "--db", db],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def test_air(self):
        out = self.run_pipeline("air")
        self.assertIn("air: 120 requests, window 50, first answer 2001", out)
        self.assertIn("reactor", out)
        self.assertIn("sqlite", out)

    def test_ulr(self):
        self.assertIn("ulr: 120 requests, window 50, first answer 2001", self.run_pipeline("ulr"))

    def test_cx_kinds(self):
        for kind in ("mar", "sar", "uar"):
            out = self.run_pipeline(kind)
            # UAA: DIAMETER_FIRST_REGISTRATION (Experimental-Result 2001)
            self.assertIn("%s: 120 requests, window 50, first answer 2001" % (kind,), out)
            self.assertIn("last batch's answers by code: 2001 20\n", out)
