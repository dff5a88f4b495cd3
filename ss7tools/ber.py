"""A small, strict BER (X.690) TLV walker.

Tags are returned as the integer value of their identifier octets
(``0xA1``, ``0x9F1F`` ...), so callers compare against the bytes they see on
the wire.  Every length is checked against the enclosing end; malformed input
raises a :class:`BerError` subclass, never an ``IndexError``.
"""

from .errors import BerError


class BerTruncated(BerError):
    """A tag, length or value runs past the end of its container."""


class BerLengthError(BerError):
    """A length field that X.690 forbids or that this walker refuses."""


class BerTagError(BerError):
    """A tag that is not the one expected."""


MAX_LENGTH_OCTETS = 4
MAX_DEPTH = 32


def read_tlv(buf, pos, end):
    """Decode the TLV starting at ``pos``; return ``(tag, vstart, vend, next)``.

    ``vend`` is the end of the value; ``next`` is where the following TLV
    starts (they differ for indefinite lengths, which end with 00 00).
    """
    if pos >= end:
        raise BerTruncated("tag expected at offset %d" % pos)
    tag = buf[pos]
    pos += 1
    if tag & 0x1F == 0x1F:
        # high tag number form: continuation octets while bit 8 is set
        while True:
            if pos >= end:
                raise BerTruncated("tag runs past end at offset %d" % pos)
            octet = buf[pos]
            pos += 1
            tag = (tag << 8) | octet
            if not octet & 0x80:
                break
            if tag > 0xFFFFFFFF:
                raise BerTagError("tag too long at offset %d" % pos)
    if pos >= end:
        raise BerTruncated("length expected at offset %d" % pos)
    length = buf[pos]
    pos += 1
    if length < 0x80:
        vend = pos + length
        if vend > end:
            raise BerTruncated("value of %d octets runs past end at offset %d" % (length, pos))
        return tag, pos, vend, vend
    if length == 0x80:
        return _indefinite(buf, tag, pos, end)
    count = length & 0x7F
    if count > MAX_LENGTH_OCTETS or count == 0x7F:
        raise BerLengthError("length of %d octets at offset %d" % (count, pos))
    if pos + count > end:
        raise BerTruncated("long length runs past end at offset %d" % pos)
    length = int.from_bytes(buf[pos:pos + count], "big")
    pos += count
    vend = pos + length
    if vend > end:
        raise BerTruncated("value of %d octets runs past end at offset %d" % (length, pos))
    return tag, pos, vend, vend


def _first_octet(tag):
    while tag > 0xFF:
        tag >>= 8
    return tag


def _indefinite(buf, tag, pos, end):
    """Find the end-of-contents of an indefinite-length value, iteratively."""
    if not _first_octet(tag) & 0x20:
        raise BerLengthError("indefinite length on a primitive tag at offset %d" % pos)
    start = pos
    depth = 1
    while True:
        if pos + 2 > end:
            raise BerTruncated("end-of-contents missing for tag 0x%X" % tag)
        if buf[pos] == 0 and buf[pos + 1] == 0:
            depth -= 1
            pos += 2
            if depth == 0:
                return tag, start, pos - 2, pos
            continue
        first = buf[pos]
        hdr = pos + 1
        if first & 0x1F == 0x1F:
            while hdr < end and buf[hdr] & 0x80:
                hdr += 1
            hdr += 1
        if hdr < end and buf[hdr] == 0x80:
            if not first & 0x20:
                raise BerLengthError("indefinite length on a primitive tag at offset %d" % pos)
            depth += 1
            if depth > MAX_DEPTH:
                raise BerLengthError("indefinite lengths nested too deep at offset %d" % pos)
            pos = hdr + 1
        else:
            pos = read_tlv(buf, pos, end)[3]


def iter_tlv(buf, pos, end):
    """Yield ``(tag, vstart, vend)`` for each TLV between ``pos`` and ``end``."""
    while pos < end:
        tag, vstart, vend, pos = read_tlv(buf, pos, end)
        yield tag, vstart, vend


def children(buf, pos, end):
    """List of ``(tag, vstart, vend)`` of the TLVs between ``pos`` and ``end``."""
    out = []
    while pos < end:
        tag, vstart, vend, pos = read_tlv(buf, pos, end)
        out.append((tag, vstart, vend))
    return out


def find_path(buf, pos, end, path):
    """Follow ``path`` from the TLVs between ``pos`` and ``end``.

    Each step is a tag (first occurrence) or ``(tag, n)`` for the n-th
    occurrence (from 0) among siblings.  Returns ``(vstart, vend)`` of the
    last step's value, or None when a step is missing.
    """
    for step in path:
        if step.__class__ is tuple:
            want, nth = step
        else:
            want, nth = step, 0
        while True:
            if pos >= end:
                return None
            tag, vstart, vend, pos = read_tlv(buf, pos, end)
            if tag == want:
                if nth == 0:
                    break
                nth -= 1
        pos, end = vstart, vend
    return pos, end


def decode_integer(buf, vstart, vend):
    """Signed big-endian INTEGER contents."""
    if vend <= vstart:
        raise BerLengthError("empty INTEGER at offset %d" % vstart)
    return int.from_bytes(buf[vstart:vend], "big", signed=True)


def decode_oid(buf, vstart, vend):
    """OBJECT IDENTIFIER contents as a dotted string."""
    if vend <= vstart:
        raise BerLengthError("empty OBJECT IDENTIFIER at offset %d" % vstart)
    arcs = []
    value = 0
    for i in range(vstart, vend):
        octet = buf[i]
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    if buf[vend - 1] & 0x80:
        raise BerTruncated("OBJECT IDENTIFIER ends inside an arc")
    first = arcs[0]
    if first < 40:
        head = [0, first]
    elif first < 80:
        head = [1, first - 40]
    else:
        head = [2, first - 80]
    return ".".join(map(str, head + arcs[1:]))


def encode_length(length):
    """Definite-length octets for ``length`` (used by tests and tools)."""
    if length < 0x80:
        return bytes((length,))
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def encode_tlv(tag, value):
    """Encode one TLV with a definite length; ``tag`` as returned by read_tlv."""
    tag_octets = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    return tag_octets + encode_length(len(value)) + bytes(value)
