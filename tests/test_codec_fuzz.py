"""Property tests: whatever bytes arrive, decode_message either returns a
Message or raises a DecodeError subclass; valid messages round-trip."""

import ipaddress
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial import unittest

from pyhss.protocols.codec import Avp, Message, decode_message
from pyhss.protocols.dictionary import APP_BASE, APP_S6A, CMD_CER, CMD_ULR
from pyhss.protocols.errors import DecodeError

# PYHSS_FUZZ_EXAMPLES=5000 for a longer run than the suite's default.
SETTINGS = settings(
    max_examples=int(os.environ.get('PYHSS_FUZZ_EXAMPLES', '300')),
    deadline=None, suppress_health_check=[HealthCheck.too_slow])


def sample_messages():
    cer = Message.request(APP_BASE, CMD_CER, [
        ('Origin-Host', 'hss.example.org'), ('Origin-Realm', 'example.org'),
        ('Host-IP-Address', '2001:db8::1'), ('Vendor-Id', 10415),
        ('Product-Name', 'pyhss'), ('Auth-Application-Id', APP_S6A),
        ('Vendor-Specific-Application-Id', [('Vendor-Id', 10415),
                                            ('Auth-Application-Id',
                                             APP_S6A)])])
    ulr = Message.request(APP_S6A, CMD_ULR, [
        ('Session-Id', 'mme;1;1'), ('Auth-Session-State', 1),
        ('Origin-Host', 'mme'), ('Origin-Realm', 'r'),
        ('Destination-Realm', 'r'), ('User-Name', '001010000000001'),
        ('RAT-Type', 1004), ('ULR-Flags', 34),
        ('Visited-PLMN-Id', b'\x00\xf1\x10'),
        ('Terminal-Information', [('IMEI', '3569380356438091'),
                                  ('Software-Version', '00')]),
        ('Event-Timestamp', 3900000000),
        ('Subscription-Data', [('APN-Configuration-Profile', [
            ('Context-Identifier', 1),
            ('APN-Configuration', [('Service-Selection', 'internet'),
                                   ('PDN-Type', 0)])])])])
    ulr.append(Avp(7777, 99, 0x80, b'raw vendor data'))
    return [cer.encode(), ulr.encode()]


SAMPLES = sample_messages()


avp_values = st.one_of(
    # A DiameterIdentity holds no control characters or spaces.
    st.tuples(st.just('Origin-Host'), st.text(
        st.characters(blacklist_categories=('Cc', 'Zs', 'Cs')).filter(
            lambda c: not 0x7f <= ord(c) <= 0x9f and c not in '\x85\xa0'),
        max_size=40)),
    st.tuples(st.just('Session-Id'), st.text(max_size=40)),
    st.tuples(st.just('Result-Code'), st.integers(0, 2 ** 32 - 1)),
    st.tuples(st.just('Accounting-Sub-Session-Id'),
              st.integers(0, 2 ** 64 - 1)),
    st.tuples(st.just('Event-Threshold-Event-1F'),
              st.integers(-2 ** 31, 2 ** 31 - 1)),
    st.tuples(st.just('Disconnect-Cause'),
              st.integers(-2 ** 31, 2 ** 31 - 1)),
    st.tuples(st.just('Class'), st.binary(max_size=40)),
    st.tuples(st.just('Host-IP-Address'), st.ip_addresses().map(str)),
    st.tuples(st.just('Event-Timestamp'), st.integers(0, 2 ** 32 - 1)),
)


class FuzzTests(unittest.TestCase):

    def decode_or_decode_error(self, data, **kwargs):
        """Decode; only DecodeError may escape.  What decodes encodes again
        and decodes to the same AVPs."""
        try:
            message = decode_message(data, **kwargs)
        except DecodeError:
            return None
        again = decode_message(message.encode(), **kwargs)
        self.assertEqual(again.avps, message.avps)
        self.assertEqual((again.flags, again.command_code, again.hop_by_hop),
                         (message.flags, message.command_code,
                          message.hop_by_hop))
        return message

    @SETTINGS
    @given(st.binary(max_size=400))
    def test_random_bytes(self, data):
        self.decode_or_decode_error(data)

    @SETTINGS
    @given(st.binary(max_size=400))
    def test_random_bytes_behind_valid_header(self, body):
        body = body[:len(body) - len(body) % 4]
        length = 20 + len(body)
        data = bytes([1, length >> 16, (length >> 8) & 255, length & 255,
                      0x80, 0, 1, 0x18]) + b'\0' * 12 + body
        self.decode_or_decode_error(data, max_depth=3)

    @SETTINGS
    @given(st.sampled_from(SAMPLES), st.data())
    def test_mutated_messages(self, sample, data):
        mutated = bytearray(sample)
        for _ in range(data.draw(st.integers(1, 8))):
            position = data.draw(st.integers(0, len(mutated) - 1))
            mutated[position] = data.draw(st.integers(0, 255))
        if data.draw(st.booleans()):
            cut = data.draw(st.integers(0, len(mutated)))
            mutated = mutated[:cut]
        self.decode_or_decode_error(bytes(mutated))

    @SETTINGS
    @given(st.lists(avp_values, max_size=8), st.integers(0, 2 ** 32 - 1))
    def test_valid_messages_roundtrip(self, avps, hop_by_hop):
        message = Message.request(APP_BASE, 280, avps, hop_by_hop=hop_by_hop)
        data = message.encode()
        decoded = decode_message(data)
        self.assertEqual(len(decoded.avps), len(message.avps))
        for got, sent in zip(decoded.avps, message.avps):
            if got.name == 'Host-IP-Address':
                # Several texts name one address ('::ffff:0:0').
                self.assertEqual(ipaddress.ip_address(got.value),
                                 ipaddress.ip_address(sent.value))
            else:
                self.assertEqual(got, sent)
        self.assertEqual(decoded.hop_by_hop, hop_by_hop)
        self.assertEqual(decoded.encode(), data)
