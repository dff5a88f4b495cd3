"""Diameter codec: hand-checked byte vectors, every base type, every decoding
error path, unknown AVPs, paths, answers and validation."""

import datetime
import struct

from twisted.trial import unittest

from pyhss.protocols import codec, errors
from pyhss.protocols.codec import (
    AVP_MANDATORY, AVP_VENDOR, FLAG_ERROR, FLAG_PROXIABLE, FLAG_REQUEST,
    Avp, Message, decode_message, decode_value, failed_avp,
    peek_message_length, validate)
from pyhss.protocols.dictionary import (
    APP_BASE, APP_S6A, CMD_CER, CMD_DWR, CMD_ULR, AvpDef, AvpType)


def unhex(text):
    return bytes.fromhex(''.join(text.split()))


# RFC 6733 CER written out by hand: header (version 1, length 164, flags R,
# code 257, application 0, ids), then each AVP: code, flags+length,
# [vendor], data, padding to 4 bytes.
CER_HEX = '''
010000a4 80000101 00000000 11223344 55667788
00000108 40000017 6873732e 6578616d 706c652e 6f726700
00000128 40000013 6578616d 706c652e 6f726700
00000101 4000000e 00017f00 00010000
0000010a 4000000c 00000000
0000010d 0000000d 70796873 73000000
00000102 4000000c 01000023
00000104 40000020 0000010a 4000000c 000028af 00000102 4000000c 01000023
0000010b 0000000c 00000001
'''

# DWA answering a DWR with ids 0x11223344/0x55667788: Result-Code 2001,
# Origin-Host, Origin-Realm, Origin-State-Id 5.
DWA_HEX = '''
01000058 00000118 00000000 11223344 55667788
0000010c 4000000c 000007d1
00000108 40000017 6873732e 6578616d 706c652e 6f726700
00000128 40000013 6578616d 706c652e 6f726700
00000116 4000000c 00000005
'''


def build_cer():
    return Message.request(APP_BASE, CMD_CER, [
        ('Origin-Host', 'hss.example.org'),
        ('Origin-Realm', 'example.org'),
        ('Host-IP-Address', '127.0.0.1'),
        ('Vendor-Id', 0),
        ('Product-Name', 'pyhss'),
        ('Auth-Application-Id', APP_S6A),
        ('Vendor-Specific-Application-Id', [('Vendor-Id', 10415),
                                            ('Auth-Application-Id',
                                             APP_S6A)]),
        ('Firmware-Revision', 1),
    ], hop_by_hop=0x11223344, end_to_end=0x55667788)


def header(length, flags=0x80, code=280, app=0):
    return struct.pack('!IIIII', (1 << 24) | length, (flags << 24) | code,
                       app, 1, 2)


def message_with(avp_bytes, flags=0x80, code=280):
    return header(20 + len(avp_bytes), flags, code) + avp_bytes


def avp_bytes(code, payload, flags=0x40, vendor=None, length=None):
    size = (12 if vendor is not None else 8) + len(payload)
    if length is None:
        length = size
    head = struct.pack('!II', code, (flags << 24) | length)
    if vendor is not None:
        head += struct.pack('!I', vendor)
    return head + payload + b'\0' * (-size % 4)


class ByteVectorTests(unittest.TestCase):

    def test_cer_encodes_to_hand_written_bytes(self):
        self.assertEqual(build_cer().encode(), unhex(CER_HEX))

    def test_cer_decodes(self):
        msg = decode_message(unhex(CER_HEX))
        self.assertEqual((msg.version, msg.flags, msg.command_code,
                          msg.application_id, msg.hop_by_hop,
                          msg.end_to_end),
                         (1, FLAG_REQUEST, 257, 0, 0x11223344, 0x55667788))
        self.assertEqual(msg.name, 'CER')
        self.assertTrue(msg.is_request)
        self.assertFalse(msg.is_proxiable)
        self.assertEqual(msg.get('Origin-Host'), 'hss.example.org')
        self.assertEqual(msg.get('Host-IP-Address'), '127.0.0.1')
        self.assertEqual(msg.get('Product-Name'), 'pyhss')
        self.assertEqual(msg.get('Vendor-Specific-Application-Id/Vendor-Id'),
                         10415)
        self.assertEqual(msg.find('Product-Name').flags, 0)
        self.assertEqual(msg.encode(), unhex(CER_HEX))
        self.assertIsNone(msg.find('Origin-Realm').raw)

    def test_dwa_built_from_dwr(self):
        dwr = Message.request(APP_BASE, CMD_DWR, [
            ('Origin-Host', 'mme.example.org'),
            ('Origin-Realm', 'example.org')],
            hop_by_hop=0x11223344, end_to_end=0x55667788)
        self.assertEqual(dwr.flags, FLAG_REQUEST)
        dwa = dwr.answer(2001).add('Origin-Host', 'hss.example.org').add(
            'Origin-Realm', 'example.org').add('Origin-State-Id', 5)
        self.assertEqual(dwa.encode(), unhex(DWA_HEX))
        self.assertEqual(decode_message(unhex(DWA_HEX)).name, 'DWA')

    def test_vendor_specific_avp_bytes(self):
        avp = Avp.new('ULR-Flags', 0x22)
        self.assertEqual(avp.encode(),
                         unhex('0000057d c0000010 000028af 00000022'))
        self.assertEqual(avp.flags, AVP_VENDOR | AVP_MANDATORY)
        self.assertEqual(Avp.new('RAT-Type', 'EUTRAN').encode(),
                         unhex('00000408 80000010 000028af 000003ec'))

    def test_peek_message_length(self):
        data = unhex(CER_HEX)
        self.assertIsNone(peek_message_length(data[:3]))
        self.assertEqual(peek_message_length(data[:4]), 164)
        self.assertEqual(peek_message_length(b'xx' + data, 2), 164)
        self.assertRaises(errors.InvalidHeader, peek_message_length,
                          b'\x02' + data[1:])
        self.assertRaises(errors.InvalidHeader, peek_message_length,
                          unhex('01000010'))
        self.assertRaises(errors.InvalidHeader, peek_message_length,
                          unhex('01000015'))


class TypeTests(unittest.TestCase):
    """Every RFC 6733 type through encode and decode, with edge values."""

    def roundtrip(self, name, value, payload=None):
        avp = Avp.new(name, value)
        data = avp.encode()
        if payload is not None:
            header_size = 12 if avp.vendor_id else 8
            self.assertEqual(data[header_size:header_size + len(payload)],
                             payload)
        msg = decode_message(message_with(data))
        self.assertEqual(msg.avps[0].value, avp.value)
        self.assertEqual(msg.avps[0].encode(), data)
        return msg.avps[0]

    def custom(self, avp_type, value, payload):
        defn = AvpDef(999, 0, 'Test-AVP', avp_type, True)
        avp = Avp(999, 0, None, value, defn)
        self.assertEqual(avp.encode()[8:8 + len(payload)], payload)
        self.assertEqual(decode_value(defn, payload), value)

    def test_octet_string(self):
        self.roundtrip('Class', b'', b'')
        self.roundtrip('Class', b'\x00\xff' * 3, b'\x00\xff' * 3)
        self.roundtrip('RAND', bytes(range(16)))

    def test_integer32(self):
        self.roundtrip('Event-Threshold-Event-1F', -2 ** 31,
                       b'\x80\x00\x00\x00')
        self.roundtrip('Event-Threshold-Event-1F', 2 ** 31 - 1)
        self.custom(AvpType.Integer32, -1, b'\xff' * 4)

    def test_integer64(self):
        self.custom(AvpType.Integer64, -2 ** 63, b'\x80' + b'\0' * 7)
        self.custom(AvpType.Integer64, 2 ** 63 - 1, b'\x7f' + b'\xff' * 7)

    def test_unsigned32(self):
        self.roundtrip('Result-Code', 0, b'\0' * 4)
        self.roundtrip('Result-Code', 2 ** 32 - 1, b'\xff' * 4)

    def test_unsigned64(self):
        self.roundtrip('Accounting-Sub-Session-Id', 2 ** 64 - 1, b'\xff' * 8)
        self.roundtrip('OC-Feature-Vector', 0, b'\0' * 8)

    def test_float32(self):
        self.custom(AvpType.Float32, 1.5, b'\x3f\xc0\x00\x00')
        self.custom(AvpType.Float32, float('inf'), b'\x7f\x80\x00\x00')

    def test_float64(self):
        self.custom(AvpType.Float64, -0.25, b'\xbf\xd0' + b'\0' * 6)

    def test_address(self):
        self.roundtrip('Host-IP-Address', '192.0.2.1',
                       b'\x00\x01\xc0\x00\x02\x01')
        self.roundtrip('Host-IP-Address', '2001:db8::1',
                       b'\x00\x02\x20\x01\x0d\xb8' + b'\0' * 11 + b'\x01')
        # E.164 (family 8) and other families stay raw.
        avp = self.roundtrip('Host-IP-Address', b'\x00\x08123456')
        self.assertEqual(avp.value, b'\x00\x08123456')

    def test_time(self):
        avp = self.roundtrip('Event-Timestamp', 0xE0000000,
                             b'\xe0\x00\x00\x00')
        moment = codec.time_to_datetime(avp.value)
        self.assertEqual(codec.datetime_to_time(moment), 0xE0000000)
        self.assertEqual(codec.time_to_datetime(2208988800),
                         datetime.datetime(1970, 1, 1,
                                           tzinfo=datetime.timezone.utc))
        # RFC 4330: top bit clear means the era after 2036-02-07.
        self.assertEqual(codec.time_to_datetime(0).year, 2036)
        after = datetime.datetime(2040, 1, 1, tzinfo=datetime.timezone.utc)
        self.assertEqual(codec.time_to_datetime(
            codec.datetime_to_time(after)), after)
        self.assertEqual(Avp.new('Event-Timestamp', datetime.datetime(
            1970, 1, 1)).encode()[8:], b'\x83\xaa\x7e\x80')
        self.assertEqual(codec.unix_to_time(0), 2208988800)

    def test_text_types(self):
        self.roundtrip('Session-Id', 'h;1;2;caf\u00e9',
                       b'h;1;2;caf\xc3\xa9')
        self.roundtrip('Session-Id', '')
        self.roundtrip('Origin-Host', 'a.b')
        self.roundtrip('Redirect-Host',
                       'aaa://host.example.com:3868;transport=tcp')

    def test_enumerated(self):
        avp = self.roundtrip('Disconnect-Cause', 'BUSY', b'\0\0\0\x01')
        self.assertEqual(avp.value, 1)
        self.assertEqual(avp.enum_name, 'BUSY')
        unknown = self.roundtrip('Disconnect-Cause', 77)
        self.assertIsNone(unknown.enum_name)
        self.roundtrip('Disconnect-Cause', -1, b'\xff' * 4)
        self.assertRaises(errors.EncodeError, Avp.new, 'Disconnect-Cause',
                          'NO_SUCH_VALUE')

    def test_grouped(self):
        avp = self.roundtrip('Experimental-Result', {
            'Vendor-Id': 10415, 'Experimental-Result-Code': 5001})
        self.assertEqual(avp.get('Experimental-Result-Code'), 5001)
        empty = self.roundtrip('Failed-AVP', [])
        self.assertEqual(empty.value, [])

    def test_constant_avp(self):
        # Encoded once, equal to the AVP it stands for, value still readable.
        value = [('Max-Requested-Bandwidth-UL', 1), ('Max-Requested-Bandwidth-DL', 2)]
        constant = codec.constant_avp('AMBR', value)
        plain = codec.Avp.new('AMBR', value)
        self.assertEqual(constant.encode(), plain.encode())
        self.assertEqual(constant, plain)
        self.assertEqual(constant.get('Max-Requested-Bandwidth-DL'), 2)
        message = codec.Message(0, 316, 16777251, 1, 2, [constant, constant])
        decoded = codec.decode_message(message.encode())
        self.assertEqual(decoded.avps, [plain, plain])

    def test_encode_errors(self):
        for name, value in [('Result-Code', -1), ('Result-Code', 2 ** 32),
                            ('Result-Code', 'x'), ('Class', 'text'),
                            ('Host-IP-Address', 'not-an-ip'),
                            ('Host-IP-Address', b'\x00'),
                            ('Event-Threshold-Event-1F', 2 ** 31)]:
            self.assertRaises(errors.EncodeError, Avp.new(name, value).encode)
        self.assertRaises(errors.EncodeError, Avp.new, 'Result-Code', None)
        self.assertRaises(KeyError, Avp.new, 'No-Such-AVP', 1)


class UnknownAvpTests(unittest.TestCase):

    def test_unknown_avps_roundtrip_byte_for_byte(self):
        body = (avp_bytes(4242, b'abcde', flags=0xE0, vendor=99999) +
                avp_bytes(4243, b'\x01\x02', flags=0x00) +
                avp_bytes(4244, b'', flags=0x1F))
        data = message_with(body)
        msg = decode_message(data)
        first, second, third = msg.avps
        self.assertEqual((first.code, first.vendor_id, first.flags,
                          first.value, first.definition),
                         (4242, 99999, 0xE0, b'abcde', None))
        self.assertEqual(first.name, 'AVP-99999-4242')
        self.assertEqual(second.name, 'AVP-4243')
        self.assertIs(msg.find_code(4242, 99999), first)
        self.assertIsNone(msg.find_code(4242))
        self.assertEqual(third.flags, 0x1F)
        self.assertEqual(second.raw, avp_bytes(4243, b'\x01\x02', flags=0x00)[:10])
        self.assertEqual(msg.encode(), data)

    def test_unknown_inside_grouped(self):
        inner = avp_bytes(4242, b'xyz', flags=0x40)
        data = message_with(avp_bytes(297, inner))
        msg = decode_message(data)
        self.assertEqual(msg.avps[0].value[0].value, b'xyz')
        self.assertEqual(msg.encode(), data)
        problems = validate(msg)
        self.assertEqual([(code, avp.code) for code, avp in problems
                          if code == 5001], [(5001, 4242)])

    def test_known_code_other_vendor_is_unknown(self):
        msg = decode_message(message_with(
            avp_bytes(264, b'x', flags=0xC0, vendor=10415)))
        self.assertIsNone(msg.avps[0].definition)


class DecodeErrorTests(unittest.TestCase):

    def assertDecodeError(self, error_class, data, result_code=None,
                          failed=None, **kwargs):
        error = self.assertRaises(error_class, decode_message, data,
                                  **kwargs)
        self.assertIsInstance(error, errors.DecodeError)
        if result_code is not None:
            self.assertEqual(error.result_code, result_code)
        if failed is not None:
            self.assertEqual(error.failed_avp, failed)
        return error

    def test_shorter_than_header(self):
        self.assertDecodeError(errors.TruncatedMessage, unhex(DWA_HEX)[:19])

    def test_buffer_shorter_than_length(self):
        self.assertDecodeError(errors.TruncatedMessage, unhex(DWA_HEX)[:-4])

    def test_buffer_longer_than_length(self):
        self.assertDecodeError(errors.InvalidMessageLength,
                               unhex(DWA_HEX) + b'\0' * 4, 5015)

    def test_length_not_multiple_of_four_or_below_header(self):
        data = unhex(DWA_HEX)
        self.assertDecodeError(errors.InvalidMessageLength,
                               b'\x01\x00\x00\x57' + data[4:-1], 5015)
        self.assertDecodeError(errors.InvalidMessageLength,
                               b'\x01\x00\x00\x10' + data[4:20], 5015)

    def test_bad_version(self):
        self.assertDecodeError(errors.InvalidHeader,
                               b'\x02' + unhex(DWA_HEX)[1:], 5011)

    def test_reserved_header_bits(self):
        data = bytearray(unhex(DWA_HEX))
        data[4] = 0x01
        error = self.assertDecodeError(errors.InvalidHeader, bytes(data),
                                       3008)
        self.assertEqual(error.header.hop_by_hop, 0x11223344)

    def test_error_bit_on_request(self):
        data = bytearray(unhex(DWA_HEX))
        data[4] = FLAG_REQUEST | FLAG_ERROR
        self.assertDecodeError(errors.InvalidHeader, bytes(data), 3008)

    def test_message_too_large(self):
        data = unhex(CER_HEX)
        self.assertDecodeError(errors.MessageTooLarge, data, max_size=160)
        self.assertEqual(decode_message(data, max_size=164).name, 'CER')

    def test_avp_length_below_header(self):
        bad = struct.pack('!II', 264, (0x40 << 24) | 7) + b'abcd'
        error = self.assertDecodeError(errors.InvalidAvpLength,
                                       message_with(bad), 5014)
        self.assertEqual(error.failed_avp[:4], b'\0\0\x01\x08')
        self.assertEqual(error.header.command_code, 280)

    def test_avp_length_below_vendor_header(self):
        bad = struct.pack('!III', 1405, (0xC0 << 24) | 11, 10415)
        self.assertDecodeError(errors.InvalidAvpLength, message_with(bad),
                               5014)

    def test_vendor_header_cut_short(self):
        bad = struct.pack('!II', 1405, (0xC0 << 24) | 12)
        self.assertDecodeError(errors.InvalidAvpLength, message_with(bad),
                               5014)

    def test_avp_past_message(self):
        bad = avp_bytes(264, b'abcd', length=20)
        self.assertDecodeError(errors.InvalidAvpLength, message_with(bad),
                               5014, failed=bad)

    def test_avp_past_grouped(self):
        inner = avp_bytes(298, b'\0\0\0\x01', length=16)
        outer = avp_bytes(297, inner)
        self.assertDecodeError(errors.InvalidAvpLength, message_with(outer),
                               5014, failed=inner)

    def test_trailing_bytes_shorter_than_avp_header(self):
        good = avp_bytes(268, b'\0\0\0\x01')
        self.assertDecodeError(errors.InvalidAvpLength,
                               message_with(good + b'\0\0\0\0'), 5014)

    def test_nonzero_padding(self):
        bad = avp_bytes(264, b'abcde')[:-3] + b'\0\x01\0'
        self.assertDecodeError(errors.InvalidPadding, message_with(bad),
                               5014, failed=bad[:13])

    def test_missing_padding_at_end_of_grouped_is_tolerated(self):
        inner = avp_bytes(4242, b'abcde', flags=0)[:13]
        outer = struct.pack('!II', 297, (0x40 << 24) | (8 + 13)) + inner
        msg = decode_message(message_with(outer + b'\0\0\0'))
        self.assertEqual(msg.avps[0].value[0].value, b'abcde')

    def test_wrong_fixed_length(self):
        for name, code, payload in [('Result-Code', 268, b'\0\0\0'),
                                    ('Result-Code', 268, b'\0' * 8),
                                    ('Accounting-Sub-Session-Id', 287,
                                     b'\0' * 4),
                                    ('Event-Timestamp', 55, b'\0' * 5),
                                    ('Disconnect-Cause', 273, b'')]:
            bad = avp_bytes(code, payload)
            error = self.assertDecodeError(errors.InvalidAvpLength,
                                           message_with(bad), 5014)
            self.assertEqual(error.failed_avp, bad[:8 + len(payload)], name)

    def test_bad_address_lengths(self):
        for payload in [b'\x00', b'\x00\x01\x7f\x00\x00',
                        b'\x00\x02' + b'\0' * 4]:
            self.assertDecodeError(errors.InvalidAvpLength,
                                   message_with(avp_bytes(257, payload)),
                                   5014)

    def test_invalid_utf8(self):
        bad = avp_bytes(263, b'\xff\xfe')
        self.assertDecodeError(errors.InvalidAvpValue, message_with(bad),
                               5004, failed=bad[:10])

    def test_nesting_depth(self):
        data = avp_bytes(268, b'\0\0\0\x01')
        for _ in range(5):
            data = avp_bytes(279, data)
        msg = message_with(data)
        self.assertEqual(len(decode_message(msg, max_depth=5).avps), 1)
        self.assertDecodeError(errors.NestingTooDeep, msg, max_depth=4)

    def test_memoryview_input(self):
        data = unhex(DWA_HEX)
        self.assertEqual(decode_message(memoryview(data)).encode(), data)


class FailedAvpTests(unittest.TestCase):

    def test_well_formed_is_kept(self):
        raw = Avp.new('Origin-Host', 'x.y').encode()[:11]
        avp = failed_avp(raw)
        self.assertEqual(avp.encode(), raw + b'\0')

    def test_bad_length_becomes_zero_filled_minimum(self):
        raw = struct.pack('!II', 268, (0x40 << 24) | 100) + b'\0\0\0\x01'
        avp = failed_avp(raw)
        self.assertEqual(avp.encode(), unhex('0000010c 4000000c 00000000'))

    def test_short_header_is_zero_filled(self):
        avp = failed_avp(b'\0\0\x01\x08\x40')
        self.assertEqual(avp.encode(), unhex('00000108 40000008'))
        no_vendor = failed_avp(struct.pack('!II', 1405, (0xC0 << 24) | 10))
        self.assertEqual(no_vendor.encode(),
                         unhex('0000057d c000000c 00000000'))
        vendor = failed_avp(struct.pack('!III', 1405, (0xC0 << 24) | 10,
                                        10415))
        self.assertEqual(vendor.encode(),
                         unhex('0000057d c0000010 000028af 00000000'))

    def test_usable_inside_failed_avp(self):
        error = self.assertRaises(errors.InvalidAvpLength, decode_message,
                                  message_with(avp_bytes(268, b'\0\0')))
        wrapper = Avp.new('Failed-AVP', [failed_avp(error.failed_avp)])
        decoded = decode_message(message_with(wrapper.encode(), flags=0))
        self.assertEqual(decoded.avps[0].value[0].code, 268)


class PathTests(unittest.TestCase):

    def setUp(self):
        self.msg = Message.request(APP_S6A, CMD_ULR, [
            ('Session-Id', 's;1'),
            ('Subscription-Data', [
                ('MSISDN', b'\x11\x22'),
                ('APN-Configuration-Profile', [
                    ('Context-Identifier', 1),
                    ('APN-Configuration', [('Context-Identifier', 1),
                                           ('Service-Selection', 'internet')]),
                    ('APN-Configuration', [('Context-Identifier', 2),
                                           ('Service-Selection', 'ims')]),
                ]),
            ]),
        ])
        self.msg = decode_message(self.msg.encode())

    def test_nested_find(self):
        self.assertEqual(self.msg.get(
            'Subscription-Data/APN-Configuration-Profile/APN-Configuration/'
            'Service-Selection'), 'internet')
        profile = self.msg.find('Subscription-Data/APN-Configuration-Profile')
        self.assertEqual(profile.get('Context-Identifier'), 1)
        self.assertEqual(
            [a.get('Service-Selection')
             for a in profile.find_all('APN-Configuration')],
            ['internet', 'ims'])
        self.assertEqual(
            [a.value for a in self.msg.find_all(
                'Subscription-Data/APN-Configuration-Profile/'
                'APN-Configuration/Service-Selection')],
            ['internet', 'ims'])

    def test_missing(self):
        self.assertIsNone(self.msg.find('User-Name'))
        self.assertEqual(self.msg.get('Subscription-Data/STN-SR', b'-'), b'-')
        self.assertIsNone(self.msg.find('Session-Id/User-Name'))
        self.assertEqual(self.msg.find_all('User-Name'), [])
        self.assertRaises(KeyError, self.msg.find, 'Not-An-AVP')

    def test_grouped_add(self):
        avp = Avp.new('Experimental-Result').add('Vendor-Id', 10415).add(
            'Experimental-Result-Code', 5420)
        self.assertEqual(avp.get('Experimental-Result-Code'), 5420)


class AnswerTests(unittest.TestCase):

    def request(self):
        return Message.request(APP_S6A, 318, [
            ('Session-Id', 'mme;1;2'),
            ('Proxy-Info', [('Proxy-Host', 'dra'), ('Proxy-State', b'st')]),
            ('Origin-Host', 'mme'),
        ], hop_by_hop=7, end_to_end=9)

    def test_answer_copies_ids_and_flags(self):
        req = self.request()
        self.assertEqual(req.flags, FLAG_REQUEST | FLAG_PROXIABLE)
        ans = req.answer(2001)
        self.assertEqual((ans.flags, ans.command_code, ans.application_id,
                          ans.hop_by_hop, ans.end_to_end),
                         (FLAG_PROXIABLE, 318, APP_S6A, 7, 9))
        self.assertEqual([a.name for a in ans.avps],
                         ['Session-Id', 'Result-Code', 'Proxy-Info'])
        self.assertEqual(ans.get('Session-Id'), 'mme;1;2')
        self.assertEqual(ans.name, 'AIA')
        self.assertFalse(ans.is_error)

    def test_protocol_error_sets_e_bit(self):
        ans = self.request().answer(3001)
        self.assertTrue(ans.is_error)
        self.assertEqual(ans.get('Result-Code'), 3001)
        self.assertFalse(self.request().answer(5001).is_error)

    def test_experimental_result(self):
        ans = self.request().answer(experimental_result=5001)
        self.assertFalse(ans.is_error)
        self.assertIsNone(ans.find('Result-Code'))
        self.assertEqual(ans.get('Experimental-Result/Vendor-Id'), 10415)
        self.assertEqual(ans.result_code, 5001)
        self.assertEqual(self.request().answer(2001).result_code, 2001)
        self.assertIsNone(self.request().answer().result_code)

    def test_answer_without_result_code(self):
        ans = self.request().answer()
        self.assertIsNone(ans.find('Result-Code'))
        self.assertEqual(ans.avps[0].name, 'Session-Id')

    def test_not_proxiable_copied(self):
        cer = build_cer()
        self.assertFalse(cer.answer(2001).is_proxiable)

    def test_fresh_ids_differ(self):
        one = Message.request(APP_BASE, CMD_DWR)
        two = Message.request(APP_BASE, CMD_DWR)
        self.assertNotEqual(one.hop_by_hop, two.hop_by_hop)
        self.assertNotEqual(one.end_to_end, two.end_to_end)

    def test_unknown_command_name(self):
        self.assertEqual(Message.request(0, 9999).name, '9999-Request')


class ValidateTests(unittest.TestCase):

    def test_valid_dwr(self):
        dwr = Message.request(APP_BASE, CMD_DWR, [('Origin-Host', 'a'),
                                                  ('Origin-Realm', 'b')])
        self.assertEqual(validate(decode_message(dwr.encode())), [])

    def test_missing_required(self):
        dwr = Message.request(APP_BASE, CMD_DWR, [('Origin-Host', 'a')])
        problems = validate(dwr)
        self.assertEqual(len(problems), 1)
        code, avp = problems[0]
        self.assertEqual((code, avp.name, avp.value), (5005, 'Origin-Realm',
                                                       ''))
        self.assertEqual(avp.encode(), unhex('00000128 40000008'))

    def test_missing_grouped_and_integer(self):
        ulr = Message.request(APP_S6A, CMD_ULR, [('Session-Id', 'x')])
        names = dict((avp.name, avp) for code, avp in validate(ulr))
        self.assertEqual(names['ULR-Flags'].value, 0)
        self.assertEqual(names['ULR-Flags'].encode()[12:], b'\0' * 4)
        self.assertIn('Visited-PLMN-Id', names)
        self.assertNotIn('Session-Id', names)

    def test_unknown_mandatory(self):
        dwr = Message.request(APP_BASE, CMD_DWR, [('Origin-Host', 'a'),
                                                  ('Origin-Realm', 'b')])
        dwr.append(Avp(5555, 0, AVP_MANDATORY, b'x'))
        dwr.append(Avp(5556, 0, 0, b'ignored'))
        problems = validate(decode_message(dwr.encode()))
        self.assertEqual([(c, a.code) for c, a in problems], [(5001, 5555)])

    def test_error_answer_needs_only_answer_message_avps(self):
        ans = Message.request(APP_S6A, CMD_ULR).answer(3001)
        ans.add('Origin-Host', 'a').add('Origin-Realm', 'b')
        self.assertEqual(validate(ans), [])

    def test_missing_child_of_grouped(self):
        dwr = Message.request(APP_BASE, CMD_DWR, [
            ('Origin-Host', 'a'), ('Origin-Realm', 'b'),
            ('Vendor-Specific-Application-Id', [
                ('Auth-Application-Id', APP_S6A)]),
            ('Proxy-Info', [('Proxy-Host', 'p'), ('Proxy-State', b's')])])
        problems = validate(decode_message(dwr.encode()))
        self.assertEqual(len(problems), 1)
        code, avp = problems[0]
        self.assertEqual((code, avp.name), (5005,
                                            'Vendor-Specific-Application-Id'))
        self.assertEqual([(a.name, a.value) for a in avp.value],
                         [('Vendor-Id', 0)])
        self.assertEqual(avp.encode(), unhex(
            '00000104 40000014 0000010a 4000000c 00000000'))

    def test_nested_grouped_requirements(self):
        ula = Message.request(APP_S6A, CMD_ULR).answer(2001)
        ula.add('Subscription-Data', [('APN-Configuration-Profile', [
            ('Context-Identifier', 1),
            ('All-APN-Configurations-Included-Indicator', 0),
            ('APN-Configuration', [('Context-Identifier', 1),
                                   ('PDN-Type', 0)])])])
        names = [(code, avp.name, avp.value[0].name)
                 for code, avp in validate(ula) if avp.value
                 and isinstance(avp.value, list)]
        self.assertIn((5005, 'APN-Configuration', 'Service-Selection'),
                      names)

    def test_unknown_command_checks_only_mandatory_avps(self):
        self.assertEqual(validate(Message.request(0, 9999)), [])


class MessageTooLargeHeaderTests(unittest.TestCase):

    def test_header_attached(self):
        error = self.assertRaises(errors.MessageTooLarge, decode_message,
                                  unhex(CER_HEX), max_size=100)
        self.assertEqual(error.header.command_code, 257)
        self.assertIsNone(error.result_code)


class ResultCodeTests(unittest.TestCase):

    def test_classes(self):
        from pyhss.protocols import results
        self.assertTrue(results.is_protocol_error(
            results.DIAMETER_COMMAND_UNSUPPORTED))
        self.assertFalse(results.is_protocol_error(
            results.DIAMETER_MISSING_AVP))
        self.assertTrue(results.is_success(results.DIAMETER_SUCCESS))
        self.assertEqual((results.DIAMETER_ERROR_USER_UNKNOWN,
                          results.DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE,
                          results.DIAMETER_ERROR_EQUIPMENT_UNKNOWN),
                         (5001, 4181, 5422))


class EncodedAnswerResultCodeTests(unittest.TestCase):
    """EncodedAnswer.result_code reads the encoded headers (metrics count
    every answer by it) and agrees with the decoded message."""

    def test_result_and_experimental_result(self):
        request = codec.Message.request(16777251, 318, [("Session-Id", "x"), ("Auth-Session-State", 1)])
        plain = request.answer(5001)
        with_experimental = request.answer()
        with_experimental.add("Experimental-Result", [("Vendor-Id", 10415), ("Experimental-Result-Code", 5420)])
        for message in (plain, with_experimental, request.answer()):
            encoded = codec.EncodedAnswer(0, 318, 16777251, 1, 1, b"".join(avp.encode() for avp in message.avps))
            self.assertEqual(encoded.result_code, message.result_code)
        self.assertEqual(codec.EncodedAnswer(0, 318, 16777251, 1, 1, b"\x00\x00\x01\x0c\x00\x00\x00\x02").result_code,
                         None)
