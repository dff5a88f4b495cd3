"""RFC 6733 base protocol AVPs (4.5) and commands (sections 3, 5, 8, 9).

Columns: code, vendor id, name, type, M bit when sending.  Error-Message,
Error-Reporting-Host, Firmware-Revision and Product-Name "MUST NOT" carry the
M bit per the RFC's flag table.
"""

from pyhss.protocols.dictionary.types import AvpDef, CommandDef
from pyhss.protocols.dictionary.types import AvpType as T

APP_BASE = 0
APP_BASE_ACCOUNTING = 3

DISCONNECT_CAUSE = {0: 'REBOOTING', 1: 'BUSY', 2: 'DO_NOT_WANT_TO_TALK_TO_YOU'}
AUTH_SESSION_STATE = {0: 'STATE_MAINTAINED', 1: 'NO_STATE_MAINTAINED'}
RE_AUTH_REQUEST_TYPE = {0: 'AUTHORIZE_ONLY', 1: 'AUTHORIZE_AUTHENTICATE'}
REDIRECT_HOST_USAGE = {0: 'DONT_CACHE', 1: 'ALL_SESSION', 2: 'ALL_REALM',
                       3: 'REALM_AND_APPLICATION', 4: 'ALL_APPLICATION',
                       5: 'ALL_HOST', 6: 'ALL_USER'}
AUTH_REQUEST_TYPE = {1: 'AUTHENTICATE_ONLY', 2: 'AUTHORIZE_ONLY',
                     3: 'AUTHORIZE_AUTHENTICATE'}
SESSION_SERVER_FAILOVER = {0: 'REFUSE_SERVICE', 1: 'TRY_AGAIN',
                           2: 'ALLOW_SERVICE', 3: 'TRY_AGAIN_ALLOW_SERVICE'}
TERMINATION_CAUSE = {1: 'DIAMETER_LOGOUT', 2: 'DIAMETER_SERVICE_NOT_PROVIDED',
                     3: 'DIAMETER_BAD_ANSWER', 4: 'DIAMETER_ADMINISTRATIVE',
                     5: 'DIAMETER_LINK_BROKEN', 6: 'DIAMETER_AUTH_EXPIRED',
                     7: 'DIAMETER_USER_MOVED', 8: 'DIAMETER_SESSION_TIMEOUT'}
ACCOUNTING_RECORD_TYPE = {1: 'EVENT_RECORD', 2: 'START_RECORD',
                          3: 'INTERIM_RECORD', 4: 'STOP_RECORD'}
ACCOUNTING_REALTIME_REQUIRED = {1: 'DELIVER_AND_GRANT', 2: 'GRANT_AND_STORE',
                                3: 'GRANT_AND_LOSE'}
INBAND_SECURITY_ID = {0: 'NO_INBAND_SECURITY', 1: 'TLS'}

AVPS = (
    AvpDef(1, 0, 'User-Name', T.UTF8String, True),
    AvpDef(25, 0, 'Class', T.OctetString, True),
    AvpDef(27, 0, 'Session-Timeout', T.Unsigned32, True),
    AvpDef(33, 0, 'Proxy-State', T.OctetString, True),
    AvpDef(44, 0, 'Acct-Session-Id', T.OctetString, True),
    AvpDef(50, 0, 'Acct-Multi-Session-Id', T.UTF8String, True),
    AvpDef(55, 0, 'Event-Timestamp', T.Time, True),
    AvpDef(85, 0, 'Acct-Interim-Interval', T.Unsigned32, True),
    AvpDef(257, 0, 'Host-IP-Address', T.Address, True),
    AvpDef(258, 0, 'Auth-Application-Id', T.Unsigned32, True),
    AvpDef(259, 0, 'Acct-Application-Id', T.Unsigned32, True),
    AvpDef(260, 0, 'Vendor-Specific-Application-Id', T.Grouped, True,
           required=('Vendor-Id',)),
    AvpDef(261, 0, 'Redirect-Host-Usage', T.Enumerated, True,
           enum=REDIRECT_HOST_USAGE),
    AvpDef(262, 0, 'Redirect-Max-Cache-Time', T.Unsigned32, True),
    AvpDef(263, 0, 'Session-Id', T.UTF8String, True),
    AvpDef(264, 0, 'Origin-Host', T.DiameterIdentity, True),
    AvpDef(265, 0, 'Supported-Vendor-Id', T.Unsigned32, True),
    AvpDef(266, 0, 'Vendor-Id', T.Unsigned32, True),
    AvpDef(267, 0, 'Firmware-Revision', T.Unsigned32, False),
    AvpDef(268, 0, 'Result-Code', T.Unsigned32, True),
    AvpDef(269, 0, 'Product-Name', T.UTF8String, False),
    AvpDef(270, 0, 'Session-Binding', T.Unsigned32, True),
    AvpDef(271, 0, 'Session-Server-Failover', T.Enumerated, True,
           enum=SESSION_SERVER_FAILOVER),
    AvpDef(272, 0, 'Multi-Round-Time-Out', T.Unsigned32, True),
    AvpDef(273, 0, 'Disconnect-Cause', T.Enumerated, True,
           enum=DISCONNECT_CAUSE),
    AvpDef(274, 0, 'Auth-Request-Type', T.Enumerated, True,
           enum=AUTH_REQUEST_TYPE),
    AvpDef(276, 0, 'Auth-Grace-Period', T.Unsigned32, True),
    AvpDef(277, 0, 'Auth-Session-State', T.Enumerated, True,
           enum=AUTH_SESSION_STATE),
    AvpDef(278, 0, 'Origin-State-Id', T.Unsigned32, True),
    AvpDef(279, 0, 'Failed-AVP', T.Grouped, True),
    AvpDef(280, 0, 'Proxy-Host', T.DiameterIdentity, True),
    AvpDef(281, 0, 'Error-Message', T.UTF8String, False),
    AvpDef(282, 0, 'Route-Record', T.DiameterIdentity, True),
    AvpDef(283, 0, 'Destination-Realm', T.DiameterIdentity, True),
    AvpDef(284, 0, 'Proxy-Info', T.Grouped, True,
           required=('Proxy-Host', 'Proxy-State')),
    AvpDef(285, 0, 'Re-Auth-Request-Type', T.Enumerated, True,
           enum=RE_AUTH_REQUEST_TYPE),
    AvpDef(287, 0, 'Accounting-Sub-Session-Id', T.Unsigned64, True),
    AvpDef(291, 0, 'Authorization-Lifetime', T.Unsigned32, True),
    AvpDef(292, 0, 'Redirect-Host', T.DiameterURI, True),
    AvpDef(293, 0, 'Destination-Host', T.DiameterIdentity, True),
    AvpDef(294, 0, 'Error-Reporting-Host', T.DiameterIdentity, False),
    AvpDef(295, 0, 'Termination-Cause', T.Enumerated, True,
           enum=TERMINATION_CAUSE),
    AvpDef(296, 0, 'Origin-Realm', T.DiameterIdentity, True),
    AvpDef(297, 0, 'Experimental-Result', T.Grouped, True,
           required=('Vendor-Id', 'Experimental-Result-Code')),
    AvpDef(298, 0, 'Experimental-Result-Code', T.Unsigned32, True),
    AvpDef(299, 0, 'Inband-Security-Id', T.Unsigned32, True,
           enum=INBAND_SECURITY_ID),
    AvpDef(300, 0, 'E2E-Sequence', T.Grouped, True),
    AvpDef(480, 0, 'Accounting-Record-Type', T.Enumerated, True,
           enum=ACCOUNTING_RECORD_TYPE),
    AvpDef(483, 0, 'Accounting-Realtime-Required', T.Enumerated, True,
           enum=ACCOUNTING_REALTIME_REQUIRED),
    AvpDef(485, 0, 'Accounting-Record-Number', T.Unsigned32, True),
)

_ORIGIN = ('Origin-Host', 'Origin-Realm')
_SESSION_ANSWER = ('Session-Id', 'Result-Code') + _ORIGIN

COMMANDS = (
    CommandDef(257, APP_BASE, 'Capabilities-Exchange', 'CER', 'CEA', False,
               _ORIGIN + ('Host-IP-Address', 'Vendor-Id', 'Product-Name'),
               ('Result-Code',) + _ORIGIN + (
                   'Host-IP-Address', 'Vendor-Id', 'Product-Name')),
    CommandDef(258, APP_BASE, 'Re-Auth', 'RAR', 'RAA', True,
               ('Session-Id',) + _ORIGIN + (
                   'Destination-Realm', 'Destination-Host',
                   'Auth-Application-Id', 'Re-Auth-Request-Type'),
               _SESSION_ANSWER),
    CommandDef(271, APP_BASE, 'Accounting', 'ACR', 'ACA', True,
               ('Session-Id',) + _ORIGIN + (
                   'Destination-Realm', 'Accounting-Record-Type',
                   'Accounting-Record-Number'),
               _SESSION_ANSWER + ('Accounting-Record-Type',
                                  'Accounting-Record-Number')),
    CommandDef(274, APP_BASE, 'Abort-Session', 'ASR', 'ASA', True,
               ('Session-Id',) + _ORIGIN + (
                   'Destination-Realm', 'Destination-Host',
                   'Auth-Application-Id'),
               _SESSION_ANSWER),
    CommandDef(275, APP_BASE, 'Session-Termination', 'STR', 'STA', True,
               ('Session-Id',) + _ORIGIN + (
                   'Destination-Realm', 'Auth-Application-Id',
                   'Termination-Cause'),
               _SESSION_ANSWER),
    CommandDef(280, APP_BASE, 'Device-Watchdog', 'DWR', 'DWA', False,
               _ORIGIN, ('Result-Code',) + _ORIGIN),
    CommandDef(282, APP_BASE, 'Disconnect-Peer', 'DPR', 'DPA', False,
               _ORIGIN + ('Disconnect-Cause',), ('Result-Code',) + _ORIGIN),
)

# Commands defined by the base protocol but sent with the application id of
# the application whose session they act on.
SESSION_COMMAND_CODES = frozenset((258, 271, 274, 275))
