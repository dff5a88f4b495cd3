"""Tests for ss7tools flatten, split and sort on generated and real captures."""

import os
import shutil
import struct
import subprocess
import tempfile

import pandas as pd

from twisted.trial import unittest

from ss7tools import pcapio
from ss7tools.encode import (LINKTYPE_LINUX_SLL2, SigtranLink, m3ua_data,
                             sccp_udt, write_sample_capture)
from ss7tools.encode.crc32c import sctp_checksum
from ss7tools.encode.link import ip_checksum
from ss7tools.encode.sccp import SccpAddress
from ss7tools.flatten import cut_sctp, flatten
from ss7tools.sort import sort_file, sort_rows, load

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURES = os.path.join(os.path.dirname(HERE), "..", "shared", "ss7-captures")
TSHARK = shutil.which("tshark")


def real_captures():
    found = []
    for root, _dirs, files in os.walk(CAPTURES):
        found.extend(os.path.join(root, name) for name in sorted(files)
                     if name.endswith((".pcap", ".pcapng", ".cap")))
    return sorted(found)


def need_real_captures():
    paths = real_captures()
    if not paths:
        raise unittest.SkipTest("no captures in %s (shared SS7 capture set "
                                "not checked out next to the repo)" % CAPTURES)
    return paths


def frames(path):
    return list(pcapio.iter_frames(path))


def assert_valid_sctp(test, linktype, data):
    cut = cut_sctp(linktype, data)
    test.assertIsNotNone(cut)
    rebuilt = cut.rebuild(cut.chunks)
    test.assertEqual(rebuilt, data[:len(rebuilt)])
    sctp = rebuilt[len(cut.prefix) + len(cut.ip_header):]
    test.assertEqual(sctp[8:12], sctp_checksum(sctp))
    if cut.ip_version == 4:
        test.assertEqual(ip_checksum(cut.ip_header), 0)
        test.assertEqual(struct.unpack("!H", cut.ip_header[2:4])[0],
                         len(cut.ip_header) + len(sctp))
    return cut


class TempDirMixin:
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def path(self, name):
        return os.path.join(self.dir, name)


class FlattenTests(TempDirMixin, unittest.TestCase):
    def check_flatten(self, source):
        out = self.path("flat" + os.path.splitext(source)[1])
        read, written = flatten(source, out)
        before, after = frames(source), frames(out)
        self.assertEqual(read, len(before))
        self.assertEqual(written, len(after))
        # every chunk of the input appears once, in order, with its timestamp
        expected, got = [], []
        for _n, stamp, linktype, data in before:
            cut = cut_sctp(linktype, data)
            chunks = cut.chunks if cut else [data]
            expected.extend((round(stamp, 6), c) for c in chunks)
        for _n, stamp, linktype, data in after:
            cut = cut_sctp(linktype, data)
            if cut is None:
                got.append((round(stamp, 6), data))
                continue
            self.assertEqual(len(cut.chunks), 1)
            assert_valid_sctp(self, linktype, data)
            got.append((round(stamp, 6), cut.chunks[0]))
        self.assertEqual(got, expected)
        return out

    def test_generated_bundles_are_split(self):
        source = self.path("in.pcap")
        write_sample_capture(source)
        out = self.check_flatten(source)
        self.assertGreater(len(frames(out)), len(frames(source)))

    def test_pcapng_ipv6_vlan(self):
        source = self.path("in.pcapng")
        write_sample_capture(source, pcapng=True, ipv6=True, vlans=(7,))
        out = self.check_flatten(source)
        with open(out, "rb") as handle:
            self.assertEqual(handle.read(4), b"\x0a\x0d\x0d\x0a")

    def test_cooked_v2(self):
        source = self.path("in.pcap")
        write_sample_capture(source, linktype=LINKTYPE_LINUX_SLL2)
        self.check_flatten(source)

    def test_real_captures(self):
        for source in need_real_captures():
            self.check_flatten(source)

    def test_tshark_sees_same_messages(self):
        if TSHARK is None:
            raise unittest.SkipTest("tshark is not installed")
        source = self.path("in.pcap")
        write_sample_capture(source)
        out = self.path("out.pcap")
        flatten(source, out)

        def tsns(path):
            text = subprocess.run(
                [TSHARK, "-r", path, "-o", "sctp.checksum:CRC-32C", "-T",
                 "fields", "-e", "sctp.data_tsn", "-e", "sctp.checksum.status"],
                capture_output=True, text=True, check=True).stdout
            values, status = [], set()
            for line in text.splitlines():
                tsn, _, ok = line.partition("\t")
                values.extend(t for t in tsn.split(",") if t)
                status.add(ok)
            return values, status
        before, _ = tsns(source)
        after, status = tsns(out)
        self.assertEqual(before, after)
        self.assertEqual(status, {"1"})


class SortTests(TempDirMixin, unittest.TestCase):
    def write_csv(self, rows):
        path = self.path("rows.csv")
        pd.DataFrame(rows).to_csv(path, index=False)
        return path

    def test_sort_and_time_diff(self):
        rows = [
            {"frame": 1, "time_stamp": 10.0, "opc": 300, "imsi": "b"},
            {"frame": 2, "time_stamp": 11.5, "opc": 20, "imsi": ""},
            {"frame": 3, "time_stamp": 12.0, "opc": 300, "imsi": "a"},
            {"frame": 4, "time_stamp": 9.0, "opc": 300, "imsi": "b"},
            {"frame": 5, "time_stamp": 13.25, "opc": 20, "imsi": "b"},
            {"frame": 6, "time_stamp": 13.25, "opc": None, "imsi": "a"},
        ]
        source = self.write_csv(rows)
        out = self.path("sorted.csv")
        self.assertEqual(sort_file(source, "opc", out), 6)
        result = pd.read_csv(out, dtype=str, keep_default_na=False)
        # numeric order (20 before 300), then time; empty values last
        self.assertEqual(list(result["frame"]), ["2", "5", "4", "1", "3", "6"])
        self.assertEqual([float(v) for v in result["time_diff"]],
                         [-1.0, 1.75, -1.0, 1.0, 2.0, -1.0])
        self.assertEqual(list(result.columns)[-1], "time_diff")
        self.assertEqual(list(result["opc"]), ["20", "20", "300", "300", "300", ""])

        sort_file(source, "imsi", out)
        result = pd.read_csv(out, dtype=str, keep_default_na=False)
        self.assertEqual(list(result["frame"]), ["3", "6", "4", "1", "5", "2"])
        self.assertEqual([float(v) for v in result["time_diff"]],
                         [-1.0, 1.25, -1.0, 1.0, 3.25, -1.0])

    def test_stable_for_equal_times(self):
        rows = [{"frame": i, "time_stamp": 1.0, "dpc": 5} for i in range(1, 6)]
        frame = load(self.write_csv(rows))
        result = sort_rows(frame, "dpc")
        self.assertEqual(list(result["frame"]), [1, 2, 3, 4, 5])
        self.assertEqual(list(result["time_diff"]), [-1.0, 0.0, 0.0, 0.0, 0.0])

    def test_compact_dtypes(self):
        rows = [{"frame": i, "time_stamp": float(i), "opc": i % 7,
                 "imsi": "00101%010d" % (i % 50), "op_name": "updateLocation"}
                for i in range(1, 2001)]
        frame = load(self.write_csv(rows))
        self.assertEqual(str(frame["opc"].dtype), "UInt8")
        self.assertEqual(str(frame["imsi"].dtype), "category")
        self.assertLess(frame.memory_usage(deep=True).sum(), 2000 * 40)

    def test_unknown_column(self):
        from ss7tools.sort import SortError
        frame = load(self.write_csv([{"frame": 1, "time_stamp": 1.0}]))
        self.assertRaises(SortError, sort_rows, frame, "nope")


def _udt_message(opc, dpc, otid, imsi):
    from ss7tools.encode import MapBuilder, Subscriber
    builder = MapBuilder(Subscriber(imsi=imsi))
    tcap = builder.begin("updateLocation", otid)
    return m3ua_data(opc, dpc, 3, 0, 1, sccp_udt(
        SccpAddress(ssn=6, digits="491720000003"),
        SccpAddress(ssn=7, digits="491720000002"), tcap, protocol_class=1))


def write_mixed_capture(path):
    """Bundles mixing OPCs, and a fragmented message interleaved with
    another association's traffic."""
    from ss7tools.encode import PcapWriter
    a = SigtranLink("10.0.0.1", "10.0.0.2", 2905, 2905, 1)
    b = SigtranLink("10.0.0.3", "10.0.0.2", 2906, 2905, 2, max_fragment=60)
    stamp = [1700000000.0]

    def emit(writer, frames):
        for frame in frames:
            stamp[0] += 0.25
            writer.write(frame, stamp[0])
    with PcapWriter(path) as writer:
        emit(writer, a.frames([_udt_message(100, 200, 1, "001010000000001"),
                               _udt_message(300, 200, 2, "001010000000002")]))
        fragmented = b.frames([_udt_message(500, 200, 3, "001010000000003")])
        assert len(fragmented) > 2
        emit(writer, fragmented[:1])
        emit(writer, a.frames([_udt_message(100, 200, 4, "001010000000001")]))
        emit(writer, fragmented[1:])
        emit(writer, a.frames([_udt_message(300, 200, 5, "001010000000002"),
                               _udt_message(300, 200, 6, "001010000000002")]))
    return 1 + len(fragmented) + 2


class SplitTests(TempDirMixin, unittest.TestCase):
    def rows_of(self, path):
        from ss7tools.rows import COLUMNS, iter_rows
        return [dict(zip(COLUMNS, row)) for row in iter_rows(path)]

    def data_chunks(self, path):
        out = []
        for _n, stamp, linktype, data in frames(path):
            cut = cut_sctp(linktype, data)
            if cut is None:
                continue
            for index, chunk in enumerate(cut.chunks):
                out.append((round(stamp, 6), chunk))
        return out

    def check_split(self, source, key, real=False):
        from ss7tools.split import split
        out = tempfile.mkdtemp(dir=self.dir)
        counts = split(source, key, out)
        files = sorted(os.listdir(out))
        self.assertEqual(len(files), len(counts))
        chunks = []
        total = 0
        for name in files:
            path = os.path.join(out, name)
            total += len(frames(path))
            chunks.extend(self.data_chunks(path))
            for _n, _s, linktype, data in frames(path):
                if cut_sctp(linktype, data) is not None:
                    assert_valid_sctp(self, linktype, data)
            value = name.rsplit(".", 1)[0]
            if value == "unknown":
                continue
            for row in self.rows_of(path):
                got = row[key]
                self.assertIn(str(got), (value, "None"),
                              "%s in %s" % (row, name))
        self.assertEqual(total, sum(counts.values()))
        # nothing lost, nothing doubled
        self.assertEqual(sorted(chunks), sorted(self.data_chunks(source)))
        return out, counts

    def test_ports_keep_frames(self):
        source = self.path("in.pcap")
        write_sample_capture(source)
        out, counts = self.check_split(source, "src_port")
        self.assertEqual(counts, {"2905": len(frames(source)) - 8, "3565": 7,
                                  "9999": 1})
        self.assertEqual(sorted(f[3] for name in os.listdir(out)
                                for f in frames(os.path.join(out, name))),
                         sorted(f[3] for f in frames(source)))

    def test_every_key_on_sample(self):
        source = self.path("in.pcap")
        write_sample_capture(source)
        from ss7tools.split import KEYS
        for key in KEYS:
            self.check_split(source, key)

    def test_mixed_bundles_and_fragments(self):
        source = self.path("mixed.pcap")
        write_mixed_capture(source)
        out, counts = self.check_split(source, "opc")
        self.assertEqual(set(counts), {"100", "300", "500"})
        # the fragmented message's pieces all went to its OPC's file
        self.assertEqual(len(frames(os.path.join(out, "500.pcap"))),
                         counts["500"])
        self.assertGreater(counts["500"], 2)
        self.assertEqual([r["opc"] for r in self.rows_of(
            os.path.join(out, "500.pcap"))], [500])
        out, counts = self.check_split(source, "imsi")
        self.assertEqual(counts["001010000000002"], 2)

    def test_real_captures(self):
        for source in need_real_captures():
            for key in ("dpc", "calling_gt", "imsi", "sctp_stream"):
                self.check_split(source, key, real=True)

    def test_safe_names(self):
        from ss7tools.split import safe_name
        self.assertEqual(safe_name("4917"), "4917")
        self.assertNotIn("/", safe_name("../etc/passwd"))
        self.assertFalse(safe_name("../x").startswith("."))
        self.assertNotEqual(safe_name("a/b"), safe_name("a_b"))
        self.assertNotEqual(safe_name("unknown"), "unknown")

    def test_bad_key(self):
        from ss7tools.split import SplitError, split
        self.assertRaises(SplitError, split, "x.pcap", "nope", self.dir)


class SortParseOutputTests(TempDirMixin, unittest.TestCase):
    """sort on real parse output, CSV and msgpack, both directions."""

    def parse_to(self, source, out):
        from ss7tools import io as ss7io
        from ss7tools.rows import iter_rows
        ss7io.write_rows(out, iter_rows(source))

    def test_msgpack_round_trip(self):
        from ss7tools import io as ss7io
        source = self.path("in.pcap")
        write_sample_capture(source)
        rows_path = self.path("rows.msgpack")
        self.parse_to(source, rows_path)
        original = list(ss7io.read_rows(rows_path))
        out = self.path("sorted.msgpack")
        self.assertEqual(sort_file(rows_path, "imsi", out), len(original))
        result = list(ss7io.read_rows(out))
        self.assertEqual(len(result), len(original))
        self.assertEqual(list(result[0])[-1], "time_diff")
        imsis = [r["imsi"] for r in result]
        present = [i for i in imsis if i is not None]
        self.assertEqual(present, sorted(present))
        self.assertEqual(imsis[len(present):], [None] * (len(imsis) - len(present)))
        # types survive: ints stay ints, absent stays None
        self.assertIsInstance(result[0]["frame"], int)
        previous = {}
        for row in result:
            key = row["imsi"]
            want = -1.0 if key not in previous else row["time_stamp"] - previous[key]
            self.assertAlmostEqual(row["time_diff"], want, places=6)
            previous[key] = row["time_stamp"]
        # same multiset of rows
        strip = lambda r: tuple((k, r[k]) for k in sorted(r) if k != "time_diff")
        self.assertEqual(sorted(map(strip, result), key=repr),
                         sorted(map(strip, original), key=repr))

    def test_csv_to_msgpack_and_back(self):
        source = self.path("in.pcap")
        write_sample_capture(source)
        rows_path = self.path("rows.csv")
        self.parse_to(source, rows_path)
        sort_file(rows_path, "opc", self.path("s.msgpack"))
        sort_file(self.path("s.msgpack"), "opc", self.path("s.csv"))
        result = pd.read_csv(self.path("s.csv"))
        opcs = result["opc"].dropna().tolist()
        self.assertEqual(opcs, sorted(opcs))
        self.assertEqual(len(result), len(pd.read_csv(rows_path)))


class CommandLineTests(TempDirMixin, unittest.TestCase):
    """The subcommands through ``ss7tools.cli.main``."""

    def main(self, *argv):
        import contextlib
        import io
        from ss7tools.cli import main
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(list(argv))
        return code, err.getvalue()

    def test_flatten_split_sort(self):
        source = self.path("in.pcap")
        write_sample_capture(source)
        code, err = self.main("flatten", source, "-o", self.path("flat.pcap"))
        self.assertEqual(code, 0, err)
        self.assertIn("packets out", err)
        code, err = self.main("split", source, "--by", "calling_gt", "-o",
                              self.path("split"))
        self.assertEqual(code, 0, err)
        self.assertIn("unknown.pcap", os.listdir(self.path("split")))
        code, err = self.main("parse", source, "-o", self.path("rows.csv"), "-q")
        self.assertEqual(code, 0, err)
        code, err = self.main("sort", self.path("rows.csv"), "--by", "otid",
                              "-o", self.path("sorted.csv"))
        self.assertEqual(code, 0, err)
        self.assertIn("time_diff", pd.read_csv(self.path("sorted.csv")).columns)

    def test_short_message_columns_survive(self):
        # flatten and split keep the frames' TPDUs; CSV, msgpack and sort the
        # tp_pid / tp_dcs columns, as integers
        from ss7tools.rows import COLUMN_INDEX, iter_rows
        source = self.path("in.pcap")
        write_sample_capture(source)

        def short_messages(path):
            pid, dcs = COLUMN_INDEX["tp_pid"], COLUMN_INDEX["tp_dcs"]
            return sorted((r[pid], r[dcs]) for r in iter_rows(path) if r[pid] is not None)
        want = short_messages(source)
        self.assertEqual(want, [(0, 0)] * 3)
        self.assertEqual(self.main("flatten", source, "-o", self.path("flat.pcap"))[0], 0)
        self.assertEqual(short_messages(self.path("flat.pcap")), want)
        self.assertEqual(self.main("split", source, "--by", "calling_gt", "-o",
                                   self.path("split"))[0], 0)
        self.assertEqual(sorted(sum((short_messages(os.path.join(self.path("split"), name))
                                     for name in os.listdir(self.path("split"))), [])), want)
        for fmt in ("csv", "msgpack"):
            rows = self.path("rows." + fmt)
            self.assertEqual(self.main("parse", source, "-o", rows, "-q")[0], 0)
            out = self.path("sorted." + fmt)
            self.assertEqual(self.main("sort", rows, "--by", "imsi", "-o", out)[0], 0)
            from ss7tools import io as ss7io
            got = sorted((int(r["tp_pid"]), int(r["tp_dcs"])) for r in ss7io.read_rows(out)
                         if r["tp_pid"] not in (None, ""))
            self.assertEqual(got, want, fmt)

    def test_errors_exit_2(self):
        code, err = self.main("flatten", self.path("missing.pcap"), "-o",
                              self.path("x.pcap"))
        self.assertEqual(code, 2)
        self.assertIn("ss7tools flatten", err)
        not_a_capture = self.path("junk.pcap")
        with open(not_a_capture, "wb") as handle:
            handle.write(b"this is not a capture file")
        code, err = self.main("split", not_a_capture, "--by", "opc", "-o",
                              self.path("d"))
        self.assertEqual(code, 2)
        code, err = self.main("sort", self.path("missing.csv"), "--by", "opc",
                              "-o", self.path("y.csv"))
        self.assertEqual(code, 2)


class DamagedInputTests(TempDirMixin, unittest.TestCase):
    """Truncated and mutated frames never stop flatten or split, and
    nothing is lost: every input frame's bytes reach some output."""

    def damaged_capture(self):
        import random
        from ss7tools.encode import PcapWriter
        source = self.path("in.pcap")
        write_sample_capture(source)
        rng = random.Random(4)
        damaged = self.path("damaged.pcap")
        with PcapWriter(damaged) as writer:
            for _n, stamp, _lt, data in frames(source):
                data = bytearray(data)
                choice = rng.randrange(4)
                if choice == 0:
                    data = data[:rng.randrange(1, len(data))]
                elif choice == 1:
                    for _ in range(3):
                        data[rng.randrange(len(data))] = rng.randrange(256)
                writer.write(bytes(data), stamp)
        return damaged

    def test_flatten_and_split_survive(self):
        from ss7tools.split import KEYS, split
        damaged = self.damaged_capture()
        read, written = flatten(damaged, self.path("flat.pcap"))
        self.assertEqual(read, len(frames(damaged)))
        self.assertGreaterEqual(written, read)
        for key in KEYS:
            counts = split(damaged, key, tempfile.mkdtemp(dir=self.dir))
            self.assertGreaterEqual(sum(counts.values()), read)
