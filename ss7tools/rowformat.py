"""Row tuples to CSV text or msgpack bytes, the parse hot path's last step.

CSV: exactly the text ``csv.writer(lineterminator="\\n")`` writes.  The rows
of a capture repeat whole column groups (an association's link fields, a
peer pair's SCCP addresses, a dialogue's context and operation), so each
group's text is made once by the csv module and cached; only the few
per-message fields are joined here.  A row whose text could need quoting
(a quote, comma or line break in a field) is written by the csv module.

Cached groups are looked up by value: a column must keep one type (as the
decoder's rows do), since ``1``, ``1.0`` and ``True`` are equal keys.
"""

import csv
import io

import msgpack

# column groups of rows.COLUMNS whose values repeat from message to message
_LINK = slice(3, 25)        # src_ip .. routing_context, sccp_type .. calling_pc
_OPERATION = slice(28, 34)  # app_context .. error_code
_GROUP_CACHE_MAX = 16384
_ROW_COMMAS = 41            # a 42-column row without quoted fields
# frame, chunk, time stamp, LINK, tcap_type, otid, dtid, OPERATION, the
# seven identities, error
_LINE = "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n"


class CsvFormatter:
    """``text(rows)``: the CSV lines of row tuples (no header)."""

    def __init__(self):
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self._link = {}
        self._operation = {}

    def _csv_line(self, fields):
        buffer = self._buffer
        buffer.seek(0)
        buffer.truncate()
        self._writer.writerow(fields)
        return buffer.getvalue()

    def _group(self, cache, fields):
        """Text of a column group, or None when it holds a quoted field."""
        text = self._csv_line(fields)[:-1]
        if text.count(",") != len(fields) - 1 or '"' in text or "\r" in text or "\n" in text:
            text = None
        if len(cache) >= _GROUP_CACHE_MAX:
            cache.clear()
        cache[fields] = text
        return text

    def text(self, rows):
        link_cache, op_cache = self._link, self._operation
        group = self._group
        lines = []
        append = lines.append
        last_stamp = None
        last_text = ""
        for row in rows:
            if len(row) != _ROW_COMMAS + 1:
                append(self._csv_line(row))
                continue
            key = row[_LINK]
            link = link_cache.get(key)
            if link is None:
                link = group(link_cache, key)
            key = row[_OPERATION]
            operation = op_cache.get(key)
            if operation is None:
                operation = group(op_cache, key)
            if link is None or operation is None:
                append(self._csv_line(row))
                continue
            (frame, chunk, stamp, tcap_type, otid, dtid, imsi, msisdn, msc, vlr, hlr,
             sgsn, smsc, error) = (row[0], row[1], row[2], row[25], row[26], row[27],
                                   row[34], row[35], row[36], row[37], row[38],
                                   row[39], row[40], row[41])
            # messages of one frame share its time stamp; its repr is costly
            if stamp != last_stamp or stamp.__class__ is not last_stamp.__class__:
                last_stamp = stamp
                last_text = "" if stamp is None else str(stamp)
            line = _LINE % (
                "" if frame is None else frame, "" if chunk is None else chunk, last_text,
                link, "" if tcap_type is None else tcap_type,
                "" if otid is None else otid, "" if dtid is None else dtid, operation,
                "" if imsi is None else imsi, "" if msisdn is None else msisdn,
                "" if msc is None else msc, "" if vlr is None else vlr,
                "" if hlr is None else hlr, "" if sgsn is None else sgsn,
                "" if smsc is None else smsc, "" if error is None else error)
            if (line.count(",") != _ROW_COMMAS or '"' in line or "\r" in line
                    or line.find("\n") != len(line) - 1):
                line = self._csv_line(row)
            append(line)
        return "".join(lines)


class MsgpackFormatter:
    """``text(rows)``: the msgpack arrays of row tuples, concatenated."""

    def __init__(self):
        self._pack = msgpack.Packer(use_bin_type=True).pack

    def text(self, rows):
        pack = self._pack
        return b"".join([pack(row) for row in rows])


def formatter(fmt):
    """The row formatter for ``fmt`` (``"csv"`` or ``"msgpack"``)."""
    return MsgpackFormatter() if fmt == "msgpack" else CsvFormatter()
