"""Unit tests of the ss7tools decoding layers, from link layer to GSM MAP."""

import os
import struct

from twisted.trial import unittest

from ss7tools import ber, gsmmap, m2pa, m3ua, sccp, tcap
from ss7tools.pcapio import CaptureError, Ipv4Reassembler, SkipPacket, decode_ip, iter_frames
from ss7tools.capture import CapturedMessage, iter_messages
from ss7tools.decoder import MessageDecoder
from ss7tools.rows import COLUMNS, iter_rows, message_rows, row_dict
from ss7tools.sctp import SctpError, SctpReader
from ss7tools.stats import ParseStats

from tests import ss7_parse_builders as b

UL_ARG = b.tlv(0x30, b.tlv(0x04, b.tbcd("001011234567890")) + b.tlv(0x81, b.isdn("4477001"))
               + b.tlv(0x04, b.isdn("4477002")))
UL_AC = bytes((0x04, 0x00, 0x00, 0x01, 0x00, 0x01, 0x03))  # 0.4.0.0.1.0.1.3


def map_message(component=None, otid=b"\x0a\x1b\x2c\x3d"):
    if component is None:
        component = b.invoke(1, 2, UL_ARG)
    tc = b.tcap_begin(otid, [component], UL_AC)
    s = b.udt(b.gt_address("4477002", 6), b.gt_address("4477001", 7, pc=300), tc)
    return b.m3ua_data(300, 400, s, rc=7, na=9)


def write(test, data):
    """Write C{data} as a capture file in C{test}'s own temporary
    directory (under trial's _trial_temp, never the system one); it is
    removed when the test ends."""
    path = test.mktemp() + ".pcap"
    with open(path, "wb") as handle:
        handle.write(data)
    test.addCleanup(os.remove, path)
    return path


def rows(test, frames, **kw):
    path = write(test, b.pcap_file(frames, **kw))
    stats = ParseStats()
    return [row_dict(r) for r in iter_rows(path, stats)], stats


def sctp_frame(chunks, **kw):
    return b.ethernet(b.ipv4(b.sctp(chunks, **kw)))


class BerTests(unittest.TestCase):

    def test_short_long_and_indefinite(self):
        data = b.tlv(0x30, b"\x02\x01\x05") + b"\x30\x80\x02\x01\x07\x30\x80\x00\x00\x00\x00" + b"\x04\x82\x01\x00" + bytes(256)
        tag, s, e, nxt = ber.read_tlv(data, 0, len(data))
        self.assertEqual((tag, data[s:e]), (0x30, b"\x02\x01\x05"))
        tag, s, e, nxt = ber.read_tlv(data, nxt, len(data))
        self.assertEqual((tag, data[s:e]), (0x30, b"\x02\x01\x07\x30\x80\x00\x00"))
        tag, s, e, nxt = ber.read_tlv(data, nxt, len(data))
        self.assertEqual((tag, e - s, nxt), (0x04, 256, len(data)))

    def test_high_tag_number(self):
        data = b"\x9f\x1f\x01\x00"
        self.assertEqual(ber.read_tlv(data, 0, 4)[0], 0x9F1F)

    def test_errors_are_typed(self):
        for bad in (b"\x30", b"\x30\x05\x00", b"\x04\x80\x00\x00", b"\x04\x85\x01\x01\x01\x01\x01",
                    b"\x30\x80\x02\x01\x00", b"\x30\x83\x00"):
            self.assertRaises(ber.BerError, ber.read_tlv, bad, 0, len(bad))

    def test_deep_indefinite_nesting_is_refused(self):
        data = b"\x30\x80" * 5000
        self.assertRaises(ber.BerError, ber.read_tlv, data, 0, len(data))

    def test_oid_and_path(self):
        self.assertEqual(ber.decode_oid(UL_AC, 0, len(UL_AC)), "0.4.0.0.1.0.1.3")
        hit = ber.find_path(UL_ARG, 0, len(UL_ARG), (0x30, (0x04, 1)))
        self.assertEqual(UL_ARG[hit[0]:hit[1]], b.isdn("4477002"))
        self.assertIsNone(ber.find_path(UL_ARG, 0, len(UL_ARG), (0x30, 0x85)))


class ErrorTreeTests(unittest.TestCase):

    def test_one_root_and_the_old_bases(self):
        from ss7tools import errors, io, parallel, pcapio, sctp, sort, split
        from ss7tools.encode import sccp as encode_sccp, tcap as encode_tcap
        from ss7tools.simulate import templates, world
        value_errors = [ber.BerError, ber.BerTruncated, pcapio.CaptureError, sctp.SctpError,
                        m3ua.M3uaError, m2pa.M2paError, sccp.SccpError, tcap.TcapError,
                        io.RowFormatError, split.SplitError, world.WorldError,
                        templates.TemplateError, encode_sccp.SccpEncodeError,
                        encode_tcap.TcapEncodeError]
        for error in value_errors + [sort.SortError, parallel.ParallelError]:
            self.assertTrue(issubclass(error, errors.Ss7ToolsError), error)
        for error in value_errors:
            self.assertTrue(issubclass(error, ValueError), error)
        self.assertTrue(issubclass(parallel.ParallelError, RuntimeError))


class CaptureFileTests(unittest.TestCase):

    def frames_of(self, data):
        return list(iter_frames(write(self, data)))

    def test_pcap_usec_nsec_and_big_endian(self):
        frames = self.frames_of(b.pcap_file([b"ab", b"cd"]))
        self.assertEqual([(f[0], f[1], f[3]) for f in frames], [(1, 1000.0005, b"ab"), (2, 1001.0005, b"cd")])
        frames = self.frames_of(b.pcap_file([b"ab"], nsec=True, big_endian=True))
        self.assertEqual(frames[0][1], 1000.0005)

    def test_pcapng_with_tsresol(self):
        frames = self.frames_of(b.pcapng_file([b"xyz"], linktype=101, tsresol=9))
        self.assertEqual(frames, [(1, 1000.0005, 101, b"xyz")])
        frames = self.frames_of(b.pcapng_file([b"xyz", b"q"]))
        self.assertEqual([f[1] for f in frames], [1000.0005, 1001.0005])

    def test_not_a_capture(self):
        self.assertRaises(CaptureError, self.frames_of, b"hello world, this is not pcap")

    def test_truncated_last_record_ends_quietly(self):
        data = b.pcap_file([b"abcdef", b"ghijkl"])[:-3]
        self.assertEqual(len(self.frames_of(data)), 1)


class LinkAndIpTests(unittest.TestCase):
    payload = b.sctp([])

    def test_ethernet_vlan_and_qinq(self):
        frame = b.ethernet(b.ipv4(self.payload), vlans=((0x88A8, 10), (0x8100, 20)))
        src, dst, proto, data = decode_ip(1, frame)
        self.assertEqual((src, dst, proto, data), ("10.0.0.1", "10.0.0.2", 132, self.payload))

    def test_linux_cooked_v1_and_v2(self):
        sll = struct.pack("!HHH8sH", 0, 1, 6, b"", 0x0800) + b.ipv4(self.payload)
        self.assertEqual(decode_ip(113, sll)[3], self.payload)
        sll2 = struct.pack("!HHIHBB8s", 0x86DD, 0, 2, 1, 0, 6, b"") + b.ipv6(self.payload)
        self.assertEqual(decode_ip(276, sll2)[:3], ("::1", "::2", 132))

    def test_raw_ip_linktypes(self):
        for linktype in (101, 12, 14, 228):
            self.assertEqual(decode_ip(linktype, b.ipv4(self.payload))[3], self.payload)
        self.assertEqual(decode_ip(229, b.ipv6(self.payload))[3], self.payload)

    def test_ipv6_extension_headers_skipped(self):
        ext = bytes((60, 0)) + bytes(6) + bytes((132, 0)) + bytes(6)  # hop-by-hop -> dest opts -> SCTP
        packet = b.ipv6(self.payload, nxt=0, extensions=ext)
        self.assertEqual(decode_ip(101, packet)[2:], (132, self.payload))

    def test_ipv4_fragments_reassembled_or_skipped(self):
        whole = b.sctp([b.data_chunk(1, b"x" * 40)])
        first = b.ipv4(whole[:24], frag=0x2000, ident=77)
        second = b.ipv4(whole[24:], frag=3, ident=77)
        self.assertRaises(SkipPacket, decode_ip, 101, first)
        reasm = Ipv4Reassembler()
        self.assertRaises(SkipPacket, decode_ip, 101, second, reasm)
        self.assertEqual(decode_ip(101, first, reasm)[3], whole)

    def test_non_ip_skipped_with_reason(self):
        arp = b.ethernet(bytes(28), ethertype=0x0806)
        with self.assertRaises(SkipPacket) as ctx:
            decode_ip(1, arp)
        self.assertEqual(ctx.exception.reason, "not_ip")


class SctpTests(unittest.TestCase):

    def setUp(self):
        self.stats = ParseStats()
        self.reader = SctpReader(self.stats)

    def packet(self, chunks, **kw):
        found = []
        self.reader.packet("a", "b", b.sctp(chunks, **kw), found)
        return [(m[0], m[1], m[2]) for m in found]

    def test_bundled_data_chunks(self):
        got = self.packet([b.data_chunk(1, b"one"), b"\x03\x00\x00\x10" + bytes(12), b.data_chunk(2, b"two", ppid=5)])
        self.assertEqual(got, [(1, 3, b"one"), (1, 5, b"two")])
        self.assertEqual(self.stats.chunks, {"SACK": 1})

    def test_fragments_out_of_order_and_duplicates(self):
        self.assertEqual(self.packet([b.data_chunk(12, b"CC", flags=1, ssn=4)]), [])
        self.assertEqual(self.packet([b.data_chunk(10, b"AA", flags=2, ssn=4)]), [])
        self.assertEqual(self.packet([b.data_chunk(10, b"AA", flags=2, ssn=4)]), [])
        self.assertEqual(self.packet([b.data_chunk(11, b"BB", flags=0, ssn=4)]), [(1, 3, b"AABBCC")])
        self.assertEqual(self.stats.skipped, {"sctp_duplicate_tsn": 1})

    def test_fragments_across_tsn_wrap(self):
        self.assertEqual(self.packet([b.data_chunk(0xFFFFFFFF, b"A", flags=2, ssn=9)]), [])
        self.assertEqual(self.packet([b.data_chunk(0, b"B", flags=0, ssn=9)]), [])
        self.assertEqual(self.packet([b.data_chunk(1, b"C", flags=1, ssn=9)]), [(1, 3, b"ABC")])

    def test_pending_fragments_are_bounded(self):
        from ss7tools import sctp as sctp_module
        for ssn in range(sctp_module.MAX_PENDING_MESSAGES + 10):
            self.packet([b.data_chunk(10 * ssn, b"x", flags=2, ssn=ssn % 65536, stream=ssn // 65536)])
        self.assertEqual(len(self.reader._fragments), sctp_module.MAX_PENDING_MESSAGES)
        self.assertEqual(self.stats.skipped["sctp_reassembly_evicted"], 10)

    def test_new_association_resets_tsns(self):
        self.packet([b.data_chunk(1, b"x")])
        self.assertEqual(self.packet([b"\x01\x00\x00\x14" + bytes(16)]), [])
        self.assertEqual(self.packet([b.data_chunk(1, b"y")]), [(1, 3, b"y")])
        self.assertEqual(self.packet([b.data_chunk(1, b"z")], vtag=99), [(1, 3, b"z")])

    def test_i_data(self):
        self.assertEqual(self.packet([b.i_data_chunk(5, b"whole", mid=1, ppid_fsn=3)]), [(1, 3, b"whole")])
        self.assertEqual(self.packet([b.i_data_chunk(7, b"2", mid=2, ppid_fsn=1, flags=1)]), [])
        self.assertEqual(self.packet([b.i_data_chunk(6, b"1", mid=2, ppid_fsn=3, flags=2)]), [(1, 3, b"12")])

    def test_bad_chunk_length(self):
        found = []
        data = b.sctp([b.data_chunk(1, b"ok"), b"\x00\x03\x00\x02"])
        self.assertRaises(SctpError, self.reader.packet, "a", "b", data, found)
        self.assertEqual(len(found), 1)


class M3uaM2paTests(unittest.TestCase):

    def test_data_parameters(self):
        msg = m3ua.decode(b.m3ua_data(300, 400, b"\x01\x02", rc=7, na=9))
        self.assertEqual((msg.class_name, msg.type_name), ("Transfer", "DATA"))
        self.assertEqual((msg.opc, msg.dpc, msg.si, msg.ni, msg.sls), (300, 400, 3, 2, 5))
        self.assertEqual((msg.routing_context, msg.network_appearance, msg.user_data), (7, 9, b"\x01\x02"))

    def test_decode_fields_agrees_with_decode(self):
        samples = [b.m3ua_data(300, 400, b"\x01\x02", rc=7, na=9), b.m3ua_message(3, 6),
                   b.m3ua_message(1, 1), b.m3ua_message(9, 4), b.m3ua_message(3, 1, struct.pack("!HHI", 0x0011, 9, 1))]
        for data in samples:
            msg = m3ua.decode(data)
            self.assertEqual(m3ua.decode_fields(data),
                             (msg.class_name, msg.type_name, msg.opc, msg.dpc, msg.si, msg.ni, msg.sls,
                              msg.network_appearance, msg.routing_context, msg.user_data, msg.error))
        self.assertRaises(m3ua.M3uaError, m3ua.decode_fields, b"\x01\x00")

    def test_every_class_and_type_named(self):
        for msg_class, types in m3ua.TYPE_NAMES.items():
            for msg_type, name in types.items():
                if (msg_class, msg_type) == (1, 1):
                    continue  # DATA needs its protocol data: test_data_parameters
                msg = m3ua.decode(b.m3ua_message(msg_class, msg_type))
                self.assertEqual(msg.type_name, name)
                self.assertEqual(msg.class_name, m3ua.CLASS_NAMES[msg_class])
        self.assertEqual(m3ua.decode(b.m3ua_message(7, 9)).type_name, "type_9")

    def test_correlation_id(self):
        params = struct.pack("!HHI", 0x0013, 8, 42) + b.m3ua_data(1, 2, b"")[8:]
        msg = m3ua.decode(b.m3ua_message(1, 1, params))
        self.assertEqual(msg.correlation_id, 42)

    def test_malformed(self):
        for bad in (b"\x01\x00\x01", b"\x02" + bytes(7), b"\x01\x00\x01\x01\x00\x00\x00\x10"):
            self.assertRaises(m3ua.M3uaError, m3ua.decode, bad)

    def test_bad_parameter_keeps_class_and_type(self):
        msg = m3ua.decode(b.m3ua_message(1, 1))
        self.assertEqual((msg.type_name, msg.error), ("DATA", "m3ua: DATA without protocol data"))
        msg = m3ua.decode(b.m3ua_message(3, 1, struct.pack("!HHI", 0x0011, 9, 1)))
        self.assertEqual(msg.type_name, "ASPUP")
        self.assertTrue(msg.error.startswith("m3ua: parameter 0x0011"))

    def test_m2pa_mtp3_label(self):
        name, mtp3 = m2pa.decode(b.m2pa_user_data(0x3FFF, 4536, 9, b"xy"))
        self.assertEqual(name, "User Data")
        self.assertEqual(mtp3, (3, 2, 0x3FFF, 4536, 9, b"xy"))
        link_status = struct.pack("!BBBBI", 1, 0, 11, 2, 20) + bytes(12)
        self.assertEqual(m2pa.decode(link_status), ("Link Status", None))


class SccpTests(unittest.TestCase):

    def test_global_title_indicators(self):
        for gti in (1, 2, 3, 4):
            addr = sccp.decode_address(b.gt_address("12345", 8, pc=99, gti=gti))
            self.assertEqual((addr.gti, addr.digits, addr.ssn, addr.pc), (gti, "12345", 8, 99))
        addr = sccp.decode_address(b.gt_address("4477", 6))
        self.assertEqual((addr.tt, addr.np, addr.es, addr.nai), (0, 1, 2, 4))

    def test_udt_udts_and_return_cause(self):
        data = b.udt(b.gt_address("1", 6), b.gt_address("2", 7), b"tc")
        msg = sccp.decode(data)
        self.assertEqual((msg.type_name, msg.data, msg.called.digits, msg.calling.ssn), ("UDT", b"tc", "1", 7))
        msg = sccp.decode(b"\x0a\x01" + data[2:])
        self.assertEqual((msg.type_name, msg.return_cause), ("UDTS", 1))
        msg = sccp.decode(b.xudt(b.gt_address("1", 6), b.gt_address("2", 7), b"tc", msg_type=0x12, first=0x0b))
        self.assertEqual((msg.type_name, msg.return_cause, msg.data), ("XUDTS", 11, b"tc"))

    def test_ludt(self):
        called, calling = b.gt_address("1", 6), b.gt_address("2", 7)
        data = b"z" * 300
        # two-octet pointers count from their second octet (as Wireshark reads them)
        p1 = 7
        p2 = p1 - 2 + 1 + len(called)
        p3 = p2 - 2 + 1 + len(calling)
        msg = (bytes((0x13, 0, 15)) + struct.pack("<HHHH", p1, p2, p3, 0) + bytes((len(called),)) + called
               + bytes((len(calling),)) + calling + struct.pack("<H", len(data)) + data)
        decoded = sccp.decode(msg)
        self.assertEqual((decoded.type_name, decoded.data), ("LUDT", data))

    def test_truncated(self):
        data = b.udt(b.gt_address("1", 6), b.gt_address("2", 7), b"tc")
        for cut in range(1, len(data) - 1):
            try:
                sccp.decode(data[:cut])
            except sccp.SccpError:
                pass

    def test_segment_reassembly_is_bounded(self):
        called = b.gt_address("1", 6)
        reasm = sccp.SegmentReassembler(max_pending=4)
        for ref in range(10):
            calling = b.gt_address(str(ref), 7)
            first = sccp.decode(b.xudt(called, calling, b"A", segmentation=b"\xc1" + ref.to_bytes(3, "big")))
            self.assertIsNone(reasm.add(1, 2, first))
        self.assertEqual(len(reasm._pending), 4)

    def test_xudt_segment_reassembly(self):
        called, calling = b.gt_address("1", 6), b.gt_address("2", 7)
        first = sccp.decode(b.xudt(called, calling, b"AAA", segmentation=b"\xc1\x00\x00\x05"))
        last = sccp.decode(b.xudt(called, calling, b"BB", segmentation=b"\x40\x00\x00\x05"))
        reasm = sccp.SegmentReassembler()
        self.assertIsNone(reasm.add(1, 2, first))
        self.assertEqual(reasm.add(1, 2, last), b"AAABB")
        self.assertRaises(sccp.SccpError, reasm.add, 1, 2, last)


class TcapTests(unittest.TestCase):

    def test_begin_with_dialogue(self):
        msg = tcap.decode(b.tcap_begin(b"\x0a\x1b", [b.invoke(1, 2, UL_ARG, linked=9)], UL_AC))
        self.assertEqual((msg.type_name, msg.otid, msg.dtid), ("begin", "0a1b", None))
        self.assertEqual((msg.dialogue_pdu, msg.app_context), ("AARQ", "0.4.0.0.1.0.1.3"))
        comp = msg.components[0]
        self.assertEqual((comp.type_name, comp.invoke_id, comp.linked_id, comp.op_code), ("invoke", 1, 9, 2))

    def test_oversized_integers_are_decoding_errors(self):
        # An invoke id or operation code of more than 8 octets cannot be a
        # row's integer (msgpack holds 64 bits): a decoding error, kept with
        # the message, not a crash of the msgpack writer.
        for body in (b.tlv(0x02, b"\x01" * 9) + b.tlv(0x02, b"\x02"),
                     b.tlv(0x02, b"\x01") + b.tlv(0x02, b"\x7f" + b"\xff" * 9)):
            msg = tcap.decode(b.tlv(0x62, b.tlv(0x48, b"\x0a") + b.tlv(0x6C, b.tlv(0xA1, body))))
            self.assertRegex(msg.error, r"^tcap: INTEGER of (9|10) octets$")
            (comp,) = msg.components
            self.assertIsNone(comp.op_code)

    def test_end_result_error_reject_global_opcode(self):
        result = b.tlv(0xA2, b.tlv(0x02, b"\x01") + b.tlv(0x30, b.tlv(0x02, b"\x02") + b.tlv(0x30, b"")))
        error = b.tlv(0xA3, b.tlv(0x02, b"\x02") + b.tlv(0x02, b"\x01"))
        reject = b.tlv(0xA4, b"\x05\x00" + b.tlv(0x80, b"\x01"))
        global_op = b.tlv(0xA1, b.tlv(0x02, b"\x03") + b.tlv(0x06, UL_AC))
        not_last = b.tlv(0xA7, b.tlv(0x02, b"\x04"))
        body = b.tlv(0x49, b"\x01\x02\x03\x04") + b.tlv(0x6C, result + error + reject + global_op + not_last)
        msg = tcap.decode(b.tlv(0x64, body))
        self.assertEqual((msg.type_name, msg.dtid), ("end", "01020304"))
        got = [(c.type_name, c.invoke_id, c.op_code, c.error_code) for c in msg.components]
        self.assertEqual(got, [("returnResultLast", 1, 2, None), ("returnError", 2, None, 1),
                               ("reject", None, None, None), ("invoke", 3, "0.4.0.0.1.0.1.3", None),
                               ("returnResultNotLast", 4, None, None)])
        self.assertEqual(msg.components[2].problem, (0, 1))

    def test_continue_abort_unidirectional(self):
        msg = tcap.decode(b.tlv(0x65, b.tlv(0x48, b"\x01") + b.tlv(0x49, b"\x02")))
        self.assertEqual((msg.type_name, msg.otid, msg.dtid), ("continue", "01", "02"))
        msg = tcap.decode(b.tlv(0x67, b.tlv(0x49, b"\x02") + b.tlv(0x4A, b"\x01")))
        self.assertEqual((msg.type_name, msg.abort_cause), ("abort", 1))
        msg = tcap.decode(b.tlv(0x61, b.tlv(0x6C, b.invoke(0, 45))))
        self.assertEqual((msg.type_name, msg.components[0].op_code), ("unidirectional", 45))

    def test_unknown_message_and_partial_components(self):
        self.assertRaises(tcap.TcapError, tcap.decode, b.tlv(0x63, b""))
        good = b.invoke(1, 2)
        msg = tcap.decode(b.tlv(0x62, b.tlv(0x48, b"\x01") + b.tlv(0x6C, good + b"\xa1\x05\x02\x01")))
        self.assertEqual(len(msg.components), 1)
        self.assertEqual(msg.components[0].op_code, 2)
        self.assertTrue(msg.error.startswith("tcap:"))


class GsmMapTests(unittest.TestCase):

    def test_operation_names_cover_every_code(self):
        for code in list(range(2, 27)) + list(range(28, 82)) + list(range(83, 90)):
            self.assertTrue(gsmmap.operation_name(code), code)
        self.assertEqual(gsmmap.operation_name(45), "sendRoutingInfoForSM")
        self.assertEqual(gsmmap.operation_name(0, cap=True), "initialDP")

    def test_application_context_names(self):
        self.assertEqual(gsmmap.application_context_name("0.4.0.0.1.0.1.3"), "networkLocUpContext-v3")
        self.assertEqual(gsmmap.application_context_name("0.4.0.0.1.0.21.2"), "shortMsgRelayContext-v2")
        self.assertEqual(gsmmap.application_context_name("0.4.0.0.1.0.21.3"), "shortMsgMO-RelayContext-v3")
        self.assertIsNone(gsmmap.application_context_name("1.2.3"))

    def test_tbcd_and_address(self):
        self.assertEqual(gsmmap.tbcd(b.tbcd("12345")), "12345")
        self.assertEqual(gsmmap.address_digits(b.isdn("4477")), "4477")

    def test_identity_paths(self):
        found = gsmmap.identities(2, False, UL_ARG, 0, len(UL_ARG))
        self.assertEqual(found, {"imsi": "001011234567890", "msc": "4477001", "vlr": "4477002"})
        sai_v2 = b.tlv(0x04, b.tbcd("262011234"))
        self.assertEqual(gsmmap.identities(56, False, sai_v2, 0, len(sai_v2)), {"imsi": "262011234"})
        ati = b.tlv(0x30, b.tlv(0xA0, b.tlv(0x81, b.isdn("4912345"))) + b.tlv(0xA1, b"\x80\x00"))
        self.assertEqual(gsmmap.identities(71, False, ati, 0, len(ati)), {"msisdn": "4912345"})
        mo = b.tlv(0x30, b.tlv(0x84, b.isdn("4470")) + b.tlv(0x82, b.isdn("4471")) + b.tlv(0x04, b"\x01"))
        self.assertEqual(gsmmap.identities(46, False, mo, 0, len(mo)), {"smsc": "4470", "msisdn": "4471"})


class MessageModelTests(unittest.TestCase):
    """The decoded message, as rules read it; the row is its projection."""

    def decoded(self, payload, ppid=3):
        return MessageDecoder().decode(CapturedMessage(
            7, 1, 1000.5, "10.0.0.1", "10.0.0.2", 2905, 2905, 1, ppid, payload,
            1, b"", b"", (0, 0)))

    def test_parts_of_a_map_message(self):
        m = self.decoded(map_message())
        self.assertEqual((m.frame, m.chunk, m.src_ip, m.stream, m.ppid),
                         (7, 1, "10.0.0.1", 1, 3))
        label = m.label
        self.assertEqual((label.m3ua_class, label.m3ua_type, label.opc, label.dpc, label.si,
                          label.ni, label.sls, label.network_appearance,
                          label.routing_context), ("Transfer", "DATA", 300, 400, 3, 2, 5, 9, 7))
        called, calling = m.sccp.called, m.sccp.calling
        self.assertEqual((m.sccp.type_name, m.sccp.protocol_class), ("UDT", 0))
        self.assertEqual((called.digits, called.ssn, called.pc, called.gti, called.route_on_ssn,
                          called.tt, called.np, called.nai), ("4477002", 6, None, 4, False, 0, 1, 4))
        self.assertEqual((calling.digits, calling.ssn, calling.pc), ("4477001", 7, 300))
        t = m.tcap
        self.assertEqual((t.type_name, t.otid, t.dtid, t.dialogue_pdu, t.app_context,
                          t.context_name), ("begin", "0a1b2c3d", None, "AARQ",
                                            "0.4.0.0.1.0.1.3", "networkLocUpContext-v3"))
        self.assertIs(m.components, t.components)
        c, = m.components
        self.assertEqual((c.type_name, c.invoke_id, c.op_code, c.op_name, c.error),
                         ("invoke", 1, 2, "updateLocation", None))
        self.assertEqual((c.imsi, c.msisdn, c.msc, c.vlr),
                         ("001011234567890", None, "4477001", "4477002"))
        self.assertIsNone(m.error)
        row = row_dict(message_rows(m)[0])
        self.assertEqual((row["opc"], row["called_gt"], row["app_context"], row["imsi"]),
                         (300, "4477002", "networkLocUpContext-v3", "001011234567890"))

    def test_absent_parts_are_none(self):
        m = self.decoded(b.m3ua_message(3, 3))  # BEAT: no SCCP
        self.assertEqual((m.label.m3ua_type, m.label.opc), ("BEAT", None))
        self.assertEqual((m.sccp, m.tcap, tuple(m.components), m.error), (None, None, (), None))
        self.assertEqual(message_rows(m), [(7, 1, 1000.5, "10.0.0.1", "10.0.0.2", 2905, 2905, 1,
                                            3, "ASPSM", "BEAT") + (None,) * (len(COLUMNS) - 11)])
        m = self.decoded(b"\x01\x00")
        self.assertEqual((m.label, m.error), (None, "m3ua: truncated common header"))

    def test_faults_stay_with_their_layer(self):
        bad_arg = b.tlv(0x30, b"\x04\x05\x01")  # IMSI runs past its SEQUENCE
        m = self.decoded(map_message(b.invoke(1, 2, bad_arg)))
        self.assertIsNone(m.error)
        self.assertTrue(m.components[0].error.startswith("gsm_map: "))
        self.assertEqual(message_rows(m)[0][-1], m.components[0].error)


class RowTests(unittest.TestCase):

    def test_full_row(self):
        got, stats = rows(self, [sctp_frame([b.data_chunk(1, map_message())])])
        self.assertEqual(len(got), 1)
        row = got[0]
        self.assertEqual(list(row), list(COLUMNS))
        expect = {"frame": 1, "chunk": 0, "time_stamp": 1000.0005, "src_ip": "10.0.0.1",
                  "src_port": 2905, "sctp_stream": 1, "ppid": 3, "m3ua_class": "Transfer",
                  "m3ua_type": "DATA", "opc": 300, "dpc": 400, "si": 3, "ni": 2, "sls": 5,
                  "network_appearance": 9, "routing_context": 7, "sccp_type": "UDT",
                  "called_gt": "4477002", "called_ssn": 6, "called_pc": None,
                  "calling_gt": "4477001", "calling_ssn": 7, "calling_pc": 300,
                  "tcap_type": "begin", "otid": "0a1b2c3d", "dtid": None,
                  "app_context": "networkLocUpContext-v3", "component": "invoke",
                  "invoke_id": 1, "op_code": 2, "op_name": "updateLocation",
                  "imsi": "001011234567890", "msc": "4477001", "vlr": "4477002",
                  "error": None}
        for key, value in expect.items():
            self.assertEqual(row[key], value, key)
        self.assertEqual((stats.frames, stats.messages, stats.rows), (1, 1, 1))

    def test_chunks_numbered_per_frame_and_components_per_row(self):
        two = b.tcap_begin(b"\x01", [b.invoke(1, 2, UL_ARG), b.invoke(2, 7)], UL_AC)
        msg = b.m3ua_data(1, 2, b.udt(b.gt_address("1", 6), b.gt_address("2", 7), two))
        beat = b.m3ua_message(3, 3)
        got, stats = rows(self, [sctp_frame([b.data_chunk(1, beat), b.data_chunk(2, msg)])])
        self.assertEqual([(r["chunk"], r["m3ua_type"], r["op_name"]) for r in got],
                         [(0, "BEAT", None), (1, "DATA", "updateLocation"), (1, "DATA", "insertSubscriberData")])

    def test_error_keeps_decoded_fields(self):
        bad_tcap = b.tlv(0x62, b.tlv(0x48, b"\x01")) + b""
        broken = b"\x62\x10\x48\x01\x01\x6c\x0b\xa1\x09\x02"
        msg = b.m3ua_data(1, 2, b.udt(b.gt_address("1", 6), b.gt_address("2", 7), broken))
        got, stats = rows(self, [sctp_frame([b.data_chunk(1, msg)])])
        self.assertEqual(got[0]["called_gt"], "1")
        self.assertTrue(got[0]["error"].startswith("tcap"))
        self.assertEqual(stats.undecodable, {"tcap": 1})
        self.assertTrue(bad_tcap)

    def test_m2pa_message_and_other_ppid(self):
        tc = b.tcap_begin(b"\x01", [b.invoke(1, 45, b.tlv(0x30, b.tlv(0x80, b.isdn("4479"))))])
        msg = b.m2pa_user_data(3, 4536, 1, b.udt(b.gt_address("1", 6), b.gt_address("2", 8), tc))
        got, stats = rows(self, [sctp_frame([b.data_chunk(1, msg, ppid=5), b.data_chunk(2, b"x", ppid=46)])])
        self.assertEqual(len(got), 1)
        self.assertEqual((got[0]["opc"], got[0]["dpc"], got[0]["msisdn"]), (3, 4536, "4479"))
        self.assertEqual(stats.skipped, {"ppid_46": 1})

    def test_ppid_zero_on_a_well_known_port(self):
        m3ua_msg = map_message()
        m2pa_msg = b.m2pa_user_data(3, 4, 1, b"\x00")
        got, stats = rows(self, [sctp_frame([b.data_chunk(1, m3ua_msg, ppid=0)]),
                           sctp_frame([b.data_chunk(1, m2pa_msg, ppid=0)], sport=3565, dport=3565, vtag=2),
                           sctp_frame([b.data_chunk(2, m3ua_msg, ppid=0)], sport=9999, dport=9999, vtag=3)])
        self.assertEqual([(r["frame"], r["ppid"], r["m3ua_type"], r["opc"]) for r in got],
                         [(1, 0, "DATA", 300), (2, 0, None, 3)])
        self.assertEqual(stats.skipped, {"ppid_0": 1})

    def test_iter_messages_api(self):
        path = write(self, b.pcap_file([b"\x00" * 10, sctp_frame([b.data_chunk(1, b"m3ua?")])]))
        msgs = list(iter_messages(path))
        self.assertEqual(len(msgs), 1)
        m = msgs[0]
        self.assertEqual((m.frame, m.chunk, m.ppid, m.stream, m.payload), (2, 0, 3, 1, b"m3ua?"))
        start, end = m.chunk_span
        self.assertEqual(m.sctp_packet[start:end][16:21], b"m3ua?")
        self.assertTrue(message_rows(MessageDecoder().decode(m))[0][-1].startswith("m3ua"))
