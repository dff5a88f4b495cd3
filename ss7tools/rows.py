"""The row: one projection of an :class:`~ss7tools.model.Ss7Message`, one
row per TCAP component (one row for a message without components).

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
- ``tp_pid`` / ``tp_dcs``: ints, the TP-Protocol-Identifier and
  TP-Data-Coding-Scheme of the short message (TS 23.040 TPDU) in a
  forwardSM / mt-forwardSM / mo-forwardSM invoke's SM-RP-UI (0x40: a silent
  "short message type 0").  Files written before these columns existed
  read them as absent.
- ``error``: what could not be decoded (``layer: reason``; the message's
  faults, then the component's); the row keeps the fields decoded before the
  fault.  None everywhere a value is absent.

Rows are tuples aligned with :data:`COLUMNS` (:data:`COLUMN_INDEX` gives the
position of a name); :func:`row_dict` turns one into a dict.
"""

import functools

from .decoder import decoded_batches
from .model import Component, RoutingLabel, SccpHeader, Transaction
from .rowformat import CsvFormatter, MsgpackFormatter
from .sccp_address import SccpAddress
from .stats import ParseStats

COLUMNS = (
    "frame", "chunk", "time_stamp", "src_ip", "dst_ip", "src_port", "dst_port",
    "sctp_stream", "ppid", "m3ua_class", "m3ua_type", "opc", "dpc", "si", "ni",
    "sls", "network_appearance", "routing_context", "sccp_type", "called_gt",
    "called_ssn", "called_pc", "calling_gt", "calling_ssn", "calling_pc",
    "tcap_type", "otid", "dtid", "app_context", "component", "invoke_id",
    "op_code", "op_name", "error_code", "imsi", "msisdn", "msc", "vlr", "hlr",
    "sgsn", "smsc", "tp_pid", "tp_dcs", "error",
)
COLUMN_INDEX = {name: i for i, name in enumerate(COLUMNS)}
# messages decoded before their rows are yielded (as pipeline.CHUNK: a long
# list of live messages costs the garbage collector)
ITER_BATCH = 64


def message_rows(m):
    """The rows of message ``m`` (see :data:`COLUMNS`)."""
    return messages_rows((m,))


def messages_rows(messages):
    """The rows of a batch of messages, in order.  This is the projection from
    :class:`~ss7tools.model.Ss7Message` to rows, the one place it is made."""
    rows = []
    append = rows.append
    # a part a message lacks projects as its empty stand-in (every column
    # None): one tuple display per row, no branch per column
    for m in messages:
        label = m.label
        if label is None:
            label = _NO_LABEL
        header = m.sccp
        if header is None:
            header = _NO_HEADER
        called, calling = header.called, header.calling
        if called is None:
            called = calling = _NO_ADDRESS
        transaction = m.tcap
        if transaction is None:
            transaction = _NO_TRANSACTION
        error = m.error
        for c in m.components or _NO_COMPONENTS:
            fault = c.error
            if fault is None:
                fault = error
            elif error is not None:
                fault = error + "; " + fault
            imsi, msisdn, msc, vlr, hlr, sgsn, smsc = c.identities
            tp_pid, tp_dcs = c.short_message
            append((m.frame, m.chunk, m.time_stamp, m.src_ip, m.dst_ip, m.src_port,
                    m.dst_port, m.stream, m.ppid, label.m3ua_class, label.m3ua_type,
                    label.opc, label.dpc, label.si, label.ni, label.sls,
                    label.network_appearance, label.routing_context, header.type_name,
                    called.digits, called.ssn, called.pc, calling.digits, calling.ssn,
                    calling.pc, transaction.type_name, transaction.otid, transaction.dtid,
                    transaction.context_name or transaction.app_context, c.type_name,
                    c.invoke_id, c.op_code, c.op_name, c.error_code, imsi, msisdn, msc, vlr,
                    hlr, sgsn, smsc, tp_pid, tp_dcs, fault))
    return rows


_NO_LABEL = RoutingLabel(None, None, None, None, None, None, None, None, None)
_NO_HEADER = SccpHeader(None)
_NO_ADDRESS = SccpAddress(None, None, None, None, None, None, None, None, None)
_NO_TRANSACTION = Transaction(None, None, None, None, None, None, (), None)
_NO_COMPONENTS = (Component(None, None, None, None, None, None, None),)


def row_dict(row):
    return dict(zip(COLUMNS, row))


def iter_rows(path, stats=None):
    """Yield row tuples (see :data:`COLUMNS`) for every SS7 message of a capture."""
    if stats is None:
        stats = ParseStats()
    for batch in decoded_batches(path, stats, ITER_BATCH):
        rows = messages_rows(batch)
        stats.rows += len(rows)
        yield from rows


def format_task(fmt):
    """The task (see :mod:`ss7tools.pipeline`) that writes messages as ``fmt``
    rows: ``task(stats)`` is a function
    of a list of messages giving their rows' CSV text or msgpack bytes, which
    counts the rows in ``stats.rows``."""
    # A partial of a module-level function: workers receive it pickled.
    return functools.partial(
        _format_task, MsgpackFormatter if fmt == "msgpack" else CsvFormatter)


def _format_task(formatter, stats):
    text = formatter().text

    def format_rows(messages):
        rows = messages_rows(messages)
        stats.rows += len(rows)
        return text(rows)
    return format_rows
