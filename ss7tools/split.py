"""``ss7tools split IN.pcap --by KEY -o DIR``: one capture per key value.

KEY is one of :data:`KEYS`.  Each frame keeps its original timestamp.  A
frame whose SCTP chunks all belong to one value is copied unchanged; a
frame whose chunks belong to different values is rebuilt as one valid
packet per chunk (fixed IP lengths, new CRC32c, see ``flatten``).  Chunks
and frames with no value for the key (control chunks, non-SS7 frames,
messages without the field) go to ``unknown.pcap``.

The non-final fragments of a fragmented SCTP user message follow the
message's value; they are held back until the message completes, so they
may land in their file after frames with later timestamps.  Retransmitted
DATA chunks follow the value of their first transmission.
"""

import hashlib
import os
import re
import sys
from collections import OrderedDict

from ss7tools import pcapio
from ss7tools.errors import SplitError
from ss7tools.flatten import cut_sctp, writer_factory
from ss7tools.capture import iter_messages
from ss7tools.decoder import MessageDecoder
from ss7tools.rows import COLUMN_INDEX, message_rows
from ss7tools.stats import ParseStats

PORT_KEYS = ("src_port", "dst_port")
STREAM_KEY = "sctp_stream"
DECODED_KEYS = ("opc", "dpc", "calling_gt", "called_gt", "imsi", "msisdn")
KEYS = PORT_KEYS + (STREAM_KEY,) + DECODED_KEYS
UNKNOWN = "unknown"

MAX_OPEN_FILES = 128
MAX_PENDING_FRAGMENTS = 4096
TSN_MEMORY = 65536

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


def safe_name(value):
    """A file name for a key value: safe characters only, never hidden, and
    distinct for distinct values (a hash suffix when cleaning changed it)."""
    text = str(value)
    name = _UNSAFE.sub("_", text)[:80].lstrip(".") or "_"
    if name != text or name.lower() == UNKNOWN:
        name += "~" + hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:8]
    return name


class _Outputs:
    """Writers per key value; at most MAX_OPEN_FILES open (LRU, reopened
    for append)."""

    def __init__(self, directory, factory, suffix):
        self.directory = directory
        self.factory = factory
        self.suffix = suffix
        self._open = OrderedDict()
        self._names = {}
        self.counts = {}

    def path(self, value):
        name = UNKNOWN if value is None else safe_name(value)
        return os.path.join(self.directory, name + self.suffix)

    def write(self, value, data, stamp, linktype):
        key = UNKNOWN if value is None else str(value)
        writer = self._open.get(key)
        if writer is None:
            if len(self._open) >= MAX_OPEN_FILES:
                _old, oldest = self._open.popitem(last=False)
                oldest.close()
            writer = self.factory(self.path(value),
                                  append=key in self.counts)
            self._open[key] = writer
        else:
            self._open.move_to_end(key)
        writer.write(data, stamp, linktype=linktype)
        self.counts[key] = self.counts.get(key, 0) + 1

    def close(self):
        for writer in self._open.values():
            writer.close()
        self._open.clear()


def _message_value(key, decoder, msg):
    """The first non-empty value of ``key`` over the message's rows."""
    column = COLUMN_INDEX[key]
    try:
        rows = message_rows(decoder.decode(msg))
    except Exception:  # a decoder fault must not stop a split: no value
        return None
    for row in rows:
        value = row[column]
        if value not in (None, ""):
            return value
    return None


def _chunk_tsn(chunk):
    return int.from_bytes(chunk[4:8], "big")


def split(in_path, key, out_dir):
    """Split ``in_path`` by ``key`` into ``out_dir``; returns {value: packets}."""
    if key not in KEYS:
        raise SplitError("cannot split by %r; keys: %s" % (key, ", ".join(KEYS)))
    os.makedirs(out_dir, exist_ok=True)
    first = next(iter(pcapio.iter_frames(in_path)), None)
    linktype = first[2] if first else pcapio.LINKTYPE_ETHERNET
    with open(in_path, "rb") as handle:
        suffix = ".pcapng" if handle.read(4) == b"\x0a\x0d\x0d\x0a" else ".pcap"
    outputs = _Outputs(out_dir, writer_factory(in_path, linktype), suffix)
    try:
        _split(in_path, key, outputs)
    finally:
        outputs.close()
    return dict(outputs.counts)


def _split(in_path, key, outputs):
    decoder = MessageDecoder(ParseStats())
    messages = iter_messages(in_path, decoder.stats) \
        if key in DECODED_KEYS else iter(())
    pending_msg = next(messages, None)
    pending_fragments = OrderedDict()   # (direction, stream, ssn) -> [(data, stamp, lt)]
    tsn_values = OrderedDict()          # (direction, tsn) -> value
    for number, stamp, linktype, data in pcapio.iter_frames(in_path):
        cut = cut_sctp(linktype, data)
        if cut is None:
            # not SCTP (or unreadable): decoded keys cannot apply
            while pending_msg is not None and pending_msg.frame == number:
                pending_msg = next(messages, None)
            outputs.write(None, data, stamp, linktype)
            continue
        if key in PORT_KEYS:
            ports = cut.ports
            outputs.write(ports[0] if key == "src_port" else ports[1], data,
                          stamp, linktype)
            continue
        # value per chunk
        by_offset = {}
        while pending_msg is not None and pending_msg.frame <= number:
            if pending_msg.frame == number:
                by_offset[pending_msg.chunk_span[0]] = _message_value(
                    key, decoder, pending_msg)
            pending_msg = next(messages, None)
        direction = cut.ip_header[-32:] + cut.sctp_header[:8] \
            if cut.ip_version == 6 else cut.ip_header[12:20] + cut.sctp_header[:8]
        values, held = [], []
        for index, chunk in enumerate(cut.chunks):
            info = cut.data_chunk_info(index)
            if info is None:
                values.append(None)
                continue
            stream, _ppid, flags = info
            if key == STREAM_KEY:
                values.append(stream)
                continue
            tsn = _chunk_tsn(chunk)
            offset = cut.offsets[index]
            frag_key = (direction, stream, chunk[10:12], flags & 4)
            if offset in by_offset:
                value = by_offset[offset]
                for item in pending_fragments.pop(frag_key, ()):
                    outputs.write(value, *item)
                tsn_values[(direction, tsn)] = value
                if len(tsn_values) > TSN_MEMORY:
                    tsn_values.popitem(last=False)
                values.append(value)
            elif (direction, tsn) in tsn_values:
                values.append(tsn_values[(direction, tsn)])
            elif flags & 3 != 3 and not flags & 1:
                # a fragment before the last: its value comes with the message
                held.append((index, frag_key))
                values.append(held)
            else:
                values.append(None)
        distinct = {id(v) if v is held else v for v in values}
        if not held and len(distinct) == 1:
            outputs.write(values[0], data, stamp, linktype)
            continue
        for index, chunk in enumerate(cut.chunks):
            packet = cut.rebuild([chunk])
            value = values[index]
            if value is held:
                frag_key = dict(held)[index]
                pending_fragments.setdefault(frag_key, []).append(
                    (packet, stamp, linktype))
                pending_fragments.move_to_end(frag_key)
                if len(pending_fragments) > MAX_PENDING_FRAGMENTS:
                    _k, stale = pending_fragments.popitem(last=False)
                    for item in stale:
                        outputs.write(None, *item)
            else:
                outputs.write(value, packet, stamp, linktype)
    for items in pending_fragments.values():
        for item in items:
            outputs.write(None, *item)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "split", help="one capture per value of a key",
        description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="pcap or pcapng capture")
    parser.add_argument("--by", required=True, choices=KEYS, help="split key")
    parser.add_argument("-o", "--output", required=True,
                        help="directory for the captures")
    parser.set_defaults(func=run)
    return parser


def run(args):
    try:
        counts = split(args.input, args.by, args.output)
    except (SplitError, OSError, pcapio.CaptureError, ValueError) as exc:
        print("ss7tools split: %s" % (exc,), file=sys.stderr)
        return 2
    print("%d files, %d packets written to %s"
          % (len(counts), sum(counts.values()), args.output), file=sys.stderr)
    return 0
