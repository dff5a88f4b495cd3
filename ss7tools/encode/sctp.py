"""SCTP packets (RFC 9260): common header with CRC32c, DATA chunks with
B/E/U flags, user-message fragmentation and a small association helper that
numbers TSNs and stream sequence numbers."""

import struct

from ss7tools.encode.crc32c import with_sctp_checksum

CHUNK_DATA = 0
CHUNK_INIT = 1
CHUNK_SACK = 3
CHUNK_HEARTBEAT = 4

FLAG_END = 0x01
FLAG_BEGIN = 0x02
FLAG_UNORDERED = 0x04

PPID_M2PA = 5
PPID_M3UA = 3

_COMMON = struct.Struct("!HHII")
_CHUNK = struct.Struct("!BBH")
_DATA = struct.Struct("!BBHIHHI")


def _pad(data):
    return data + b"\x00" * (-len(data) % 4)


def sctp_chunk(chunk_type, flags, value):
    """Any chunk: type, flags, length (without padding) and padded value."""
    return _pad(_CHUNK.pack(chunk_type, flags, 4 + len(value)) + value)


def data_chunk(tsn, stream, ssn, ppid, data, begin=True, end=True,
               unordered=False):
    flags = ((FLAG_BEGIN if begin else 0) | (FLAG_END if end else 0)
             | (FLAG_UNORDERED if unordered else 0))
    return _pad(_DATA.pack(CHUNK_DATA, flags, 16 + len(data), tsn, stream,
                           ssn, ppid) + data)


def sack_chunk(cum_tsn, a_rwnd=65535):
    return sctp_chunk(CHUNK_SACK, 0, struct.pack("!IIHH", cum_tsn, a_rwnd,
                                                 0, 0))


def sctp_packet(src_port, dst_port, vtag, chunks):
    """Common header + chunks (each already padded), checksum filled in."""
    body = b"".join(chunks)
    return with_sctp_checksum(_COMMON.pack(src_port, dst_port, vtag, 0) + body)


class SctpAssociation:
    """One direction of an association: numbers TSNs and per-stream SSNs and
    fragments user messages larger than ``max_fragment`` into B/E pieces."""

    def __init__(self, src_port, dst_port, vtag, initial_tsn=1,
                 max_fragment=1200):
        self.src_port = src_port
        self.dst_port = dst_port
        self.vtag = vtag
        self.next_tsn = initial_tsn
        self.max_fragment = max_fragment
        self._ssn = {}

    def data_chunks(self, data, ppid, stream=0, unordered=False):
        """DATA chunks for one user message (several if fragmented)."""
        ssn = self._ssn.get(stream, 0)
        if not unordered:
            self._ssn[stream] = (ssn + 1) & 0xFFFF
        pieces = [data[i:i + self.max_fragment]
                  for i in range(0, len(data), self.max_fragment)] or [b""]
        chunks = []
        for index, piece in enumerate(pieces):
            chunks.append(data_chunk(self.next_tsn, stream, ssn, ppid, piece,
                                     begin=index == 0,
                                     end=index == len(pieces) - 1,
                                     unordered=unordered))
            self.next_tsn = (self.next_tsn + 1) & 0xFFFFFFFF
        return chunks

    def packet(self, chunks):
        return sctp_packet(self.src_port, self.dst_port, self.vtag, chunks)
