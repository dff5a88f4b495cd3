"""
bench/hostile.py --short: every attack of the reliability issue against a
spawned server, with the bounds the defences promise.

Each test runs one item in its own process (``hostile.py --short --only N``:
its own server, its own fast peer) and reads the JSON line of each
scenario.  The bounds are generous (several times what was measured) so
that a slow or busy machine does not fail them; what they catch is the
attacks' old figures (hundreds of MB, megabytes of log, lost peers).
"""

import json
import os
import signal
import subprocess
import sys

from twisted.trial import unittest

from tests.bench_helpers import BENCH

MB = 1024   # the figures are in KiB

# Bounds on the server's RSS growth (peak during the attack minus just
# before), in KiB.  Measured on the 2-core machine: at most a few MB, except
# 2a (see there).
RSS_BOUND = 40 * MB


def run_hostile(*argv, timeout=300):
    """Run bench/hostile.py; its scenarios' JSON lines by name, and its
    output."""
    command = [sys.executable, os.path.join(BENCH, "hostile.py")] + list(argv)
    process = subprocess.Popen(command, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # SIGTERM: its reactor stops and takes the server with it.
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        raise AssertionError("hostile.py %s ran past %ss:\n%s" % (
            " ".join(argv), timeout,
            output.decode("utf-8", "replace")[-6000:]))
    text = output.decode("utf-8", "replace")
    if process.returncode != 0:
        raise AssertionError("hostile.py %s exited %d:\n%s" % (
            " ".join(argv), process.returncode, text[-6000:]))
    results = {}
    for line in text.splitlines():
        if line.startswith('{"scenario"'):
            result = json.loads(line)
            results[result["scenario"]] = result
    return results, text


class HostileTests(unittest.TestCase):

    # Each test waits on its own process (bounded by run_hostile's timeout).
    timeout = 400

    def run_item(self, number, expected):
        results, output = run_hostile("--short", "--only", str(number))
        self.output = output
        self.assertEqual(sorted(results), sorted(expected), output[-6000:])
        for name in expected:
            self.assert_fast_peer(results[name])
        return results

    def check(self, condition, message):
        """assertTrue with the script's output, so a failure shows the
        figures."""
        if not condition:
            self.fail("%s\n--- hostile.py output:\n%s" % (
                message, self.output[-8000:]))

    def assert_rss(self, result, bound=RSS_BOUND):
        rss = result["rss_kib"]
        self.check(rss["peak_growth"] < bound,
                   "%s: server RSS grew %d KiB during the attack (bound %d)"
                   % (result["scenario"], rss["peak_growth"], bound))

    def assert_fast_peer(self, result):
        # The well-behaved peer on its own connection loses nothing: every
        # request answered 2001, none late, never disconnected.
        for key in ("fast_peer", "fast_peer_baseline", "fast_peer_after"):
            fast = result[key]
            if fast is None:
                continue
            self.check((fast["timeouts"], fast["disconnects"],
                        fast["error_answers"]) == (0, 0, 0),
                       "%s: %s lost requests: %r" % (result["scenario"], key,
                                                     fast))
        totals = result.get("fast_peer_totals")
        if totals is not None:
            self.check(totals["sent"] == totals["answered"] > 0
                       and totals["timeouts"] == totals["disconnects"] == 0,
                       "%s: fast peer totals %r" % (result["scenario"],
                                                    totals))

    def test_1_repeat_cache_flood(self):
        results = self.run_item(1, ["1a", "1b", "1c"])
        before_cer = results["1a"]["figures"]
        # Before the CER the server judges the header and closes.
        self.check(before_cer["closed_by_server"] > 0
                   and before_cer["left_open_aborted_by_us"] == 0,
                   "1a: not every connection was closed by the server")
        for name in ("1b", "1c"):
            figures = results[name]["figures"]
            self.check(figures["answered"] == figures["dwrs_sent"] > 0
                       and not figures["connection_dropped_by_server"],
                       "%s: the open peer's DWRs were not all answered" % name)
        for name in ("1a", "1b", "1c"):
            self.assert_rss(results[name])

    def test_2_no_backpressure(self):
        results = self.run_item(2, ["2a", "2b"])
        for name in ("2a", "2b"):
            figures = results[name]["figures"]
            self.check(figures["dropped_by_server"],
                       "%s: the peer that never reads was not dropped" % name)
        # Before flow control 60,000 AIRs cost +240 MB; the server now also
        # stops reading while limits.max_pending_requests of a peer's
        # requests are in handlers: measured +8.5 MB.
        self.assert_rss(results["2a"])
        self.assert_rss(results["2b"])

    def test_3_idle_connections(self):
        results = self.run_item(3, ["3a", "3b"])
        spread = results["3a"]["figures"]
        # Attackers on other source addresses cannot lock good peers out.
        self.check(spread["good_peers_admitted"] == spread["good_peers"] > 0,
                   "3a: good peers admitted %d of %d" % (
                       spread["good_peers_admitted"], spread["good_peers"]))
        # 3b (everyone on 127.0.0.1) is reported, not asserted: the
        # per-address limit is shared with the attackers, so a good peer's
        # connection may be closed before its CER is read and it reconnects.
        for name in ("3a", "3b"):
            self.assert_rss(results[name])

    def test_4_slow_partial_messages(self):
        results = self.run_item(4, ["4"])
        figures = results["4"]["figures"]
        self.check(figures["bytes_held"] > 0, "4: nothing held")
        # About one byte of RSS per byte held (measured 1.2; was ~19).
        self.check(figures["rss_growth_per_byte_held"] < 4,
                   "4: %.1f bytes of RSS per byte held"
                   % (figures["rss_growth_per_byte_held"],))
        self.assert_rss(results["4"])

    def test_11_wal_growth(self):
        results = self.run_item(11, ["11"])
        result = results["11"]
        figures = result["figures"]
        self.check(result["fast_peer"]["answered"] > 0, "11: no AIR answered")
        bound = figures["wal_bound_bytes"]
        if bound is not None:
            self.check(figures["wal_max_bytes"] <= bound,
                       "11: WAL reached %d bytes, bound %d" % (
                           figures["wal_max_bytes"], bound))
        self.assert_rss(result)

    def test_12_log_flood(self):
        results = self.run_item(12, ["12"])
        figures = results["12"]["figures"]
        self.check(figures["answers_sent"] == 100000
                   and figures["all_read_by_server"],
                   "12: the server did not read all the answers")
        # 100,000 unknown answers: one line and a count (was 12 MB in 3 s).
        self.check(figures["log_bytes_until_server_stopped"] < 50000,
                   "12: %d bytes of log" % (
                       figures["log_bytes_until_server_stopped"],))
        self.assert_rss(results["12"])
