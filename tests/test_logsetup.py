"""pyhss.logsetup.LogSummariser: floods of one kind of event become a
first line and counted summaries (task.Clock, a captured publisher)."""

from twisted.internet import task
from twisted.logger import Logger, LogLevel, LogPublisher, formatEvent
from twisted.python import failure
from twisted.trial import unittest

from pyhss.logsetup import LogSummariser, failure_key


def failed(exception):
    try:
        raise exception
    except Exception:
        return failure.Failure()


class SummariserFixture:
    def setUp(self):
        self.clock = task.Clock()
        self.events = []
        publisher = LogPublisher()
        publisher.addObserver(self.events.append)
        self.summary = LogSummariser(Logger(namespace="pyhss.test", observer=publisher), self.clock,
                                     interval=10.0)

    def lines(self):
        return [formatEvent(event) for event in self.events]

    def repeats(self):
        return sum(event.get("repeats", 0) for event in self.events)


class SummariserTests(SummariserFixture, unittest.TestCase):

    def test_first_in_full_repeats_counted_into_one_line(self):
        self.assertTrue(self.summary.warn("k", "peer {peer}: bad {n}", peer="mme1", n=1))
        for n in range(2, 6):
            self.clock.advance(1)
            self.assertFalse(self.summary.warn("k", "peer {peer}: bad {n}", peer="mme1", n=n))
        self.assertEqual(self.lines(), ["peer mme1: bad 1"])
        self.clock.advance(6)   # 10 s after the first
        self.assertEqual(self.lines(), ["peer mme1: bad 1",
                                        "peer mme1: bad 1 (and 4 more like it in the last 10 s)"])
        self.assertEqual((self.events[1]["log_level"], self.events[1]["repeats"]), (LogLevel.warn, 4))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_after_a_quiet_interval_logged_in_full_again(self):
        self.summary.warn("k", "once")
        self.clock.advance(10)
        self.assertTrue(self.summary.warn("k", "twice"))
        self.assertEqual(self.lines(), ["once", "twice"])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_kinds_are_counted_apart(self):
        for _ in range(3):
            self.summary.info(("a", 1), "a")
            self.summary.info(("b", 1), "b")
        self.clock.advance(10)
        self.assertEqual(sorted(self.lines()), ["a", "a (and 2 more like it in the last 10 s)",
                                                "b", "b (and 2 more like it in the last 10 s)"])

    def test_flood_is_bounded_and_counts_add_up(self):
        # 100,000 events over 30 s: one line, then one summary per interval.
        for n in range(100_000):
            self.summary.warn("flood", "event {n}", n=n)
            self.clock.advance(0.0003)
        self.clock.advance(10)
        self.assertLessEqual(len(self.events), 5)
        self.assertEqual(len(self.events) - sum("repeats" in e for e in self.events) + self.repeats(), 100_000)
        self.assertEqual(self.lines()[0], "event 0")

    def test_flush_logs_pending_counts(self):
        for _ in range(3):
            self.summary.error("k", "boom")
        self.clock.advance(2.5)
        self.summary.flush()
        self.assertEqual(self.lines(), ["boom", "boom (and 2 more like it in the last 2.5 s)"])
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.summary.flush()
        self.assertEqual(len(self.events), 2)

    def test_one_traceback_per_cause(self):
        for page in range(50):
            self.summary.failure("request {n} failed", failed(OSError(28, f"disk full at page {page}")), n=page)
        self.summary.failure("request {n} failed", failed(ValueError("bad")), n=99)
        self.clock.advance(10)
        tracebacks = [e for e in self.events if "log_failure" in e]
        self.assertEqual([t["log_failure"].type for t in tracebacks], [OSError, ValueError])
        (summary,) = [e for e in self.events if "repeats" in e]
        self.assertEqual(summary["repeats"], 49)
        self.assertEqual(summary["log_level"], LogLevel.critical)
        self.assertIn("request 0 failed: OSError: [Errno 28] disk full at page 0 (and 49 more",
                      formatEvent(summary))

    def test_failure_key_masks_numbers(self):
        self.assertEqual(failure_key(failed(OSError("page 12 of 0x1f"))),
                         failure_key(failed(OSError("page 3 of 0xab"))))
        self.assertNotEqual(failure_key(failed(OSError("x"))), failure_key(failed(ValueError("x"))))

    def test_kinds_tracked_are_bounded(self):
        summary = LogSummariser(self.summary.log, self.clock, interval=10.0, max_kinds=4)
        for n in range(1000):
            summary.warn(("imsi", n), "unknown IMSI {n}", n=n)
        self.assertLessEqual(len(summary._kinds), 5)
        self.clock.advance(10)
        # Four kinds in full, the fifth in full and the rest counted with it.
        self.assertEqual(len(self.events), 6)
        self.assertEqual(self.repeats(), 995)
        self.assertIn("other kinds", self.lines()[-1])
        # Once they are quiet, new kinds get their own lines again.
        self.clock.advance(10)
        self.assertTrue(summary.warn(("imsi", 5000), "unknown IMSI {n}", n=5000))
        self.assertIn(("imsi", 5000), summary._kinds)


class LogFileModeTests(unittest.TestCase):
    """The log file is created 0600, like the database (issue 10, item 7)."""

    def test_created_private(self):
        import os
        import stat
        from pyhss import logsetup
        from pyhss.config import Config, check_log_file
        path = os.path.abspath(self.mktemp())
        config = Config.default(logging={"file": path})
        check_log_file(config)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        os.remove(path)
        stream = logsetup.open_log_file(config.logging)
        stream.write("x\n")
        stream.close()
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
