"""The decoder's cache of repeating top-level AVPs (Origin-Host, the
Requested-EUTRAN-Authentication-Info group, ...): same bytes, same Avp."""

from twisted.trial import unittest

from pyhss.protocols import codec
from pyhss.protocols.dictionary import APP_S6A, CMD_AIR


def air(imsi, session="mme;1", vectors=1, origin="mme.test"):
    return codec.Message.request(APP_S6A, CMD_AIR, [
        ("Session-Id", session), ("Auth-Session-State", 1),
        ("Origin-Host", origin), ("Origin-Realm", "test"),
        ("Destination-Realm", "hss.test"), ("User-Name", imsi),
        ("Visited-PLMN-Id", b"\x00\xf1\x10"),
        ("Requested-EUTRAN-Authentication-Info", [("Number-Of-Requested-Vectors", vectors)]),
    ]).encode()


class RepeatingAvpTests(unittest.TestCase):
    def setUp(self):
        codec._REPEAT_CACHES.clear()
        self.addCleanup(codec._REPEAT_CACHES.clear)

    def test_same_bytes_same_object(self):
        first = codec.decode_message(air("001010000000001", "mme;1"))
        second = codec.decode_message(air("001010000000002", "mme;2"))
        for name in ("Origin-Host", "Visited-PLMN-Id", "Requested-EUTRAN-Authentication-Info"):
            self.assertIs(first.find(name), second.find(name), name)
        # Unique per request: decoded each time.
        self.assertEqual(first.get("User-Name"), "001010000000001")
        self.assertEqual(second.get("User-Name"), "001010000000002")
        self.assertIsNot(first.find("Session-Id"), second.find("Session-Id"))

    def test_other_bytes_other_value(self):
        one = codec.decode_message(air("001010000000001", vectors=1))
        three = codec.decode_message(air("001010000000001", vectors=3, origin="mme2.test"))
        self.assertEqual(one.get("Requested-EUTRAN-Authentication-Info/Number-Of-Requested-Vectors"), 1)
        self.assertEqual(three.get("Requested-EUTRAN-Authentication-Info/Number-Of-Requested-Vectors"), 3)
        self.assertEqual(three.get("Origin-Host"), "mme2.test")

    def test_reencodes_identically(self):
        data = air("001010000000001")
        codec.decode_message(data)
        self.assertEqual(codec.decode_message(data).encode(), data)

    def test_one_cache_per_nesting_limit(self):
        # The group decoded under a generous limit is not reused under a
        # limit it breaks.
        data = air("001010000000001")
        group = "Requested-EUTRAN-Authentication-Info"
        self.assertIsNotNone(codec.decode_message(data, max_depth=16).find(group))
        self.assertRaises(codec.NestingTooDeep, codec.decode_message, data, max_depth=0)
        self.assertIsNot(codec.decode_message(data, max_depth=16).find(group),
                         codec.decode_message(data, max_depth=1).find(group))

    def test_bounded(self):
        self.patch(codec, "_REPEAT_CACHE_SIZE", 3)
        for index in range(10):
            codec.decode_message(air("001010000000001", origin="mme%d.test" % (index,)))
        self.assertLessEqual(len(codec._REPEAT_CACHES[codec.DEFAULT_MAX_DEPTH]), 3)

    def test_cached_bytes_with_bad_padding_still_fail(self):
        # Visited-PLMN-Id is 3 octets and one of padding: the cache key
        # holds the padding, so other padding bytes are decoded, and refused.
        data = air("001010000000001")
        codec.decode_message(data)
        plmn = codec.Avp.new("Visited-PLMN-Id", b"\x00\xf1\x10").encode()
        at = data.index(plmn)
        self.assertEqual(plmn[-1:], b"\0")
        broken = data[:at + len(plmn) - 1] + b"\x07" + data[at + len(plmn):]
        self.assertRaises(codec.InvalidPadding, codec.decode_message, broken)

    def test_cached_bytes_cut_short_still_fail(self):
        # The message ends inside a repeating AVP seen before: no cache hit
        # past the end, the length check refuses it.
        data = air("001010000000001")
        codec.decode_message(data)
        group = codec.decode_message(data).find("Requested-EUTRAN-Authentication-Info").encode()
        cut = data[:-8]
        cut = cut[:1] + len(cut).to_bytes(3, "big") + cut[4:]
        self.assertTrue(data.endswith(group))
        self.assertRaises(codec.InvalidAvpLength, codec.decode_message, cut)

    def test_cached_group_validated_alike(self):
        # A repeating group is checked once when cached; one that breaks
        # the rules (a required child missing, an unknown M-bit child) is
        # reported again for every message that carries it.
        def with_group(children, imsi):
            message = codec.Message.request(APP_S6A, CMD_AIR, [
                ("Session-Id", "mme;" + imsi), ("Auth-Session-State", 1),
                ("Origin-Host", "mme.test"), ("Origin-Realm", "test"),
                ("Destination-Realm", "hss.test"), ("User-Name", imsi),
                ("Visited-PLMN-Id", b"\x00\xf1\x10")])
            message.append(codec.Avp.new("Vendor-Specific-Application-Id", children))
            return message.encode()

        good = [codec.Avp.new("Vendor-Id", 10415), codec.Avp.new("Auth-Application-Id", APP_S6A)]
        missing = [codec.Avp.new("Auth-Application-Id", APP_S6A)]
        unknown = good + [codec.Avp(60001, 0, codec.AVP_MANDATORY, b"x")]
        for children, codes in ((good, []), (missing, [5005]), (unknown, [5001])):
            decoded = [codec.decode_message(with_group(children, "00101000000000%d" % (n,))) for n in range(3)]
            self.assertIs(decoded[1].find("Vendor-Specific-Application-Id"),
                          decoded[2].find("Vendor-Specific-Application-Id"))
            for message in decoded:
                self.assertEqual([code for code, _ in codec.validate(message)], codes)

    def test_decoded_clean_then_changed_is_validated_again(self):
        # The decoder's "nothing to check" holds for the list it decoded:
        # an AVP added afterwards is checked.
        message = codec.decode_message(air("001010000000001"))
        self.assertIsNotNone(message.checked_avps)
        self.assertEqual(codec.validate(message), [])
        message.avps.append(codec.Avp(60001, 0, codec.AVP_MANDATORY, b"x"))
        self.assertEqual([code for code, _ in codec.validate(message)], [5001])
        message.avps = [avp for avp in message.avps if avp.name != "Origin-Host"][:-1]
        self.assertEqual([(code, avp.name) for code, avp in codec.validate(message)], [(5005, "Origin-Host")])


def dwr_with_group(distinct, children):
    """A DWR carrying a Vendor-Specific-Application-Id of ``children`` small
    unknown AVPs, made distinct by ``distinct`` (the flood of issue 10)."""
    group = codec.Avp.new("Vendor-Specific-Application-Id", [
        codec.Avp(60000 + n, 0, 0, distinct.to_bytes(4, "big"))
        for n in range(children)])
    return codec.Message.request(0, 280, hop_by_hop=distinct, avps=[
        ("Origin-Host", "mme.test"), ("Origin-Realm", "test"), group]).encode()


class RepeatCacheBoundTests(unittest.TestCase):
    """What one peer can make the shared cache hold is bounded."""

    def setUp(self):
        codec._REPEAT_CACHES.clear()
        self.addCleanup(codec._REPEAT_CACHES.clear)

    def _message(self, distinct, children):
        return dwr_with_group(distinct, children)

    def test_large_repeating_avp_not_cached(self):
        # 64 children of 12 bytes: 776 bytes, above the per-AVP limit.
        decoded = codec.decode_message(self._message(1, 64))
        self.assertEqual(len(decoded.find("Vendor-Specific-Application-Id").value), 64)
        cache = codec._REPEAT_CACHES[codec.DEFAULT_MAX_DEPTH]
        self.assertNotIn(decoded.find("Vendor-Specific-Application-Id"), cache.values())
        self.assertEqual(set(a.name for a in cache.values()), {"Origin-Host", "Origin-Realm"})

    def test_small_repeating_avp_cached(self):
        first = codec.decode_message(self._message(1, 4))
        second = codec.decode_message(self._message(1, 4))
        self.assertIs(first.find("Vendor-Specific-Application-Id"),
                      second.find("Vendor-Specific-Application-Id"))

    def test_estimated_memory_bounded(self):
        self.patch(codec, "_REPEAT_CACHE_BUDGET", 20000)
        for distinct in range(500):
            codec.decode_message(self._message(distinct, 16))
        cache = codec._REPEAT_CACHES[codec.DEFAULT_MAX_DEPTH]
        self.assertLessEqual(cache.cost, 20000)
        self.assertLess(len(cache), 500)
        # The cost is an estimate of what the entries hold.
        self.assertEqual(cache.cost, sum(
            len(key) + codec._AVP_COST * codec._count_avps(avp)
            for key, avp in cache.items()))
