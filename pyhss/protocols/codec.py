"""Diameter (RFC 6733) message and AVP codec.

Decoding is strict: every length is checked against its container, padding
must be zero, fixed-size types must have their exact size, Grouped nesting
and message size are bounded, and every problem raises a typed
:class:`~pyhss.protocols.errors.DecodeError`.  AVPs the dictionary does not
know decode to their raw payload bytes and re-encode byte for byte.

Value mapping (``Avp.value``):

* Integer32/64, Unsigned32/64, Enumerated: ``int`` (unknown enum values are
  kept as plain ints; ``Avp.new`` also takes the enum's names).
* Float32/64: ``float``.  OctetString: ``bytes``.
* UTF8String, DiameterIdentity, DiameterURI: ``str``.
* Address: ``str`` for IPv4/IPv6 (textual form); any other address family is
  kept as ``bytes`` holding the whole payload (2-byte family + address).
* Time: ``int``, the 32-bit NTP seconds as sent (seconds since 1900, wrapping
  in 2036 per RFC 4330); see :func:`time_to_datetime`/:func:`datetime_to_time`.
  Encoding also accepts an aware or naive-UTC ``datetime``.
* Grouped: ``list`` of :class:`Avp`.
"""

import re
import socket
import struct as _struct

from pyhss.protocols.dictionary import DICTIONARY, AvpType
from pyhss.protocols.errors import (
    InvalidAvpLength, InvalidAvpValue, InvalidHeader, InvalidMessageLength,
    InvalidPadding, MessageTooLarge, NestingTooDeep, TruncatedMessage)
from pyhss.protocols.message import (  # noqa: F401 (re-exported)
    AVP_MANDATORY, AVP_PROTECTED, AVP_VENDOR, DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_SIZE, FLAG_ERROR, FLAG_PROXIABLE, FLAG_REQUEST,
    FLAG_RETRANSMIT, HEADER, HEADER_LENGTH, AVP_HEADER, MAX_LENGTH, Avp, ConstantAvp, Message,
    constant_avp, result_code_avp,
    datetime_to_time, next_end_to_end, next_hop_by_hop, time_to_datetime,
    unix_to_time)
from pyhss.protocols.message import (
    _AVP_HEADER, _AVP_HEADER_V, _FLAGS_RESERVED, _HEADER, _STRUCTS, _U32, _ZERO_VALUES)

_ZEROS = (b'', b'\0', b'\0\0', b'\0\0\0')
_new_object = object.__new__

# Decoding strategies.
_RAW, _TEXT, _GROUPED, _FIXED, _ADDRESS, _IDENTITY = range(6)

# A DiameterIdentity or DiameterURI is an FQDN or a URI (RFC 6733 4.3.1):
# control characters or spaces there would only split log lines.
_NOT_IN_IDENTITY = re.compile('[\x00-\x20\x7f-\x9f]')


def _table_entry(defn, repeats=False):
    """(AvpDef, decoding strategy, fixed payload size, struct, repeats):
    ``repeats`` marks the AVPs of _REPEATING_AVPS."""
    kind = defn.type
    if kind in _STRUCTS:
        return (defn, _FIXED, _STRUCTS[kind].size, _STRUCTS[kind], repeats)
    if kind == AvpType.UTF8String:
        return (defn, _TEXT, 0, None, repeats)
    if kind in (AvpType.DiameterIdentity, AvpType.DiameterURI):
        # Decoded off the inline path: identities are repeating AVPs, so
        # a peer's are checked once and then found in the cache.
        return (defn, _IDENTITY, 0, None, repeats)
    if kind == AvpType.Grouped:
        return (defn, _GROUPED, 0, None, repeats)
    if kind == AvpType.Address:
        return (defn, _ADDRESS, 0, None, repeats)
    return (defn, _RAW, 0, None, repeats)


# Top-level AVPs whose bytes repeat from one request of a peer to the next
# (who sends, to whom, what it asks for): decoded once, then the same Avp
# object is handed out again for the same bytes.  Decoded AVPs are read,
# never changed, by the node and the handlers.  Session-Id, User-Name and
# the like are unique per request and would only fill the cache.
_REPEATING_AVPS = (
    'Origin-Host', 'Origin-Realm', 'Destination-Host', 'Destination-Realm',
    'Auth-Session-State', 'Auth-Application-Id', 'Acct-Application-Id',
    'Vendor-Specific-Application-Id', 'Origin-State-Id', 'Supported-Features',
    'Visited-PLMN-Id', 'RAT-Type', 'ULR-Flags', 'UE-SRVCC-Capability',
    'Requested-EUTRAN-Authentication-Info',
    'Requested-UTRAN-GERAN-Authentication-Info',
    # Cx: what a CSCF asks for, and which S-CSCF it is.
    'SIP-Auth-Data-Item', 'SIP-Number-Auth-Items', 'Server-Name',
    'Server-Assignment-Type', 'User-Data-Already-Available',
    'User-Authorization-Type', 'Visited-Network-Identifier')


def _decode_table():
    """(code | vendor << 32) -> table entry, for every dictionary AVP."""
    repeating = set(map(DICTIONARY.avp, _REPEATING_AVPS))
    return dict((defn.code | (defn.vendor_id << 32),
                 _table_entry(defn, defn in repeating))
                for defn in DICTIONARY.avps())


_DECODE = _decode_table()
# The cache is shared by every connection, including peers that have not
# sent a CER yet, so what one peer can make it hold is bounded three ways:
# entries, their estimated memory, and the size of one cached AVP (the
# repeating AVPs of real peers are tens of bytes; a Grouped of many small
# unknown AVPs costs about 16 bytes of objects per byte received).
_REPEAT_CACHE_SIZE = 4096
_REPEAT_CACHE_BUDGET = 1 << 20      # estimated bytes of keys and Avp objects
_REPEAT_MAX_AVP = 256               # bytes on the wire, padding included
_AVP_COST = 128                     # an Avp object, its value and list slot


class _RepeatCache(dict):
    """AVP bytes -> Avp, with the estimated memory it holds."""

    __slots__ = ('cost',)

    def __init__(self):
        dict.__init__(self)
        self.cost = 0

    def remember(self, key, avp):
        cost = len(key) + _AVP_COST * _count_avps(avp)
        if len(self) >= _REPEAT_CACHE_SIZE \
                or self.cost + cost > _REPEAT_CACHE_BUDGET:
            self.clear()
            self.cost = 0
        self[key] = avp
        self.cost += cost


def _count_avps(avp):
    value = avp.value
    if type(value) is list:
        return 1 + sum(map(_count_avps, value))
    return 1


# max_depth -> _RepeatCache: a Grouped AVP decoded under one nesting
# limit is only reused under the same limit.
_REPEAT_CACHES = {}


# --- decoding ------------------------------------------------------------

def peek_message_length(buffer, offset=0):
    """The length of the message starting at ``offset``, None when fewer than
    4 bytes are there.  Raises InvalidHeader when the first word cannot
    start a Diameter message (the stream can then no longer be framed)."""
    if len(buffer) - offset < 4:
        return None
    word = _U32.unpack_from(buffer, offset)[0]
    if word >> 24 != 1:
        raise InvalidHeader('unsupported Diameter version %d' % (word >> 24),
                            result_code=5011)
    length = word & MAX_LENGTH
    if length < HEADER_LENGTH or length & 3:
        raise InvalidHeader('message length %d' % (length,),
                            result_code=5015)
    return length


def decode_message(data, max_size=DEFAULT_MAX_SIZE,
                   max_depth=DEFAULT_MAX_DEPTH):
    """Decode exactly one message.  ``max_depth`` bounds Grouped nesting (a
    Grouped AVP at the top level is depth 1).  Errors raised after the
    header was read carry it as ``error.header`` (a Message without AVPs) so
    that an error answer can be built."""
    if type(data) is not bytes:
        data = bytes(data)
    size = len(data)
    if size < HEADER_LENGTH:
        raise TruncatedMessage('%d bytes, shorter than a header' % (size,))
    word0, word1, application_id, hop_by_hop, end_to_end = \
        _HEADER.unpack_from(data, 0)
    version = word0 >> 24
    if version != 1:
        raise InvalidHeader('unsupported Diameter version %d' % (version,),
                            result_code=5011)
    length = word0 & MAX_LENGTH
    flags = word1 >> 24
    header = Message(flags, word1 & MAX_LENGTH, application_id, hop_by_hop,
                     end_to_end, [], version)
    if length > max_size:
        error = MessageTooLarge('message length %d above limit %d' % (
            length, max_size))
    elif length < HEADER_LENGTH or length & 3:
        error = InvalidMessageLength('message length %d' % (length,))
    elif size < length:
        error = TruncatedMessage('message length %d, %d bytes' % (
            length, size))
    elif size > length:
        error = InvalidMessageLength('message length %d, %d bytes' % (
            length, size))
    elif flags & _FLAGS_RESERVED:
        error = InvalidHeader('reserved header bits set: 0x%02x' % (flags,))
    elif flags & (FLAG_REQUEST | FLAG_ERROR) == FLAG_REQUEST | FLAG_ERROR:
        error = InvalidHeader('E bit set on a request')
    else:
        cache = _REPEAT_CACHES.get(max_depth)
        if cache is None:
            cache = _REPEAT_CACHES[max_depth] = _RepeatCache()
        try:
            header.avps = _decode_avps(data, HEADER_LENGTH, length, 1,
                                       max_depth, cache)
        except (InvalidAvpLength, InvalidAvpValue, InvalidPadding,
                NestingTooDeep) as e:
            e.header = header
            raise
        return header
    error.header = header
    raise error


def _decode_avps(data, offset, end, depth, max_depth, repeats=None):
    """The AVPs in ``data[offset:end]``; ``repeats`` is the top level's
    cache of repeating AVPs (see _REPEATING_AVPS)."""
    avps = []
    append = avps.append
    lookup = _DECODE.get
    unpack_header = _AVP_HEADER.unpack_from
    unpack_vendor_header = _AVP_HEADER_V.unpack_from
    new_avp = _new_object
    unpack_word = _U32.unpack_from
    while offset < end:
        if end - offset < 8:
            raise InvalidAvpLength('%d bytes left, shorter than an AVP '
                                   'header' % (end - offset,),
                                   failed_avp=data[offset:end])
        if repeats is not None:
            # A repeating AVP is cached under its bytes with its padding:
            # the same bytes are the same valid AVP, no header to read.
            next_offset = (offset + (unpack_word(data, offset + 4)[0]
                                     & MAX_LENGTH) + 3) & ~3
            if next_offset <= end:
                seen = repeats.get(data[offset:next_offset])
                if seen is not None:
                    append(seen)
                    offset = next_offset
                    continue
        flags = data[offset + 4]
        if flags & AVP_VENDOR and end - offset >= 12:
            code, word, vendor_id = unpack_vendor_header(data, offset)
        else:
            code, word = unpack_header(data, offset)
        length = word & MAX_LENGTH
        avp_end = offset + length
        if flags & AVP_VENDOR:
            if length < 12 or end - offset < 12:
                raise InvalidAvpLength('AVP %d: length %d with V bit' % (
                    code, length), failed_avp=data[offset:min(avp_end, end)])
            start = offset + 12
            entry = lookup(code | (vendor_id << 32))
        else:
            if length < 8:
                raise InvalidAvpLength('AVP %d: length %d' % (code, length),
                                       failed_avp=data[offset:offset + 8])
            vendor_id = 0
            start = offset + 8
            entry = lookup(code)
        if avp_end > end:
            raise InvalidAvpLength('AVP %d: length %d runs past its '
                                   'container' % (code, length),
                                   failed_avp=data[offset:end])
        if entry is None:
            append(Avp(code, vendor_id, flags, data[start:avp_end], None,
                       data[offset:avp_end]))
        else:
            # The common kinds inline; the rest in _decode_value.
            # Known AVPs keep no copy of their bytes (raw is None): only
            # errors need it, and they slice it then.
            kind = entry[1]
            if kind == _FIXED and avp_end - start == entry[2]:
                value = entry[3].unpack_from(data, start)[0]
            elif kind == _TEXT:
                try:
                    value = data[start:avp_end].decode('utf-8')
                except UnicodeDecodeError:
                    raise InvalidAvpValue('%s: not UTF-8' % (entry[0].name,),
                                          failed_avp=data[offset:avp_end])
            elif kind == _RAW:
                value = data[start:avp_end]
            elif kind == _GROUPED and depth <= max_depth:
                value = _decode_avps(data, start, avp_end, depth + 1, max_depth)
            else:
                value = _decode_value(entry, data, start, avp_end,
                                      data[offset:avp_end], depth, max_depth)
            avp = new_avp(Avp)
            avp.code = code
            avp.vendor_id = vendor_id
            avp.flags = flags
            avp.value = value
            avp.definition = entry[0]
            avp.raw = None
            append(avp)
        avp_start = offset
        offset = (avp_end + 3) & ~3
        if offset != avp_end:
            if offset > end:
                # The last AVP of a Grouped may lack (some of) its padding.
                padding = data[avp_end:end]
            else:
                padding = data[avp_end:offset]
            if padding != _ZEROS[len(padding)]:
                raise InvalidPadding('AVP %d: nonzero padding' % (code,),
                                     failed_avp=data[avp_end - length:avp_end])
        if repeats is not None and entry is not None and entry[4] \
                and offset <= end and offset - avp_start <= _REPEAT_MAX_AVP:
            # Checked whole, padding included: cache it.
            repeats.remember(data[avp_start:offset], avp)
    return avps


def _decode_value(entry, data, start, end, raw, depth, max_depth):
    defn, kind, fixed, unpacker, _ = entry
    if kind == _FIXED:
        if end - start != fixed:
            raise InvalidAvpLength('%s: %d bytes, expected %d' % (
                defn.name, end - start, fixed), failed_avp=raw)
        return unpacker.unpack_from(data, start)[0]
    if kind == _TEXT:
        try:
            return data[start:end].decode('utf-8')
        except UnicodeDecodeError:
            raise InvalidAvpValue('%s: not UTF-8' % (defn.name,),
                                  failed_avp=raw)
    if kind == _IDENTITY:
        try:
            value = data[start:end].decode('utf-8')
        except UnicodeDecodeError:
            raise InvalidAvpValue('%s: not UTF-8' % (defn.name,),
                                  failed_avp=raw)
        if _NOT_IN_IDENTITY.search(value):
            raise InvalidAvpValue('%s: control character or space'
                                  % (defn.name,), failed_avp=raw)
        return value
    if kind == _GROUPED:
        if depth > max_depth:
            raise NestingTooDeep('%s: Grouped nesting deeper than %d' % (
                defn.name, max_depth), failed_avp=raw)
        return _decode_avps(data, start, end, depth + 1, max_depth)
    if kind == _ADDRESS:
        return _decode_address(defn, data, start, end, raw)
    return data[start:end]


def decode_value(definition, payload, max_depth=DEFAULT_MAX_DEPTH):
    """Decode one AVP payload (no header) as ``definition`` says; for tools
    and for AVP definitions outside the dictionary."""
    payload = bytes(payload)
    return _decode_value(_table_entry(definition), payload, 0, len(payload),
                         payload, 1, max_depth)


def _decode_address(defn, data, start, end, raw):
    size = end - start
    if size < 2:
        raise InvalidAvpLength('%s: %d bytes, no address family' % (
            defn.name, size), failed_avp=raw)
    family = (data[start] << 8) | data[start + 1]
    if family == 1:
        if size != 6:
            raise InvalidAvpLength('%s: IPv4 address of %d bytes' % (
                defn.name, size - 2), failed_avp=raw)
        return '%d.%d.%d.%d' % tuple(data[start + 2:end])
    if family == 2:
        if size != 18:
            raise InvalidAvpLength('%s: IPv6 address of %d bytes' % (
                defn.name, size - 2), failed_avp=raw)
        return socket.inet_ntop(socket.AF_INET6, data[start + 2:end])
    return data[start:end]


# --- AVPs built as bytes ---------------------------------------------------

class AvpWriter(object):
    """Encodes AVPs of one dictionary definition from payload bytes, for
    answers built under load (the vectors of an AIA): the header for each
    payload length is packed once.  ``writer(payload)`` returns the whole
    AVP with its padding; for Grouped AVPs the payload is the children's
    encodings joined."""

    __slots__ = ('definition', '_headers')

    def __init__(self, name):
        self.definition = DICTIONARY.avp(name)
        self._headers = {}

    def __call__(self, payload):
        size = len(payload)
        header = self._headers.get(size) or self.header(size)
        return header + payload + _ZEROS[-size & 3]

    def header(self, size):
        """The AVP header for a payload of ``size`` octets."""
        header = self._headers.get(size)
        if header is None:
            defn = self.definition
            flags = defn.flags | (AVP_VENDOR if defn.vendor_id else 0)
            if flags & AVP_VENDOR:
                header = _AVP_HEADER_V.pack(defn.code, (flags << 24) | (size + 12), defn.vendor_id)
            else:
                header = _AVP_HEADER.pack(defn.code, (flags << 24) | (size + 8))
            if len(self._headers) < 64:
                self._headers[size] = header
        return header

    def unsigned32(self, value):
        return self(_U32.pack(value))


class EncodedAnswer(Message):
    """An answer whose AVPs are given encoded, joined (the AIA, built under
    load).  ``encode()`` puts the header, with the current identifiers, in
    front of them; ``avps`` is decoded from them when first used (a test,
    a debug log); assigning ``avps`` makes it an ordinary Message again."""

    __slots__ = ('_body', '_decoded', '_result_code')

    def __init__(self, flags, command_code, application_id, hop_by_hop,
                 end_to_end, body, version=1, result_code=None):
        Message.__init__(self, flags, command_code, application_id,
                         hop_by_hop, end_to_end, None, version)
        self._body = body
        self._decoded = None
        self._result_code = result_code   # when the builder knows it

    @property
    def avps(self):
        if self._decoded is None:
            self._decoded = _decode_avps(self._body, 0, len(self._body), 1,
                                         DEFAULT_MAX_DEPTH)
        return self._decoded

    @avps.setter
    def avps(self, avps):
        self._decoded = avps
        self._body = None

    def encode(self):
        if self._body is None:
            return Message.encode(self)
        return self.encode_with_body(self._body)

    @property
    def result_code(self):
        """Result-Code, else Experimental-Result-Code, else None: read from
        the encoded AVP headers, without decoding the rest (metrics count
        every answer by it)."""
        if self._body is None:
            return Message.result_code.fget(self)
        if self._result_code is not None:
            return self._result_code
        return _encoded_result_code(self._body, 0, len(self._body))


_AVP_HEADER = _struct.Struct("!II")
_RESULT_CODE = DICTIONARY.avp("Result-Code").code
_EXPERIMENTAL_RESULT = DICTIONARY.avp("Experimental-Result").code
_EXPERIMENTAL_RESULT_CODE = DICTIONARY.avp("Experimental-Result-Code").code


def _encoded_result_code(body, offset, end, inner=False):
    wanted = _EXPERIMENTAL_RESULT_CODE if inner else _RESULT_CODE
    experimental = None
    while offset + 8 <= end:
        code, flags_length = _AVP_HEADER.unpack_from(body, offset)
        length = flags_length & 0xFFFFFF
        vendor = flags_length & 0x80000000
        if length < (12 if vendor else 8):
            return None
        if not vendor:
            if code == wanted and length == 12:
                return _U32.unpack_from(body, offset + 8)[0]
            if not inner and code == _EXPERIMENTAL_RESULT and experimental is None:
                experimental = _encoded_result_code(body, offset + 8, min(end, offset + length), True)
        offset += (length + 3) & ~3
    return experimental


def failed_avp(raw):
    """An Avp to put inside Failed-AVP for an AVP received as ``raw`` bytes
    (a DecodeError's ``failed_avp``), following RFC 6733 7.1.5: a header that
    was cut short is zero-filled; when the length is impossible the payload
    becomes the zero-filled minimum for the AVP's type."""
    raw = bytes(raw)
    if len(raw) < 8:
        raw += b'\0' * (8 - len(raw))
    code, word = _AVP_HEADER.unpack_from(raw, 0)
    flags = word >> 24
    length = word & MAX_LENGTH
    header_size = 8
    vendor_id = 0
    if flags & AVP_VENDOR:
        header_size = 12
        if len(raw) < 12:
            raw += b'\0' * (12 - len(raw))
        vendor_id = _U32.unpack_from(raw, 8)[0]
    defn = DICTIONARY.avp_by_code(code, vendor_id)
    fixed = _STRUCTS[defn.type].size if (
        defn is not None and defn.type in _STRUCTS) else None
    if header_size <= length <= len(raw) and (
            fixed is None or length - header_size == fixed):
        payload = raw[header_size:length]
    else:
        payload = b'\0' * (fixed or 0)
    return Avp(code, vendor_id, flags, payload, None, raw)


# --- validation ----------------------------------------------------------

_REQUIRED = {}
_ERROR_ANSWER_REQUIRED = ('Origin-Host', 'Origin-Realm', 'Result-Code')


def _required(message):
    key = (message.application_id, message.command_code,
           message.flags & (FLAG_REQUEST | FLAG_ERROR))
    required = _REQUIRED.get(key)
    if required is None:
        cmd = DICTIONARY.command(message.application_id,
                                 message.command_code)
        if cmd is None:
            names = ()
        elif message.flags & FLAG_REQUEST:
            names = cmd.request_required
        elif message.flags & FLAG_ERROR:
            names = _ERROR_ANSWER_REQUIRED
        else:
            names = cmd.answer_required
        required = tuple(map(DICTIONARY.avp, names))
        _REQUIRED[key] = required
    return required


def _zero_avp(defn):
    """The AVP named ``defn`` with a zero value, for Failed-AVP (RFC 6733
    7.5: "a minimal, possibly zero-filled value")."""
    value = _ZERO_VALUES[defn.type]
    return Avp(defn.code, defn.vendor_id, defn.flags,
               [] if value == () else value, defn)


_CHILDREN_REQUIRED = {}


def _children_required(defn):
    required = _CHILDREN_REQUIRED.get(defn)
    if required is None:
        required = tuple(map(DICTIONARY.avp, defn.required))
        _CHILDREN_REQUIRED[defn] = required
    return required


def _missing(avps, required):
    # Decoded AVPs carry their dictionary definition (one object per code
    # and vendor): a set of those says what is present, no key tuples.
    present = {avp.definition for avp in avps}
    return [defn for defn in required if defn not in present]


def _check_avps(avps, problems):
    """5001 for unknown AVPs with the M bit and 5005 for required children
    missing from Grouped AVPs, at any depth."""
    for avp in avps:
        defn = avp.definition
        if defn is None:
            if avp.flags & AVP_MANDATORY:
                problems.append((5001, avp))
        elif type(avp.value) is list:
            _check_avps(avp.value, problems)
            if defn.required:
                for child in _missing(avp.value,
                                      _children_required(defn)):
                    # RFC 6733 7.5: the Grouped AVP holding the offender.
                    problems.append((5005, Avp(
                        avp.code, avp.vendor_id, avp.flags,
                        [_zero_avp(child)], defn)))


def validate(message):
    """Problems an answer must report, in order: (5001, avp) for each unknown
    AVP with the M bit (at any depth); (5005, avp) for each fixed or required
    AVP of the command's ABNF that is missing, the Avp carrying the missing
    AVP's code and a zero value, ready for Failed-AVP (inside a Grouped AVP:
    that Grouped AVP holding only the missing child).  [] when valid."""
    problems = []
    _check_avps(message.avps, problems)
    required = _required(message)
    if required:
        for defn in _missing(message.avps, required):
            problems.append((5005, _zero_avp(defn)))
    return problems
