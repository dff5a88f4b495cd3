"""The SCCP called/calling party address (ITU-T Q.713 3.4): one class for the
decoder (:func:`decode_address`) and the encoder (:meth:`SccpAddress.encode`).
"""

import struct

from .errors import SccpEncodeError, SccpError

_DIGITS = "0123456789abcdef"
_BCD_PAIRS = [(_DIGITS[b & 0x0F] + _DIGITS[b >> 4]) for b in range(256)]
_ENCODE_DIGITS = "0123456789*#abc"


class SccpAddress:
    """A party address and its indicators.

    ``gti`` is the global title indicator (0: no global title); ``digits``
    the GT address digits (decoded: hex text when the encoding scheme is not
    BCD); ``route_on_ssn`` the routing indicator (else route on GT).  Fields
    a decoded address lacks are None: ``pc``/``ssn`` when absent, ``tt``,
    ``np``, ``es``, ``nai`` where its GTI has none.  ``es`` is as decoded;
    :meth:`encode` derives it from the number of digits.  The encoder's
    defaults make a GTI 4 E.164 international title.

    Decoded addresses are shared between messages (:func:`cached_address`):
    treat them as read-only.  Equality and hash are by value.
    """

    __slots__ = ("ssn", "digits", "gti", "pc", "tt", "np", "nai", "route_on_ssn", "es")

    def __init__(self, ssn=None, digits=None, gti=4, pc=None, tt=0, np=1, nai=4,
                 route_on_ssn=False, es=None):
        self.ssn, self.digits, self.gti, self.pc = ssn, digits, gti, pc
        self.tt, self.np, self.nai = tt, np, nai
        self.route_on_ssn, self.es = route_on_ssn, es

    def _key(self):
        return (self.ssn, self.digits, self.gti, self.pc, self.tt, self.np, self.nai,
                self.route_on_ssn, self.es)

    def __eq__(self, other):
        if other.__class__ is not SccpAddress:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return "SccpAddress(%s)" % ", ".join(
            "%s=%r" % (name, getattr(self, name)) for name in self.__slots__)

    def encode(self):
        """The address parameter's contents (without its length octet)."""
        indicator = 0
        if self.pc is not None:
            indicator |= 0x01
        if self.ssn is not None:
            indicator |= 0x02
        gti = self.gti if self.digits is not None else 0
        indicator |= (gti & 0x0F) << 2
        if self.route_on_ssn or gti == 0:
            indicator |= 0x40
        out = bytes([indicator])
        if self.pc is not None:
            out += struct.pack("<H", self.pc & 0x3FFF)
        if self.ssn is not None:
            out += bytes([self.ssn])
        if gti:
            odd = len(self.digits) % 2
            scheme = 1 if odd else 2
            if gti == 1:
                out += bytes([(odd << 7) | (self.nai & 0x7F)])
            elif gti == 2:
                out += bytes([self.tt])
            elif gti == 3:
                out += bytes([self.tt, (self.np << 4) | scheme])
            elif gti == 4:
                out += bytes([self.tt, (self.np << 4) | scheme, self.nai & 0x7F])
            else:
                raise SccpEncodeError("GTI %d is not defined" % gti)
            out += encode_bcd(self.digits)
        return out


def encode_bcd(digits):
    """Digits (0-9, *, #, a-c) to BCD, low nibble first, filler 0 for an odd
    count (the GT encoding of Q.713)."""
    nibbles = [_ENCODE_DIGITS.index(d) if d in _ENCODE_DIGITS else int(d, 16)
               for d in digits.lower()]
    if len(nibbles) % 2:
        nibbles.append(0)
    return bytes(nibbles[i] | (nibbles[i + 1] << 4) for i in range(0, len(nibbles), 2))


def decode_bcd(raw, odd=None):
    """BCD digits (low nibble first) as text.

    ``odd`` True drops the last (filler) nibble; None drops a trailing 0xF.
    """
    text = "".join([_BCD_PAIRS[b] for b in raw])
    if odd or (odd is None and text.endswith("f")):
        return text[:-1]
    return text


def decode_address(raw):
    """The :class:`SccpAddress` of a called/calling party address parameter."""
    if not raw:
        raise SccpError("sccp: empty address")
    ind = raw[0]
    pos = 1
    pc = ssn = tt = np = es = nai = digits = None
    if ind & 0x01:
        if len(raw) < pos + 2:
            raise SccpError("sccp: address point code truncated")
        pc = (raw[pos] | (raw[pos + 1] << 8)) & 0x3FFF
        pos += 2
    if ind & 0x02:
        if len(raw) < pos + 1:
            raise SccpError("sccp: address SSN truncated")
        ssn = raw[pos]
        pos += 1
    gti = (ind >> 2) & 0x0F
    if gti:
        odd = None
        if gti == 1:
            if len(raw) < pos + 1:
                raise SccpError("sccp: GT truncated")
            odd = bool(raw[pos] & 0x80)
            nai = raw[pos] & 0x7F
            pos += 1
        elif gti == 2:
            if len(raw) < pos + 1:
                raise SccpError("sccp: GT truncated")
            tt = raw[pos]
            pos += 1
        elif gti == 3 or gti == 4:
            need = 2 if gti == 3 else 3
            if len(raw) < pos + need:
                raise SccpError("sccp: GT truncated")
            tt = raw[pos]
            np = raw[pos + 1] >> 4
            es = raw[pos + 1] & 0x0F
            if gti == 4:
                nai = raw[pos + 2] & 0x7F
            pos += need
            if es == 1:
                odd = True
            elif es == 2:
                odd = False
        else:
            raise SccpError("sccp: global title indicator %d" % gti)
        if es is None or es in (1, 2):
            digits = decode_bcd(raw[pos:], odd)
        else:
            digits = raw[pos:].hex()
    return SccpAddress(ssn, digits, gti, pc, tt, np, nai, bool(ind & 0x40), es)


_ADDRESS_CACHE = {}
_ADDRESS_CACHE_MAX = 65536


def cached_address(raw):
    """:func:`decode_address` memoised on the raw octets (captures carry few
    distinct addresses)."""
    address = _ADDRESS_CACHE.get(raw)
    if address is None:
        address = decode_address(raw)
        if len(_ADDRESS_CACHE) >= _ADDRESS_CACHE_MAX:
            _ADDRESS_CACHE.clear()
        _ADDRESS_CACHE[raw] = address
    return address
