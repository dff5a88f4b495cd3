"""The store's contract as tests, one mixin per role of
``pyhss.storage.interface``, run against every adapter.

Subclass ``StoreContractMixin`` (every role) or the role mixins an adapter
provides together with ``twisted.trial.unittest.TestCase`` and define
``make_store()`` (returning the store, or a Deferred of it).  The adapter's
``close()`` is called after each test.  The SQN and serving-node mixins set
their subscribers up through ``ISubscribers``.
"""

from twisted.internet import defer
from zope.interface.verify import verifyObject

from pyhss.auc.sqn import SqnRequest
from pyhss.storage.errors import DuplicateError, InUseError, NotFoundError, StoreError, ValidationError
from pyhss.storage.interface import IServingNodes, ISqnReservation, IStore, ISubscribers, RequiredState
from pyhss.storage.records import SQN_MAX, ApnProfile, ServingNode, Subscriber

IMSI = "001010000000001"
K = bytes.fromhex("465B5CE8B199B49FAA5F0A2EE238A6BC")
OPC = bytes.fromhex("CD63CB71954A9F4E48A5994E37A02BAF")
OP = bytes.fromhex("CDC202D5123E20F62B6D676AC72CB318")


def subscriber(imsi=IMSI, **fields):
    values = dict(k=K, opc=OPC, amf=b"\x80\x00", sqn=0)
    values.update(fields)
    return Subscriber(imsi, **values)


class StoreFixture:
    """``self.store`` from ``make_store()``, open, closed after the test."""

    def make_store(self):
        raise NotImplementedError

    @defer.inlineCallbacks
    def setUp(self):
        self.store = yield defer.maybeDeferred(self.make_store)
        yield self.store.opened
        self.addCleanup(self.store.close)

    @defer.inlineCallbacks
    def assertFails(self, deferred, error):
        try:
            yield deferred
        except error as e:
            return e
        self.fail(f"expected {error.__name__}")

    @defer.inlineCallbacks
    def add_internet(self):
        yield self.store.add_apn(ApnProfile("internet", ambr_ul=50_000_000, ambr_dl=100_000_000,
                                            pdn_type="ipv4v6"))


class SubscriberContract(StoreFixture):
    """ISubscribers: subscribers and APN profiles."""

    def test_provides_subscribers_role(self):
        self.assertTrue(verifyObject(ISubscribers, self.store))

    @defer.inlineCallbacks
    def test_add_and_get_round_trips_every_field(self):
        yield self.add_internet()
        yield self.store.add_apn(ApnProfile("ims", qci=5, pdn_type="ipv6"))
        sub = subscriber(op=OP, opc=None, amf=b"\x12\x34", sqn=SQN_MAX, msisdn="15551230001",
                         apns=("ims", "internet"), enabled=False, roaming_allowed=False,
                         ue_ambr_ul=1, ue_ambr_dl=0xFFFFFFFF, network_access_mode=0,
                         periodic_rau_tau_timer=3240, access_restriction_data=0x20)
        yield self.store.add_subscriber(sub)
        got = yield self.store.get_subscriber(IMSI)
        self.assertEqual(got, sub)
        self.assertEqual(got.apns, ("ims", "internet"))  # order kept: first is the default

    @defer.inlineCallbacks
    def test_get_missing_is_none(self):
        self.assertIsNone((yield self.store.get_subscriber("001010000000999")))

    @defer.inlineCallbacks
    def test_add_duplicate(self):
        yield self.store.add_subscriber(subscriber())
        yield self.assertFails(self.store.add_subscriber(subscriber(sqn=5)), DuplicateError)
        self.assertEqual((yield self.store.get_subscriber(IMSI)).sqn, 0)

    @defer.inlineCallbacks
    def test_add_with_unknown_apn(self):
        e = yield self.assertFails(self.store.add_subscriber(subscriber(apns=("nope",))), ValidationError)
        self.assertIn("nope", str(e))
        self.assertIsNone((yield self.store.get_subscriber(IMSI)))

    @defer.inlineCallbacks
    def test_add_not_a_subscriber(self):
        yield self.assertFails(self.store.add_subscriber({"imsi": IMSI}), ValidationError)

    @defer.inlineCallbacks
    def test_list_and_count(self):
        for imsi in ("001010000000003", "001010000000001", "001010000000002"):
            yield self.store.add_subscriber(subscriber(imsi))
        self.assertEqual((yield self.store.count_subscribers()), 3)
        listed = yield self.store.list_subscribers()
        self.assertEqual([s.imsi for s in listed], ["001010000000001", "001010000000002", "001010000000003"])
        page = yield self.store.list_subscribers(offset=1, limit=1)
        self.assertEqual([s.imsi for s in page], ["001010000000002"])

    @defer.inlineCallbacks
    def test_update(self):
        yield self.add_internet()
        yield self.store.add_subscriber(subscriber())
        updated = yield self.store.update_subscriber(IMSI, msisdn="123", apns=("internet",), op=OP)
        self.assertEqual(updated.msisdn, "123")
        self.assertEqual((updated.op, updated.opc), (OP, None))  # OP replaces OPc
        self.assertEqual((yield self.store.get_subscriber(IMSI)), updated)

    @defer.inlineCallbacks
    def test_update_refuses_bad_changes(self):
        yield self.store.add_subscriber(subscriber())
        yield self.assertFails(self.store.update_subscriber(IMSI, k=b"short"), ValidationError)
        yield self.assertFails(self.store.update_subscriber(IMSI, imsi="001010000000002"), ValidationError)
        yield self.assertFails(self.store.update_subscriber(IMSI, colour="red"), ValidationError)
        yield self.assertFails(self.store.update_subscriber(IMSI, apns=("nope",)), ValidationError)
        yield self.assertFails(self.store.update_subscriber("001010000000002", msisdn="1"), NotFoundError)
        self.assertEqual((yield self.store.get_subscriber(IMSI)), subscriber())

    # --- bulk -------------------------------------------------------------------------
    @defer.inlineCallbacks
    def test_add_subscribers(self):
        yield self.add_internet()
        subs = (subscriber(f"00101{i:010d}", apns=("internet",)) for i in range(500))
        self.assertEqual((yield self.store.add_subscribers(subs)), 500)
        self.assertEqual((yield self.store.count_subscribers()), 500)
        self.assertEqual((yield self.store.get_subscriber("001010000000499")).apns, ("internet",))

    @defer.inlineCallbacks
    def test_add_subscribers_all_or_nothing(self):
        yield self.store.add_subscriber(subscriber("001010000000005"))
        batch = [subscriber(f"00101{i:010d}") for i in range(10)]
        e = yield self.assertFails(self.store.add_subscribers(batch), DuplicateError)
        self.assertIn("001010000000005", str(e))
        self.assertEqual((yield self.store.count_subscribers()), 1)
        yield self.assertFails(self.store.add_subscribers([subscriber("001010000000007"),
                                                          subscriber("001010000000007")]), DuplicateError)
        yield self.assertFails(self.store.add_subscribers([subscriber("001010000000008", apns=("x",))]),
                               ValidationError)
        self.assertEqual((yield self.store.count_subscribers()), 1)

    @defer.inlineCallbacks
    def test_add_subscribers_streams_all_or_nothing(self):
        # A generator read a chunk at a time (small chunks here), all in one
        # transaction: a duplicate or a bad row in a later chunk stores nothing.
        if hasattr(self.store, "bulk_chunk"):
            self.store.bulk_chunk = 7
        yield self.add_internet()
        yield self.store.add_subscriber(subscriber("001010000000025"))

        def rows(last):
            for i in range(20):
                yield subscriber(f"00101{i:010d}", apns=("internet",))
            yield last
        yield self.assertFails(self.store.add_subscribers(rows(subscriber("001010000000025"))), DuplicateError)
        yield self.assertFails(self.store.add_subscribers(rows(subscriber("001010000000003"))), DuplicateError)
        yield self.assertFails(self.store.add_subscribers(rows({"imsi": IMSI})), ValidationError)

        def failing():
            yield from rows(subscriber("001010000000030"))
            raise ValidationError("subs.csv:23: K must be 16 bytes")
        e = yield self.assertFails(self.store.add_subscribers(failing()), ValidationError)
        self.assertEqual(str(e), "subs.csv:23: K must be 16 bytes")
        self.assertEqual((yield self.store.count_subscribers()), 1)
        self.assertEqual((yield self.store.add_subscribers(rows(subscriber("001010000000030")))), 21)
        self.assertEqual((yield self.store.add_subscribers(rows(subscriber("001010000000031")), skip_existing=True)),
                         1)
        self.assertEqual((yield self.store.count_subscribers()), 23)
        yield self.assertFails(self.store.delete_apn("internet"), InUseError)

    @defer.inlineCallbacks
    def test_add_subscribers_skip_existing(self):
        yield self.store.add_subscriber(subscriber("001010000000005", sqn=77))
        batch = [subscriber(f"00101{i:010d}") for i in range(10)]
        self.assertEqual((yield self.store.add_subscribers(batch, skip_existing=True)), 9)
        self.assertEqual((yield self.store.get_subscriber("001010000000005")).sqn, 77)

    # --- APNs -------------------------------------------------------------------------
    @defer.inlineCallbacks
    def test_apn_round_trip_and_context_ids(self):
        first = yield self.store.add_apn(ApnProfile("Internet", qci=8, arp_priority=2,
                                                    arp_preemption_capability=0,
                                                    arp_preemption_vulnerability=1,
                                                    ambr_ul=1000, ambr_dl=2000, pdn_type="ipv6"))
        self.assertEqual((first.name, first.context_id), ("internet", 1))
        self.assertEqual((yield self.store.get_apn("INTERNET")), first)
        second = yield self.store.add_apn(ApnProfile("ims"))
        self.assertEqual(second.context_id, 2)
        yield self.store.delete_apn("internet")
        third = yield self.store.add_apn(ApnProfile("mms"))
        self.assertEqual(third.context_id, 1)  # lowest free one
        yield self.assertFails(self.store.add_apn(ApnProfile("other", context_id=2)), DuplicateError)
        self.assertEqual([p.name for p in (yield self.store.list_apns())], ["ims", "mms"])

    @defer.inlineCallbacks
    def test_apn_duplicate_missing_in_use(self):
        yield self.add_internet()
        yield self.assertFails(self.store.add_apn(ApnProfile("INTERNET")), DuplicateError)
        self.assertIsNone((yield self.store.get_apn("nothing")))
        self.assertIsNone((yield self.store.get_apn("not a name!")))
        yield self.assertFails(self.store.delete_apn("nothing"), NotFoundError)
        yield self.store.add_apn(ApnProfile("internet2"))
        yield self.store.add_subscriber(subscriber(apns=("internet2", "internet")))
        e = yield self.assertFails(self.store.delete_apn("internet"), InUseError)
        self.assertIn(IMSI, str(e))
        yield self.store.update_subscriber(IMSI, apns=("internet2",))
        yield self.store.delete_apn("internet")
        self.assertIsNone((yield self.store.get_apn("internet")))


def sqns(count, ind_bits=0):
    """A SqnRequest for ``count`` SQNs with ``ind_bits`` of IND (0: SQNs
    count up by one, which keeps the numbers below readable)."""
    return SqnRequest(count, ind_bits)


class SqnReservationContract(StoreFixture):
    """ISqnReservation: SQNs reserved atomically, from plain requests."""

    def test_provides_sqn_reservation_role(self):
        self.assertTrue(verifyObject(ISqnReservation, self.store))

    @defer.inlineCallbacks
    def test_reserve_sqns(self):
        yield self.store.add_subscriber(subscriber(sqn=10))
        seen = []
        for expected in ([11, 12, 13], [14, 15, 16]):
            found, reserved = yield self.store.reserve_sqns(IMSI, sqns(3))
            seen.append(found.sqn)
            self.assertEqual(reserved, expected)
        self.assertEqual(seen, [10, 13])
        self.assertEqual((yield self.store.get_subscriber(IMSI)).sqn, 16)

    @defer.inlineCallbacks
    def test_reserve_sqns_with_ind(self):
        # The stored SQN_HE moves as pyhss.auc.sqn.advance says: SEQ + 1,
        # IND + 1 modulo 2**ind_bits per SQN.
        yield self.store.add_subscriber(subscriber(sqn=(7 << 5) | 30))
        found, reserved = yield self.store.reserve_sqns(IMSI, SqnRequest(3, 5))
        self.assertEqual(reserved, [(8 << 5) | 31, 9 << 5, (10 << 5) | 1])
        self.assertEqual((yield self.store.get_subscriber(IMSI)).sqn, (10 << 5) | 1)

    @defer.inlineCallbacks
    def test_reserve_sqns_after_resync(self):
        yield self.store.add_subscriber(subscriber(sqn=10 << 5))
        found, reserved = yield self.store.reserve_sqns(IMSI, SqnRequest(2, 5, resync_sqn=(500 << 5) | 4))
        self.assertEqual(reserved, [(501 << 5) | 5, (502 << 5) | 6])
        self.assertEqual((yield self.store.get_subscriber(IMSI)).sqn, (502 << 5) | 6)

    @defer.inlineCallbacks
    def test_reserve_sqns_concurrent_never_share(self):
        yield self.store.add_subscriber(subscriber(sqn=0))
        yield self.store.add_subscriber(subscriber("001010000000002", sqn=1000))
        calls = [self.store.reserve_sqns(IMSI if i % 4 else "001010000000002", sqns(2)) for i in range(400)]
        results = yield defer.gatherResults(calls, consumeErrors=True)
        mine = [sqn for i, (_, pair) in enumerate(results) if i % 4 for sqn in pair]
        self.assertEqual(len(mine), len(set(mine)))
        self.assertEqual(sorted(mine), list(range(1, 601)))
        self.assertEqual((yield self.store.get_subscriber(IMSI)).sqn, 600)
        self.assertEqual((yield self.store.get_subscriber("001010000000002")).sqn, 1200)

    @defer.inlineCallbacks
    def test_reserve_sqns_refuses_what_is_not_a_request(self):
        # Data, not code: an allocator callable (what the store used to
        # run in its transaction) is refused, and the SQN stays.
        yield self.store.add_subscriber(subscriber(sqn=10))

        def allocator(current):
            return current + 1, [current + 1]
        yield self.assertFails(self.store.reserve_sqns(IMSI, allocator), ValidationError)
        yield self.assertFails(self.store.reserve_sqns(IMSI, (3, 5)), ValidationError)
        yield self.assertFails(self.store.reserve_sqns(IMSI, None), ValidationError)
        self.assertEqual((yield self.store.get_subscriber(IMSI)).sqn, 10)

    @defer.inlineCallbacks
    def test_concurrent_writes_fail_independently(self):
        # Adapters may commit queued writes together; one failing must not undo the others.
        yield self.store.add_subscriber(subscriber(sqn=0))
        calls = [
            self.store.reserve_sqns(IMSI, sqns(1)),
            self.store.reserve_sqns(IMSI, lambda current: (current + 1, current + 1)),
            self.store.add_subscriber(subscriber()),
            self.store.reserve_sqns(IMSI, sqns(1)),
            self.store.add_subscriber(subscriber("001010000000002")),
            self.store.update_subscriber(IMSI, k=b"short"),
            self.store.get_subscriber("001010000000002"),
        ]
        results = yield defer.DeferredList(calls, consumeErrors=True)
        self.assertEqual([ok for ok, _ in results], [True, False, False, True, True, False, True])
        self.assertTrue(results[1][1].check(ValidationError))
        self.assertTrue(results[2][1].check(DuplicateError))
        self.assertTrue(results[5][1].check(ValidationError))
        self.assertEqual((results[0][1][1], results[3][1][1]), ([1], [2]))
        self.assertEqual(results[6][1].imsi, "001010000000002")   # a read sees the writes queued before it
        self.assertEqual((yield self.store.get_subscriber(IMSI)), subscriber(sqn=2))

    @defer.inlineCallbacks
    def test_reserve_sqns_unknown_imsi(self):
        self.assertEqual((yield self.store.reserve_sqns(IMSI, sqns(1))), (None, None))
        self.assertIsNone((yield self.store.get_subscriber(IMSI)))

    @defer.inlineCallbacks
    def test_reserve_sqns_only_in_the_required_state(self):
        yield self.store.add_subscriber(subscriber(sqn=10))
        # Nothing asked: the subscriber still fires, nothing is written.
        self.assertEqual((yield self.store.reserve_sqns(IMSI, sqns(0))), (subscriber(sqn=10), []))
        yield self.store.update_subscriber(IMSI, enabled=False)
        found, reserved = yield self.store.reserve_sqns(IMSI, sqns(2), RequiredState())
        self.assertEqual((found.sqn, found.enabled, reserved), (10, False, None))
        # A disabled subscriber may still be asked for with no requirement.
        self.assertEqual((yield self.store.reserve_sqns(IMSI, sqns(1)))[1], [11])
        yield self.store.update_subscriber(IMSI, enabled=True, roaming_allowed=False)
        self.assertEqual((yield self.store.reserve_sqns(IMSI, sqns(2), RequiredState(roaming=True)))[1], None)
        self.assertEqual((yield self.store.reserve_sqns(IMSI, sqns(2), RequiredState()))[1], [12, 13])
        self.assertEqual((yield self.store.get_subscriber(IMSI)).sqn, 13)


class ServingNodeContract(StoreFixture):
    """IServingNodes: the serving MME, swapped atomically on ULR."""

    def test_provides_serving_nodes_role(self):
        self.assertTrue(verifyObject(IServingNodes, self.store))

    @defer.inlineCallbacks
    def test_serving_node(self):
        yield self.store.add_subscriber(subscriber())
        self.assertIsNone((yield self.store.get_serving_node(IMSI)))
        node = ServingNode(IMSI, "mme1.epc", "epc", "mme1.epc", 1700000000.5)
        yield self.store.set_serving_node(node)
        self.assertEqual((yield self.store.get_serving_node(IMSI)), node)
        self.assertFalse((yield self.store.mark_purged(IMSI, "mme2.epc")))
        self.assertFalse((yield self.store.get_serving_node(IMSI)).purged)
        self.assertTrue((yield self.store.mark_purged(IMSI, "MME1.epc")))
        self.assertTrue((yield self.store.get_serving_node(IMSI)).purged)
        moved = ServingNode(IMSI, "mme2.epc", "epc", None, 1700000001.0)
        yield self.store.set_serving_node(moved)
        self.assertEqual((yield self.store.get_serving_node(IMSI)), moved)
        self.assertFalse((yield self.store.mark_purged("001010000000009", "mme2.epc")))

    @defer.inlineCallbacks
    def test_swap_serving_node(self):
        yield self.store.add_apn(ApnProfile("internet", qci=7))
        yield self.store.add_apn(ApnProfile("ims", qci=5))
        yield self.store.add_subscriber(subscriber(apns=("ims", "internet")))
        first = ServingNode(IMSI, "mme1.epc", "epc", "mme1.epc", 1700000000.0)
        found, old, profiles = yield self.store.swap_serving_node(first, RequiredState())
        self.assertEqual(found, subscriber(apns=("ims", "internet")))
        self.assertIsNone(old)
        self.assertEqual([p.qci for p in profiles], [5, 7])
        self.assertEqual((yield self.store.get_serving_node(IMSI)), first)
        second = ServingNode(IMSI, "mme2.epc", "epc", None, 1700000001.0)
        found, old, profiles = yield self.store.swap_serving_node(second)
        self.assertEqual(old, first)
        self.assertEqual((yield self.store.get_serving_node(IMSI)), second)

    @defer.inlineCallbacks
    def test_swap_refused_stores_nothing(self):
        yield self.store.add_subscriber(subscriber(enabled=False))
        node = ServingNode(IMSI, "mme1.epc", "epc")
        found, old, profiles = yield self.store.swap_serving_node(node, RequiredState())
        self.assertEqual(found, subscriber(enabled=False))
        self.assertIsNone(profiles)
        self.assertIsNone((yield self.store.get_serving_node(IMSI)))
        yield self.store.update_subscriber(IMSI, enabled=True, access_restriction_data=0x10)
        refused = yield self.store.swap_serving_node(node, RequiredState(restrictions=0x10))
        self.assertIsNone(refused[2])
        yield self.store.update_subscriber(IMSI, roaming_allowed=False, access_restriction_data=0)
        refused = yield self.store.swap_serving_node(node, RequiredState(roaming=True))
        self.assertIsNone(refused[2])
        self.assertIsNone((yield self.store.get_serving_node(IMSI)))
        unknown = yield self.store.swap_serving_node(ServingNode("001010000000009", "m", "r"))
        self.assertEqual(unknown, (None, None, None))
        self.assertIsNone((yield self.store.get_serving_node("001010000000009")))

    @defer.inlineCallbacks
    def test_swap_failures_store_nothing(self):
        yield self.store.add_subscriber(subscriber())
        yield self.assertFails(self.store.swap_serving_node({"imsi": IMSI, "mme_host": "m"}), ValidationError)
        yield self.assertFails(self.store.swap_serving_node(lambda found: None), ValidationError)
        self.assertIsNone((yield self.store.get_serving_node(IMSI)))

    @defer.inlineCallbacks
    def test_serving_node_needs_subscriber(self):
        yield self.assertFails(self.store.set_serving_node(ServingNode(IMSI, "m", "r")), NotFoundError)


class StoreContractMixin(SubscriberContract, SqnReservationContract, ServingNodeContract):
    """Every role, and the life cycle: what ``open_store`` returns."""

    def test_provides_interface(self):
        self.assertTrue(verifyObject(IStore, self.store))

    @defer.inlineCallbacks
    def test_delete(self):
        yield self.store.add_subscriber(subscriber())
        yield self.store.set_serving_node(ServingNode(IMSI, "mme1", "realm", "mme1", 1.0))
        yield self.store.delete_subscriber(IMSI)
        self.assertIsNone((yield self.store.get_subscriber(IMSI)))
        self.assertIsNone((yield self.store.get_serving_node(IMSI)))
        yield self.assertFails(self.store.delete_subscriber(IMSI), NotFoundError)

    @defer.inlineCallbacks
    def test_closed_store_refuses(self):
        yield self.store.close()
        yield self.assertFails(self.store.get_subscriber(IMSI), StoreError)
