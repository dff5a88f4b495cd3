"""
bench/sctp_compare.py: its options, the commands it runs, and its report
of SCTP's share of TCP's rate (the runs themselves need kernel SCTP or a
user-mode Linux guest and minutes: the benchmark, not the suite, runs them).
"""

import contextlib
import io

from twisted.trial import unittest

from tests.bench_helpers import load_bench

compare = load_bench("sctp_compare")
load = load_bench("diameter_load")


def summary(kind, transport, rate, answered=1000, cpu=0.05):
    return {"kind": kind, "transport": transport, "requests_per_s": rate, "answered": answered,
            "server_cpu_s": cpu, "latency_ms": {"p50": 1.0, "p99": 2.0, "max": 3.0},
            "errors": {"result_codes": {}, "timeouts": 0, "disconnects": 0}}


class CompareTests(unittest.TestCase):

    def test_commands(self):
        options = compare.parse_arguments(["--duration", "2", "--provision", "300"])
        dwr = compare.load_command(options, "sctp", "dwr")
        self.assertEqual(dwr[dwr.index("--transport") + 1], "sctp")
        self.assertNotIn("--provision", dwr)
        air = compare.load_command(options, "tcp", "air")
        self.assertEqual(air[air.index("--provision") + 1], "300")
        self.assertIn("--spawn-server", air)

    def test_report_shares_and_verdict(self):
        results = [summary("dwr", "tcp", 20000), summary("dwr", "sctp", 11000),
                   summary("air", "tcp", 3000), summary("air", "sctp", 2900)]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            met = compare.report(results, "user-mode Linux 6.1.176")
        self.assertTrue(met)
        text = out.getvalue()
        self.assertIn("| DWR | sctp | 11,000 |", text)
        self.assertIn("DWR: SCTP at 55% of TCP's rate (target at least 50%: met)", text)
        self.assertIn("AIR: SCTP at 97% of TCP's rate", text)
        results[1] = summary("dwr", "sctp", 9000)
        with contextlib.redirect_stdout(io.StringIO()) as missed:
            self.assertFalse(compare.report(results, "x"))
        self.assertIn("DWR: SCTP at 45% of TCP's rate (target at least 50%: MISSED)", missed.getvalue())

    def test_bad_options(self):
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertRaises(SystemExit, compare.parse_arguments, ["--runs", "0"])


class TransportOptionTests(unittest.TestCase):

    def test_load_client_transport(self):
        self.assertEqual(load.parse_arguments([]).transport, "tcp")
        self.assertEqual(load.parse_arguments(["--transport", "sctp"]).transport, "sctp")
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertRaises(SystemExit, load.parse_arguments, ["--transport", "udp"])
