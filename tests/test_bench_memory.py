"""bench/memory.py at tiny sizes: the captures it copies are valid SCTP that
the parser counts in full, the rows files it writes sort, and its sortedness
check and memory measurement report what they should."""

import os
import struct
import sys

from twisted.trial import unittest

from ss7tools import pcapio
from ss7tools.encode.crc32c import sctp_checksum
from ss7tools.capture import iter_messages
from ss7tools.rows import COLUMN_INDEX
from ss7tools.sort import sort_file
from ss7tools.stats import ParseStats
from tests.bench_helpers import load_bench

memory = load_bench("memory", "bench_memory")
BASE = 200


class CaptureTests(unittest.TestCase):

    def setUp(self):
        self.dir = self.mktemp()
        os.makedirs(self.dir)
        self.base = os.path.join(self.dir, "base.pcap")
        memory.write_base_capture(self.base, BASE)

    def test_copies_parse_in_full(self):
        """Ten copies of the base: every message is parsed, none is taken
        for a retransmission, every checksum is right, time moves on."""
        path = os.path.join(self.dir, "big.pcap")
        written = memory.write_capture(path, 10 * BASE, self.base)
        self.assertEqual(written, 10 * BASE)
        stats = ParseStats()
        messages = sum(1 for _ in iter_messages(path, stats))
        self.assertEqual(messages, 10 * BASE)
        self.assertEqual(stats.skipped, {})
        stamps, tsns = [], {}
        for _n, stamp, _lt, data in pcapio.iter_frames(path):
            sctp = data[34:]
            self.assertEqual(sctp_checksum(sctp), sctp[8:12])
            stamps.append(stamp)
            direction = tsns.setdefault(data[26:34] + sctp[:4], [])
            direction.append(struct.unpack_from("!I", sctp, 16)[0])
        self.assertEqual(stamps, sorted(stamps))
        self.assertEqual(len(set(stamps)), len(stamps))
        for numbers in tsns.values():
            self.assertEqual(numbers, sorted(numbers))

    def test_partial_copy(self):
        path = os.path.join(self.dir, "odd.pcap")
        self.assertEqual(memory.write_capture(path, BASE + 6, self.base), BASE + 6)
        self.assertEqual(sum(1 for _ in iter_messages(path)), BASE + 6)

    def test_measured_parse(self):
        """The parse subprocess's summary and peak memory are read back."""
        path = os.path.join(self.dir, "big.pcap")
        memory.write_capture(path, 3 * BASE, self.base)
        out = os.path.join(self.dir, "rows.msgpack")
        run = memory.run_measured([sys.executable, "-m", "ss7tools", "parse",
                                   path, "-o", out, "--jobs", "1"])
        self.assertEqual(run.rc, 0, run.stderr)
        summary = memory.parse_summary(run.stderr)
        self.assertEqual(summary["messages"], 3 * BASE)
        self.assertEqual(summary["rows"], 3 * BASE)
        self.assertGreater(run.peak_kib, 1024)


class MeasureTests(unittest.TestCase):

    def test_peak_of_child(self):
        run = memory.run_measured([sys.executable, "-c",
                                   "x = bytearray(64 * 2 ** 20); x[::4096] = b'1' * len(x[::4096])"])
        self.assertEqual(run.rc, 0)
        self.assertGreater(run.peak_kib, 64 * 1024)


class RowsTests(unittest.TestCase):

    def setUp(self):
        self.dir = self.mktemp()
        os.makedirs(self.dir)
        base = os.path.join(self.dir, "base.pcap")
        memory.write_base_capture(base, BASE)
        self.rows = memory.base_rows(base)

    def test_copies_shift_time_and_subscribers(self):
        rows = list(memory.iter_copied_rows(self.rows, 2 * len(self.rows)))
        self.assertEqual(len(rows), 2 * len(self.rows))
        ts, frame, imsi = (COLUMN_INDEX[c] for c in ("time_stamp", "frame", "imsi"))
        first, second = rows[:len(self.rows)], rows[len(self.rows):]
        self.assertLess(max(r[ts] for r in first), min(r[ts] for r in second))
        self.assertLess(max(r[frame] for r in first), min(r[frame] for r in second))
        imsis = {r[imsi] for r in first if r[imsi]}
        self.assertTrue(imsis)
        self.assertFalse(imsis & {r[imsi] for r in second if r[imsi]})

    def _check_sort(self, fmt):
        source = os.path.join(self.dir, "rows." + fmt)
        self.assertEqual(memory.write_rows_file(source, self.rows, 2000, fmt), 2000)
        count, bad = memory.check_sorted(source, "imsi")
        self.assertEqual(count, 2000)
        self.assertIsNotNone(bad)     # capture order is not imsi order
        for by in ("imsi", "calling_gt"):
            out = os.path.join(self.dir, "sorted_%s.%s" % (by, fmt))
            self.assertEqual(sort_file(source, by, out), 2000)
            self.assertEqual(memory.check_sorted(out, by), (2000, None))

    def test_msgpack_rows_sort(self):
        self._check_sort("msgpack")

    def test_csv_rows_sort(self):
        self._check_sort("csv")
