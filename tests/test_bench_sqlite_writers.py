"""bench/sqlite_writers.py in a short run: every mode creates subscribers in
the file (a second writer process for "two", the same store for "one") while
the SQN reservations are answered and timed."""

import io
import json
import sys

from twisted.internet import defer, reactor
from twisted.trial import unittest

from tests.bench_helpers import load_bench

writers = load_bench("sqlite_writers", "bench_sqlite_writers")


class SqliteWritersTests(unittest.TestCase):

    timeout = 60

    @defer.inlineCallbacks
    def test_modes(self):
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        yield writers.main(reactor, ["--modes", "none,two,one", "--duration", "0.3", "--provision", "50",
                                     "--air-rate", "500", "--outstanding", "5"])
        results = json.loads(out.getvalue().splitlines()[-1])
        self.assertEqual([result["mode"] for result in results], ["none", "two", "one"])
        self.assertEqual(results[0]["creations_per_s"], 0.0)
        for result in results:
            self.assertGreater(result["sqn_reservations"], 0)
        for result in results[1:]:
            self.assertGreater(result["creations_per_s"], 0)
