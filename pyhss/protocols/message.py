"""Diameter messages and AVPs as Python objects, and their encoding.

:mod:`pyhss.protocols.codec` is the public face (it re-exports all of this
and adds strict decoding and validation); see its docstring for how AVP
values map to Python types.
"""

import datetime
import ipaddress
import itertools
import os
import socket
import struct
import time

from pyhss.protocols.dictionary import DICTIONARY, AvpType
from pyhss.protocols.errors import EncodeError

FLAG_REQUEST = 0x80
FLAG_PROXIABLE = 0x40
FLAG_ERROR = 0x20
FLAG_RETRANSMIT = 0x10
_FLAGS_RESERVED = 0x0F

AVP_VENDOR = 0x80
AVP_MANDATORY = 0x40
AVP_PROTECTED = 0x20

HEADER_LENGTH = 20
DEFAULT_MAX_SIZE = 65536
DEFAULT_MAX_DEPTH = 16
MAX_LENGTH = 0xFFFFFF

# The one definition of the header: version and length, flags and command
# code, application id, hop-by-hop, end-to-end.
HEADER = _HEADER = struct.Struct('!IIIII')
AVP_HEADER = _AVP_HEADER = struct.Struct('!II')
_AVP_HEADER_V = struct.Struct('!III')
_U32 = struct.Struct('!I')
_STRUCTS = {
    AvpType.Integer32: struct.Struct('!i'),
    AvpType.Integer64: struct.Struct('!q'),
    AvpType.Unsigned32: _U32,
    AvpType.Unsigned64: struct.Struct('!Q'),
    AvpType.Float32: struct.Struct('!f'),
    AvpType.Float64: struct.Struct('!d'),
    AvpType.Enumerated: struct.Struct('!i'),
    AvpType.Time: _U32,
}
# Padding that follows an AVP of a given length, indexed by length & 3.
_PAD = (b'', b'\0\0\0', b'\0\0', b'\0')

_SESSION_ID = 263
_RESULT_CODE = 268
_PROXY_INFO = 284

# --- Time ----------------------------------------------------------------

_NTP_EPOCH = datetime.datetime(1900, 1, 1, tzinfo=datetime.timezone.utc)
_NTP_ERA1 = _NTP_EPOCH + datetime.timedelta(seconds=1 << 32)


def time_to_datetime(value):
    """Diameter Time (NTP seconds) -> aware UTC datetime.  Values with the
    top bit clear are in the era after 7 February 2036 (RFC 4330 3)."""
    if value & 0x80000000:
        return _NTP_EPOCH + datetime.timedelta(seconds=value)
    return _NTP_ERA1 + datetime.timedelta(seconds=value)


def datetime_to_time(moment):
    """datetime (aware, or naive meaning UTC) -> Diameter Time value."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int((moment - _NTP_EPOCH).total_seconds()) & 0xFFFFFFFF


def unix_to_time(seconds):
    """POSIX seconds -> Diameter Time value."""
    return (int(seconds) + 2208988800) & 0xFFFFFFFF


# --- value encoders ------------------------------------------------------

def _encode_octets(value):
    if type(value) is bytes:
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError('expected bytes, got %s' % type(value).__name__)


def _encode_text(value):
    if type(value) is str:
        return value.encode('utf-8')
    return _encode_octets(value)


def _encode_address(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value)
        if len(value) < 2:
            raise ValueError('raw Address needs a 2-byte family')
        return value
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        value = str(value)
    if ':' in value:
        return b'\x00\x02' + socket.inet_pton(socket.AF_INET6, value)
    return b'\x00\x01' + socket.inet_pton(socket.AF_INET, value)


def _encode_time(value):
    if isinstance(value, datetime.datetime):
        value = datetime_to_time(value)
    return _U32.pack(value)


def _encode_grouped(value):
    return b''.join([avp.encode() for avp in value])


_ENCODERS = {
    AvpType.OctetString: _encode_octets,
    AvpType.UTF8String: _encode_text,
    AvpType.DiameterIdentity: _encode_text,
    AvpType.DiameterURI: _encode_text,
    AvpType.Address: _encode_address,
    AvpType.Time: _encode_time,
    AvpType.Grouped: _encode_grouped,
}
for _type, _packer in _STRUCTS.items():
    _ENCODERS.setdefault(_type, _packer.pack)
del _type, _packer

_ZERO_VALUES = {
    AvpType.OctetString: b'', AvpType.Integer32: 0, AvpType.Integer64: 0,
    AvpType.Unsigned32: 0, AvpType.Unsigned64: 0, AvpType.Float32: 0.0,
    AvpType.Float64: 0.0, AvpType.Grouped: (), AvpType.Address: '0.0.0.0',
    AvpType.Time: 0, AvpType.UTF8String: '', AvpType.DiameterIdentity: '',
    AvpType.DiameterURI: '', AvpType.Enumerated: 0,
}


# --- paths ---------------------------------------------------------------

_PATHS = {}


def _path_keys(path):
    """'A/B/C' -> ((code, vendor), ...); KeyError for names not in the
    dictionary (a typo in a handler should fail loudly)."""
    keys = _PATHS.get(path)
    if keys is None:
        keys = []
        for part in path.split('/'):
            defn = DICTIONARY.avp(part)
            keys.append((defn.code, defn.vendor_id))
        keys = tuple(keys)
        if len(_PATHS) < 4096:
            _PATHS[path] = keys
    return keys


def _find(avps, path):
    keys = _path_keys(path)
    last = len(keys) - 1
    for depth, (code, vendor) in enumerate(keys):
        for avp in avps:
            if avp.code == code and avp.vendor_id == vendor:
                break
        else:
            return None
        if depth == last:
            return avp
        avps = avp.value if type(avp.value) is list else ()
    return None


def _find_all(avps, keys):
    (code, vendor), rest = keys[0], keys[1:]
    found = []
    for avp in avps:
        if avp.code == code and avp.vendor_id == vendor:
            if not rest:
                found.append(avp)
            elif type(avp.value) is list:
                found.extend(_find_all(avp.value, rest))
    return found


def _to_avps(items):
    """Avp objects from Avps, (name, value) pairs or a name -> value dict."""
    if items is None:
        return []
    if isinstance(items, dict):
        items = items.items()
    avps = []
    for item in items:
        if isinstance(item, Avp):
            avps.append(item)
        else:
            name, value = item
            avps.append(Avp.new(name, value))
    return avps


_AVPS_BY_NAME = DICTIONARY._by_name
_GROUPED = AvpType.Grouped


class Avp(object):
    """One AVP.  ``value`` is typed per the module docstring; ``raw`` holds
    an AVP the dictionary does not know as received (header and payload, no
    padding) when decoded, and is None otherwise."""

    __slots__ = ('code', 'vendor_id', 'flags', 'value', 'definition', 'raw')

    def __init__(self, code, vendor_id=0, flags=None, value=b'',
                 definition=None, raw=None):
        self.code = code
        self.vendor_id = vendor_id
        if flags is None:
            flags = (definition.flags if definition is not None
                     else (AVP_VENDOR if vendor_id else 0))
        self.flags = flags
        self.value = value
        self.definition = definition
        self.raw = raw

    @classmethod
    def new(cls, name, value=None):
        """An AVP of the dictionary by name, with its V and M flags.
        Grouped values may be Avps, (name, value) pairs or a dict; Enumerated
        values may be the enum's names."""
        defn = _AVPS_BY_NAME[name]
        if defn.type is _GROUPED:
            value = _to_avps(value)
        elif value is None:
            raise EncodeError('%s needs a value' % (name,))
        elif type(value) is str and defn.enum_by_name is not None:
            try:
                value = defn.enum_by_name[value]
            except KeyError:
                raise EncodeError('%s has no value named %r' % (name, value))
        return cls(defn.code, defn.vendor_id, defn.flags, value, defn, None)

    @property
    def name(self):
        if self.definition is not None:
            return self.definition.name
        if self.vendor_id:
            return 'AVP-%d-%d' % (self.vendor_id, self.code)
        return 'AVP-%d' % (self.code,)

    @property
    def is_mandatory(self):
        return bool(self.flags & AVP_MANDATORY)

    @property
    def enum_name(self):
        """The enum name of the value, or None (unknown or not enumerated)."""
        defn = self.definition
        if defn is None or defn.enum is None:
            return None
        return defn.enum.get(self.value)

    def encode(self):
        defn = self.definition
        try:
            if defn is None:
                payload = _encode_octets(self.value)
            else:
                payload = _ENCODERS[defn.type](self.value)
        except EncodeError:
            raise
        except (struct.error, TypeError, ValueError, OSError, AttributeError,
                OverflowError) as e:
            raise EncodeError('%s: cannot encode %r: %s' % (
                self.name, self.value, e))
        flags = self.flags
        if self.vendor_id:
            flags |= AVP_VENDOR
        if flags & AVP_VENDOR:
            length = len(payload) + 12
            if length > MAX_LENGTH:
                raise EncodeError('%s: value too long' % (self.name,))
            header = _AVP_HEADER_V.pack(self.code, (flags << 24) | length,
                                        self.vendor_id)
        else:
            length = len(payload) + 8
            if length > MAX_LENGTH:
                raise EncodeError('%s: value too long' % (self.name,))
            header = _AVP_HEADER.pack(self.code, (flags << 24) | length)
        return header + payload + _PAD[length & 3]

    def find(self, path):
        """The first AVP at ``path`` ('A' or 'A/B') inside this Grouped AVP."""
        if type(self.value) is not list:
            return None
        return _find(self.value, path)

    def find_all(self, path):
        if type(self.value) is not list:
            return []
        return _find_all(self.value, _path_keys(path))

    def get(self, path, default=None):
        avp = self.find(path)
        return default if avp is None else avp.value

    def add(self, name, value=None):
        """Append a child to this Grouped AVP; chainable."""
        self.value.append(Avp.new(name, value))
        return self

    def __eq__(self, other):
        if not isinstance(other, Avp):
            return NotImplemented
        return (self.code == other.code and self.vendor_id == other.vendor_id
                and self.flags == other.flags and self.value == other.value)

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None

    def __repr__(self):
        return '<Avp %s flags=0x%02x %r>' % (self.name, self.flags,
                                             self.value)


class ConstantAvp(Avp):
    """An Avp encoded once, when built, for AVPs that many messages carry
    unchanged (Origin-Host, Auth-Session-State, an APN's configuration):
    answers built under load then skip re-encoding them.  One instance may
    sit in many messages, so its value must not be changed."""

    __slots__ = ('_encoded',)

    def __init__(self, avp):
        Avp.__init__(self, avp.code, avp.vendor_id, avp.flags, avp.value,
                     avp.definition, None)
        self._encoded = avp.encode()

    def encode(self):
        return self._encoded


def constant_avp(name, value=None):
    """``Avp.new(name, value)`` encoded once (see L{ConstantAvp})."""
    return ConstantAvp(Avp.new(name, value))


def _next_ids():
    """Hop-by-hop ids start random; end-to-end ids carry the low 12 bits of
    the start time in the high bits and a random counter (RFC 6733 3)."""
    start = int.from_bytes(os.urandom(4), 'big')
    hop = itertools.count(start)
    e2e_start = ((int(time.time()) & 0xFFF) << 20) | (
        int.from_bytes(os.urandom(3), 'big') & 0xFFFFF)
    e2e = itertools.count(e2e_start)
    return hop, e2e


_HOP_IDS, _END_IDS = _next_ids()


def next_hop_by_hop():
    return next(_HOP_IDS) & 0xFFFFFFFF


def next_end_to_end():
    return next(_END_IDS) & 0xFFFFFFFF


class Message(object):
    """One Diameter message: header fields and a list of top-level AVPs."""

    # checked_avps: (the AVP list, its length) when the decoder found
    # nothing in it for codec.validate's AVP checks (no unknown AVP, every
    # Grouped AVP one found valid before); validate trusts it only while
    # the message holds that list at that length.
    __slots__ = ('version', 'flags', 'command_code', 'application_id',
                 'hop_by_hop', 'end_to_end', 'avps', 'checked_avps')

    def __init__(self, flags, command_code, application_id=0, hop_by_hop=0,
                 end_to_end=0, avps=None, version=1):
        self.version = version
        self.flags = flags
        self.command_code = command_code
        self.application_id = application_id
        self.hop_by_hop = hop_by_hop
        self.end_to_end = end_to_end
        self.avps = [] if avps is None else avps
        self.checked_avps = None

    @classmethod
    def request(cls, application_id, command_code, avps=(), hop_by_hop=None,
                end_to_end=None, proxiable=None):
        """A request with fresh ids.  ``proxiable=None`` takes the P bit from
        the command's definition (set for unknown commands)."""
        if proxiable is None:
            cmd = DICTIONARY.command(application_id, command_code)
            proxiable = cmd.proxiable if cmd is not None else True
        flags = FLAG_REQUEST | (FLAG_PROXIABLE if proxiable else 0)
        return cls(flags, command_code, application_id,
                   next_hop_by_hop() if hop_by_hop is None else hop_by_hop,
                   next_end_to_end() if end_to_end is None else end_to_end,
                   _to_avps(avps))

    def answer(self, result_code=None, experimental_result=None,
               vendor_id=10415):
        """The answer to this request: same command, application and ids,
        P bit copied, E bit for protocol errors (3xxx); Session-Id first,
        then Result-Code when given, or Experimental-Result (``vendor_id``,
        3GPP by default) when ``experimental_result`` is given, then the
        request's Proxy-Info AVPs (RFC 6733 6.2)."""
        flags = self.flags & FLAG_PROXIABLE
        avps = []
        proxy_infos = None
        for avp in self.avps:
            if avp.vendor_id == 0:
                if avp.code == _SESSION_ID and not avps:
                    avps.append(Avp(_SESSION_ID, 0, _SESSION_ID_DEF.flags,
                                    avp.value, _SESSION_ID_DEF))
                elif avp.code == _PROXY_INFO:
                    if proxy_infos is None:
                        proxy_infos = []
                    proxy_infos.append(avp)
        if result_code is not None:
            if 3000 <= result_code < 4000:
                flags |= FLAG_ERROR
            avps.append(result_code_avp(result_code))
        if experimental_result is not None:
            avps.append(Avp.new('Experimental-Result', [
                Avp.new('Vendor-Id', vendor_id),
                Avp.new('Experimental-Result-Code', experimental_result)]))
        if proxy_infos:
            avps.extend(proxy_infos)
        return Message(flags, self.command_code, self.application_id,
                       self.hop_by_hop, self.end_to_end, avps, self.version)

    @property
    def result_code(self):
        """Result-Code, else Experimental-Result-Code, else None."""
        code = self.get('Result-Code')
        if code is None:
            code = self.get('Experimental-Result/Experimental-Result-Code')
        return code

    @property
    def is_request(self):
        return bool(self.flags & FLAG_REQUEST)

    @property
    def is_error(self):
        return bool(self.flags & FLAG_ERROR)

    @property
    def is_proxiable(self):
        return bool(self.flags & FLAG_PROXIABLE)

    @property
    def is_retransmit(self):
        return bool(self.flags & FLAG_RETRANSMIT)

    @property
    def definition(self):
        return DICTIONARY.command(self.application_id, self.command_code)

    @property
    def name(self):
        cmd = self.definition
        if cmd is None:
            return '%d-%s' % (self.command_code,
                              'Request' if self.is_request else 'Answer')
        return cmd.request_abbrev if self.is_request else cmd.answer_abbrev

    def find(self, path):
        return _find(self.avps, path)

    def find_all(self, path):
        return _find_all(self.avps, _path_keys(path))

    def get(self, path, default=None):
        avp = _find(self.avps, path)
        return default if avp is None else avp.value

    def find_code(self, code, vendor_id=0):
        """The first top-level AVP with this code and vendor, known to the
        dictionary or not."""
        for avp in self.avps:
            if avp.code == code and avp.vendor_id == vendor_id:
                return avp
        return None

    def add(self, name, value=None):
        self.avps.append(Avp.new(name, value))
        return self

    def append(self, avp):
        self.avps.append(avp)
        return self

    def encode(self):
        return self.encode_with_body(b''.join([avp.encode() for avp in self.avps]))

    def encode_with_body(self, body):
        """The header (this message's fields) followed by ``body``, the
        encoded AVPs."""
        length = HEADER_LENGTH + len(body)
        if length > MAX_LENGTH:
            raise EncodeError('message too long (%d bytes)' % (length,))
        return _HEADER.pack(
            (self.version << 24) | length,
            (self.flags << 24) | self.command_code, self.application_id,
            self.hop_by_hop, self.end_to_end) + body

    def __repr__(self):
        return '<Message %s app=%d hbh=0x%08x e2e=0x%08x %r>' % (
            self.name, self.application_id, self.hop_by_hop, self.end_to_end,
            self.avps)


_RESULT_CODE_DEF = DICTIONARY.avp('Result-Code')
_RESULT_CODE_AVPS = {}


def result_code_avp(result_code):
    """The Result-Code AVP, encoded once per code (answers share it)."""
    avp = _RESULT_CODE_AVPS.get(result_code)
    if avp is None:
        avp = ConstantAvp(Avp(_RESULT_CODE, 0, _RESULT_CODE_DEF.flags,
                              result_code, _RESULT_CODE_DEF))
        if len(_RESULT_CODE_AVPS) < 256:
            _RESULT_CODE_AVPS[result_code] = avp
    return avp
_SESSION_ID_DEF = DICTIONARY.avp('Session-Id')
