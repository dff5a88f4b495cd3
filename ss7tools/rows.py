"""From a capture to rows: one row per SS7 message (per TCAP component).

Row schema (:data:`COLUMNS`, in this order) and value formats:

- ``ppid`` as on the wire; a PPID of 0 on port 2905 (3565) is decoded as
  M3UA (M2PA), like Wireshark does.
- ``frame`` from 1 like Wireshark; ``chunk`` the SS7 message's index within
  its frame, from 0; ``time_stamp`` float epoch seconds (microseconds).
- ``m3ua_class`` / ``m3ua_type``: RFC 4666 abbreviations (``Transfer``/``DATA``,
  ``ASPSM``/``BEAT_ACK`` ...); empty for M2PA.
- point codes, SSNs, SI/NI/SLS, routing context, network appearance,
  invoke id, error code: ints.  GT digits: strings.
- ``otid`` / ``dtid``: lowercase hex without separators (as ``tshark -T fields``).
- ``app_context``: the MAP name (``networkLocUpContext-v3``) when known, else
  the dotted OID.  ``op_code``: int for a local code, dotted OID for a global
  one.  ``op_name``: TS 29.002 / TS 29.078 name.
- ``tcap_type``: begin / continue / end / abort / unidirectional;
  ``component``: invoke / returnResultLast / returnResultNotLast /
  returnError / reject.
- ``error``: what could not be decoded (``layer: reason``); the row keeps the
  fields decoded before the fault.  None everywhere a value is absent.

Rows are tuples aligned with :data:`COLUMNS` (:data:`COLUMN_INDEX` gives the
position of a name); :func:`row_dict` turns one into a dict.
"""

from collections import namedtuple

from . import gsmmap, m2pa, m3ua, sccp, tcap
from .ber import BerError
from .pcapio import IPPROTO_SCTP, Ipv4Reassembler, SkipPacket, decode_ip, iter_frames
from .sctp import PPID_M2PA, PPID_M3UA, SctpError, SctpReader
from .stats import ParseStats

COLUMNS = (
    "frame", "chunk", "time_stamp", "src_ip", "dst_ip", "src_port", "dst_port",
    "sctp_stream", "ppid", "m3ua_class", "m3ua_type", "opc", "dpc", "si", "ni",
    "sls", "network_appearance", "routing_context", "sccp_type", "called_gt",
    "called_ssn", "called_pc", "calling_gt", "calling_ssn", "calling_pc",
    "tcap_type", "otid", "dtid", "app_context", "component", "invoke_id",
    "op_code", "op_name", "error_code", "imsi", "msisdn", "msc", "vlr", "hlr",
    "sgsn", "smsc", "error",
)
COLUMN_INDEX = {name: i for i, name in enumerate(COLUMNS)}

#: One reassembled SS7 message of a capture.  ``payload`` is the M3UA or M2PA
#: message; ``frame_data``/``linktype`` the frame that completed it;
#: ``sctp_packet`` that frame's SCTP packet and ``chunk_span`` the
#: ``(start, end)`` offsets in it of the DATA chunk that ended the message.
Message = namedtuple("Message", (
    "frame", "chunk", "time_stamp", "src_ip", "dst_ip", "src_port", "dst_port",
    "stream", "ppid", "payload", "linktype", "frame_data", "sctp_packet",
    "chunk_span"))

new_tuple = tuple.__new__  # builds a Message without namedtuple's Python-level __new__
SI_SCCP = 3
SSN_SCMG = sccp.SSN_SCMG
SSN_CAP = gsmmap.SSN_CAP
MAP_OPERATIONS = gsmmap.OPERATIONS
CAP_OPERATIONS = gsmmap.CAP_OPERATIONS
application_context = gsmmap.application_context
identity_row = gsmmap.identity_row
m3ua_fields = m3ua.decode_fields
sccp_head = sccp.decode_head
tcap_fields = tcap.decode_fields


#: Well-known ports (RFC 4666, RFC 4165) that identify the protocol of a
#: DATA chunk whose PPID is 0 (unspecified), as Wireshark does.
PORT_M3UA = 2905
PORT_M2PA = 3565


def protocol_by_port(sport, dport):
    """PPID implied by the ports when a chunk's PPID is 0, or None."""
    if sport == PORT_M3UA or dport == PORT_M3UA:
        return PPID_M3UA
    if sport == PORT_M2PA or dport == PORT_M2PA:
        return PPID_M2PA
    return None


def row_dict(row):
    return dict(zip(COLUMNS, row))


def iter_messages(path, stats=None, dedup=True):
    """Yield a :class:`Message` per SS7 (M3UA / M2PA) message of a capture."""
    if stats is None:
        stats = ParseStats()
    reader = SctpReader(stats, dedup=dedup)
    fragments = Ipv4Reassembler(stats=stats)
    skip = stats.skip
    for frame, time_stamp, linktype, data in iter_frames(path):
        stats.frames += 1
        try:
            src, dst, proto, payload = decode_ip(linktype, data, fragments)
        except SkipPacket as exc:
            skip(exc.reason)
            continue
        except (IndexError, ValueError) as exc:  # defensive: never stop a run
            skip("bad_ip_%s" % type(exc).__name__)
            continue
        if proto != IPPROTO_SCTP:
            skip("not_sctp")
            continue
        found = []
        try:
            sport, dport = reader.packet(src, dst, payload, found)
        except SctpError as exc:
            skip("sctp_%s" % exc)
            if not found:
                continue
            sport = (payload[0] << 8) | payload[1]
            dport = (payload[2] << 8) | payload[3]
        chunk = 0
        for stream, ppid, message, span in found:
            if ppid != PPID_M3UA and ppid != PPID_M2PA and not (
                    ppid == 0 and protocol_by_port(sport, dport) is not None):
                skip("ppid_%d" % ppid)
                continue
            stats.messages += 1
            yield new_tuple(Message, (frame, chunk, time_stamp, src, dst, sport, dport,
                                      stream, ppid, message, linktype, data, payload, span))
            chunk += 1


class MessageDecoder:
    """Decodes :class:`Message` objects into rows; holds SCCP reassembly state."""

    def __init__(self, stats=None, defer_segments=False):
        self.stats = stats if stats is not None else ParseStats()
        self._segments = sccp.SegmentReassembler()
        # a stateless worker hands segmented SCCP messages back (Deferred)
        # to the one decoder that sees them all in capture order
        self._defer_segments = defer_segments

    def _sccp(self, user_data, opc, dpc, errors):
        """``(head, errors)`` of SCCP user data that :func:`sccp.decode_head`
        does not take: ``head`` as that gives it (with the user data or the
        reassembled segments as TCAP, None when there is none), or None when
        the message does not decode or carries no addresses."""
        stats = self.stats
        try:
            s = sccp.decode(user_data)
        except sccp.SccpError as exc:
            stats.undecodable_message("sccp")
            return None, (errors or []) + [str(exc)]
        called, calling = s.called, s.calling
        if called is None:
            # a type this decoder does not open: only its name
            return ((s.type_name, None, None, None, None, None, None, None, None), None), errors
        tcap_data = s.data
        segmentation = s.segmentation
        if segmentation is not None and not (segmentation[0] and segmentation[2] == 0) \
                and called.ssn != SSN_SCMG and calling.ssn != SSN_SCMG:
            if self._defer_segments:
                raise Deferred()
            try:
                tcap_data = self._segments.add(opc, dpc, s)
            except sccp.SccpError as exc:
                errors = (errors or []) + [str(exc)]
                stats.undecodable_message("sccp_segment")
                tcap_data = None
            if tcap_data is None:
                stats.count("sccp_segment")
        head = (s.type_name, called, calling, called.pc, called.ssn, called.gt,
                calling.pc, calling.ssn, calling.gt)
        return (head, tcap_data), errors

    def rows(self, msg):
        """List of row tuples for one message (one per TCAP component)."""
        if len(msg) != 10:
            msg = msg[:10]
        (frame, chunk, time_stamp, src_ip, dst_ip, src_port, dst_port, stream,
         ppid, payload) = msg
        stats = self.stats
        errors = None
        # each field is set on every path (no blanket initialisation: this
        # runs once per message)
        if ppid == PPID_M3UA or (ppid == 0 and protocol_by_port(src_port, dst_port) == PPID_M3UA):
            try:
                (m3ua_class, m3ua_type, opc, dpc, si, ni, sls, na, rc, user_data,
                 m3ua_error) = m3ua_fields(payload)
            except m3ua.M3uaError as exc:
                m3ua_class = m3ua_type = opc = dpc = si = ni = sls = na = rc = user_data = None
                errors = [str(exc)]
                stats.undecodable_message("m3ua")
            else:
                if m3ua_error is not None:
                    errors = [m3ua_error]
                    stats.undecodable_message("m3ua")
        else:
            m3ua_class = m3ua_type = opc = dpc = si = ni = sls = na = rc = user_data = None
            try:
                _name, mtp3 = m2pa.decode(payload)
            except m2pa.M2paError as exc:
                errors = [str(exc)]
                stats.undecodable_message("m2pa")
            else:
                if mtp3 is not None:
                    si, ni, opc, dpc, sls, user_data = mtp3
        head = None
        if user_data is not None and si == SI_SCCP:
            head = sccp_head(user_data)
            if head is None:
                head, errors = self._sccp(user_data, opc, dpc, errors)
        if head is not None:
            ((sccp_type, _called, _calling, called_pc, called_ssn, called_gt,
              calling_pc, calling_ssn, calling_gt), tcap_data) = head
            if called_ssn == SSN_SCMG or calling_ssn == SSN_SCMG:
                tcap_data = None
            cap = called_ssn == SSN_CAP or calling_ssn == SSN_CAP
        else:
            sccp_type = called_gt = called_ssn = called_pc = None
            calling_gt = calling_ssn = calling_pc = tcap_data = None
            cap = False
        if tcap_data:
            try:
                (tcap_type, otid, dtid, _pdu, ac, _abort, components,
                 tcap_error) = tcap_fields(tcap_data)
            except tcap.TcapError as exc:
                tcap_type = otid = dtid = ac = None
                components = ()
                errors = (errors or []) + [str(exc)]
                stats.undecodable_message("tcap")
            else:
                if ac is not None:
                    ac, cap = application_context(ac)
                if tcap_error:
                    errors = (errors or []) + [tcap_error]
                    stats.undecodable_message("tcap")
        else:
            tcap_type = otid = dtid = ac = None
            components = ()
        base_error = "; ".join(errors) if errors else None
        if not components:
            return [(frame, chunk, time_stamp, src_ip, dst_ip, src_port, dst_port, stream,
                     ppid, m3ua_class, m3ua_type, opc, dpc, si, ni, sls, na, rc,
                     sccp_type, called_gt, called_ssn, called_pc, calling_gt, calling_ssn,
                     calling_pc, tcap_type, otid, dtid, ac, None, None, None, None, None,
                     None, None, None, None, None, None, None, base_error)]
        rows = []
        names = CAP_OPERATIONS if cap else MAP_OPERATIONS
        for comp in components:
            comp_type, invoke_id, _linked, op_code, error_code, _problem, parameter = comp
            op_name = None
            imsi = msisdn = msc = vlr = hlr = sgsn = smsc = None
            comp_error = base_error
            if op_code.__class__ is int:
                op_name = names.get(op_code)
                if parameter is not None and not cap:
                    try:
                        imsi, msisdn, msc, vlr, hlr, sgsn, smsc = identity_row(
                            op_code, comp_type != "invoke", tcap_data,
                            parameter[0], parameter[1])
                    except BerError as exc:
                        stats.undecodable_message("gsm_map")
                        text = "gsm_map: %s" % exc
                        comp_error = text if comp_error is None else comp_error + "; " + text
            rows.append((frame, chunk, time_stamp, src_ip, dst_ip, src_port, dst_port, stream,
                         ppid, m3ua_class, m3ua_type, opc, dpc, si, ni, sls, na, rc,
                         sccp_type, called_gt, called_ssn, called_pc, calling_gt, calling_ssn,
                         calling_pc, tcap_type, otid, dtid, ac, comp_type, invoke_id,
                         op_code, op_name, error_code, imsi, msisdn, msc, vlr, hlr, sgsn,
                         smsc, comp_error))
        return rows


class Deferred(Exception):
    """Raised by a ``defer_segments`` decoder for a segmented SCCP message."""


def guarded_rows(decode, msg, stats):
    """``decode(msg)``, turning an unexpected exception into an error row."""
    try:
        return decode(msg)
    except Deferred:
        raise
    except Exception as exc:  # a decoder bug must not end the run: keep the message
        return error_rows(msg, exc, stats)


def error_rows(msg, exc, stats):
    """The row of a message whose decoding raised ``exc`` unexpectedly."""
    stats.undecodable_message("internal_%s" % type(exc).__name__)
    return [tuple(msg[:9]) + (None,) * 32
            + ("internal error: %s: %s" % (type(exc).__name__, exc),)]


def iter_rows(path, stats=None):
    """Yield row tuples (see :data:`COLUMNS`) for every SS7 message of a capture."""
    if stats is None:
        stats = ParseStats()
    decode = MessageDecoder(stats).rows
    for msg in iter_messages(path, stats):
        # guarded_rows inline: this loop runs once per message
        try:
            rows = decode(msg)
        except Exception as exc:  # a decoder bug must not end the run
            rows = error_rows(msg, exc, stats)
        stats.rows += len(rows)
        yield from rows
