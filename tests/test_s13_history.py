"""The S13 check history: batches, its bounds, a slow or failing store."""

from twisted.internet import defer, task
from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial import unittest

from pyhss.apps.s13_history import CheckHistory
from pyhss.storage.errors import StoreError
from pyhss.storage.memory import MemoryStore
from pyhss.storage.records_eir import BY_IMEI, EquipmentCheck
from tests.peer_helpers import make_node


def check(at):
    return EquipmentCheck(float(at), "mme.test", 2001, BY_IMEI, "35123456000001", "07", "001010000000001", 0)


class ControlledStore(MemoryStore):
    """A memory store whose history writes wait for the test (``release``)
    or fail (``failing``)."""

    def __init__(self):
        MemoryStore.__init__(self)
        self.held = []
        self.hold = False
        self.failing = None
        self.limits = []

    def record_equipment_checks(self, checks, limit):
        self.limits.append((limit.max_rows, limit.before))
        if self.failing is not None:
            return defer.fail(self.failing)
        if not self.hold:
            return MemoryStore.record_equipment_checks(self, checks, limit)
        d = defer.Deferred()
        self.held.append((d, list(checks), limit))
        return d

    def release(self):
        d, checks, limit = self.held.pop(0)
        MemoryStore.record_equipment_checks(self, checks, limit).chainDeferred(d)


class CheckHistoryTests(unittest.TestCase):

    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(1000)
        self.store = ControlledStore()
        self.node = make_node(self.clock, applications=())
        self.warnings = []

        def observe(event):
            if event.get("log_namespace", "").startswith("pyhss.apps.s13") and event["log_level"] >= LogLevel.warn:
                self.warnings.append(event)
        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)

    def history(self, **options):
        values = dict(batch_size=4, flush_interval=2.0, max_pending=10)
        values.update(options)
        return CheckHistory(self.store, self.clock, self.node.log_summary, **values)

    def stored(self):
        return [c.checked_at for c in self.successResultOf(self.store.list_equipment_checks())]

    def test_bounds_go_with_every_write(self):
        history = self.history(max_rows=100, max_age=600.0)
        history.append(check(1))
        self.clock.advance(2.0)
        self.assertEqual(self.store.limits, [(100, 1002.0 - 600.0)])
        history = self.history()
        history.append(check(2))
        self.clock.advance(2.0)
        self.assertEqual(self.store.limits[-1], (0, None))

    def test_one_write_at_a_time(self):
        self.store.hold = True
        history = self.history()
        for at in range(6):
            history.append(check(at))
        self.clock.advance(0)
        self.assertEqual([len(checks) for _, checks, _ in self.store.held], [4])
        for at in range(6, 9):
            history.append(check(at))
        self.clock.advance(10)
        self.assertEqual(len(self.store.held), 1)       # still the first
        self.store.release()
        self.assertEqual(self.stored(), [0, 1, 2, 3])
        self.clock.advance(0)                          # 5 wait: a full batch goes at once
        self.assertEqual([len(checks) for _, checks, _ in self.store.held], [4])
        self.store.release()
        self.clock.advance(2.0)
        self.store.release()
        self.assertEqual(self.stored(), list(range(9)))
        self.assertEqual((history.written, history.pending, history.dropped), (9, 0, 0))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_failed_write_is_tried_again(self):
        self.store.failing = StoreError("database is locked")
        history = self.history()
        history.append(check(1))
        self.clock.advance(2.0)
        self.assertEqual(history.pending, 1)
        self.assertEqual(len(self.flushLoggedErrors(StoreError)), 1)
        self.clock.advance(2.0)             # the same cause again: counted, not logged
        self.assertEqual(self.flushLoggedErrors(StoreError), [])
        self.store.failing = None
        self.clock.advance(2.0)
        self.assertEqual(self.stored(), [1])
        self.assertEqual(history.pending, 0)
        self.node.stop()        # logs the summary of the repeats, ends its timer

    def test_too_many_waiting_drops_the_oldest_unwritten(self):
        self.store.hold = True
        history = self.history(max_pending=6)
        for at in range(4):
            history.append(check(at))
        self.clock.advance(0)               # 0-3 in flight
        for at in range(4, 12):
            history.append(check(at))
        # 4-9 dropped, not 0-3: those are being written.
        self.assertEqual(history.dropped, 6)
        self.assertEqual(history.pending, 6)
        self.store.release()
        self.clock.advance(2.0)
        self.store.release()
        self.assertEqual(self.stored(), [0, 1, 2, 3, 10, 11])
        self.assertIn("dropped unwritten", self.warnings[0]["log_format"])
        self.assertEqual(self.warnings[0]["limit"], 6)
        self.node.stop()

    def test_stop_writes_everything_in_batches(self):
        history = self.history(max_pending=100)
        for at in range(10):
            history.append(check(at))
        self.assertEqual(self.successResultOf(history.stop()), 0)
        self.assertEqual(self.stored(), list(range(10)))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stop_waits_for_the_write_in_flight(self):
        self.store.hold = True
        history = self.history()
        for at in range(5):
            history.append(check(at))
        self.clock.advance(0)
        stopped = history.stop()
        self.assertNoResult(stopped)
        self.store.release()
        self.assertNoResult(stopped)
        self.store.release()
        self.assertEqual(self.successResultOf(stopped), 0)
        self.assertEqual(self.stored(), list(range(5)))

    def test_stop_with_a_failing_store_reports_what_is_lost(self):
        self.store.failing = StoreError("store is closed")
        history = self.history()
        for at in range(3):
            history.append(check(at))
        self.assertEqual(self.successResultOf(history.stop()), 3)
        self.flushLoggedErrors(StoreError)
        self.assertEqual(self.warnings[-1]["count"], 3)
        self.assertIn("not written at stop", self.warnings[-1]["log_format"])
        self.assertEqual(self.clock.getDelayedCalls(), [])
