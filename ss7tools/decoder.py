"""From an undecoded captured message to an :class:`~ss7tools.model.Ss7Message`:
M3UA or M2PA, MTP3 routing label, SCCP (segments reassembled), TCAP, MAP.

A fault at a layer ends the decoding there: the message keeps what decoded
before it, ``error`` says ``layer: reason`` and ``stats`` counts it under
``undecodable``.  This is the parse hot path: it runs once per message.
"""

from . import gsmmap, m2pa, m3ua, sccp, tcap
from .ber import BerError
from .errors import TpduError
from .capture import DECODED_FIELDS, iter_messages, protocol_by_port
from .model import RoutingLabel, Ss7Message
from .sctp import PPID_M3UA
from .stats import ParseStats

SI_SCCP = 3
SSN_SCMG = sccp.SSN_SCMG
SSN_CAP = gsmmap.SSN_CAP
MAP_OPERATIONS = gsmmap.OPERATIONS
CAP_OPERATIONS = gsmmap.CAP_OPERATIONS
context_info = gsmmap.application_context_info
identity_row = gsmmap.identity_row
short_message = gsmmap.short_message
SHORT_MESSAGE_OPERATIONS = gsmmap.SHORT_MESSAGE_OPERATIONS
m3ua_label = m3ua.decode_label
sccp_head = sccp.decode_head
tcap_decode = tcap.decode
new_object = object.__new__
_LABELS_MAX = 16384


class Deferred(Exception):
    """Raised by a ``defer_segments`` decoder for a segmented SCCP message."""


class MessageDecoder:
    """Decodes captured messages; holds the SCCP reassembly state, so one
    decoder must see a capture's messages in order."""

    def __init__(self, stats=None, defer_segments=False):
        self.stats = stats if stats is not None else ParseStats()
        self._segments = sccp.SegmentReassembler()
        # a stateless worker hands segmented SCCP messages back (Deferred)
        # to the one decoder that sees them all in capture order
        self._defer_segments = defer_segments
        # routing labels repeat (a link's point codes and SLSs): one object
        # per distinct label
        self._labels = {}

    def _sccp(self, user_data, opc, dpc, errors):
        """``(head, errors)`` of SCCP user data that :func:`sccp.decode_head`
        does not take: ``head`` as that gives it (with the user data or the
        reassembled segments as TCAP, None when there is none), or None when
        the message does not decode."""
        stats = self.stats
        try:
            s = sccp.decode(user_data)
        except sccp.SccpError as exc:
            stats.undecodable_message("sccp")
            return None, (errors or []) + [str(exc)]
        called, calling = s.called, s.calling
        if called is None:
            # a type this decoder does not open: only its name
            return (sccp.header(s), None), errors
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
        return (sccp.header(s), tcap_data), errors

    def decode(self, msg):
        """The :class:`~ss7tools.model.Ss7Message` of a captured message (its
        first :data:`~ss7tools.capture.DECODED_FIELDS` fields are read)."""
        if len(msg) != DECODED_FIELDS:
            msg = msg[:DECODED_FIELDS]
        (frame, chunk, time_stamp, src_ip, dst_ip, src_port, dst_port, stream,
         ppid, payload) = msg
        stats = self.stats
        labels = self._labels
        errors = None
        label = user_data = None
        # each local is set on every path (no blanket initialisation: this
        # runs once per message)
        if ppid == PPID_M3UA or (ppid == 0 and protocol_by_port(src_port, dst_port) == PPID_M3UA):
            try:
                key, user_data, m3ua_error = m3ua_label(payload)
            except m3ua.M3uaError as exc:
                errors = [str(exc)]
                stats.undecodable_message("m3ua")
            else:
                label = labels.get(key)
                if label is None:
                    label = self._label(key)
                if m3ua_error is not None:
                    errors = [m3ua_error]
                    stats.undecodable_message("m3ua")
        else:
            try:
                _name, mtp3 = m2pa.decode(payload)
            except m2pa.M2paError as exc:
                errors = [str(exc)]
                stats.undecodable_message("m2pa")
            else:
                if mtp3 is not None:
                    si, ni, opc, dpc, sls, user_data = mtp3
                    key = None, None, opc, dpc, si, ni, sls, None, None
                    label = labels.get(key)
                    if label is None:
                        label = self._label(key)
        header = tcap_data = None
        if user_data is not None and label.si == SI_SCCP:
            head = sccp_head(user_data)
            if head is None:
                head, errors = self._sccp(user_data, label.opc, label.dpc, errors)
            if head is not None:
                header, tcap_data = head
        transaction = None
        components = ()
        if tcap_data:
            called, calling = header.called, header.calling
            if called.ssn != SSN_SCMG and calling.ssn != SSN_SCMG:
                try:
                    transaction = tcap_decode(tcap_data)
                except tcap.TcapError as exc:
                    errors = (errors or []) + [str(exc)]
                    stats.undecodable_message("tcap")
                else:
                    cap = called.ssn == SSN_CAP or calling.ssn == SSN_CAP
                    ac = transaction.app_context
                    if ac is not None:
                        transaction.context_name, cap = context_info(ac)
                    if transaction.error:
                        errors = (errors or []) + [transaction.error]
                        stats.undecodable_message("tcap")
                    components = transaction.components
                    # MAP (or CAP) operation names, and the identities of
                    # each MAP parameter
                    names = CAP_OPERATIONS if cap else MAP_OPERATIONS
                    for comp in components:
                        op_code = comp.op_code
                        if op_code.__class__ is int:
                            comp.op_name = names.get(op_code)
                            parameter = comp.parameter
                            if parameter is not None and not cap:
                                try:
                                    comp.identities = identity_row(
                                        op_code, comp.type_name != "invoke", tcap_data,
                                        parameter[0], parameter[1])
                                except BerError as exc:
                                    stats.undecodable_message("gsm_map")
                                    comp.error = "gsm_map: %s" % exc
                                else:
                                    if (op_code in SHORT_MESSAGE_OPERATIONS
                                            and comp.type_name == "invoke"):
                                        self._short_message(comp, op_code, tcap_data,
                                                            parameter)
        # object.__new__ and stores: cheaper than Ss7Message's __init__ call
        m = new_object(Ss7Message)
        m.frame, m.chunk, m.time_stamp = frame, chunk, time_stamp
        m.src_ip, m.dst_ip, m.src_port = src_ip, dst_ip, src_port
        m.dst_port, m.stream, m.ppid = dst_port, stream, ppid
        m.label, m.sccp, m.tcap = label, header, transaction
        m.components = components
        m.error = "; ".join(errors) if errors else None
        return m

    def _short_message(self, comp, op_code, tcap_data, parameter):
        """TP-PID and TP-DCS of a forwardSM's TPDU; a malformed one is
        counted (``sms_tpdu``) and named in the component's error, its
        identities kept."""
        try:
            comp.short_message = short_message(op_code, tcap_data, parameter[0],
                                               parameter[1])
        except BerError as exc:
            self.stats.undecodable_message("gsm_map")
            comp.error = "gsm_map: %s" % exc
        except TpduError as exc:
            self.stats.undecodable_message("sms_tpdu")
            comp.error = "sms_tpdu: %s" % exc

    def _label(self, key):
        """The shared :class:`RoutingLabel` of ``key``, its fields' values."""
        labels = self._labels
        if len(labels) >= _LABELS_MAX:
            labels.clear()
        label = labels[key] = RoutingLabel(*key)
        return label


def failed_message(msg, exc, stats):
    """The message whose decoding raised ``exc`` unexpectedly: its capture
    fields and the error."""
    stats.undecodable_message("internal_%s" % type(exc).__name__)
    return Ss7Message(*msg[:9], error="internal error: %s: %s" % (type(exc).__name__, exc))


def decoded_batches(path, stats, size):
    """Lists of up to ``size`` decoded messages of the capture at ``path``,
    in capture order, in this process; a message the decoder fails on
    unexpectedly is kept as a failed message, never the end of the run."""
    decode = MessageDecoder(stats).decode
    batch = []
    append = batch.append
    for msg in iter_messages(path, stats):
        # guarded_decode inline: this loop runs once per message
        try:
            append(decode(msg))
        except Exception as exc:  # a decoder bug must not end the run
            append(failed_message(msg, exc, stats))
        if len(batch) >= size:
            yield batch
            batch = []
            append = batch.append
    if batch:
        yield batch


def guarded_decode(decode, msg, stats):
    """``decode(msg)``, turning an unexpected exception into a failed message."""
    try:
        return decode(msg)
    except Deferred:
        raise
    except Exception as exc:  # a decoder bug must not end the run: keep the message
        return failed_message(msg, exc, stats)
