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
from pyhss.storage.ims_records import IfcTemplate, ImsRegistration, ImsSubscription, PublicIdentity, digest_ha1
from pyhss.storage.ims_state import (
    REGISTRATION, TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME, UNREGISTERED_USER, USER_DEREGISTRATION, Assignment,
    Authentication,
)
from pyhss.storage.interface import (
    IImsSubscriptions, IServingNodes, ISqnReservation, IStore, ISubscribers, RequiredState, SubscriberQuery,
)
from pyhss.storage.records import SQN_MAX, ApnProfile, ServingNode, Subscriber
from tests.store_contract_eir import EquipmentRegisterContract

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

    @defer.inlineCallbacks
    def test_update_apn(self):
        yield self.add_internet()
        ims = yield self.store.add_apn(ApnProfile("ims", qci=5))
        updated = yield self.store.update_apn("INTERNET", qci=7, ambr_ul=None)
        self.assertEqual((updated.name, updated.qci, updated.ambr_ul, updated.ambr_dl, updated.context_id),
                         ("internet", 7, None, 100_000_000, 1))
        self.assertEqual((yield self.store.get_apn("internet")), updated)
        e = yield self.assertFails(self.store.update_apn("internet", context_id=ims.context_id), DuplicateError)
        self.assertIn("context id 2", str(e))
        moved = yield self.store.update_apn("internet", context_id=9)
        self.assertEqual((yield self.store.get_apn("internet")).context_id, 9)
        self.assertEqual(moved.context_id, 9)
        yield self.assertFails(self.store.update_apn("nothing", qci=5), NotFoundError)
        e = yield self.assertFails(self.store.update_apn("internet", qci=0), ValidationError)
        self.assertEqual(e.field, "qci")
        yield self.assertFails(self.store.update_apn("internet", name="other"), ValidationError)
        self.assertEqual((yield self.store.get_apn("internet")), moved)

    @defer.inlineCallbacks
    def test_unknown_apn_names_the_field(self):
        e = yield self.assertFails(self.store.add_subscriber(subscriber(apns=("nowhere",))), ValidationError)
        self.assertEqual(e.field, "apns")
        self.assertIn("nowhere", e.problem)

    @defer.inlineCallbacks
    def test_list_with_query(self):
        yield self.add_internet()
        yield self.store.add_apn(ApnProfile("ims"))
        yield self.store.add_subscribers([
            subscriber("001010000000001", msisdn="15550001", apns=("internet",)),
            subscriber("001010000000002", msisdn="15550002", apns=("ims", "internet"), enabled=False),
            subscriber("001020000000003", msisdn="15550001", apns=("ims",)),
            subscriber("00101000000004", apns=()),
        ])

        @defer.inlineCallbacks
        def imsis(offset=0, limit=None, **criteria):
            query = SubscriberQuery(**criteria)
            found = yield self.store.list_subscribers(offset, limit, query=query)
            count = yield self.store.count_subscribers(query)
            self.assertEqual(count, len((yield self.store.list_subscribers(query=query))))
            return [s.imsi for s in found]

        self.assertEqual((yield imsis(msisdn="15550001")), ["001010000000001", "001020000000003"])
        self.assertEqual((yield imsis(imsi_prefix="00101")),
                         ["001010000000001", "001010000000002", "00101000000004"])
        self.assertEqual((yield imsis(imsi_prefix="00101000000000")),
                         ["001010000000001", "001010000000002"])
        self.assertEqual((yield imsis(apn="internet")), ["001010000000001", "001010000000002"])
        self.assertEqual((yield imsis(apn="ims", enabled=True)), ["001020000000003"])
        self.assertEqual((yield imsis(enabled=False)), ["001010000000002"])
        self.assertEqual((yield imsis(after="001010000000001", limit=2)), ["001010000000002", "00101000000004"])
        self.assertEqual((yield imsis(1, 1, apn="ims")), ["001020000000003"])
        self.assertEqual((yield imsis(msisdn="1")), [])
        self.assertEqual((yield self.store.count_subscribers()), 4)


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

    @defer.inlineCallbacks
    def test_reserve_sqns_made_together(self):
        # Calls made in one turn (which the SQL servers reserve in one
        # batch): the same IMSI twice gets consecutive, distinct SQNs in
        # call order; an unknown IMSI and a refused state are answered as
        # alone, and the others are not disturbed.
        yield self.store.add_subscriber(subscriber(sqn=10))
        yield self.store.add_subscriber(subscriber("001010000000002", sqn=100, enabled=False))
        yield self.store.add_subscriber(subscriber("001010000000003", sqn=1000))
        calls = [self.store.reserve_sqns(IMSI, sqns(2), RequiredState()),
                 self.store.reserve_sqns("001010000000002", sqns(1), RequiredState()),
                 self.store.reserve_sqns("001019999999999", sqns(1), RequiredState()),
                 self.store.reserve_sqns(IMSI, sqns(3), RequiredState()),
                 self.store.reserve_sqns("001010000000003", sqns(1, ind_bits=5)),
                 self.store.reserve_sqns("001010000000002", sqns(1))]
        results = yield defer.gatherResults(calls, consumeErrors=True)
        self.assertEqual([reserved for _, reserved in results],
                         [[11, 12], None, None, [13, 14, 15], [1033], [101]])
        self.assertEqual([found.sqn if found else None for found, _ in results], [10, 100, None, 12, 1000, 100])
        stored = yield defer.gatherResults([self.store.get_subscriber(imsi)
                                            for imsi in (IMSI, "001010000000002", "001010000000003")])
        self.assertEqual([found.sqn for found in stored], [15, 101, 1033])


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


# --- IMS (Cx) ------------------------------------------------------------------------

IMPI = "alice@ims.test"
IMPU = "sip:alice@ims.test"
TEL = "tel:+15551230001"
IFC_XML = "<InitialFilterCriteria><Priority>0</Priority></InitialFilterCriteria>"


def ims_subscription(impi=IMPI, impus=(IMPU, TEL), **fields):
    return ImsSubscription(impi, fields.pop("imsi", IMSI), impus, **fields)


class ImsContract(StoreFixture):
    """IImsSubscriptions: IMS subscriptions, iFC templates, registration state."""

    def linked_subscriber(self):
        return self.store.add_subscriber(subscriber(sqn=100))

    def test_provides_ims_role(self):
        self.assertTrue(verifyObject(IImsSubscriptions, self.store))

    @defer.inlineCallbacks
    def test_subscription_round_trip(self):
        yield self.linked_subscriber()
        yield self.store.add_ifc_template(IfcTemplate("voice", IFC_XML))
        sub = ims_subscription(impus=(PublicIdentity(IMPU), PublicIdentity("tel:+15551230001", barred=True),
                                      PublicIdentity("sip:alice.work@ims.test", implicit_set=2)),
                               digest_ha1=digest_ha1(IMPI, "ims.test", "secret"), digest_realm="ims.test",
                               ifc="voice")
        yield self.store.add_ims_subscription(sub)
        self.assertEqual((yield self.store.get_ims_subscription(IMPI)), sub)
        self.assertEqual((yield self.store.find_ims_subscription("SIP:alice.work@ims.test")), sub)
        self.assertIsNone((yield self.store.find_ims_subscription("sip:bob@ims.test")))
        self.assertIsNone((yield self.store.find_ims_subscription("not a uri")))
        self.assertIsNone((yield self.store.get_ims_subscription("bob@ims.test")))
        self.assertEqual((yield self.store.count_ims_subscriptions()), 1)
        found, registration = yield self.store.ims_lookup(impu=TEL)
        self.assertEqual((found, registration), (sub, ImsRegistration(IMPI)))
        self.assertEqual((yield self.store.ims_lookup(impi="bob@ims.test")), (None, None))

    @defer.inlineCallbacks
    def test_add_refusals(self):
        yield self.linked_subscriber()
        yield self.store.add_ims_subscription(ims_subscription())
        yield self.assertFails(self.store.add_ims_subscription(ims_subscription(impus=("sip:x@ims.test",))),
                               DuplicateError)
        e = yield self.assertFails(self.store.add_ims_subscription(ims_subscription("bob@ims.test", (TEL,))),
                                   DuplicateError)
        self.assertIn(IMPI, str(e))
        yield self.assertFails(self.store.add_ims_subscription(
            ims_subscription("bob@ims.test", ("sip:bob@ims.test",), imsi="001010000000009")), ValidationError)
        yield self.assertFails(self.store.add_ims_subscription(
            ims_subscription("bob@ims.test", ("sip:bob@ims.test",), ifc="nope")), ValidationError)
        yield self.assertFails(self.store.add_ims_subscription({"impi": IMPI}), ValidationError)
        self.assertEqual([s.impi for s in (yield self.store.list_ims_subscriptions())], [IMPI])

    @defer.inlineCallbacks
    def test_list_update_delete(self):
        yield self.linked_subscriber()
        yield self.store.add_subscriber(subscriber("001010000000002"))
        for name in ("carol", "alice", "bob"):
            yield self.store.add_ims_subscription(ims_subscription(f"{name}@ims.test", (f"sip:{name}@ims.test",)))
        self.assertEqual([s.impi for s in (yield self.store.list_ims_subscriptions(offset=1, limit=1))],
                         ["bob@ims.test"])
        updated = yield self.store.update_ims_subscription("bob@ims.test", imsi="001010000000002",
                                                           impus=("sip:bob@ims.test", "tel:+1555"))
        self.assertEqual(updated.imsi, "001010000000002")
        self.assertEqual((yield self.store.find_ims_subscription("tel:+1555")), updated)
        yield self.assertFails(self.store.update_ims_subscription("bob@ims.test", impus=("sip:alice@ims.test",)),
                               DuplicateError)
        yield self.assertFails(self.store.update_ims_subscription("zed@ims.test", ifc=None), NotFoundError)
        yield self.assertFails(self.store.update_ims_subscription("bob@ims.test", impus=()), ValidationError)
        self.assertEqual((yield self.store.get_ims_subscription("bob@ims.test")), updated)
        # A subscriber an IMS subscription names is in use.
        yield self.assertFails(self.store.delete_subscriber("001010000000002"), InUseError)
        yield self.store.delete_ims_subscription("bob@ims.test")
        self.assertIsNone((yield self.store.find_ims_subscription("tel:+1555")))
        yield self.assertFails(self.store.delete_ims_subscription("bob@ims.test"), NotFoundError)
        yield self.store.delete_subscriber("001010000000002")

    @defer.inlineCallbacks
    def test_ifc_templates(self):
        yield self.linked_subscriber()
        yield self.store.add_ifc_template(IfcTemplate("voice", IFC_XML))
        yield self.store.add_ifc_template(IfcTemplate("basic", IFC_XML))
        yield self.assertFails(self.store.add_ifc_template(IfcTemplate("voice", IFC_XML)), DuplicateError)
        self.assertEqual([t.name for t in (yield self.store.list_ifc_templates())], ["basic", "voice"])
        yield self.store.add_ims_subscription(ims_subscription(ifc="voice"))
        self.assertEqual((yield self.store.update_ifc_template(IfcTemplate("voice", IFC_XML + " "))), [IMPI])
        self.assertEqual((yield self.store.get_ifc_template("voice")).xml, IFC_XML + " ")
        yield self.assertFails(self.store.update_ifc_template(IfcTemplate("none", IFC_XML)), NotFoundError)
        yield self.assertFails(self.store.delete_ifc_template("voice"), InUseError)
        yield self.store.delete_ifc_template("basic")
        yield self.assertFails(self.store.delete_ifc_template("basic"), NotFoundError)
        self.assertIsNone((yield self.store.get_ifc_template("basic")))

    def authentication(self, server_name="sip:scscf1.ims.test:6060", count=1, resync=False, impu=IMPU,
                       impi=IMPI, required=None):
        return Authentication(impi, impu, server_name, "scscf1.ims.test", "ims.test", "scscf1.ims.test",
                              1700000000.0, None if count is None else sqns(count), required, resync)

    @defer.inlineCallbacks
    def test_authenticate_reserves_the_s6a_sqn_and_names_the_scscf_pending(self):
        yield self.linked_subscriber()
        yield self.store.add_ims_subscription(ims_subscription())
        found, before, sub, reserved = yield self.store.ims_authenticate(self.authentication(count=2))
        self.assertEqual((found.impi, before, sub.sqn, reserved), (IMPI, ImsRegistration(IMPI), 100, [101, 102]))
        self.assertEqual((yield self.store.get_subscriber(IMSI)).sqn, 102)
        # S6a's AIR continues from the same counter.
        self.assertEqual((yield self.store.reserve_sqns(IMSI, sqns(1)))[1], [103])
        _, registration = yield self.store.ims_lookup(IMPI)
        self.assertEqual((registration.server_name, registration.pending, registration.states),
                         ("sip:scscf1.ims.test:6060", True, ()))
        # SIP Digest: no SQN.
        _, _, _, reserved = yield self.store.ims_authenticate(self.authentication(count=None))
        self.assertIsNone(reserved)
        self.assertEqual((yield self.store.get_subscriber(IMSI)).sqn, 103)

    @defer.inlineCallbacks
    def test_authenticate_refusals_write_nothing(self):
        yield self.linked_subscriber()
        yield self.store.add_ims_subscription(ims_subscription())
        self.assertEqual((yield self.store.ims_authenticate(self.authentication(impi="bob@ims.test"))),
                         (None, None, None, None))
        found, before, sub, reserved = yield self.store.ims_authenticate(
            self.authentication(impu="sip:bob@ims.test"))
        self.assertEqual((found.impi, before, sub, reserved), (IMPI, None, None, None))
        yield self.store.update_subscriber(IMSI, enabled=False)
        _, _, sub, reserved = yield self.store.ims_authenticate(self.authentication(required=RequiredState()))
        self.assertEqual((sub.enabled, reserved), (False, None))
        self.assertEqual((yield self.store.get_subscriber(IMSI)).sqn, 100)
        yield self.assertFails(self.store.ims_authenticate(
            Authentication(IMPI, IMPU, None, None, None, None, 0.0, (1, 5))), ValidationError)
        yield self.assertFails(self.store.ims_authenticate("MAR"), ValidationError)

    def assignment(self, kind, server_name="sip:scscf1.ims.test:6060", impu=IMPU, impi=IMPI, keep=True):
        return Assignment(kind, impi, impu, server_name, "scscf1.ims.test", "ims.test", "scscf1.ims.test",
                          1700000001.0, keep)

    @defer.inlineCallbacks
    def test_assign_registration_and_deregistration(self):
        yield self.linked_subscriber()
        yield self.store.add_ifc_template(IfcTemplate("voice", IFC_XML))
        yield self.store.add_ims_subscription(ims_subscription(
            impus=(IMPU, TEL, PublicIdentity("sip:alice.work@ims.test", implicit_set=2)), ifc="voice"))
        yield self.store.ims_authenticate(self.authentication())
        found, before, after, outcome, template = yield self.store.ims_assign(self.assignment(REGISTRATION))
        self.assertEqual((outcome, before.pending, after.pending, template.name), ("done", True, False, "voice"))
        self.assertEqual(after.states, ((IMPU, "registered"), (TEL, "registered")))   # the implicit set
        _, stored = yield self.store.ims_lookup(impu=TEL)
        self.assertEqual(stored, after)
        # Another S-CSCF is refused, nothing changes.
        _, _, again, outcome, _ = yield self.store.ims_assign(self.assignment(REGISTRATION, "sip:other:6060"))
        self.assertEqual((outcome, again), ("other-scscf", after))
        _, _, after, outcome, _ = yield self.store.ims_assign(
            self.assignment(UNREGISTERED_USER, impu="sip:alice.work@ims.test", impi=None))
        self.assertEqual((outcome, after.state("sip:alice.work@ims.test")), ("done", "unregistered"))
        _, _, after, outcome, _ = yield self.store.ims_assign(self.assignment(USER_DEREGISTRATION, impu=TEL))
        self.assertEqual((outcome, after.states), ("done", (("sip:alice.work@ims.test", "unregistered"),)))
        self.assertEqual(after.server_name, "sip:scscf1.ims.test:6060")
        _, _, after, outcome, _ = yield self.store.ims_assign(
            self.assignment(TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME, impu=None, keep=False))
        self.assertEqual((outcome, after), ("name-not-stored", ImsRegistration(IMPI, updated_at=1700000001.0)))
        self.assertEqual((yield self.store.ims_lookup(IMPI))[1], after)
        # An identity of another subscription: nothing is read or written for it.
        yield self.store.add_ims_subscription(ims_subscription("bob@ims.test", ("sip:bob@ims.test",)))
        self.assertEqual((yield self.store.ims_assign(self.assignment(REGISTRATION, impu="sip:bob@ims.test")))[1:],
                         (None, None, None, None))
        unknown = yield self.store.ims_assign(self.assignment(REGISTRATION, impi=None, impu="sip:zed@ims.test"))
        self.assertEqual(unknown, (None, None, None, None, None))

    @defer.inlineCallbacks
    def test_assign_and_authenticate_check_what_the_request_brings(self):
        # What MAR and SAR bring from the wire (Server-Name...) is checked
        # as the record checks it; a refusal writes nothing.
        yield self.linked_subscriber()
        yield self.store.add_ims_subscription(ims_subscription(impus=(IMPU, TEL)))
        too_long = "sip:" + "s" * 250 + ".test"
        yield self.assertFails(self.store.ims_assign(self.assignment(REGISTRATION, too_long)), ValidationError)
        yield self.assertFails(self.store.ims_authenticate(self.authentication(too_long)), ValidationError)
        yield self.assertFails(self.store.ims_assign(self.assignment(REGISTRATION, "")), ValidationError)
        self.assertEqual((yield self.store.ims_lookup(IMPI))[1], ImsRegistration(IMPI))
        _, _, after, _, _ = yield self.store.ims_assign(self.assignment(REGISTRATION))
        # The record the checking constructor builds from the same values.
        checked = ImsRegistration(after.impi, after.server_name, after.scscf_host, after.scscf_realm, after.peer,
                                  after.pending, tuple(reversed(after.states)), after.updated_at)
        self.assertEqual(after, checked)
        self.assertEqual(after.states, ((IMPU, "registered"), (TEL, "registered")))

    @defer.inlineCallbacks
    def test_update_drops_the_state_of_removed_identities(self):
        yield self.linked_subscriber()
        yield self.store.add_ims_subscription(ims_subscription())
        yield self.store.ims_assign(self.assignment(REGISTRATION))
        yield self.store.update_ims_subscription(IMPI, impus=(IMPU,))
        _, registration = yield self.store.ims_lookup(IMPI)
        self.assertEqual(registration.states, ((IMPU, "registered"),))
        yield self.assertFails(self.store.ims_assign("SAR"), ValidationError)


class EquipmentContract(EquipmentRegisterContract, StoreFixture):
    """IEquipmentRegister (tests/store_contract_eir.py)."""


class StoreContractMixin(SubscriberContract, SqnReservationContract, ServingNodeContract, ImsContract,
                         EquipmentContract):
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
