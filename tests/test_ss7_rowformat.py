"""The parse hot path's shortcuts give what the plain code gives: the CSV
formatter the csv module's text, the memoised SCCP head the full decode."""

import csv
import io
import random

from twisted.trial import unittest

from ss7tools import gsmmap, sccp
from ss7tools.rowformat import CsvFormatter
from tests import ss7_parse_builders as b

BASE_ROW = (
    1, 0, 1700000000.0001, "10.0.0.1", "10.0.1.1", 2905, 2905, 1, 3, "Transfer", "DATA",
    100, 200, 3, 0, 0, None, None, "UDT", "491720200007", 6, None, "491720000032", 7, None,
    "begin", "00010000", None, "networkLocUpContext-v3", "invoke", 1, 2, "updateLocation",
    None, "001019167024629", None, "491720100015", "491720000032", None, None, None, None)
# columns the formatter fills row by row (the others are cached in groups)
OWN_COLUMNS = (0, 1, 2, 25, 26, 27) + tuple(range(34, 42))
AWKWARD_TEXT = [None, "", "a,b", 'x"y', "e\r", "n\nl", "\x1e", " sp ", ",", '"', "ü", "%s", "100%"]
AWKWARD_ANY = AWKWARD_TEXT + [True, 1.5, -3, 300, float("nan"), (1, 2)]


def csv_module(rows):
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


class CsvFormatterTests(unittest.TestCase):

    def test_plain_rows(self):
        rows = []
        for frame in range(1, 200):
            row = list(BASE_ROW)
            row[0], row[1], row[2] = frame, frame % 3, 1700000000 + frame / 7
            row[15], row[26] = frame % 16, "%08x" % frame
            rows.append(tuple(row))
        self.assertEqual(CsvFormatter().text(rows), csv_module(rows))

    def test_awkward_values_anywhere(self):
        rng = random.Random(7)
        formatter = CsvFormatter()  # one formatter: its caches carry over
        for _ in range(1500):
            rows = []
            for _ in range(4):
                row = list(BASE_ROW)
                row[0] = rng.randrange(1, 5)
                for _ in range(rng.randrange(4)):
                    column = rng.randrange(len(row))
                    # a group column keeps one type, as decoded rows do
                    pool = AWKWARD_ANY if column in OWN_COLUMNS else AWKWARD_TEXT
                    row[column] = rng.choice(pool)
                rows.append(tuple(row))
            if rng.random() < 0.05:
                rows.append((1, 2, 3))
            if rng.random() < 0.05:
                rows.append(list(BASE_ROW))
            self.assertEqual(formatter.text(rows), csv_module(rows), rows)

    def test_empty_batch(self):
        self.assertEqual(CsvFormatter().text([]), "")


class SccpHeadTests(unittest.TestCase):

    def test_head_agrees_with_decode(self):
        rng = random.Random(11)
        called, calling = b.gt_address("491720200007", 6), b.gt_address("4917200", 7, pc=99)
        messages = [b.udt(called, calling, b"\x62\x03\x48\x01\x01"),
                    b.xudt(called, calling, b"tcap data"),
                    b.xudt(called, calling, b"AAA", segmentation=b"\xc1\x00\x00\x05")]
        for good in messages:
            for _ in range(400):
                data = bytearray(good)
                for _ in range(rng.randrange(3)):
                    data[rng.randrange(len(data))] = rng.randrange(256)
                data = bytes(data[:rng.randrange(len(data) + 1)] if rng.random() < 0.2 else data)
                head = sccp.decode_head(data)
                if head is None:
                    continue
                msg = sccp.decode(data)  # never raises where the head was found
                header, user_data = head
                self.assertEqual((header.type_name, header.called, header.calling),
                                 (msg.type_name, msg.called, msg.calling))
                self.assertEqual(user_data, msg.data)
                self.assertIsNone(msg.segmentation)


class TbcdTests(unittest.TestCase):

    def test_every_octet_pair(self):
        digits = "0123456789*#abc"

        def by_nibbles(raw):
            text = ""
            for octet in raw:
                for nibble in (octet & 0x0F, octet >> 4):
                    if nibble == 15:
                        return text
                    text += digits[nibble]
            return text

        for first in range(256):
            for second in (0x00, 0x21, 0xF9, 0xFF, 0xBA, first):
                raw = bytes((first, second))
                self.assertEqual(gsmmap.tbcd(raw), by_nibbles(raw))
