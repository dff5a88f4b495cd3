"""Property-based robustness: truncated, mutated and random input never
raises out of the parser; it ends as rows with ``error`` set or as counted
skips, and no decoder falls through to the internal-error guard."""

import os
import tempfile

from hypothesis import HealthCheck, given, settings, strategies as st
from twisted.trial import unittest

from ss7tools.capture import CapturedMessage
from ss7tools.decoder import MessageDecoder
from ss7tools.rows import COLUMNS, iter_rows, message_rows
from ss7tools.sctp import SctpError, SctpReader
from ss7tools.stats import ParseStats

from tests import ss7_parse_builders as b
from tests.test_ss7_parse_layers import map_message

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
VALID = map_message()
TCAP_AT = VALID.index(b"\x62")


def message(payload, ppid=3):
    return CapturedMessage(1, 0, 1.0, "10.0.0.1", "10.0.0.2", 2905, 2905, 1, ppid, payload,
                   1, b"", b"", (0, 0))


def check_rows(test, rows):
    test.assertTrue(rows)
    for row in rows:
        test.assertEqual(len(row), len(COLUMNS))
        error = row[-1]
        test.assertFalse(error and error.startswith("internal error"), error)


class DecoderFuzzTests(unittest.TestCase):

    @FUZZ
    @given(st.binary(max_size=300), st.sampled_from([3, 5]))
    def test_random_payload(self, payload, ppid):
        check_rows(self, message_rows(MessageDecoder().decode(message(payload, ppid))))

    @FUZZ
    @given(st.integers(min_value=0, max_value=len(VALID)))
    def test_truncated_message(self, cut):
        check_rows(self, message_rows(MessageDecoder().decode(message(VALID[:cut]))))

    @FUZZ
    @given(st.lists(st.tuples(st.integers(min_value=0, max_value=len(VALID) - 1),
                              st.integers(min_value=0, max_value=255)), min_size=1, max_size=6))
    def test_mutated_message(self, edits):
        data = bytearray(VALID)
        for pos, value in edits:
            data[pos] = value
        check_rows(self, message_rows(MessageDecoder().decode(message(bytes(data)))))

    @FUZZ
    @given(st.binary(max_size=200))
    def test_random_tcap_in_valid_envelope(self, tail):
        check_rows(self, message_rows(MessageDecoder().decode(message(VALID[:TCAP_AT] + tail))))

    @FUZZ
    @given(st.binary(max_size=200))
    def test_random_sctp_packet(self, data):
        reader = SctpReader(ParseStats())
        found = []
        try:
            reader.packet("a", "b", data, found)
        except SctpError:
            pass


class CaptureFuzzTests(unittest.TestCase):

    def setUp(self):
        # The test's own directory (under trial's _trial_temp, not the
        # system temporary directory) for every example hypothesis runs.
        self.captures = self.mktemp()
        os.makedirs(self.captures)

    @FUZZ
    @given(st.lists(st.binary(max_size=120), max_size=5), st.sampled_from([1, 101, 113, 276, 228, 229, 147]))
    def test_random_frames_in_a_capture(self, frames, linktype):
        frames = frames + [b.ethernet(b.ipv4(b.sctp([b.data_chunk(1, f)]))) for f in frames]
        fd, path = tempfile.mkstemp(suffix=".pcap", dir=self.captures)
        with os.fdopen(fd, "wb") as handle:
            handle.write(b.pcap_file(frames, linktype=linktype))
        try:
            stats = ParseStats()
            rows = list(iter_rows(path, stats))
            self.assertEqual(stats.frames, len(frames))
            for row in rows:
                self.assertFalse(row[-1] and row[-1].startswith("internal error"), row[-1])
        finally:
            os.unlink(path)
