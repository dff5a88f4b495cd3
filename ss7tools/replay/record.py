"""What the replay server writes: the JSON-lines event log, the ``--record``
capture, and the one-line summary of a received message.

The capture is a pcap that ``ss7tools parse`` (and Wireshark) reads like
any other: each received message is one SCTP DATA chunk in its own
Ethernet/IP packet, from the peer's address and port to the server's, on
the stream and with the PPID it came with, stamped with its receive time.
Each association gets its own verification tag and numbers its TSNs and
per-stream sequence numbers from 1.  Over TCP, which carries neither,
messages are written on stream 0 with the PPID their class implies (M2PA
for class 11, M3UA otherwise).
"""

import json
import os

from ss7tools.decoder import MessageDecoder
from ss7tools.encode.link import frame_ip, ip_packet
from ss7tools.encode.pcap import PcapWriter
from ss7tools.encode.sctp import SctpAssociation
from ss7tools.rows import COLUMN_INDEX, messages_rows
from ss7tools.stats import ParseStats

from .framing import MAX_MESSAGE_SIZE

#: Row columns a message's log line carries (the first row's value; for
#: ``op_name``, every component's).
SUMMARY_COLUMNS = (
    "m3ua_class", "m3ua_type", "opc", "dpc", "si", "routing_context", "sccp_type",
    "called_gt", "called_ssn", "calling_gt", "calling_ssn", "tcap_type", "otid", "dtid",
    "app_context", "op_name", "imsi", "msisdn", "error",
)
_SUMMARY_INDEX = tuple((name, COLUMN_INDEX[name]) for name in SUMMARY_COLUMNS)
_IDENTITY_COLUMNS = ("imsi", "msisdn")


def open_private(path, mode="w"):
    """A new file only its owner can read (logs and captures hold IMSIs)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    handle = os.open(path, flags, 0o600)
    try:
        os.fchmod(handle, 0o600)
    except OSError:
        pass
    return os.fdopen(handle, mode)


class MessageSummary:
    """The parser's decoded summary of received messages (one decoder per
    association: it holds SCCP segment reassembly state)."""

    def __init__(self):
        self.stats = ParseStats()
        self._decoder = MessageDecoder(self.stats)

    def decode(self, number, time_stamp, src, dst, sport, dport, stream, ppid, data):
        """The :class:`~ss7tools.model.Ss7Message` of a received message, or
        the decoder's fault as an exception instance (it must not cost the
        message)."""
        fields = (number, 0, time_stamp, src, dst, sport, dport, stream, ppid, data)
        try:
            return self._decoder.decode(fields)
        except Exception as exc:
            return exc

    def summary(self, number, time_stamp, src, dst, sport, dport, stream, ppid, data):
        return summarise(self.decode(number, time_stamp, src, dst, sport, dport, stream, ppid,
                                     data))


def summarise(message):
    """The log line's fields of a message :meth:`MessageSummary.decode` gave."""
    if isinstance(message, Exception):
        return {"error": "internal error: %s: %s" % (type(message).__name__, message)}
    try:
        rows = messages_rows((message,))
    except Exception as exc:  # a projection fault must not cost the message
        return {"error": "internal error: %s: %s" % (type(exc).__name__, exc)}
    first = rows[0]
    summary = {}
    for name, index in _SUMMARY_INDEX:
        value = first[index]
        if value is not None:
            summary[name] = value
    names = [row[COLUMN_INDEX["op_name"]] for row in rows
             if row[COLUMN_INDEX["op_name"]] is not None]
    if len(names) > 1:
        summary["op_name"] = names
    for name in _IDENTITY_COLUMNS:
        if name not in summary:
            for row in rows[1:]:
                if row[COLUMN_INDEX[name]] is not None:
                    summary[name] = row[COLUMN_INDEX[name]]
                    break
    return summary


class EventLog:
    """JSON lines, one object per event, flushed at each ``flush()``."""

    def __init__(self, path):
        self.path = path
        self._file = open_private(path, "w")

    def write(self, event):
        self._file.write(json.dumps(event, separators=(",", ":"), default=str) + "\n")

    def flush(self):
        self._file.flush()

    def close(self):
        if not self._file.closed:
            self._file.close()


class Recorder:
    """The ``--record`` capture: one DATA chunk per received message."""

    def __init__(self, path):
        self.path = path
        self._writer = PcapWriter(open_private(path, "wb"))
        self._handle = self._writer._file
        self._associations = {}
        self.messages = 0

    def open_association(self, key, peer, peer_port, local, local_port):
        """Start numbering a new association ``key`` (peer to server)."""
        vtag = (0x5e7a0000 + len(self._associations) + 1) & 0xFFFFFFFF
        self._associations[key] = (peer, local, SctpAssociation(
            peer_port, local_port, vtag, initial_tsn=1, max_fragment=MAX_MESSAGE_SIZE))

    def close_association(self, key):
        self._associations.pop(key, None)

    def write(self, key, time_stamp, stream, ppid, data):
        peer, local, association = self._associations[key]
        for chunk in association.data_chunks(data, ppid, stream):
            packet = association.packet([chunk])
            self._writer.write(frame_ip(ip_packet(peer, local, packet)), time_stamp)
        self.messages += 1

    def flush(self):
        self._handle.flush()

    def close(self):
        if not self._handle.closed:
            self._handle.close()
