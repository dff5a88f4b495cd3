"""SQN = SEQ || IND management (TS 33.102 Annex C) as a pure function."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial import unittest

from pyhss.auc.errors import InvalidKeyMaterial
from pyhss.auc.sqn import (
    DEFAULT_IND_BITS,
    SQN_MASK,
    SqnRequest,
    advance,
    allocate,
    allocate_after_resync,
    join,
    split,
)


class SplitJoinTests(unittest.TestCase):
    def test_default_ind_is_five_bits(self):
        self.assertEqual(DEFAULT_IND_BITS, 5)
        self.assertEqual(split(0b1010_11111), (0b1010, 0b11111))
        self.assertEqual(join(0b1010, 0b11111), 0b1010_11111)

    def test_round_trip_any_ind_length(self):
        for ind_bits in (0, 1, 5, 8, 16):
            for sqn in (0, 1, 12345678901, SQN_MASK):
                self.assertEqual(join(*split(sqn, ind_bits), ind_bits), sqn)

    def test_rejects_out_of_range(self):
        self.assertRaises(InvalidKeyMaterial, split, 1 << 48)
        self.assertRaises(InvalidKeyMaterial, split, -1)
        self.assertRaises(InvalidKeyMaterial, split, 0, 17)


class AllocateTests(unittest.TestCase):
    def test_first_vectors_from_zero(self):
        stored, sqns = allocate(0, 3)
        self.assertEqual([split(s) for s in sqns], [(1, 1), (2, 2), (3, 3)])
        self.assertEqual(stored, sqns[-1])

    def test_ind_steps_cyclically(self):
        stored, sqns = allocate(join(100, 30), 4)
        self.assertEqual([split(s) for s in sqns], [(101, 31), (102, 0), (103, 1), (104, 2)])
        # Over a long run every IND value is used equally often.
        _, sqns = allocate(0, 32 * 10)
        counts = {}
        for s in sqns:
            counts[split(s)[1]] = counts.get(split(s)[1], 0) + 1
        self.assertEqual(sorted(counts), list(range(32)))
        self.assertEqual(set(counts.values()), {10})

    def test_seq_strictly_increases(self):
        _, sqns = allocate(join(7, 3), 100)
        seqs = [split(s)[0] for s in sqns]
        self.assertEqual(seqs, list(range(8, 108)))

    def test_other_ind_lengths(self):
        _, sqns = allocate(join(5, 255, 8), 2, ind_bits=8)
        self.assertEqual([split(s, 8) for s in sqns], [(6, 0), (7, 1)])
        _, sqns = allocate(41, 2, ind_bits=0)
        self.assertEqual(sqns, [42, 43])

    def test_48_bit_wrap(self):
        top_seq = (1 << 43) - 1
        stored, sqns = allocate(join(top_seq - 1, 30), 3)
        self.assertEqual([split(s) for s in sqns], [(top_seq, 31), (0, 0), (1, 1)])
        self.assertTrue(all(0 <= s <= SQN_MASK for s in sqns))
        self.assertEqual(len(set(sqns)), 3)
        self.assertEqual(stored, join(1, 1))

    def test_zero_count_keeps_state(self):
        self.assertEqual(allocate(join(9, 9), 0), (join(9, 9), []))

    def test_rejects_bad_input(self):
        self.assertRaises(InvalidKeyMaterial, allocate, 0, -1)
        self.assertRaises(InvalidKeyMaterial, allocate, 1 << 48, 1)
        self.assertRaises(InvalidKeyMaterial, SqnRequest, 1, 40)
        self.assertRaises(InvalidKeyMaterial, SqnRequest, 1, resync_sqn=1 << 48)
        self.assertRaises(InvalidKeyMaterial, SqnRequest, "3")

    def test_never_repeats_across_many_calls(self):
        stored = 0
        seen = set()
        rng = random.Random(3)
        for _ in range(5000):
            stored, sqns = allocate(stored, rng.randint(1, 32))
            for s in sqns:
                self.assertNotIn(s, seen)
                seen.add(s)
        self.assertEqual(stored, max(seen))

    @settings(max_examples=200, derandomize=True, deadline=None)
    @given(
        start=st.integers(0, SQN_MASK),
        counts=st.lists(st.integers(0, 32), max_size=40),
        ind_bits=st.integers(0, 8),
    )
    def test_property_unique_and_chained(self, start, counts, ind_bits):
        stored = start
        seen = []
        for count in counts:
            new, sqns = allocate(stored, count, ind_bits)
            self.assertEqual(len(sqns), count)
            self.assertEqual(new, sqns[-1] if sqns else stored)
            stored = new
            seen.extend(sqns)
        self.assertEqual(len(set(seen)), len(seen))
        self.assertNotIn(start, seen)


class SimulatedConcurrencyTests(unittest.TestCase):
    """Many AIRs for one IMSI from many connections: the store applies
    each one's request in one transaction, in whatever order they commit.
    Chaining ``advance`` over a shuffled order must hand out every SQN
    once and leave the store at the highest one."""

    def test_shuffled_callers(self):
        rng = random.Random(11)
        callers = [SqnRequest(rng.randint(1, 32)) for _ in range(2000)]
        rng.shuffle(callers)
        stored = join(10, 20)
        handed_out = []
        for request in callers:
            stored, sqns = advance(stored, request)
            handed_out.extend(sqns)
        self.assertEqual(len(set(handed_out)), len(handed_out))
        self.assertEqual(stored, handed_out[-1])
        seqs = [split(s)[0] for s in handed_out]
        self.assertEqual(seqs, list(range(11, 11 + len(handed_out))))

    def test_resync_between_callers(self):
        stored = join(50, 0)
        stored, first = advance(stored, SqnRequest(5))
        # USIM is at SEQ 1000: reset forward, later callers continue from there.
        stored, after = allocate_after_resync(stored, join(1000, 0), 2)
        self.assertEqual([split(s)[0] for s in after], [1001, 1002])
        stored, later = advance(stored, SqnRequest(2))
        self.assertEqual([split(s)[0] for s in later], [1003, 1004])
        self.assertEqual(len(set(first + after + later)), 9)

    def test_resync_when_auc_is_ahead_never_reissues(self):
        stored, first = allocate(join(2000, 0), 10)
        stored, after = allocate_after_resync(stored, join(2003, 0), 3)
        self.assertFalse(set(first) & set(after))
        self.assertEqual(split(after[0])[0], 2011)

    def test_request_with_resync_point(self):
        # The request a store applies after a verified AUTS: the same policy.
        for stored, sqn_ms in ((join(50, 0), join(1000, 0)), (join(2010, 3), join(2003, 0))):
            self.assertEqual(advance(stored, SqnRequest(3, resync_sqn=sqn_ms)),
                             allocate_after_resync(stored, sqn_ms, 3))

    def test_resync_when_auc_equals_usim(self):
        stored = join(3000, 4)
        _, after = allocate_after_resync(stored, join(3000, 9), 1)
        self.assertEqual(split(after[0]), (3001, 5))
