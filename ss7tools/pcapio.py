"""Streaming pcap / pcapng reader and link/IP layer decoding.

``iter_frames(path)`` yields ``(frame_number, time_stamp, linktype, data)``
one frame at a time (frame numbers from 1, like Wireshark; ``time_stamp`` as
float epoch seconds).  ``decode_ip(linktype, data)`` strips the link layer
and the IP header and returns ``(src_ip, dst_ip, protocol, payload)``.
"""

import socket
import struct

from .errors import CaptureError

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
DLT_RAW_12 = 12
DLT_RAW_14 = 14

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_VLAN_TAGS = (0x8100, 0x88A8, 0x9100, 0x9200)

IPPROTO_SCTP = 132

PCAP_MAGIC_USEC = 0xA1B2C3D4
PCAP_MAGIC_NSEC = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D

MAX_FRAME = 16 * 1024 * 1024
READ_SIZE = 1024 * 1024
MAX_BLOCK = 64 * 1024 * 1024


class SkipPacket(Exception):
    """The frame carries nothing for the SS7 parser; ``reason`` says why."""

    def __init__(self, reason):
        Exception.__init__(self, reason)
        self.reason = reason


def iter_frames(path):
    """Yield ``(frame_number, time_stamp, linktype, data)`` from pcap or pcapng."""
    with open(path, "rb") as handle:
        head = handle.read(4)
        if len(head) < 4:
            raise CaptureError("%s: too short for a capture file" % (path,))
        magic_le = int.from_bytes(head, "little")
        if magic_le == PCAPNG_SHB:
            yield from _iter_pcapng(handle, head)
        else:
            yield from _iter_pcap(handle, head)


def _iter_pcap(handle, head):
    magic = int.from_bytes(head, "little")
    if magic in (PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC):
        order = "<"
    else:
        magic = int.from_bytes(head, "big")
        if magic not in (PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC):
            raise CaptureError("not a pcap or pcapng file (magic %s)" % head.hex())
        order = ">"
    nsec = magic == PCAP_MAGIC_NSEC
    rest = handle.read(20)
    if len(rest) < 20:
        raise CaptureError("truncated pcap file header")
    linktype = struct.unpack(order + "HHiIII", rest)[5] & 0x0FFFFFFF
    record = struct.Struct(order + "IIII")
    unpack = record.unpack_from
    read = handle.read
    frame = 0
    # records are cut from large reads: two small reads per frame cost more
    buf = b""
    pos = 0
    while True:
        if pos + 16 > len(buf):
            buf = buf[pos:] + read(READ_SIZE)
            pos = 0
            if len(buf) < 16:
                return
        sec, frac, incl, _orig = unpack(buf, pos)
        if incl > MAX_FRAME:
            raise CaptureError("frame %d: record length %d too large" % (frame + 1, incl))
        end = pos + 16 + incl
        if end > len(buf):
            buf = buf[pos:] + read(max(READ_SIZE, end - pos))
            pos = 0
            end = 16 + incl
            if end > len(buf):
                return
        data = buf[pos + 16:end]
        pos = end
        frame += 1
        # same arithmetic as pcapng below, so both give identical floats
        yield frame, round(sec + frac / 1e9, 6) if nsec else sec + frac / 1e6, linktype, data


def _iter_pcapng(handle, head):
    read = handle.read
    frame = 0
    order = "<"
    interfaces = []
    block_type = int.from_bytes(head, "little")
    first = True
    while True:
        if not first:
            head = read(4)
            if len(head) < 4:
                return
        first = False
        raw_len = read(4)
        if len(raw_len) < 4:
            return
        if head == b"\x0a\x0d\x0d\x0a":
            # section header: the byte-order magic fixes the order of what follows
            bom = read(4)
            if len(bom) < 4:
                return
            if int.from_bytes(bom, "little") == PCAPNG_BYTE_ORDER_MAGIC:
                order = "<"
            elif int.from_bytes(bom, "big") == PCAPNG_BYTE_ORDER_MAGIC:
                order = ">"
            else:
                raise CaptureError("pcapng section header with bad byte-order magic")
            endian = "little" if order == "<" else "big"
            total = int.from_bytes(raw_len, endian)
            if total < 28 or total > MAX_BLOCK or total % 4:
                raise CaptureError("pcapng section header of bad length %d" % total)
            body = read(total - 12)
            if len(body) < total - 12:
                return
            interfaces = []
            continue
        endian = "little" if order == "<" else "big"
        block_type = int.from_bytes(head, endian)
        total = int.from_bytes(raw_len, endian)
        if total < 12 or total > MAX_BLOCK or total % 4:
            raise CaptureError("pcapng block of bad length %d" % total)
        body = read(total - 8)
        if len(body) < total - 8:
            return
        body = body[:-4]
        if block_type == 1:
            linktype = int.from_bytes(body[0:2], endian)
            interfaces.append((linktype, _if_tsresol(body[8:], endian)))
        elif block_type == 6 or block_type == 2:
            # enhanced packet block (6) or obsolete packet block (2)
            if len(body) < 20:
                raise CaptureError("pcapng packet block too short")
            if block_type == 6:
                ifid = int.from_bytes(body[0:4], endian)
            else:
                ifid = int.from_bytes(body[0:2], endian)
            high = int.from_bytes(body[4:8], endian)
            low = int.from_bytes(body[8:12], endian)
            caplen = int.from_bytes(body[12:16], endian)
            if ifid >= len(interfaces):
                raise CaptureError("pcapng packet for undeclared interface %d" % ifid)
            linktype, per_second = interfaces[ifid]
            frame += 1
            sec, frac = divmod((high << 32) | low, per_second)
            stamp = sec + frac / per_second
            if per_second > 1000000:
                stamp = round(stamp, 6)
            yield frame, stamp, linktype, body[20:20 + caplen]
        elif block_type == 3:
            if not interfaces:
                raise CaptureError("pcapng simple packet before any interface")
            origlen = int.from_bytes(body[0:4], endian)
            frame += 1
            yield frame, 0.0, interfaces[0][0], body[4:4 + origlen]


def _if_tsresol(options, endian):
    """Timestamp ticks per second from an interface description's options."""
    pos = 0
    while pos + 4 <= len(options):
        code = int.from_bytes(options[pos:pos + 2], endian)
        length = int.from_bytes(options[pos + 2:pos + 4], endian)
        if code == 0:
            break
        if code == 9 and length >= 1:
            value = options[pos + 4]
            if value & 0x80:
                return 2 ** min(value & 0x7F, 63)
            return 10 ** min(value, 18)
        pos += 4 + ((length + 3) & ~3)
    return 1000000


_ip_cache = {}
_pair_cache = {}
# version/IHL, (TOS), total length, identification, flags/fragment offset, (TTL), protocol, (checksum), src+dst
_IPV4 = struct.Struct("!BxHHHxBxx8s")


def _ip4(raw):
    text = _ip_cache.get(raw)
    if text is None:
        text = socket.inet_ntop(socket.AF_INET, raw)
        if len(_ip_cache) > 65536:
            _ip_cache.clear()
        _ip_cache[raw] = text
    return text


def _ip6(raw):
    text = _ip_cache.get(raw)
    if text is None:
        text = socket.inet_ntop(socket.AF_INET6, raw)
        if len(_ip_cache) > 65536:
            _ip_cache.clear()
        _ip_cache[raw] = text
    return text


# IPv6 extension headers that are skipped to reach the transport
_IPV6_EXTENSIONS = frozenset((0, 43, 60, 135, 139, 140))
_IPV6_FRAGMENT = 44
_IPV6_AH = 51


def network_offset(linktype, data):
    """Return ``(ethertype, offset)`` of the network layer in a frame."""
    if linktype == LINKTYPE_ETHERNET:
        if len(data) < 14:
            raise SkipPacket("truncated_ethernet")
        etype = (data[12] << 8) | data[13]
        off = 14
        while etype in ETH_VLAN_TAGS:
            if len(data) < off + 4:
                raise SkipPacket("truncated_vlan")
            etype = (data[off + 2] << 8) | data[off + 3]
            off += 4
        if etype <= 1500:
            raise SkipPacket("ethernet_llc")
        return etype, off
    if linktype in (LINKTYPE_RAW, DLT_RAW_12, DLT_RAW_14):
        if not data:
            raise SkipPacket("empty_frame")
        version = data[0] >> 4
        if version == 4:
            return ETH_IPV4, 0
        if version == 6:
            return ETH_IPV6, 0
        raise SkipPacket("raw_not_ip")
    if linktype == LINKTYPE_IPV4:
        return ETH_IPV4, 0
    if linktype == LINKTYPE_IPV6:
        return ETH_IPV6, 0
    if linktype == LINKTYPE_LINUX_SLL:
        if len(data) < 16:
            raise SkipPacket("truncated_sll")
        etype = (data[14] << 8) | data[15]
        off = 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        if len(data) < 20:
            raise SkipPacket("truncated_sll2")
        etype = (data[0] << 8) | data[1]
        off = 20
    else:
        raise SkipPacket("linktype_%d" % linktype)
    while etype in ETH_VLAN_TAGS:
        if len(data) < off + 4:
            raise SkipPacket("truncated_vlan")
        etype = (data[off + 2] << 8) | data[off + 3]
        off += 4
    return etype, off


def decode_ip(linktype, data, fragments=None):
    """Return ``(src_ip, dst_ip, protocol, payload)`` of an IP frame.

    Raises :class:`SkipPacket` for frames without an IP payload.  IPv4
    fragments go to ``fragments`` (an :class:`Ipv4Reassembler`) when given;
    until the datagram is complete the frame is skipped.
    """
    size = len(data)
    if linktype == LINKTYPE_ETHERNET and size >= 34 and data[12] == 8 and data[13] == 0:
        etype, off = ETH_IPV4, 14  # the common case, without the general walk
    else:
        etype, off = network_offset(linktype, data)
    if etype == ETH_IPV4:
        if size < off + 20:
            raise SkipPacket("truncated_ipv4")
        first, total, ident, frag, proto, pair = _IPV4.unpack_from(data, off)
        if first >> 4 != 4:
            raise SkipPacket("bad_ip_version")
        ihl = (first & 0x0F) * 4
        if ihl < 20 or total < ihl or size < off + ihl:
            raise SkipPacket("bad_ipv4_header")
        end = off + total
        if end > size:
            # snapped or truncated frame: keep what is there, layers above check lengths
            end = size
        payload = data[off + ihl:end]
        if frag & 0x3FFF:
            if fragments is None:
                raise SkipPacket("ipv4_fragment")
            payload = fragments.add(pair[:4], pair[4:], proto, ident, frag & 0x3FFF, payload)
            if payload is None:
                raise SkipPacket("ipv4_fragment")
        names = _pair_cache.get(pair)
        if names is None:
            names = (_ip4(pair[:4]), _ip4(pair[4:]))
            if len(_pair_cache) > 65536:
                _pair_cache.clear()
            _pair_cache[pair] = names
        return names[0], names[1], proto, payload
    if etype == ETH_IPV6:
        if len(data) < off + 40:
            raise SkipPacket("truncated_ipv6")
        if data[off] >> 4 != 6:
            raise SkipPacket("bad_ip_version")
        plen = (data[off + 4] << 8) | data[off + 5]
        nxt = data[off + 6]
        src = data[off + 8:off + 24]
        dst = data[off + 24:off + 40]
        pos = off + 40
        end = min(pos + plen, len(data)) if plen else len(data)
        while nxt in _IPV6_EXTENSIONS or nxt == _IPV6_AH or nxt == _IPV6_FRAGMENT:
            if pos + 8 > end:
                raise SkipPacket("truncated_ipv6_extension")
            if nxt == _IPV6_FRAGMENT:
                offset_flags = (data[pos + 2] << 8) | data[pos + 3]
                if offset_flags & 0xFFF9:
                    raise SkipPacket("ipv6_fragment")
                # atomic fragment (offset 0, no more fragments): just skip the header
                nxt = data[pos]
                pos += 8
                continue
            if nxt == _IPV6_AH:
                size = (data[pos + 1] + 2) * 4
            else:
                size = (data[pos + 1] + 1) * 8
            nxt = data[pos]
            pos += size
        if pos > end:
            raise SkipPacket("truncated_ipv6_extension")
        return _ip6(src), _ip6(dst), nxt, data[pos:end]
    raise SkipPacket("not_ip")


class Ipv4Reassembler:
    """Bounded IPv4 fragment reassembly (RFC 791), oldest datagram evicted first."""

    def __init__(self, max_datagrams=1024, max_size=65535, stats=None):
        self._pending = {}
        self._max_datagrams = max_datagrams
        self._max_size = max_size
        self._stats = stats

    def add(self, src, dst, proto, ident, frag, payload):
        """Add a fragment; return the whole payload when complete, else None."""
        key = (src, dst, proto, ident)
        offset = (frag & 0x1FFF) * 8
        more = frag & 0x2000
        entry = self._pending.get(key)
        if entry is None:
            if len(self._pending) >= self._max_datagrams:
                self._pending.pop(next(iter(self._pending)))
                if self._stats is not None:
                    self._stats.skip("ipv4_fragment_evicted")
            entry = self._pending[key] = [{}, None]
        if offset + len(payload) > self._max_size:
            del self._pending[key]
            if self._stats is not None:
                self._stats.skip("ipv4_fragment_oversize")
            return None
        entry[0][offset] = payload
        if not more:
            entry[1] = offset + len(payload)
        if entry[1] is None:
            return None
        parts = []
        pos = 0
        for start in sorted(entry[0]):
            if start > pos:
                return None
            chunk = entry[0][start]
            if start + len(chunk) > pos:
                parts.append(chunk[pos - start:])
                pos = start + len(chunk)
        if pos < entry[1]:
            return None
        del self._pending[key]
        return b"".join(parts)[:entry[1]]
