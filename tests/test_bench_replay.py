"""bench/replay_accuracy.py at a tiny size: the twistd server and client
processes it drives replay everything, and the server's count is what the
client sent plus each association's ASP management (no timing asserted)."""

import io
import json
import sys

from twisted.trial import unittest

from tests.bench_helpers import load_bench

replay_accuracy = load_bench("replay_accuracy", "bench_replay_accuracy")


class ReplayAccuracyBenchTests(unittest.TestCase):

    def test_small_run_loses_nothing(self):
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        code = replay_accuracy.main(["--clients", "4", "--rate", "200", "--duration", "0.5",
                                     "--no-ramp", "--no-timers", "--detect", "default"])
        self.assertEqual(code, 0, out.getvalue())
        result = json.loads(out.getvalue().strip().splitlines()[-1])
        base = result["base"]
        self.assertEqual(base["failed"], 0)
        self.assertEqual(base["sent"], base["messages"])
        self.assertGreater(base["sent"], 50)
        self.assertEqual(base["lost"], 0)
        self.assertEqual(base["server_received"], base["sent"] + 5 * 4)
        self.assertIsNotNone(base["p99_ms"])
        # the server judged every SS7 message (not the ASP management)
        detection = base["detection"]
        self.assertEqual(detection["judged"], base["sent"])
        self.assertEqual(sum(detection["verdicts"].values()), base["sent"])
        self.assertIn("evaluation p50", out.getvalue())
