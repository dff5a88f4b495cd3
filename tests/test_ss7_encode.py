"""Tests for ss7tools.encode, the SIGTRAN traffic builder."""

import io
import os
import shutil
import struct
import subprocess
import tempfile

from twisted.trial import unittest

from ss7tools.encode import (LINKTYPE_LINUX_SLL,
                             LINKTYPE_LINUX_SLL2, LINKTYPE_RAW, OPERATIONS,
                             MapBuilder, PcapngWriter, PcapWriter,
                             SccpAddress, SccpEncodeError, SctpAssociation,
                             crc32c, data_chunk, ipv4_packet, m3ua_data,
                             mtp3_routing_label, sccp_ludt, sccp_udt,
                             sccp_xudt_segments, sctp_packet,
                             tcap_abort, tcap_begin, tcap_end, invoke,
                             return_error, reject, write_sample_capture)
from ss7tools.encode.crc32c import with_sctp_checksum
from ss7tools.encode.gsmmap import isdn, tbcd
from ss7tools.encode.link import ip_checksum
from ss7tools.encode.tcap import TcapEncodeError, _MESSAGE

TSHARK = shutil.which("tshark")


class Crc32cTests(unittest.TestCase):
    def test_check_value(self):
        # RFC 3720 B.4 / the standard CRC-32C check value
        self.assertEqual(crc32c(b"123456789"), 0xE3069283)
        self.assertEqual(crc32c(bytes(32)), 0x8A9136AA)

    def test_incremental(self):
        self.assertEqual(crc32c(b"6789", crc32c(b"12345")), 0xE3069283)

    def test_slicing_matches_bytewise(self):
        from ss7tools.encode.crc32c import CRC32C_TABLE
        data = bytes((i * 37 + 11) % 256 for i in range(1000))
        for length in (0, 1, 7, 8, 9, 15, 16, 17, 999, 1000):
            crc = 0xFFFFFFFF
            for byte in data[:length]:
                crc = CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
            self.assertEqual(crc32c(data[:length]), crc ^ 0xFFFFFFFF)

    def test_sctp_packet_checksum_matches_scapy(self):
        from scapy.layers.sctp import SCTP, SCTPChunkData
        packet = sctp_packet(2905, 2906, 0xDEADBEEF,
                             [data_chunk(7, 1, 0, 3, b"hello")])
        ours = packet[8:12]
        theirs = bytes(SCTP(sport=2905, dport=2906, tag=0xDEADBEEF) /
                       SCTPChunkData(tsn=7, stream_id=1, stream_seq=0,
                                     proto_id=3, data=b"hello",
                                     beginning=1, ending=1))[8:12]
        self.assertEqual(ours, theirs)
        self.assertEqual(with_sctp_checksum(packet[:8] + b"\0\0\0\0"
                                            + packet[12:]), packet)


class LayerTests(unittest.TestCase):
    def test_ipv4_checksum_verifies(self):
        packet = ipv4_packet("10.0.0.1", "10.0.0.2", b"x" * 11)
        self.assertEqual(ip_checksum(packet[:20]), 0)
        self.assertEqual(struct.unpack("!H", packet[2:4])[0], 31)

    def test_data_chunk_flags_and_padding(self):
        chunk = data_chunk(1, 2, 3, 3, b"abcde", begin=True, end=False)
        self.assertEqual(chunk[1], 0x02)
        self.assertEqual(struct.unpack("!H", chunk[2:4])[0], 21)
        self.assertEqual(len(chunk), 24)

    def test_fragmentation_numbers_tsns(self):
        assoc = SctpAssociation(1, 2, 3, initial_tsn=10, max_fragment=4)
        chunks = assoc.data_chunks(b"0123456789", 3, stream=5)
        self.assertEqual([c[1] for c in chunks], [0x02, 0x00, 0x01])
        self.assertEqual([struct.unpack("!I", c[4:8])[0] for c in chunks],
                         [10, 11, 12])
        second = assoc.data_chunks(b"x", 3, stream=5)[0]
        self.assertEqual(struct.unpack("!H", second[10:12])[0], 1)

    def test_m3ua_data_layout(self):
        msg = m3ua_data(0x123, 0x456, 3, 2, 7, b"PAYLOAD", rc=9, na=8)
        self.assertEqual(msg[:4], b"\x01\x00\x01\x01")
        self.assertEqual(struct.unpack("!I", msg[4:8])[0], len(msg))
        self.assertEqual(msg[8:16], b"\x02\x00\x00\x08\x00\x00\x00\x08")
        self.assertEqual(msg[16:24], b"\x00\x06\x00\x08\x00\x00\x00\x09")
        self.assertEqual(msg[24:28], b"\x02\x10\x00\x17")
        self.assertEqual(msg[28:40], bytes.fromhex("000001230000045603020007"))

    def test_mtp3_label(self):
        label = struct.unpack("<I", mtp3_routing_label(1000, 2000, 5))[0]
        self.assertEqual((label & 0x3FFF, (label >> 14) & 0x3FFF, label >> 28),
                         (2000, 1000, 5))


class SccpTests(unittest.TestCase):
    def test_udt_pointers(self):
        called = SccpAddress(ssn=6, digits="4917", gti=4)
        calling = SccpAddress(ssn=7, digits="123", gti=1, pc=100)
        msg = sccp_udt(called, calling, b"DATA", protocol_class=1)
        self.assertEqual(msg[:2], b"\x09\x01")
        p1, p2, p3 = msg[2], msg[3], msg[4]
        self.assertEqual(msg[2 + p1 + 1:2 + p1 + 1 + msg[2 + p1]],
                         called.encode())
        self.assertEqual(msg[3 + p2 + 1:3 + p2 + 1 + msg[3 + p2]],
                         calling.encode())
        self.assertEqual(msg[4 + p3:], b"\x04DATA")

    def test_gt_encodings(self):
        self.assertEqual(SccpAddress(ssn=6, digits="12345", gti=4).encode(),
                         bytes.fromhex("12 06 00 11 04 21 43 05".replace(" ", "")))
        self.assertEqual(SccpAddress(ssn=6, digits="1234", gti=1).encode(),
                         bytes.fromhex("0606042143"))
        self.assertEqual(SccpAddress(ssn=6, pc=0x123).encode(),
                         bytes.fromhex("43230106"))

    def test_xudt_segments_carry_count_and_first_bit(self):
        segs = sccp_xudt_segments(SccpAddress(ssn=6, digits="1"),
                                  SccpAddress(ssn=7, digits="2"),
                                  bytes(500), 0xABCDEF, segment_size=200)
        self.assertEqual(len(segs), 3)
        for index, seg in enumerate(segs):
            opt = 6 + seg[6]
            self.assertEqual(seg[opt], 0x10)
            self.assertEqual(seg[opt + 2] & 0x0F, 2 - index)
            self.assertEqual(bool(seg[opt + 2] & 0x80), index == 0)
            self.assertEqual(seg[opt + 3:opt + 6], b"\xab\xcd\xef")

    def test_too_long_for_udt(self):
        self.assertRaises(SccpEncodeError, sccp_udt, SccpAddress(ssn=6),
                          SccpAddress(ssn=7), bytes(300))
        self.assertTrue(sccp_ludt(SccpAddress(ssn=6), SccpAddress(ssn=7),
                                  bytes(3000)))


class CatalogueTests(unittest.TestCase):
    """One MAP catalogue for the encoder and the decoder."""

    def test_encoder_and_decoder_share_it(self):
        from ss7tools import gsmmap as decoder_map
        from ss7tools.map_catalogue import MAP_BY_CODE, MAP_BY_NAME, context_oid
        for name, op in OPERATIONS.items():
            spec = MAP_BY_NAME[name]
            self.assertEqual((op.code, op.context, op.version), (spec.code, spec.context,
                                                                 spec.version))
            self.assertIn(op.arg_type, (None, spec.argument_type))
            self.assertIn(op.res_type, (None, spec.result_type))
            self.assertEqual(MapBuilder().context(op), context_oid(op.context, op.version))
            self.assertEqual(decoder_map.operation_name(op.code), name)
            oid = ".".join(map(str, context_oid(op.context, op.version)))
            self.assertEqual(decoder_map.application_context_name(oid),
                             "%s-v%d" % (op.context, op.version))
        for code, spec in MAP_BY_CODE.items():
            self.assertEqual(decoder_map.operation_name(code), spec.name)


class TcapMapTests(unittest.TestCase):
    def decode(self, data):
        _MESSAGE.from_ber(data)
        return _MESSAGE.get_val()

    def test_every_operation_round_trips(self):
        builder = MapBuilder()
        for name, op in OPERATIONS.items():
            kind, body = self.decode(builder.begin(name, 0x01020304))
            self.assertEqual(kind, "begin")
            self.assertEqual(body["otid"], b"\x01\x02\x03\x04")
            component = body["components"][0][1][1]
            self.assertEqual(component["opcode"], ("local", op.code))
            acn = body["dialoguePortion"]["encoding"][1][1][1][
                "application-context-name"]
            self.assertEqual(acn[-2:], (builder.context(op)[-2], op.version))
            if op.arg_type:
                arg_name = component["argument"][0]
                if not isinstance(arg_name, str):
                    arg_name = arg_name[1]
                self.assertEqual(arg_name, op.arg_type)
            if op.res_type:
                kind, body = self.decode(builder.end_result(name, 5, 1))
                self.assertEqual(body["components"][0][1][1]["result"][
                    "opcode"], ("local", op.code))

    def test_argument_carries_imsi(self):
        data = MapBuilder().begin("updateLocation", 1)
        self.assertIn(b"\x04\x08" + tbcd("001010123456789"), data)

    def test_error_reject_abort(self):
        kind, body = self.decode(tcap_end(9, [return_error(1, 27),
                                              reject(None, "general", 2)]))
        self.assertEqual(kind, "end")
        self.assertEqual(body["components"][0][1][1]["errcode"], ("local", 27))
        kind, body = self.decode(tcap_abort(9, p_abort_cause=1))
        self.assertEqual((kind, body["reason"]), ("abort", ("p-abortCause", 1)))

    def test_raw_argument(self):
        kind, body = self.decode(tcap_begin(1, [invoke(1, 2, b"\x30\x03\x80\x01\x05")]))
        self.assertEqual(body["components"][0][1][1]["argument"][1],
                         b"\x80\x01\x05")

    def test_bad_values_raise_typed_error(self):
        self.assertRaises(TcapEncodeError, tcap_begin, b"12345")
        self.assertRaises(TcapEncodeError, invoke, 1, 2, b"\x30\x09\x80")

    def test_address_strings(self):
        self.assertEqual(isdn("4917"), b"\x91\x94\x71")
        self.assertEqual(tbcd("123"), b"\x21\xf3")


class WriterTests(unittest.TestCase):
    def test_pcap_header_and_record(self):
        out = io.BytesIO()
        with PcapWriter(out, linktype=LINKTYPE_RAW) as writer:
            writer.write(b"\x45" + bytes(19), (1700000000, 123456789))
        data = out.getvalue()
        self.assertEqual(struct.unpack("<IHHiIII", data[:24])[6], LINKTYPE_RAW)
        self.assertEqual(struct.unpack("<IIII", data[24:40]),
                         (1700000000, 123456, 20, 20))

    def test_pcap_nanosecond(self):
        out = io.BytesIO()
        PcapWriter(out, nanosecond=True).write(b"x", (5, 123456789))
        self.assertEqual(out.getvalue()[:4], b"\x4d\x3c\xb2\xa1")
        self.assertEqual(struct.unpack("<II", out.getvalue()[24:32]),
                         (5, 123456789))

    def test_pcapng_blocks(self):
        out = io.BytesIO()
        with PcapngWriter(out) as writer:
            writer.write(b"abc", 1.5)
            writer.write(b"abcd", 2.0, linktype=LINKTYPE_LINUX_SLL)
        data = out.getvalue()
        kinds, pos = [], 0
        while pos < len(data):
            kind, length = struct.unpack("<II", data[pos:pos + 8])
            self.assertEqual(data[pos + length - 4:pos + length],
                             struct.pack("<I", length))
            kinds.append(kind)
            pos += length
        self.assertEqual(kinds, [0x0A0D0D0A, 1, 6, 1, 6])


class TsharkDecodesGeneratedTraffic(unittest.TestCase):
    """Wireshark is the reference: the generated traffic must decode with
    good checksums and no malformed or expert warnings."""

    def setUp(self):
        if TSHARK is None:
            raise unittest.SkipTest("tshark is not installed")
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def tshark(self, path, *args):
        return subprocess.run(
            [TSHARK, "-n", "-r", path, "-o", "sctp.checksum:CRC-32C"] + list(args),
            capture_output=True, text=True, check=True).stdout

    def check(self, **kwargs):
        path = os.path.join(self.dir, "sample.pcap")
        frames = write_sample_capture(path, **kwargs)
        self.assertGreater(frames, 80)
        expert = self.tshark(path, "-q", "-z", "expert,warn")
        self.assertNotIn("Malformed", expert)
        self.assertNotIn("Warning", expert)
        status = self.tshark(path, "-T", "fields", "-e", "sctp.checksum.status")
        self.assertEqual(set(status.split()), {"1"})
        ops = self.tshark(path, "-Y", "gsm_old.localValue", "-T", "fields",
                          "-e", "gsm_old.localValue")
        seen = {int(v) for line in ops.split() for v in line.split(",")}
        self.assertTrue({op.code for op in OPERATIONS.values()} <= seen)
        return path

    def test_ethernet(self):
        self.check()

    def test_ipv6_vlan_pcapng(self):
        self.check(pcapng=True, ipv6=True, vlans=(100, 200))

    def test_cooked_and_raw(self):
        for linktype in (LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW):
            self.check(linktype=linktype)


class SampleCoversTheIssue(unittest.TestCase):
    """The generated sample holds every message kind the parse issue lists
    (checked through the parser's rows)."""

    def test_coverage(self):
        try:
            from ss7tools.rows import COLUMNS, iter_rows
        except ImportError as exc:
            raise unittest.SkipTest("parser not available: %s" % exc)
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "s.pcap")
        write_sample_capture(path)
        rows = [dict(zip(COLUMNS, row)) for row in iter_rows(path)]

        def seen(column):
            return {row[column] for row in rows} - {None}
        self.assertEqual(seen("m3ua_class"),
                         {"MGMT", "Transfer", "SSNM", "ASPSM", "ASPTM", "RKM"})
        from ss7tools.encode.sigtran import M3UA_TYPES
        self.assertEqual(seen("m3ua_type"),
                         {name for types in M3UA_TYPES.values() for name in types})
        self.assertEqual(seen("sccp_type"), {"UDT", "XUDT", "LUDT", "UDTS", "XUDTS"})
        self.assertEqual(seen("tcap_type"), {"begin", "continue", "end", "abort",
                                             "unidirectional"})
        self.assertEqual(seen("component"), {"invoke", "returnResultLast",
                                             "returnResultNotLast", "returnError",
                                             "reject"})
        self.assertEqual(seen("ppid"), {3, 5})
        self.assertTrue({op.code for op in OPERATIONS.values()} <= seen("op_code"))
        self.assertTrue(seen("called_pc") and seen("network_appearance")
                        and seen("routing_context"))
        for column in ("imsi", "msisdn", "msc", "vlr", "hlr", "sgsn", "smsc"):
            self.assertTrue(seen(column), column)
        self.assertEqual(seen("error"), set())
