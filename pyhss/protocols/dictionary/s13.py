"""S13/S13' (3GPP TS 29.272 section 6.2 and 7.2.19-20): the ME Identity
Check between MME/SGSN and EIR.  Its AVPs (Terminal-Information, IMEI,
3GPP2-MEID, Software-Version, Equipment-Status) are shared with S6a and
declared in :mod:`pyhss.protocols.dictionary.s6a`; only the command lives
here."""

from pyhss.protocols.dictionary.types import CommandDef

APP_S13 = 16777252

AVPS = ()

COMMANDS = (
    CommandDef(324, APP_S13, 'ME-Identity-Check', 'ECR', 'ECA', True,
               ('Session-Id', 'Auth-Session-State', 'Origin-Host',
                'Origin-Realm', 'Destination-Realm', 'Terminal-Information'),
               ('Session-Id', 'Auth-Session-State', 'Origin-Host',
                'Origin-Realm')),
)
