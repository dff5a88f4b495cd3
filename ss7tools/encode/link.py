"""IPv4/IPv6 and link-layer framing (Ethernet with optional VLAN tags, Linux
cooked v1/v2, raw IP) for generated SIGTRAN packets.

Link types are the pcap LINKTYPE_* numbers; ``frame_ip`` wraps an IP packet
for any of them so writers and the flatten/split tools share one path.
"""

import ipaddress
import struct

from ..pcapio import (  # noqa: F401  (re-exported for the encode package)
    ETH_IPV4 as ETHERTYPE_IPV4, ETH_IPV6 as ETHERTYPE_IPV6, IPPROTO_SCTP,
    LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2, LINKTYPE_RAW)

ETHERTYPE_VLAN = 0x8100

_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")


def ip_checksum(header):
    """RFC 1071 ones' complement sum over an IPv4 header."""
    if len(header) % 2:
        header += b"\x00"
    total = sum(struct.unpack("!%dH" % (len(header) // 2), header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_packet(src, dst, payload, proto=IPPROTO_SCTP, ttl=64, ident=0,
                tos=0, dont_fragment=True):
    """An IPv4 packet (no options) with correct total length and checksum."""
    flags = 0x4000 if dont_fragment else 0
    header = _IPV4.pack(0x45, tos, 20 + len(payload), ident & 0xFFFF, flags,
                        ttl, proto, 0, ipaddress.IPv4Address(src).packed,
                        ipaddress.IPv4Address(dst).packed)
    checksum = ip_checksum(header)
    return header[:10] + struct.pack("!H", checksum) + header[12:] + payload


def ipv6_packet(src, dst, payload, next_header=IPPROTO_SCTP, hop_limit=64,
                traffic_class=0, flow_label=0):
    """An IPv6 packet without extension headers."""
    first = (6 << 28) | ((traffic_class & 0xFF) << 20) | (flow_label & 0xFFFFF)
    return _IPV6.pack(first, len(payload), next_header, hop_limit,
                      ipaddress.IPv6Address(src).packed,
                      ipaddress.IPv6Address(dst).packed) + payload


def ip_packet(src, dst, payload, **kwargs):
    """IPv4 or IPv6 according to the address family of ``src``."""
    if ipaddress.ip_address(src).version == 6:
        return ipv6_packet(src, dst, payload, **kwargs)
    return ipv4_packet(src, dst, payload, **kwargs)


def _mac(value):
    if isinstance(value, bytes):
        if len(value) != 6:
            raise ValueError("MAC address must be 6 bytes")
        return value
    return bytes.fromhex(value.replace(":", "").replace("-", ""))


def ethernet_frame(payload, ethertype, src_mac="02:00:00:00:00:01",
                   dst_mac="02:00:00:00:00:02", vlans=()):
    """Ethernet II frame; ``vlans`` is a sequence of VLAN ids (outer first)."""
    header = _mac(dst_mac) + _mac(src_mac)
    for vlan in vlans:
        header += struct.pack("!HH", ETHERTYPE_VLAN, vlan & 0x0FFF)
    return header + struct.pack("!H", ethertype) + payload


def linux_sll_frame(payload, ethertype, packet_type=0, addr=b"\x02\0\0\0\0\1"):
    """Linux cooked capture v1 (LINKTYPE_LINUX_SLL) header + payload."""
    return (struct.pack("!HHH", packet_type, 1, len(addr))
            + addr.ljust(8, b"\x00")[:8] + struct.pack("!H", ethertype)
            + payload)


def linux_sll2_frame(payload, ethertype, ifindex=1, packet_type=0,
                     addr=b"\x02\0\0\0\0\1"):
    """Linux cooked capture v2 (LINKTYPE_LINUX_SLL2) header + payload."""
    return (struct.pack("!HHIHBB", ethertype, 0, ifindex, 1, packet_type,
                        len(addr)) + addr.ljust(8, b"\x00")[:8] + payload)


def ethertype_of(ip_bytes):
    return ETHERTYPE_IPV6 if ip_bytes[:1] and ip_bytes[0] >> 4 == 6 else ETHERTYPE_IPV4


def frame_ip(ip_bytes, linktype=LINKTYPE_ETHERNET, vlans=(), **kwargs):
    """Wrap an IP packet for ``linktype``."""
    ethertype = ethertype_of(ip_bytes)
    if linktype == LINKTYPE_ETHERNET:
        return ethernet_frame(ip_bytes, ethertype, vlans=vlans, **kwargs)
    if linktype == LINKTYPE_LINUX_SLL:
        return linux_sll_frame(ip_bytes, ethertype, **kwargs)
    if linktype == LINKTYPE_LINUX_SLL2:
        return linux_sll2_frame(ip_bytes, ethertype, **kwargs)
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        return ip_bytes
    raise ValueError("cannot frame IP for link type %r" % (linktype,))
