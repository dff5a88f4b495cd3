"""``ss7tools flatten IN.pcap -o OUT.pcap``: every SCTP chunk becomes its own
packet, so that each SS7 message is one line in Wireshark.

Each new packet keeps the frame's link-layer header, the IP header (total
or payload length and IPv4 header checksum fixed) and the SCTP common
header with a recomputed CRC32c checksum, and the original timestamp.
Frames that are not SCTP, carry one chunk, or are IPv4 fragments are copied
unchanged.  The frame surgery here is shared with ``split``.
"""

import struct
import sys

from ss7tools import pcapio
from ss7tools.pcapio import IPPROTO_SCTP
from ss7tools.encode.crc32c import with_sctp_checksum
from ss7tools.encode.link import ip_checksum
from ss7tools.encode.pcap import PcapngWriter, PcapWriter

_IPV6_EXTENSIONS = frozenset((0, 43, 44, 51, 60, 135, 139, 140))


class SctpFrame:
    """A frame cut into link prefix, IP header, SCTP common header and chunks.

    ``chunks`` are the chunk bytes including padding; ``rebuild(chunks)``
    returns a valid frame carrying just those chunks."""

    __slots__ = ("prefix", "ip_header", "ip_version", "sctp_header", "chunks",
                 "offsets")

    def __init__(self, prefix, ip_header, ip_version, sctp_header, chunks,
                 offsets=()):
        self.prefix = prefix
        self.ip_header = ip_header
        self.ip_version = ip_version
        self.sctp_header = sctp_header
        self.chunks = chunks
        self.offsets = offsets      # chunk starts within the SCTP packet

    def data_chunk_info(self, index):
        """(stream, ppid, flags) of a DATA chunk, None for other chunks."""
        chunk = self.chunks[index]
        if chunk[0] != 0 or len(chunk) < 16:
            return None
        return (struct.unpack("!H", chunk[8:10])[0],
                struct.unpack("!I", chunk[12:16])[0], chunk[1])

    @property
    def ports(self):
        return struct.unpack("!HH", self.sctp_header[:4])

    def rebuild(self, chunks):
        sctp = with_sctp_checksum(self.sctp_header[:8] + b"\0\0\0\0"
                                  + b"".join(chunks))
        header = self.ip_header
        if self.ip_version == 4:
            header = (header[:2] + struct.pack("!H", len(header) + len(sctp))
                      + header[4:10] + b"\0\0" + header[12:])
            header = header[:10] + struct.pack("!H", ip_checksum(header)) \
                + header[12:]
        else:
            header = (header[:4] + struct.pack("!H", len(header) - 40
                                               + len(sctp)) + header[6:])
        return self.prefix + header + sctp


def cut_sctp(linktype, data):
    """An :class:`SctpFrame` for an SCTP frame, None for anything else
    (not IP, not SCTP, IPv4 fragment, truncated or malformed chunks)."""
    try:
        etype, off = pcapio.network_offset(linktype, data)
    except pcapio.SkipPacket:
        return None
    if etype == pcapio.ETH_IPV4:
        if len(data) < off + 20 or data[off] >> 4 != 4:
            return None
        ihl = (data[off] & 0x0F) * 4
        total = struct.unpack("!H", data[off + 2:off + 4])[0]
        frag = struct.unpack("!H", data[off + 6:off + 8])[0] & 0x3FFF
        if data[off + 9] != IPPROTO_SCTP or frag or ihl < 20 or total < ihl:
            return None
        end = min(off + total, len(data))
        ip_header, pos, version = data[off:off + ihl], off + ihl, 4
    elif etype == pcapio.ETH_IPV6:
        if len(data) < off + 40 or data[off] >> 4 != 6:
            return None
        plen = struct.unpack("!H", data[off + 4:off + 6])[0]
        end = min(off + 40 + plen, len(data))
        nxt, pos = data[off + 6], off + 40
        while nxt in _IPV6_EXTENSIONS:
            if pos + 8 > end:
                return None
            if nxt == 44:
                if struct.unpack("!H", data[pos + 2:pos + 4])[0] & 0xFFF9:
                    return None
                size = 8
            elif nxt == 51:
                size = (data[pos + 1] + 2) * 4
            else:
                size = (data[pos + 1] + 1) * 8
            nxt, pos = data[pos], pos + size
        if nxt != IPPROTO_SCTP:
            return None
        ip_header, version = data[off:pos], 6
    else:
        return None
    if end - pos < 12:
        return None
    sctp_header = data[pos:pos + 12]
    chunks, offsets = [], []
    cursor = pos + 12
    while cursor + 4 <= end:
        length = struct.unpack("!H", data[cursor + 2:cursor + 4])[0]
        if length < 4 or cursor + length > end:
            return None
        padded = min(cursor + length + (-length % 4), end)
        chunks.append(data[cursor:cursor + length] + b"\0" * (-length % 4))
        offsets.append(cursor - pos)
        cursor = padded
    return SctpFrame(data[:off], ip_header, version, sctp_header, chunks,
                     offsets)


def writer_factory(in_path, linktype):
    """A function (out_path, append=False) -> writer matching the input:
    pcapng for pcapng (any link types), else pcap with the input's link
    type and timestamp resolution."""
    with open(in_path, "rb") as handle:
        head = handle.read(4)
    if head == b"\x0a\x0d\x0d\x0a":
        return lambda out, append=False: PcapngWriter(out, linktype=linktype,
                                                      append=append)
    nanosecond = head in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    return lambda out, append=False: PcapWriter(
        out, linktype=linktype, nanosecond=nanosecond, append=append)


def open_like(in_path, out_path, first_linktype):
    return writer_factory(in_path, first_linktype)(out_path)


def first_linktype(path):
    for _number, _ts, linktype, _data in pcapio.iter_frames(path):
        return linktype
    return pcapio.LINKTYPE_ETHERNET


def flatten(in_path, out_path):
    """Write the flattened capture; returns (frames read, packets written)."""
    frames = 0
    writer = open_like(in_path, out_path, first_linktype(in_path))
    with writer:
        for _number, stamp, linktype, data in pcapio.iter_frames(in_path):
            frames += 1
            cut = cut_sctp(linktype, data)
            if cut is None or len(cut.chunks) <= 1:
                writer.write(data if cut is None else cut.rebuild(cut.chunks),
                             stamp, linktype=linktype)
                continue
            for chunk in cut.chunks:
                writer.write(cut.rebuild([chunk]), stamp, linktype=linktype)
        return frames, writer.count


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "flatten", help="write every SCTP chunk as its own packet",
        description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="pcap or pcapng capture")
    parser.add_argument("-o", "--output", required=True, help="output capture")
    parser.set_defaults(func=run)
    return parser


def run(args):
    try:
        frames, packets = flatten(args.input, args.output)
    except (OSError, pcapio.CaptureError, ValueError) as exc:
        print("ss7tools flatten: %s" % (exc,), file=sys.stderr)
        return 2
    print("%d frames in, %d packets out" % (frames, packets), file=sys.stderr)
    return 0
