"""The short message TPDU (3GPP TS 23.040 9.2) inside MAP's SM-RP-UI:
TP-PID and TP-DCS read with every length checked, carried into the rows
(tp_pid, tp_dcs), malformed TPDUs counted and never a crash, and rows
files written before the columns existed still read."""

import os

import msgpack
from twisted.trial import unittest

from ss7tools.capture import CapturedMessage
from ss7tools.decoder import MessageDecoder
from ss7tools.errors import TpduError
from ss7tools.io import read_rows, write_rows
from ss7tools.rowformat import MSGPACK_FORMAT
from ss7tools.rows import COLUMN_INDEX, COLUMNS, iter_rows, message_rows
from ss7tools.sms_tpdu import SHORT_MESSAGE_TYPE_0, message_class, pid_dcs, seven_bit
from ss7tools.stats import ParseStats

from tests import ss7_parse_builders as b

HERE = os.path.dirname(os.path.abspath(__file__))
PCAPR = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "ss7-captures", "pcapr",
                                      "pcapr_traces.pcap"))

# SMS-DELIVER of the public pcapr trace (frame 34, MAP v2 forwardSM): TP-OA
# 15 digits international, TP-PID 0, TP-DCS 0, TP-UDL 160 septets
REAL_DELIVER = bytes.fromhex(
    "200f9121436587092143f5000080101121901040a031d98c56b3dd7039584c36a3d56c375c0e1693cd68"
    "35db0d9783c564335acd76c3e56031d98c56b3dd7039584c36a3d56c375c0e1693cd6835db0d9783c56"
    "4335acd76c3e56031d98c56b3dd7039584c36a3d56c375c0e1693cd6835db0d9783c564335acd76c3e5"
    "6031d98c56b3dd7039584c36a3d56c375c0e1693cd6835db0d97c3c664335acd76c3e5b4")
OA = bytes.fromhex("0b916407281553f8")            # TP-OA: 11 digits, international
SCTS = bytes.fromhex("42219051939180")
# TS 23.040 9.2.2.1 SMS-DELIVER of a short message type 0 (TP-PID 0x40,
# 9.2.3.9): no user data
SILENT_DELIVER = b"\x04" + OA + b"\x40\x00" + SCTS + b"\x00"
# SMS-DELIVER in UCS2 (TP-DCS 0x08: TP-UDL counts octets), "Hi"
UCS2_DELIVER = b"\x04" + OA + b"\x00\x08" + SCTS + b"\x04\x00H\x00i"
# SMS-SUBMIT (9.2.2.2) with TP-VPF relative (first octet 0x11: one octet
# TP-VP), TP-PID 0, TP-DCS class 0 (flash, 0x10), "Hello world"
SUBMIT_RELATIVE = (b"\x11\x00" + OA + b"\x00\x10\xaa\x0b"
                   + bytes.fromhex("c8329bfd06dddf723619"))
# SMS-SUBMIT with TP-VPF absolute (first octet 0x19: seven octets TP-VP)
SUBMIT_ABSOLUTE = b"\x19\x01" + OA + b"\x40\x00" + SCTS + b"\x00"
# SMS-COMMAND (9.2.2.4): TP-PID 0, TP-CT 1 (cancel status report), TP-MN 5
COMMAND = b"\x02\x07\x00\x01\x05" + OA + b"\x00"
# SMS-STATUS-REPORT (9.2.2.3) with TP-PI announcing TP-PID and TP-DCS
STATUS_REPORT = b"\x06\x07" + OA + SCTS + SCTS + b"\x00\x03\x40\x00"


class TpduTests(unittest.TestCase):

    def test_real_capture_deliver(self):
        self.assertEqual(pid_dcs(REAL_DELIVER, from_mobile=False), (0, 0))

    def test_types_and_fields(self):
        for tpdu, from_mobile, want in (
                (SILENT_DELIVER, False, (SHORT_MESSAGE_TYPE_0, 0)),
                (UCS2_DELIVER, False, (0, 8)),
                (SUBMIT_RELATIVE, True, (0, 0x10)),
                (SUBMIT_ABSOLUTE, True, (0x40, 0)),
                (COMMAND, True, (0, None)),
                (STATUS_REPORT, False, (0x40, 0)),
                (b"\x01\x00", False, (None, None)),       # SMS-SUBMIT-REPORT (an answer's)
                (b"\x00\x00", True, (None, None))):       # SMS-DELIVER-REPORT
            self.assertEqual(pid_dcs(tpdu, from_mobile), want, tpdu.hex())

    def test_status_report_without_parameters(self):
        self.assertEqual(pid_dcs(STATUS_REPORT[:-3], False), (None, None))

    def test_malformed_tpdus_raise(self):
        for tpdu, from_mobile, words in (
                (b"", False, "empty"),
                (b"\x03", False, "reserved TP-MTI"),
                (b"\x04", False, "TP-OA truncated"),
                (b"\x04\x15\x91" + b"\x11" * 11, False, "21 digits"),
                (b"\x04\x0b\x91\x64\x07", False, "runs past"),
                (b"\x04" + OA, False, "TP-PID missing"),
                (b"\x04" + OA + b"\x40", False, "TP-DCS missing"),
                (b"\x04" + OA + b"\x40\x00" + SCTS[:3], False, "TP-SCTS truncated"),
                (b"\x04" + OA + b"\x40\x00" + SCTS, False, "TP-UDL missing"),
                (b"\x04" + OA + b"\x00\x00" + SCTS + b"\x0b\xc8\x32", False, "TP-UD of 10"),
                (b"\x04" + OA + b"\x00\x00" + SCTS + b"\xa1" + b"\x00" * 141, False,
                 "161 septets"),
                (b"\x04" + OA + b"\x00\x08" + SCTS + b"\x8d" + b"\x00" * 141, False,
                 "141 octets"),
                (SUBMIT_ABSOLUTE[:-4], True, "TP-VP truncated"),
                (COMMAND[:-1], True, "TP-CDL missing"),
                (COMMAND[:-1] + b"\x05\x00", True, "TP-CD of 5"),
                (STATUS_REPORT[:-1], False, "TP-DCS missing")):
            with self.assertRaises(TpduError, msg=tpdu.hex()) as caught:
                pid_dcs(tpdu, from_mobile)
            self.assertIn(words, str(caught.exception))

    def test_truncation_at_every_length_raises_or_answers(self):
        # never anything but an answer or TpduError, whatever is cut off
        for tpdu, from_mobile in ((REAL_DELIVER, False), (SUBMIT_RELATIVE, True),
                                  (COMMAND, True), (STATUS_REPORT, False)):
            for cut in range(len(tpdu)):
                try:
                    pid_dcs(tpdu[:cut], from_mobile)
                except TpduError:
                    pass

    def test_data_coding_scheme(self):
        # TS 23.038 4: the alphabet decides what TP-UDL counts
        self.assertTrue(seven_bit(0x00))
        self.assertFalse(seven_bit(0x08))        # UCS2
        self.assertFalse(seven_bit(0x04))        # 8-bit data
        self.assertFalse(seven_bit(0x20))        # compressed
        self.assertTrue(seven_bit(0xF0))         # group 1111, default alphabet
        self.assertFalse(seven_bit(0xF4))        # group 1111, 8-bit
        self.assertFalse(seven_bit(0xE0))        # message waiting, UCS2
        self.assertEqual([message_class(d) for d in (0x00, 0x10, 0x11, 0x12, 0x13, 0xF0,
                                                     0xF6, 0xC0, None)],
                         [None, 0, 1, 2, 3, 0, 2, None, None])


def forward_sm(op_code, da, tpdu, imsi="001011234567890"):
    """A MAP forwardSM-style argument: sm-RP-DA, sm-RP-OA, sm-RP-UI."""
    if da == "imsi":
        da = b.tlv(0x80, b.tbcd(imsi))
    else:
        da = b.tlv(0x84, b.isdn("4477009"))
    oa = b.tlv(0x84, b.isdn("4477009")) if op_code == 44 else b.tlv(0x82, b.isdn("4477123"))
    return b.tlv(0x30, da + oa + b.tlv(0x04, tpdu))


def decoded(parameter, op_code, stats=None):
    tc = b.tcap_begin(b"\x0a\x1b\x2c\x3d", [b.invoke(1, op_code, parameter)])
    s = b.udt(b.gt_address("4477002", 8), b.gt_address("4477009", 8, pc=300), tc)
    payload = b.m3ua_data(300, 400, s)
    return MessageDecoder(stats).decode(CapturedMessage(
        7, 0, 1000.5, "10.0.0.1", "10.0.0.2", 2905, 2905, 1, 3, payload, 1, b"", b"", (0, 0)))


class DecoderTests(unittest.TestCase):
    PID, DCS, ERROR = COLUMN_INDEX["tp_pid"], COLUMN_INDEX["tp_dcs"], COLUMN_INDEX["error"]

    def test_mt_forward_sm_row(self):
        row = message_rows(decoded(forward_sm(44, "imsi", SILENT_DELIVER), 44))[0]
        self.assertEqual((row[self.PID], row[self.DCS], row[self.ERROR]), (0x40, 0, None))
        self.assertEqual(row[COLUMN_INDEX["imsi"]], "001011234567890")

    def test_direction_of_forward_sm(self):
        # forwardSM (46): sm-RP-DA an SMSC address means the TPDU is the
        # phone's (an SMS-SUBMIT); an IMSI, the SMSC's (an SMS-DELIVER)
        row = message_rows(decoded(forward_sm(46, "smsc", SUBMIT_RELATIVE), 46))[0]
        self.assertEqual((row[self.PID], row[self.DCS]), (0, 0x10))
        row = message_rows(decoded(forward_sm(46, "imsi", UCS2_DELIVER), 46))[0]
        self.assertEqual((row[self.PID], row[self.DCS]), (0, 8))

    def test_malformed_tpdu_is_counted_and_keeps_identities(self):
        stats = ParseStats()
        m = decoded(forward_sm(44, "imsi", b"\x04\x0b\x91\x64"), 44, stats)
        row = message_rows(m)[0]
        self.assertEqual(stats.undecodable, {"sms_tpdu": 1})
        self.assertTrue(row[self.ERROR].startswith("sms_tpdu: TP-OA of 11 digits"))
        self.assertEqual((row[self.PID], row[COLUMN_INDEX["imsi"]]),
                         (None, "001011234567890"))

    def test_other_operations_have_none(self):
        row = message_rows(decoded(forward_sm(44, "imsi", SILENT_DELIVER), 45))[0]
        self.assertEqual((row[self.PID], row[self.DCS]), (None, None))

    def test_real_capture(self):
        if not os.path.exists(PCAPR):
            raise unittest.SkipTest("no %s" % PCAPR)
        got = {row[COLUMN_INDEX["frame"]]: (row[self.PID], row[self.DCS])
               for row in iter_rows(PCAPR) if row[self.PID] is not None}
        self.assertEqual(got, {34: (0, 0), 49: (0, 0), 63: (0, 0)})


class RowsFileTests(unittest.TestCase):

    def row(self):
        return message_rows(decoded(forward_sm(44, "imsi", SILENT_DELIVER), 44))[0]

    def test_csv_and_msgpack_carry_the_columns(self):
        for name in ("rows.csv", "rows.msgpack"):
            path = self.mktemp() + name
            write_rows(path, [self.row()])
            (read,) = list(read_rows(path))
            self.assertEqual(str(read["tp_pid"]), "64", name)
            self.assertEqual(str(read["tp_dcs"]), "0", name)

    def test_old_msgpack_without_the_columns_reads(self):
        from ss7tools.detect.source import iter_file_messages, iter_file_rows
        old = [c for c in COLUMNS if c not in ("tp_pid", "tp_dcs")]
        row = self.row()
        path = self.mktemp() + ".msgpack"
        with open(path, "wb") as out:
            out.write(msgpack.packb({"format": MSGPACK_FORMAT, "version": 1, "columns": old},
                                    use_bin_type=True))
            out.write(msgpack.packb([row[COLUMN_INDEX[c]] for c in old], use_bin_type=True))
        (got,) = list(iter_file_rows(path))
        self.assertEqual(len(got), len(COLUMNS))
        self.assertEqual((got[COLUMN_INDEX["tp_pid"]], got[COLUMN_INDEX["imsi"]]),
                         (None, "001011234567890"))
        (message,) = list(iter_file_messages(path))
        self.assertEqual(message[0], got)
        (as_dict,) = list(read_rows(path))
        self.assertNotIn("tp_pid", as_dict)
