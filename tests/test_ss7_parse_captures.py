"""ss7tools parse against the public captures in ../shared/ss7-captures."""

import os
import shutil

from twisted.trial import unittest

from ss7tools import io as rowio
from ss7tools.cli import main
from ss7tools.rows import COLUMNS, iter_rows, row_dict
from ss7tools.stats import ParseStats

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAPTURES = os.path.join(REPO_ROOT, "..", "shared", "ss7-captures")
PCAPR = os.path.join(CAPTURES, "pcapr", "pcapr_traces.pcap")
TIMKAM = os.path.join(CAPTURES, "timkam_ss7-firewall-rule-mining")
ARKIME = os.path.join(CAPTURES, "arkime", "m3ua_synthetic.pcap")


def capture(path):
    if not os.path.exists(path):
        raise unittest.SkipTest("capture %s is absent (shared/ss7-captures not checked out)" % path)
    return path


def temp_dir(test):
    """A new directory of C{test}'s own, under trial's _trial_temp (never
    the system temporary directory), removed when the test ends."""
    path = test.mktemp()
    os.makedirs(path)
    test.addCleanup(shutil.rmtree, path, True)
    return path


def rows_of(path, stats=None):
    return [row_dict(r) for r in iter_rows(capture(path), stats)]


class PcaprTraceTests(unittest.TestCase):

    def setUp(self):
        self.stats = ParseStats()
        self.rows = rows_of(PCAPR, self.stats)

    def test_operations_of_readme(self):
        names = {r["op_name"] for r in self.rows}
        for name in ("updateLocation", "insertSubscriberData", "sendRoutingInfo",
                     "sendRoutingInfoForSM", "sendAuthenticationInfo",
                     "sendIdentification", "anyTimeInterrogation",
                     "updateGprsLocation", "mo-forwardSM"):
            self.assertIn(name, names)

    def test_update_location_identities(self):
        row = [r for r in self.rows if r["frame"] == 86][0]
        self.assertEqual(row["tcap_type"], "begin")
        self.assertEqual(row["otid"], "2c5b001c")
        self.assertEqual(row["app_context"], "networkLocUpContext-v3")
        self.assertEqual((row["op_code"], row["op_name"]), (2, "updateLocation"))
        self.assertEqual(row["imsi"], "001011356567851")
        self.assertEqual(row["msc"], "441122")
        self.assertEqual(row["vlr"], "441122")
        self.assertEqual((row["opc"], row["dpc"]), (2105, 3113))

    def test_sri_for_sm_over_m2pa(self):
        invoke = [r for r in self.rows if r["frame"] == 29][0]
        self.assertEqual(invoke["ppid"], 5)
        self.assertIsNone(invoke["m3ua_class"])
        self.assertEqual((invoke["opc"], invoke["dpc"], invoke["si"]), (3, 4536, 3))
        self.assertEqual(invoke["msisdn"], "41792457333")
        self.assertEqual(invoke["smsc"], "41799797800")
        self.assertEqual(invoke["calling_gt"], "41799797800")
        self.assertEqual(invoke["called_ssn"], 6)
        result = [r for r in self.rows if r["frame"] == 31][0]
        self.assertEqual(result["component"], "returnResultLast")
        self.assertEqual(result["dtid"], "00000001")
        self.assertEqual(result["imsi"], "228012120109856")
        self.assertEqual(result["msc"], "41794947000")

    def test_continue_and_end(self):
        row = [r for r in self.rows if r["frame"] == 75][0]
        self.assertEqual((row["tcap_type"], row["otid"], row["dtid"]),
                         ("continue", "840001ff", "a5050001"))
        row = [r for r in self.rows if r["frame"] == 77][0]
        self.assertEqual((row["tcap_type"], row["otid"], row["dtid"]),
                         ("end", None, "a5050001"))

    def test_segmented_xudt_reassembled(self):
        # frames 33 (first segment) and 34 (last) carry one mo-forwardSM
        first = [r for r in self.rows if r["frame"] == 33][0]
        self.assertEqual(first["sccp_type"], "XUDT")
        self.assertIsNone(first["tcap_type"])
        self.assertIsNone(first["error"])
        last = [r for r in self.rows if r["frame"] == 34][0]
        self.assertEqual(last["op_name"], "mo-forwardSM")
        self.assertEqual(last["imsi"], "228012120109856")

    def test_one_row_per_component(self):
        rows = [r for r in self.rows if r["frame"] == 3]
        self.assertGreater(len(rows), 1)
        self.assertEqual({r["chunk"] for r in rows}, {0})

    def test_counts(self):
        self.assertEqual(self.stats.frames, 367)
        self.assertEqual(self.stats.rows, len(self.rows))
        self.assertGreater(self.stats.skipped.get("not_ip", 0), 0)


class TimkamTests(unittest.TestCase):

    def one(self, name):
        rows = rows_of(os.path.join(TIMKAM, name))
        return rows

    def test_beat_ack_without_data(self):
        rows = self.one("test_retrans_no_chunk_data.pcap")
        self.assertEqual(len(rows), 1)
        self.assertEqual((rows[0]["m3ua_class"], rows[0]["m3ua_type"]), ("ASPSM", "BEAT_ACK"))
        self.assertIsNone(rows[0]["error"])

    def test_long_length_in_dialogue(self):
        rows = self.one("test_long_length_in_dialogue.pcap")
        self.assertEqual(rows[0]["component"], "returnResultLast")
        self.assertIsNone(rows[0]["error"])

    def test_gt_at_end_of_message(self):
        row = self.one("test_cgGT_in_end_of_msg.pcap")[0]
        self.assertEqual(row["op_name"], "sendAuthenticationInfo")
        self.assertTrue(row["calling_gt"])

    def test_every_file_parses(self):
        directory = capture(TIMKAM)
        for name in sorted(os.listdir(directory)):
            if name.endswith(".pcap"):
                rows = rows_of(os.path.join(directory, name))
                self.assertTrue(rows, name)


class CliTests(unittest.TestCase):

    def test_parse_csv_and_msgpack(self):
        path = capture(PCAPR)
        tmp = temp_dir(self)
        csv_path = os.path.join(tmp, "out.csv")
        mp_path = os.path.join(tmp, "out.msgpack")
        self.assertEqual(main(["parse", path, "-o", csv_path, "-q"]), 0)
        self.assertEqual(main(["parse", path, "-o", mp_path, "-q"]), 0)
        csv_rows = list(rowio.read_rows(csv_path))
        mp_rows = list(rowio.read_rows(mp_path))
        self.assertEqual(len(csv_rows), len(mp_rows))
        self.assertEqual(list(csv_rows[0]), list(COLUMNS))
        for a, b in zip(csv_rows, mp_rows):
            self.assertEqual(a["frame"], str(b["frame"]))
            self.assertEqual(a["imsi"], b["imsi"] or "")
        frame = rowio.read_frame(mp_path)
        self.assertEqual(list(frame.columns), list(COLUMNS))
        frame = rowio.read_frame(csv_path)
        self.assertEqual(len(frame), len(csv_rows))


class PcapngTests(unittest.TestCase):

    def test_pcapng_copy_gives_the_same_rows(self):
        import subprocess
        path = capture(PCAPR)
        editcap = shutil.which("editcap")
        if editcap is None:
            raise unittest.SkipTest("editcap (Wireshark) is not installed")
        out = os.path.join(temp_dir(self), "pcapr.pcapng")
        subprocess.run([editcap, "-F", "pcapng", path, out], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.assertEqual(list(iter_rows(out)), list(iter_rows(path)))


class SummaryTests(unittest.TestCase):

    def test_summary_and_no_progress_bar_off_a_terminal(self):
        import io
        from ss7tools.cli import build_parser, run_parse
        path = capture(PCAPR)
        out = os.path.join(temp_dir(self), "o.csv")
        args = build_parser(()).parse_args(["parse", path, "-o", out])
        err = io.StringIO()
        self.assertEqual(run_parse(args, stderr=err), 0)
        text = err.getvalue()
        self.assertIn("frames: 367", text)
        self.assertIn("skipped:", text)
        self.assertIn("sctp_duplicate_tsn", text)
        self.assertNotIn("rows/s", text)
        self.assertNotIn("\r", text)

    def test_bad_input_file(self):
        import io
        from ss7tools.cli import build_parser, run_parse
        bad = os.path.join(temp_dir(self), "bad.pcap")
        with open(bad, "wb") as handle:
            handle.write(b"not a capture at all")
        args = build_parser(()).parse_args(["parse", bad, "-o", bad + ".csv"])
        err = io.StringIO()
        self.assertEqual(run_parse(args, stderr=err), 2)
        self.assertIn("not a pcap", err.getvalue())


class ProgressTests(unittest.TestCase):

    def test_bar_only_on_a_terminal(self):
        import io
        from ss7tools.cli import _progress

        class Terminal(io.StringIO):
            def isatty(self):
                return True

        rows = list(range(5000))
        plain = io.StringIO()
        self.assertIs(_progress(rows, plain), rows)
        term = Terminal()
        self.assertEqual(list(_progress(iter(rows), term)), rows)
        self.assertIn("5.00k", term.getvalue())


def operation_names(stats):
    """A task other than formatting (see ss7tools.pipeline): the operation
    names of the messages' components."""
    def names(messages):
        for _ in messages:
            stats.count("task_messages")
        return [c.op_name for m in messages for c in m.components]
    return names


class ParallelTests(unittest.TestCase):

    def test_jobs_give_the_same_bytes_and_stats(self):
        from ss7tools.pipeline import write_rows_file
        tmp = temp_dir(self)
        for path in (PCAPR, ARKIME):
            capture(path)
            for fmt in ("csv", "msgpack"):
                serial_stats, parallel_stats = ParseStats(), ParseStats()
                serial = os.path.join(tmp, "serial." + fmt)
                parallel = os.path.join(tmp, "parallel." + fmt)
                rowio.write_rows(serial, iter_rows(path, serial_stats), fmt=fmt)
                written = write_rows_file(path, parallel, fmt, 2, parallel_stats)
                with open(serial, "rb") as a, open(parallel, "rb") as b:
                    self.assertEqual(a.read(), b.read())
                self.assertEqual(serial_stats.as_dict(), parallel_stats.as_dict())
                self.assertEqual(written, serial_stats.rows)

    def test_both_start_methods_and_small_batches(self):
        # workers forked from this process and from the forkserver; batches
        # small enough for several in flight per worker
        from ss7tools import parallel, pipeline
        path = capture(PCAPR)
        tmp = temp_dir(self)
        serial = os.path.join(tmp, "serial.csv")
        rowio.write_rows(serial, iter_rows(path), fmt="csv")
        old = parallel.START_METHOD, parallel.BATCH
        try:
            for method in ("fork", "forkserver"):
                parallel.START_METHOD, parallel.BATCH = method, 7
                out = os.path.join(tmp, method + ".csv")
                pipeline.write_rows_file(path, out, "csv", 3, ParseStats())
                with open(serial, "rb") as a, open(out, "rb") as b:
                    self.assertEqual(a.read(), b.read(), method)
        finally:
            parallel.START_METHOD, parallel.BATCH = old

    def test_segmented_messages_decoded_in_order(self):
        # small batches so that XUDT segments land in different workers
        from ss7tools import parallel, pipeline
        path = capture(PCAPR)
        tmp = temp_dir(self)
        old = parallel.BATCH
        parallel.BATCH = 3
        try:
            out = os.path.join(tmp, "p.msgpack")
            pipeline.write_rows_file(path, out, "msgpack", 2, ParseStats())
        finally:
            parallel.BATCH = old
        rows = [r for r in rowio.read_rows(out) if r["frame"] == 34]
        self.assertEqual(rows[0]["op_name"], "mo-forwardSM")

    def test_any_function_of_messages(self):
        from ss7tools.pipeline import map_messages
        path = capture(PCAPR)
        expected = [r["op_name"] for r in rows_of(PCAPR) if r["component"] is not None]
        for jobs in (1, 2):
            found, stats = [], ParseStats()
            map_messages(path, jobs, stats, operation_names, found.extend)
            self.assertEqual(found, expected, jobs)
            self.assertEqual(stats.counters["task_messages"], stats.messages)

    def test_cli_jobs_option(self):
        path = capture(PCAPR)
        tmp = temp_dir(self)
        one, two = os.path.join(tmp, "1.csv"), os.path.join(tmp, "2.csv")
        self.assertEqual(main(["parse", path, "-o", one, "-q", "-j", "1"]), 0)
        self.assertEqual(main(["parse", path, "-o", two, "-q", "--jobs", "2"]), 0)
        with open(one) as a, open(two) as b:
            self.assertEqual(a.read(), b.read())
