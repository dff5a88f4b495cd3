"""Sanity of the Diameter dictionary tables and spot checks against the
specifications (RFC 6733, TS 29.272, TS 29.229)."""

import re

from twisted.trial import unittest

from pyhss.protocols import dictionary
from pyhss.protocols.codec import Avp, Message
from pyhss.protocols.dictionary import (
    APP_BASE, APP_CX, APP_S13, APP_S6A, DICTIONARY, VENDOR_3GPP, AvpDef,
    AvpType, CommandDef, Dictionary, DictionaryError, base, cx, s13, s6a)


class TableSanityTests(unittest.TestCase):

    def test_no_duplicate_codes_or_names(self):
        keys, names = set(), set()
        for module in (base, s6a, cx, s13):
            for avp in module.AVPS:
                key = (avp.code, avp.vendor_id)
                self.assertNotIn(key, keys, avp)
                self.assertNotIn(avp.name, names, avp)
                keys.add(key)
                names.add(avp.name)
        self.assertEqual(len(DICTIONARY.avps()), len(keys))

    def test_required_names_exist(self):
        for cmd in DICTIONARY.commands():
            for name in cmd.request_required + cmd.answer_required:
                self.assertIn(name, DICTIONARY, '%s: %s' % (cmd.name, name))

    def test_grouped_required_children_exist(self):
        grouped_with_children = 0
        for avp in DICTIONARY.avps():
            for name in avp.required:
                self.assertIn(name, DICTIONARY, '%s: %s' % (avp.name, name))
            if avp.required:
                self.assertEqual(avp.type, AvpType.Grouped)
                grouped_with_children += 1
        self.assertGreater(grouped_with_children, 20)
        self.assertEqual(DICTIONARY.avp('E-UTRAN-Vector').required,
                         ('RAND', 'XRES', 'AUTN', 'KASME'))
        self.assertRaises(ValueError, AvpDef, 1, 0, 'X', AvpType.Unsigned32,
                          required=('Vendor-Id',))

    def test_every_command_starts_with_origin_or_session(self):
        for cmd in DICTIONARY.commands():
            self.assertIn('Origin-Host', cmd.request_required, cmd)
            self.assertIn('Origin-Realm', cmd.answer_required, cmd)

    def test_vendor_specific_avps_use_3gpp_or_etsi(self):
        for avp in DICTIONARY.avps():
            self.assertIn(avp.vendor_id, (0, VENDOR_3GPP, 13019), avp)
            self.assertEqual(bool(avp.flags & 0x80), bool(avp.vendor_id))
            self.assertEqual(bool(avp.flags & 0x40), avp.mandatory)

    def test_enums_only_on_integer_types(self):
        for avp in DICTIONARY.avps():
            if avp.enum:
                self.assertIn(avp.type, (AvpType.Enumerated,
                                         AvpType.Unsigned32), avp)
                self.assertEqual(len(avp.enum_by_name), len(avp.enum), avp)

    def test_duplicate_code_rejected(self):
        self.assertRaises(DictionaryError, Dictionary, [
            AvpDef(1, 0, 'A', AvpType.OctetString),
            AvpDef(1, 0, 'B', AvpType.OctetString)])

    def test_duplicate_name_rejected(self):
        self.assertRaises(DictionaryError, Dictionary, [
            AvpDef(1, 0, 'A', AvpType.OctetString),
            AvpDef(2, 0, 'A', AvpType.OctetString)])

    def test_duplicate_command_rejected(self):
        cmd = CommandDef(1, 0, 'X', 'XR', 'XA', False)
        self.assertRaises(DictionaryError, Dictionary, (), [cmd, cmd])


class SpotCheckTests(unittest.TestCase):

    def check(self, name, code, vendor_id, avp_type, mandatory):
        avp = DICTIONARY.avp(name)
        self.assertEqual((avp.code, avp.vendor_id, avp.type, avp.mandatory),
                         (code, vendor_id, avp_type, mandatory))
        self.assertIs(DICTIONARY.avp_by_code(code, vendor_id), avp)

    def test_base(self):
        self.check('Session-Id', 263, 0, AvpType.UTF8String, True)
        self.check('Origin-Host', 264, 0, AvpType.DiameterIdentity, True)
        self.check('Result-Code', 268, 0, AvpType.Unsigned32, True)
        self.check('Host-IP-Address', 257, 0, AvpType.Address, True)
        self.check('Product-Name', 269, 0, AvpType.UTF8String, False)
        self.check('Firmware-Revision', 267, 0, AvpType.Unsigned32, False)
        self.check('Error-Message', 281, 0, AvpType.UTF8String, False)
        self.check('Experimental-Result', 297, 0, AvpType.Grouped, True)
        self.check('Vendor-Specific-Application-Id', 260, 0,
                   AvpType.Grouped, True)
        self.check('Event-Timestamp', 55, 0, AvpType.Time, True)

    def test_s6a(self):
        self.check('Subscription-Data', 1400, VENDOR_3GPP, AvpType.Grouped,
                   True)
        self.check('Authentication-Info', 1413, VENDOR_3GPP,
                   AvpType.Grouped, True)
        self.check('Service-Selection', 493, 0, AvpType.UTF8String, True)
        self.check('ULR-Flags', 1405, VENDOR_3GPP, AvpType.Unsigned32, True)
        self.check('KASME', 1450, VENDOR_3GPP, AvpType.OctetString, True)
        self.check('RAT-Type', 1032, VENDOR_3GPP, AvpType.Enumerated, False)
        self.check('QoS-Class-Identifier', 1028, VENDOR_3GPP,
                   AvpType.Enumerated, True)
        self.check('Max-Requested-Bandwidth-UL', 516, VENDOR_3GPP,
                   AvpType.Unsigned32, True)
        self.check('Error-Diagnostic', 1614, VENDOR_3GPP,
                   AvpType.Enumerated, False)
        self.check('CLR-Flags', 1638, VENDOR_3GPP, AvpType.Unsigned32, False)
        self.check('MSISDN', 701, VENDOR_3GPP, AvpType.OctetString, True)

    def test_cx_and_s13(self):
        self.check('Public-Identity', 601, VENDOR_3GPP, AvpType.UTF8String,
                   True)
        self.check('Server-Name', 602, VENDOR_3GPP, AvpType.UTF8String, True)
        self.check('SIP-Auth-Data-Item', 612, VENDOR_3GPP, AvpType.Grouped,
                   True)
        self.check('Supported-Features', 628, VENDOR_3GPP, AvpType.Grouped,
                   False)
        self.check('Digest-HA1', 121, 0, AvpType.UTF8String, True)
        self.check('Equipment-Status', 1445, VENDOR_3GPP, AvpType.Enumerated,
                   True)
        self.check('Terminal-Information', 1401, VENDOR_3GPP,
                   AvpType.Grouped, True)

    def test_enum_values(self):
        self.assertEqual(DICTIONARY.avp('RAT-Type').enum[1004], 'EUTRAN')
        self.assertEqual(
            DICTIONARY.avp('Auth-Session-State').enum_by_name[
                'NO_STATE_MAINTAINED'], 1)
        self.assertEqual(
            DICTIONARY.avp('Server-Assignment-Type').enum[1], 'REGISTRATION')

    def test_unknown(self):
        self.assertRaises(KeyError, DICTIONARY.avp, 'No-Such-AVP')
        self.assertIsNone(DICTIONARY.avp_by_code(999999, 0))
        self.assertIsNone(DICTIONARY.command(APP_S6A, 257))


class CommandTests(unittest.TestCase):

    def test_constants(self):
        self.assertEqual((APP_BASE, APP_CX, APP_S6A, APP_S13),
                         (0, 16777216, 16777251, 16777252))
        self.assertEqual((dictionary.CMD_CER, dictionary.CMD_DWR,
                          dictionary.CMD_ULR, dictionary.CMD_MAR,
                          dictionary.CMD_ECR), (257, 280, 316, 303, 324))

    def test_lookup(self):
        ulr = DICTIONARY.command(APP_S6A, 316)
        self.assertEqual((ulr.request_abbrev, ulr.answer_abbrev),
                         ('ULR', 'ULA'))
        self.assertIs(DICTIONARY.command_by_name('ULA'), ulr)
        self.assertIs(DICTIONARY.command_by_name('Update-Location-Request'),
                      ulr)
        self.assertIs(DICTIONARY.command_by_name('Update-Location'), ulr)
        self.assertIn('Visited-PLMN-Id', ulr.request_required)
        self.assertIn('Terminal-Information',
                      DICTIONARY.command(APP_S13, 324).request_required)
        self.assertIn('SIP-Auth-Data-Item',
                      DICTIONARY.command(APP_CX, 303).request_required)

    def test_base_commands_not_proxiable(self):
        for code in (257, 280, 282):
            self.assertFalse(DICTIONARY.command(APP_BASE, code).proxiable)
        self.assertTrue(DICTIONARY.command(APP_S6A, 318).proxiable)

    def test_session_commands_fall_back_to_base(self):
        self.assertEqual(DICTIONARY.command(APP_S6A, 258).request_abbrev,
                         'RAR')
        self.assertEqual(DICTIONARY.command(APP_CX, 275).answer_abbrev,
                         'STA')


WIRESHARK_DICTIONARY = '/usr/share/wireshark/diameter'

# Our names follow the specifications; Wireshark's file differs for these.
WIRESHARK_NAMES = {
    'Acct-Multi-Session-Id': 'Accounting-Multi-Session-Id',
    'Service-Type': '3GPP-Service-Type',
    'Call-Barring-Info': 'Call-Barring-Infor-List',
    'Additional-Context-ID': 'Additional-Context-Identifier',
    'Digest-QoP': 'Digest-Qop',
    'User-Data': 'Cx-User-Data',
    'SIP-Number-Auth-Items': '3GPP-SIP-Number-Auth-Items',
    'SIP-Authentication-Scheme': '3GPP-SIP-Authentication-Scheme',
    'SIP-Authenticate': '3GPP-SIP-Authenticate',
    'SIP-Authorization': '3GPP-SIP-Authorization',
    'SIP-Auth-Data-Item': '3GPP-SIP-Auth-Data-Item',
    'SIP-Item-Number': '3GPP-SIP-Item-Number',
    'Wildcarded-Public-Identity': 'Wildcarded-PSI',
}
WIRESHARK_TYPES = {'IPAddress': 'Address', 'VendorId': 'Unsigned32',
                   'AppId': 'Unsigned32'}
# Wireshark types these as Enumerated/Integer32 or as a raw address; the
# RFCs (6733, 7155) and TS 29.272 say Unsigned32 and OctetString.
TYPE_EXCEPTIONS = {'Result-Code', 'Session-Binding', 'Authorization-Lifetime',
                   'Experimental-Result-Code', 'Inband-Security-Id',
                   'SIPTO-Local-Network-Permission', 'Framed-IP-Address',
                   'Non-IP-Data-Delivery-Mechanism',
                   'PDN-Connection-Continuity', 'Operation-Mode'}


class WiresharkCrossCheckTests(unittest.TestCase):
    """Codes, vendors, names and types against Wireshark's independent
    dictionary (an installed data file, read only)."""

    def wireshark_avps(self):
        import glob
        import os
        if not os.path.isdir(WIRESHARK_DICTIONARY):
            raise unittest.SkipTest('no Wireshark dictionary installed')
        texts = [open(path, encoding='utf-8', errors='replace').read()
                 for path in sorted(glob.glob(os.path.join(
                     WIRESHARK_DICTIONARY, '*.xml')))]
        vendors = {'None': 0}
        for text in texts:
            for vendor in re.finditer(
                    r'<vendor\s+vendor-id="([^"]+)"\s+code="(\d+)"', text):
                vendors[vendor.group(1)] = int(vendor.group(2))
        avps = {}
        for text in texts:
            # Files are entity-included fragments; read the elements only.
            for avp in re.finditer(r'<avp\s([^>]*)>(.*?)</avp>', text,
                                   re.S):
                attributes = dict(re.findall(r'([\w-]+)="([^"]*)"',
                                             avp.group(1)))
                body = avp.group(2)
                avp_type = re.search(r'type-name="([^"]+)"', body)
                avp_type = (avp_type.group(1) if avp_type else
                            'Grouped' if '<grouped' in body else None)
                vendor = vendors.get(attributes.get('vendor-id', 'None'))
                avps.setdefault((int(attributes['code']), vendor),
                                (attributes.get('name'), avp_type))
        return avps

    def test_codes_names_and_types(self):
        known = self.wireshark_avps()
        mismatches = []
        for avp in DICTIONARY.avps():
            theirs = known.get((avp.code, avp.vendor_id))
            if theirs is None:
                mismatches.append('%s: not in Wireshark' % (avp.name,))
                continue
            name, avp_type = theirs
            if name != WIRESHARK_NAMES.get(avp.name, avp.name):
                mismatches.append('%s: Wireshark calls %d/%d %s' % (
                    avp.name, avp.code, avp.vendor_id, name))
            avp_type = WIRESHARK_TYPES.get(avp_type, avp_type)
            if (avp.name not in TYPE_EXCEPTIONS and
                    avp_type not in (avp.type.name, 'OctetStringOrUTF8')):
                mismatches.append('%s: %s, Wireshark says %s' % (
                    avp.name, avp.type.name, avp_type))
        self.assertEqual(mismatches, [])


class TsharkDictionaryTests(unittest.TestCase):
    """Every AVP of the dictionary, encoded with a sample value of its type,
    must dissect in tshark without a malformed or expert warning: its code,
    vendor and type (hence size) agree with Wireshark's dictionary."""

    SAMPLES = {
        AvpType.OctetString: b'\x01\x02\x03\x04', AvpType.Integer32: -5,
        AvpType.Integer64: -5, AvpType.Unsigned32: 7, AvpType.Unsigned64: 7,
        AvpType.Float32: 1.5, AvpType.Float64: 1.5,
        AvpType.Address: '192.0.2.1', AvpType.Time: 3900000000,
        AvpType.UTF8String: 'text', AvpType.DiameterIdentity: 'h.example',
        AvpType.DiameterURI: 'aaa://h.example:3868',
    }

    # Wireshark decodes these further and wants their real size.
    BY_NAME = {'Visited-PLMN-Id': b'\x00\xf1\x10',
               'MDT-Allowed-PLMN-Id': b'\x00\xf1\x10',
               'Group-PLMN-Id': b'\x00\xf1\x10'}

    def sample(self, defn):
        if defn.name in self.BY_NAME:
            return self.BY_NAME[defn.name]
        if defn.type == AvpType.Enumerated:
            return min(defn.enum) if defn.enum else 0
        if defn.type == AvpType.Grouped:
            return [Avp.new('Vendor-Id', 10415)]
        return self.SAMPLES[defn.type]

    def test_every_avp_dissects_cleanly(self):
        from tests import interop_helpers
        if interop_helpers.TSHARK is None:
            raise unittest.SkipTest('tshark is not installed')
        message = Message.request(APP_BASE, dictionary.CMD_DWR, [
            ('Origin-Host', 'h.example'), ('Origin-Realm', 'example')])
        for defn in DICTIONARY.avps():
            message.append(Avp.new(defn.name, self.sample(defn)))
        path = self.mktemp()
        interop_helpers.write_transcript_pcap(
            path, [('client', message.encode())])
        frames = [frame for frame in interop_helpers.tshark_fields(path)
                  if frame['diameter.cmd.code']]
        self.assertEqual(len(frames), 1)
        frame = frames[0]
        problems = frame['_ws.malformed'] + frame['_ws.expert.message']
        if problems:
            # Name the AVPs next to each complaint in the dissection.
            lines = interop_helpers.tshark_verbose(path).splitlines()
            context = [line for index, line in enumerate(lines)
                       if 'Expert Info' in ''.join(lines[index:index + 3])
                       or 'Expert Info' in line]
            self.fail('%s\n%s' % (problems, '\n'.join(context)))
        self.assertEqual(len(frame['diameter.avp.code']),
                         len(message.avps) + len(
                             [a for a in message.avps
                              if a.definition.type == AvpType.Grouped]))
