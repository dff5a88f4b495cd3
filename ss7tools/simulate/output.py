"""Writes simulated messages as a pcap and a labels CSV.

Every message becomes an M3UA DATA (SCCP UDT, protocol class 1) on the SCTP
association between the IP addresses of its two ends (a home node's, or the
international carrier's for foreign nodes), on stream ``1 + SLS % streams``.
Messages on the same association direction within ``bundle_window_s`` of the
first share one SCTP packet, as busy SCTP stacks bundle them; the peer
acknowledges every ``sack_every``-th packet with a SACK-only packet (frames
without SS7 messages, so without label rows).

The labels file has one row per SS7 message, keyed like ``ss7tools parse``
rows: ``frame`` counts from 1, ``chunk`` is the message's index within its
frame from 0.
"""

import csv
import zlib

from ss7tools.encode import sccp, sigtran
from ss7tools.encode.pcap import PcapWriter
from ss7tools.encode.sctp import sack_chunk
from ss7tools.encode.traffic import SigtranLink

LABEL_COLUMNS = ("frame", "chunk", "time_stamp", "label", "dialogue_id", "procedure_id",
                 "op_name", "tcap_type", "victim_imsi", "victim_msisdn", "attacker_gt")
MAX_BUNDLE_BYTES = 1100


class _Association:
    """Both directions of one association; its routing context."""

    def __init__(self, ip_a, ip_b, index):
        key = ("%s-%s" % (ip_a, ip_b)).encode()
        vtag_a = zlib.crc32(key) or 1
        vtag_b = zlib.crc32(key[::-1]) or 1
        port_a = 2905 if index == 0 else 2905 + index % 64
        self.links = {
            ip_a: SigtranLink(ip_a, ip_b, port_a, 2905, vtag_b, initial_tsn=vtag_a & 0xFFFFFF),
            ip_b: SigtranLink(ip_b, ip_a, 2905, port_a, vtag_a, initial_tsn=vtag_b & 0xFFFFFF),
        }
        self.peer = {ip_a: self.links[ip_b], ip_b: self.links[ip_a]}
        self.unacked = {ip_a: 0, ip_b: 0}
        self.routing_context = 100 + index


class CaptureSink:
    """Receives messages from the simulation in time order."""

    def __init__(self, pcap_path, labels_path=None, streams=4, bundle_window=0.002,
                 sack_every=2):
        self._writer = PcapWriter(pcap_path)
        try:
            self._labels_file = open(labels_path, "w", newline="") if labels_path else None
        except OSError:
            self._writer.close()
            raise
        self._labels = csv.writer(self._labels_file) if self._labels_file else None
        if self._labels:
            self._labels.writerow(LABEL_COLUMNS)
        self.streams, self.window = max(1, streams), bundle_window
        self.sack_every = sack_every
        self._associations = {}
        self._pending = None     # (link, first ts, last ts, [(m3ua, stream)], [label rows])
        self._pending_bytes = 0
        self.frames = 0
        self.messages = 0

    def _association(self, ip_a, ip_b):
        key = (ip_a, ip_b) if ip_a < ip_b else (ip_b, ip_a)
        assoc = self._associations.get(key)
        if assoc is None:
            assoc = self._associations[key] = _Association(key[0], key[1],
                                                           len(self._associations))
        return assoc

    def message(self, ts, src, dst, called, calling, tcap_bytes, sls, dialogue_id, label,
                op, tcap_type):
        assoc = self._association(src.ip, dst.ip)
        link = assoc.links[src.ip]
        national = src.network is not None and dst.network is not None \
            and src.network.home and dst.network.home
        payload = sigtran.m3ua_data(
            src.pc, dst.pc, sigtran.SI_SCCP,
            sigtran.NI_NATIONAL if national else sigtran.NI_INTERNATIONAL, sls,
            sccp.sccp_udt(called, calling, tcap_bytes, protocol_class=1),
            rc=assoc.routing_context)
        row = [round(ts, 6), label.label, dialogue_id, label.procedure_id, op or "", tcap_type,
               label.victim_imsi or "", label.victim_msisdn or "", label.attacker_gt or ""]
        pending = self._pending
        if pending is not None and (pending[0] is not link or ts - pending[1] > self.window
                                    or self._pending_bytes + len(payload) > MAX_BUNDLE_BYTES):
            self._flush()
            pending = None
        if pending is None:
            self._pending = pending = [link, ts, ts, [], [], assoc]
            self._pending_bytes = 0
        pending[2] = ts
        pending[3].append((payload, 1 + sls % self.streams))
        pending[4].append(row)
        self._pending_bytes += len(payload) + 16
        self.messages += 1

    def _flush(self):
        link, _first, last, payloads, rows, assoc = self._pending
        self._pending = None
        frames = link.frames(payloads)
        start = self.frames + 1
        for frame in frames:
            self._writer.write(frame, last)
        self.frames += len(frames)
        if self.sack_every:
            # the receiver acknowledges every sack_every-th packet (RFC 9260
            # 6.2 delayed SACK) with a SACK-only packet
            sender = link.src_ip
            assoc.unacked[sender] += 1
            if assoc.unacked[sender] >= self.sack_every:
                assoc.unacked[sender] = 0
                cum_tsn = (link.sctp.next_tsn - 1) & 0xFFFFFFFF
                for frame in assoc.peer[sender].frames([], control=[sack_chunk(cum_tsn)]):
                    self._writer.write(frame, last)
                    self.frames += 1
        if self._labels is not None:
            # bundles stay under MAX_BUNDLE_BYTES and UDTs under 300 octets,
            # so SCTP never fragments them: one frame, chunks in order
            if len(frames) != 1:
                raise RuntimeError("a bundle did not fit one SCTP packet")
            writerow = self._labels.writerow
            for chunk, row in enumerate(rows):
                writerow([start, chunk] + row)

    def close(self):
        if self._pending is not None:
            self._flush()
        self._writer.close()
        if self._labels_file is not None:
            self._labels_file.close()
