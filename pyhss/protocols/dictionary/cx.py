"""Cx/Dx (3GPP TS 29.228/29.229 section 6.3) AVPs and commands, with the
IETF AVPs Cx messages carry (RFC 4740/5090 Digest-*, RFC 7155 Framed-*).

Columns: code, vendor id, name, type, M bit when sending.  AVPs added to
29.229 after Release 5 are sent without the M bit, per its flag table.
"""

from pyhss.protocols.dictionary.types import AvpDef, CommandDef
from pyhss.protocols.dictionary.types import AvpType as T

APP_CX = 16777216
V = 10415
VENDOR_ETSI = 13019

SERVER_ASSIGNMENT_TYPE = {
    0: 'NO_ASSIGNMENT', 1: 'REGISTRATION', 2: 'RE_REGISTRATION',
    3: 'UNREGISTERED_USER', 4: 'TIMEOUT_DEREGISTRATION',
    5: 'USER_DEREGISTRATION', 6: 'TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME',
    7: 'USER_DEREGISTRATION_STORE_SERVER_NAME',
    8: 'ADMINISTRATIVE_DEREGISTRATION', 9: 'AUTHENTICATION_FAILURE',
    10: 'AUTHENTICATION_TIMEOUT', 11: 'DEREGISTRATION_TOO_MUCH_DATA',
    12: 'AAA_USER_DATA_REQUEST', 13: 'PGW_UPDATE', 14: 'RESTORATION'}
REASON_CODE = {0: 'PERMANENT_TERMINATION', 1: 'NEW_SERVER_ASSIGNED',
               2: 'SERVER_CHANGE', 3: 'REMOVE_S-CSCF'}
USER_AUTHORIZATION_TYPE = {0: 'REGISTRATION', 1: 'DE_REGISTRATION',
                           2: 'REGISTRATION_AND_CAPABILITIES'}
USER_DATA_ALREADY_AVAILABLE = {0: 'USER_DATA_NOT_AVAILABLE',
                               1: 'USER_DATA_ALREADY_AVAILABLE'}
ORIGINATING_REQUEST = {0: 'ORIGINATING'}
LOOSE_ROUTE_INDICATION = {0: 'LOOSE_ROUTE_NOT_REQUIRED',
                          1: 'LOOSE_ROUTE_REQUIRED'}
MULTIPLE_REGISTRATION_INDICATION = {0: 'NOT_MULTIPLE_REGISTRATION',
                                    1: 'MULTIPLE_REGISTRATION'}
SESSION_PRIORITY = dict((n, 'PRIORITY-%d' % n) for n in range(5))
PRIVILEDGED_SENDER_INDICATION = {0: 'NOT_PRIVILEDGED_SENDER',
                                 1: 'PRIVILEDGED_SENDER'}

AVPS = (
    # IETF AVPs carried on Cx (SIP-Auth-Data-Item, SIP-Digest-Authenticate).
    AvpDef(8, 0, 'Framed-IP-Address', T.OctetString, True),
    AvpDef(96, 0, 'Framed-Interface-Id', T.Unsigned64, True),
    AvpDef(97, 0, 'Framed-IPv6-Prefix', T.OctetString, True),
    AvpDef(104, 0, 'Digest-Realm', T.UTF8String, True),
    AvpDef(110, 0, 'Digest-QoP', T.UTF8String, True),
    AvpDef(111, 0, 'Digest-Algorithm', T.UTF8String, True),
    AvpDef(121, 0, 'Digest-HA1', T.UTF8String, True),
    # ETSI TS 283 034 (vendor 13019), referenced by SIP-Auth-Data-Item.
    AvpDef(500, VENDOR_ETSI, 'Line-Identifier', T.OctetString, False),
    # TS 29.229 6.3.
    AvpDef(600, V, 'Visited-Network-Identifier', T.OctetString, True),
    AvpDef(601, V, 'Public-Identity', T.UTF8String, True),
    AvpDef(602, V, 'Server-Name', T.UTF8String, True),
    AvpDef(603, V, 'Server-Capabilities', T.Grouped, True),
    AvpDef(604, V, 'Mandatory-Capability', T.Unsigned32, True),
    AvpDef(605, V, 'Optional-Capability', T.Unsigned32, True),
    AvpDef(606, V, 'User-Data', T.OctetString, True),
    AvpDef(607, V, 'SIP-Number-Auth-Items', T.Unsigned32, True),
    AvpDef(608, V, 'SIP-Authentication-Scheme', T.UTF8String, True),
    AvpDef(609, V, 'SIP-Authenticate', T.OctetString, True),
    AvpDef(610, V, 'SIP-Authorization', T.OctetString, True),
    AvpDef(611, V, 'SIP-Authentication-Context', T.OctetString, True),
    AvpDef(612, V, 'SIP-Auth-Data-Item', T.Grouped, True),
    AvpDef(613, V, 'SIP-Item-Number', T.Unsigned32, True),
    AvpDef(614, V, 'Server-Assignment-Type', T.Enumerated, True,
           enum=SERVER_ASSIGNMENT_TYPE),
    AvpDef(615, V, 'Deregistration-Reason', T.Grouped, True,
           required=('Reason-Code',)),
    AvpDef(616, V, 'Reason-Code', T.Enumerated, True, enum=REASON_CODE),
    AvpDef(617, V, 'Reason-Info', T.UTF8String, True),
    AvpDef(618, V, 'Charging-Information', T.Grouped, True),
    AvpDef(619, V, 'Primary-Event-Charging-Function-Name', T.DiameterURI,
           True),
    AvpDef(620, V, 'Secondary-Event-Charging-Function-Name', T.DiameterURI,
           True),
    AvpDef(621, V, 'Primary-Charging-Collection-Function-Name',
           T.DiameterURI, True),
    AvpDef(622, V, 'Secondary-Charging-Collection-Function-Name',
           T.DiameterURI, True),
    AvpDef(623, V, 'User-Authorization-Type', T.Enumerated, True,
           enum=USER_AUTHORIZATION_TYPE),
    AvpDef(624, V, 'User-Data-Already-Available', T.Enumerated, True,
           enum=USER_DATA_ALREADY_AVAILABLE),
    AvpDef(625, V, 'Confidentiality-Key', T.OctetString, True),
    AvpDef(626, V, 'Integrity-Key', T.OctetString, True),
    AvpDef(628, V, 'Supported-Features', T.Grouped, False,
           required=('Vendor-Id', 'Feature-List-ID', 'Feature-List')),
    AvpDef(629, V, 'Feature-List-ID', T.Unsigned32, False),
    AvpDef(630, V, 'Feature-List', T.Unsigned32, False),
    AvpDef(631, V, 'Supported-Applications', T.Grouped, False),
    AvpDef(632, V, 'Associated-Identities', T.Grouped, False),
    AvpDef(633, V, 'Originating-Request', T.Enumerated, True,
           enum=ORIGINATING_REQUEST),
    AvpDef(634, V, 'Wildcarded-Public-Identity', T.UTF8String, False),
    AvpDef(635, V, 'SIP-Digest-Authenticate', T.Grouped, False,
           required=('Digest-Realm', 'Digest-HA1')),
    AvpDef(636, V, 'Wildcarded-IMPU', T.UTF8String, False),
    AvpDef(637, V, 'UAR-Flags', T.Unsigned32, False),
    AvpDef(638, V, 'Loose-Route-Indication', T.Enumerated, False,
           enum=LOOSE_ROUTE_INDICATION),
    AvpDef(639, V, 'SCSCF-Restoration-Info', T.Grouped, False,
           required=('User-Name', 'Restoration-Info')),
    AvpDef(640, V, 'Path', T.OctetString, False),
    AvpDef(641, V, 'Contact', T.OctetString, False),
    AvpDef(642, V, 'Subscription-Info', T.Grouped, False,
           required=('Call-ID-SIP-Header', 'From-SIP-Header', 'To-SIP-Header',
                     'Record-Route', 'Contact')),
    AvpDef(643, V, 'Call-ID-SIP-Header', T.OctetString, False),
    AvpDef(644, V, 'From-SIP-Header', T.OctetString, False),
    AvpDef(645, V, 'To-SIP-Header', T.OctetString, False),
    AvpDef(646, V, 'Record-Route', T.OctetString, False),
    AvpDef(647, V, 'Associated-Registered-Identities', T.Grouped, False),
    AvpDef(648, V, 'Multiple-Registration-Indication', T.Enumerated, False,
           enum=MULTIPLE_REGISTRATION_INDICATION),
    AvpDef(649, V, 'Restoration-Info', T.Grouped, False,
           required=('Path', 'Contact')),
    AvpDef(650, V, 'Session-Priority', T.Enumerated, False,
           enum=SESSION_PRIORITY),
    AvpDef(651, V, 'Identity-with-Emergency-Registration', T.Grouped, False,
           required=('User-Name', 'Public-Identity')),
    AvpDef(652, V, 'Priviledged-Sender-Indication', T.Enumerated, False,
           enum=PRIVILEDGED_SENDER_INDICATION),
    AvpDef(653, V, 'LIA-Flags', T.Unsigned32, False),
    AvpDef(654, V, 'Initial-CSeq-Sequence-Number', T.Unsigned32, False),
    AvpDef(655, V, 'SAR-Flags', T.Unsigned32, False),
    AvpDef(656, V, 'Allowed-WAF-WWSF-Identities', T.Grouped, False),
    AvpDef(657, V, 'WebRTC-Authentication-Function-Name', T.UTF8String,
           False),
    AvpDef(658, V, 'WebRTC-Web-Server-Function-Name', T.UTF8String, False),
)

_CX_BASE = ('Session-Id', 'Vendor-Specific-Application-Id',
            'Auth-Session-State', 'Origin-Host', 'Origin-Realm')
_CX_ANSWER = _CX_BASE

COMMANDS = (
    CommandDef(300, APP_CX, 'User-Authorization', 'UAR', 'UAA', True,
               _CX_BASE + ('Destination-Realm', 'User-Name',
                           'Public-Identity', 'Visited-Network-Identifier'),
               _CX_ANSWER),
    CommandDef(301, APP_CX, 'Server-Assignment', 'SAR', 'SAA', True,
               _CX_BASE + ('Destination-Realm', 'Server-Name',
                           'Server-Assignment-Type',
                           'User-Data-Already-Available'),
               _CX_ANSWER),
    CommandDef(302, APP_CX, 'Location-Info', 'LIR', 'LIA', True,
               _CX_BASE + ('Destination-Realm', 'Public-Identity'),
               _CX_ANSWER),
    CommandDef(303, APP_CX, 'Multimedia-Auth', 'MAR', 'MAA', True,
               _CX_BASE + ('Destination-Realm', 'User-Name',
                           'Public-Identity', 'SIP-Auth-Data-Item',
                           'SIP-Number-Auth-Items', 'Server-Name'),
               _CX_ANSWER),
    CommandDef(304, APP_CX, 'Registration-Termination', 'RTR', 'RTA', True,
               _CX_BASE + ('Destination-Host', 'Destination-Realm',
                           'User-Name', 'Deregistration-Reason'),
               _CX_ANSWER),
    CommandDef(305, APP_CX, 'Push-Profile', 'PPR', 'PPA', True,
               _CX_BASE + ('Destination-Realm', 'Destination-Host',
                           'User-Name'),
               _CX_ANSWER),
)
