"""AvpWriter and EncodedAnswer: AVPs and answers built as bytes encode
exactly as the dictionary's Avp objects do, and read back the same."""

from twisted.trial import unittest

from pyhss.protocols import codec

RAND = bytes(range(16))


class AvpWriterTests(unittest.TestCase):
    def test_same_bytes_as_avp_objects(self):
        cases = [
            ("RAND", RAND),                      # vendor AVP, no padding
            ("XRES", b"\x01\x02\x03\x04\x05"),   # vendor AVP, padded
            ("Origin-Host", b"hss.example.org"),  # base AVP, padded
            ("Kc", b"\xaa" * 8),
        ]
        for name, payload in cases:
            value = payload.decode() if name == "Origin-Host" else payload
            self.assertEqual(codec.AvpWriter(name)(payload), codec.Avp.new(name, value).encode(), name)

    def test_unsigned32(self):
        self.assertEqual(codec.AvpWriter("Item-Number").unsigned32(7),
                         codec.Avp.new("Item-Number", 7).encode())

    def test_header_cache_is_per_length(self):
        xres = codec.AvpWriter("XRES")
        for size in (4, 8, 16, 8, 4):
            self.assertEqual(xres(b"\x05" * size), codec.Avp.new("XRES", b"\x05" * size).encode())


class EncodedAnswerTests(unittest.TestCase):
    def test_encodes_with_current_ids_and_reads_back(self):
        body = codec.Avp.new("Session-Id", "hss;1").encode() + codec.Avp.new("Result-Code", 2001).encode()
        answer = codec.EncodedAnswer(0x40, 318, 16777251, 1, 2, body)
        answer.hop_by_hop, answer.end_to_end = 0xAABB, 0xCCDD
        generic = codec.Message(0x40, 318, 16777251, 0xAABB, 0xCCDD,
                                [codec.Avp.new("Session-Id", "hss;1"), codec.Avp.new("Result-Code", 2001)])
        self.assertEqual(answer.encode(), generic.encode())
        self.assertEqual(answer.get("Result-Code"), 2001)
        self.assertEqual(answer.result_code, 2001)

    def test_assigning_avps_makes_it_ordinary(self):
        answer = codec.EncodedAnswer(0, 318, 16777251, 1, 2, codec.Avp.new("Result-Code", 2001).encode())
        answer.avps = answer.avps + [codec.Avp.new("Error-Message", "changed")]
        decoded = codec.decode_message(answer.encode())
        self.assertEqual(decoded.get("Error-Message"), "changed")
        self.assertEqual(decoded.get("Result-Code"), 2001)

    def test_added_avps_are_encoded(self):
        # add() and append() on an answer written as bytes reach the wire.
        answer = codec.EncodedAnswer(0, 318, 16777251, 1, 2, codec.Avp.new("Result-Code", 2001).encode())
        answer.add("Error-Message", "added").append(codec.Avp.new("Origin-Host", "hss.test"))
        decoded = codec.decode_message(answer.encode())
        self.assertEqual([avp.name for avp in decoded.avps], ["Result-Code", "Error-Message", "Origin-Host"])
