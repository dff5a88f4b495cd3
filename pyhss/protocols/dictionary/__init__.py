"""The Diameter dictionary: the single source of truth for AVPs and commands.

Tables live in one module per application (``base``, ``s6a``, ``cx``,
``s13``), as data.  :data:`DICTIONARY` indexes them; the codec, the
validator and the tests all read it.
"""

from pyhss.protocols.dictionary.types import AvpDef, AvpType, CommandDef

APP_BASE = 0
APP_RELAY = 0xFFFFFFFF
APP_CX = 16777216
APP_S6A = 16777251
APP_S13 = 16777252
VENDOR_3GPP = 10415

CMD_CER = 257
CMD_RAR = 258
CMD_ACR = 271
CMD_ASR = 274
CMD_STR = 275
CMD_DWR = 280
CMD_DPR = 282
CMD_UAR = 300
CMD_SAR = 301
CMD_LIR = 302
CMD_MAR = 303
CMD_RTR = 304
CMD_PPR = 305
CMD_ULR = 316
CMD_CLR = 317
CMD_AIR = 318
CMD_IDR = 319
CMD_DSR = 320
CMD_PUR = 321
CMD_RSR = 322
CMD_NOR = 323
CMD_ECR = 324


_SESSION_COMMAND_CODES = frozenset((CMD_RAR, CMD_ACR, CMD_ASR, CMD_STR))


class DictionaryError(ValueError):
    """Inconsistent dictionary tables (duplicate codes or names...)."""


class Dictionary(object):
    """An index over AVP and command tables."""

    def __init__(self, avps=(), commands=()):
        self._by_name = {}
        self._by_key = {}
        self._commands = {}
        self._command_names = {}
        self.add_avps(avps)
        self.add_commands(commands)

    def add_avps(self, avps):
        for avp in avps:
            key = (avp.code, avp.vendor_id)
            if key in self._by_key:
                raise DictionaryError('duplicate AVP code %r: %s and %s' % (
                    key, self._by_key[key].name, avp.name))
            if avp.name in self._by_name:
                raise DictionaryError('duplicate AVP name %s' % (avp.name,))
            self._by_key[key] = avp
            self._by_name[avp.name] = avp

    def add_commands(self, commands):
        for cmd in commands:
            key = (cmd.application_id, cmd.code)
            if key in self._commands:
                raise DictionaryError('duplicate command %r' % (key,))
            self._commands[key] = cmd
            for name in (cmd.name, cmd.request_name, cmd.answer_name,
                         cmd.request_abbrev, cmd.answer_abbrev):
                if name in self._command_names:
                    raise DictionaryError('duplicate command name %s' % name)
                self._command_names[name] = cmd

    def avp(self, name):
        """The AvpDef called ``name``; KeyError when unknown."""
        return self._by_name[name]

    def avp_by_code(self, code, vendor_id=0):
        return self._by_key.get((code, vendor_id))

    def command(self, application_id, code):
        """The CommandDef for a header's (application id, command code).

        RAR/ACR/ASR/STR are defined by the base protocol but carry the id of
        the application they act for, so they fall back to the base entry.
        """
        cmd = self._commands.get((application_id, code))
        if cmd is None and code in _SESSION_COMMAND_CODES:
            cmd = self._commands.get((APP_BASE, code))
        return cmd

    def command_by_name(self, name):
        """A CommandDef by abbreviation ('CER', 'ULA') or full name
        ('Update-Location-Request', 'Update-Location'); KeyError if unknown."""
        return self._command_names[name]

    def avps(self):
        return list(self._by_key.values())

    def commands(self):
        return list(self._commands.values())

    def __contains__(self, name):
        return name in self._by_name


def _build():
    from pyhss.protocols.dictionary import base, cx, s6a, s13
    dictionary = Dictionary()
    for module in (base, s6a, cx, s13):
        dictionary.add_avps(module.AVPS)
    for module in (base, s6a, cx, s13):
        dictionary.add_commands(module.COMMANDS)
    return dictionary


DICTIONARY = _build()

__all__ = ['AvpDef', 'AvpType', 'CommandDef', 'Dictionary', 'DICTIONARY',
           'DictionaryError']
