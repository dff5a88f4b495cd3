"""The API child's store writes made by the HSS's store (pyhss.api.store_link):
the child's ForwardingStore over one memory store, its writes run by
run_writes on another (the HSS's), a task.Clock for the child's reactor."""

from twisted.internet import defer, task
from twisted.trial import unittest
from zope.interface.interface import Method

from pyhss.api import store_link
from pyhss.storage.errors import DuplicateError, InUseError, NotFoundError, StoreUnavailable, ValidationError
from pyhss.storage.ims_records import ImsSubscription, PublicIdentity
from pyhss.storage.interface import IStore
from pyhss.storage.memory import MemoryStore
from pyhss.storage.records import ApnProfile, Subscriber
from pyhss.storage.records_eir import EquipmentRule

IMSI = "001010000000001"
K = bytes(range(16))
OPC = bytes(range(16, 32))


class ForwardingTests(unittest.TestCase):

    def setUp(self):
        self.clock = task.Clock()
        self.local = MemoryStore()
        self.hss = MemoryStore()
        self.sent = []
        self.store = store_link.ForwardingStore(self.local, self.send, self.clock)

    def send(self, calls):
        self.sent.append(calls)
        return store_link.run_writes(self.hss, calls)


    def test_every_write_method_is_a_store_write(self):
        for name in store_link.WRITE_METHODS:
            self.assertIsInstance(IStore[name], Method, name)
        # Reads stay local.
        self.assertEqual(self.store.get_subscriber, self.local.get_subscriber)

    def test_writes_reach_the_hss_store_batched(self):
        self.successResultOf(self.hss.add_apn(ApnProfile("internet")))
        subscribers = [Subscriber("00101000000000%d" % n, K, opc=OPC, apns=("internet",)) for n in range(3)]
        pending = [self.store.add_subscriber(s) for s in subscribers]
        self.assertEqual(self.sent, [])
        self.clock.advance(0)
        self.assertEqual(len(self.sent), 1)                 # one message for the reactor iteration
        for d in pending:
            self.assertIsNone(self.successResultOf(d))
        for s in subscribers:
            self.assertEqual(self.successResultOf(self.hss.get_subscriber(s.imsi)), s)
            self.assertIsNone(self.successResultOf(self.local.get_subscriber(s.imsi)))
        # Keyword changes, bytes and tuples, and the record that comes back.
        d = self.store.update_subscriber(subscribers[0].imsi, opc=bytes(16), apns=(), msisdn="123")
        self.clock.advance(0)
        updated = self.successResultOf(d)
        self.assertEqual((updated.opc, updated.apns, updated.msisdn), (bytes(16), (), "123"))
        self.assertEqual(self.successResultOf(self.hss.get_subscriber(subscribers[0].imsi)), updated)

    def test_at_most_max_calls_per_message(self):
        self.successResultOf(self.hss.add_apn(ApnProfile("internet")))
        count = store_link.MAX_CALLS * 2 + 1
        pending = [self.store.add_subscriber(Subscriber("00101%010d" % n, K, opc=OPC)) for n in range(count)]
        self.clock.advance(0)
        self.assertEqual(len(self.sent), 3)
        self.assertEqual(sum(1 for d in pending if self.successResultOf(d) is None), count)

    def test_errors_keep_their_type_field_and_problem(self):
        self.successResultOf(self.hss.add_apn(ApnProfile("internet")))
        subscriber = Subscriber(IMSI, K, opc=OPC, apns=("internet",))
        self.successResultOf(self.hss.add_subscriber(subscriber))
        duplicate = self.store.add_subscriber(subscriber)
        unknown_apn = self.store.add_subscriber(Subscriber("001010000000002", K, opc=OPC, apns=("nowhere",)))
        missing = self.store.delete_subscriber("001010000000009")
        in_use = self.store.delete_apn("internet")
        good = self.store.add_equipment_rule(EquipmentRule("49015420", 1))
        self.clock.advance(0)
        self.failureResultOf(duplicate, DuplicateError)
        error = self.failureResultOf(unknown_apn, ValidationError).value
        self.assertEqual(error.field, "apns")
        self.assertIn("nowhere", error.problem)
        self.failureResultOf(missing, NotFoundError)
        self.failureResultOf(in_use, InUseError)
        self.assertEqual(self.successResultOf(good), EquipmentRule("49015420", 1))

    def test_ims_records_cross(self):
        self.successResultOf(self.hss.add_subscriber(Subscriber(IMSI, K, opc=OPC)))
        subscription = ImsSubscription("alice@ims.test", IMSI, (PublicIdentity("sip:alice@ims.test"),
                                                                PublicIdentity("tel:+15550001", barred=True)))
        d = self.store.add_ims_subscription(subscription)
        self.clock.advance(0)
        self.successResultOf(d)
        self.assertEqual(self.successResultOf(self.hss.get_ims_subscription("alice@ims.test")), subscription)

    def test_link_down_is_store_unavailable(self):
        self.store = store_link.ForwardingStore(
            self.local, lambda calls: defer.fail(ConnectionError("link closed")), self.clock)
        d = self.store.delete_apn("internet")
        self.clock.advance(0)
        self.assertIn("link closed", str(self.failureResultOf(d, StoreUnavailable).value))

    def test_no_answer_in_time_is_an_unknown_outcome(self):
        self.store = store_link.ForwardingStore(
            self.local, lambda calls: defer.fail(defer.TimeoutError()), self.clock)
        d = self.store.delete_apn("internet")
        self.clock.advance(0)
        self.assertIn("outcome is unknown", str(self.failureResultOf(d, StoreUnavailable).value))

    def test_only_writes_run_on_the_hss(self):
        outcomes = store_link.decode(self.successResultOf(store_link.run_writes(
            self.hss, '[["close",[],[]],["get_subscriber",["%s"],[]]]' % IMSI)))
        self.assertEqual([outcome[:2] for outcome in outcomes], [["error", "StoreError"]] * 2)
        self.assertIn("not a store write", outcomes[0][2])

    def test_values_it_cannot_carry(self):
        d = self.store.delete_apn(object())
        self.assertIsInstance(self.failureResultOf(d, ValidationError).value, ValidationError)
        self.assertEqual(self.sent, [])
