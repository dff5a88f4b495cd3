"""pcap and pcapng writers.

Timestamps are float seconds or ``(seconds, nanoseconds)`` pairs; the
nanosecond form keeps a capture's original timestamps exactly.  Both writers
are context managers and accept a path or a binary file object.
"""

import os
import struct

from ss7tools.encode.link import LINKTYPE_ETHERNET

PCAP_MAGIC_USEC = 0xA1B2C3D4
PCAP_MAGIC_NSEC = 0xA1B23C4D
DEFAULT_SNAPLEN = 262144


def split_timestamp(ts):
    """(seconds, nanoseconds) for a float or an already split timestamp."""
    if isinstance(ts, tuple):
        return int(ts[0]), int(ts[1])
    seconds = int(ts // 1)
    nanos = int(round((ts - seconds) * 1e9))
    if nanos >= 1000000000:
        seconds, nanos = seconds + 1, nanos - 1000000000
    return seconds, nanos


class _Writer:
    def __init__(self, path_or_file, append=False):
        self.appending = False
        if hasattr(path_or_file, "write"):
            self._file, self._owned = path_or_file, False
        else:
            mode = "wb"
            if append:
                try:
                    self.appending = os.path.getsize(path_or_file) > 0
                except OSError:
                    pass
                mode = "ab"
            self._file, self._owned = open(path_or_file, mode), True
        self.count = 0

    def close(self):
        if self._owned:
            self._file.close()
        else:
            self._file.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class PcapWriter(_Writer):
    """Classic libpcap file, microsecond or nanosecond resolution."""

    def __init__(self, path_or_file, linktype=LINKTYPE_ETHERNET,
                 nanosecond=False, snaplen=DEFAULT_SNAPLEN, append=False):
        """``append``: add records to an existing file this writer made
        with the same link type and resolution (no new header)."""
        super().__init__(path_or_file, append)
        self.linktype = linktype
        self.nanosecond = nanosecond
        self._record = struct.Struct("<IIII")
        magic = PCAP_MAGIC_NSEC if nanosecond else PCAP_MAGIC_USEC
        if not self.appending:
            self._file.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0,
                                         snaplen, linktype))

    def write(self, frame, ts, orig_len=None, linktype=None):
        if linktype is not None and linktype != self.linktype:
            raise ValueError("pcap files hold one link type (%d), got %d"
                             % (self.linktype, linktype))
        if self.nanosecond or isinstance(ts, tuple):
            seconds, nanos = split_timestamp(ts)
            frac = nanos if self.nanosecond else nanos // 1000
        else:
            # a float near 1.7e9 only holds ~0.2 us: round to the microsecond
            seconds, frac = divmod(int(round(ts * 1e6)), 1000000)
        frame = bytes(frame)
        self._file.write(self._record.pack(seconds, frac, len(frame),
                                           orig_len or len(frame)))
        self._file.write(frame)
        self.count += 1


class PcapngWriter(_Writer):
    """pcapng file: one section, one interface per link type, nanosecond
    timestamps (if_tsresol = 9), Enhanced Packet Blocks."""

    def __init__(self, path_or_file, linktype=LINKTYPE_ETHERNET,
                 snaplen=DEFAULT_SNAPLEN, append=False):
        """``append`` starts a new section at the end of an existing file
        (pcapng allows several; each declares its own interfaces)."""
        super().__init__(path_or_file, append)
        self.snaplen = snaplen
        self._interfaces = {}
        self._block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
        self.linktype = linktype
        self._interface(linktype)

    def _block(self, block_type, body):
        body += b"\x00" * (-len(body) % 4)
        total = len(body) + 12
        self._file.write(struct.pack("<II", block_type, total) + body
                         + struct.pack("<I", total))

    def _interface(self, linktype):
        if linktype not in self._interfaces:
            options = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)
            self._block(0x00000001, struct.pack("<HHI", linktype, 0,
                                                self.snaplen) + options)
            self._interfaces[linktype] = len(self._interfaces)
        return self._interfaces[linktype]

    def write(self, frame, ts, orig_len=None, linktype=None):
        interface = self._interface(self.linktype if linktype is None
                                    else linktype)
        if isinstance(ts, tuple):
            seconds, nanos = split_timestamp(ts)
            stamp = seconds * 1000000000 + nanos
        else:
            stamp = int(round(ts * 1e6)) * 1000
        frame = bytes(frame)
        self._block(0x00000006, struct.pack(
            "<IIIII", interface, stamp >> 32, stamp & 0xFFFFFFFF, len(frame),
            orig_len or len(frame)) + frame)
        self.count += 1
