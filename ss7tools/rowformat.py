"""Row tuples to CSV text or msgpack bytes, the parse hot path's last step.

CSV: exactly the text ``csv.writer(lineterminator="\\n")`` writes.  The rows
of a capture repeat whole column groups (an association's link fields, a
peer pair's SCCP addresses, a dialogue's context and operation), so each
group's text is joined once and cached, and a line is its few own fields
and the groups' texts joined.  Where no field holds a quote, comma or line
break, that is the csv module's text; a row with such a field is written by
the csv module.  (The csv module's writer costs hundreds of machine
instructions per character, so the long group texts do not go through it.)

Cached groups are looked up by value: a column must keep one type (as the
decoder's rows do), since ``1``, ``1.0`` and ``True`` are equal keys.
"""

import csv
import io

import msgpack

MSGPACK_FORMAT = "ss7tools-rows"

# column groups of rows.COLUMNS whose values repeat from message to message
_LINK = slice(3, 25)        # src_ip .. routing_context, sccp_type .. calling_pc
_OPERATION = slice(28, 34)  # app_context .. error_code
_CACHE_MAX = 16384
_COLUMNS = 44
_NUMBERS = [str(n) for n in range(256)]  # chunk indexes, mostly


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
        """Text of a column group, or None when it holds a field that the csv
        module would quote (then the fields joined are not its text)."""
        text = ",".join(["" if value is None else str(value) for value in fields])
        if text.count(",") != len(fields) - 1 or '"' in text or "\r" in text or "\n" in text:
            text = None
        _remember(cache, fields, text)
        return text

    def text(self, rows):
        """The rows' CSV text.

        A line is its fields joined, the groups' texts cached; when the
        batch's text shows a quote, a carriage return, or a comma or line
        feed beyond the separators, the lines that hold one are written
        again by the csv module.  A field that is not a string (or None)
        where a row has its strings, a row that is not a tuple or a value
        that cannot be hashed sends the batch to the csv module.
        """
        link_cache, op_cache = self._link, self._operation
        group = self._group
        numbers = _NUMBERS
        lines = []
        append = lines.append
        regular = True  # every row of 44 columns
        last_frame = last_stamp = None
        head = ""
        try:
            for row in rows:
                if len(row) != _COLUMNS:
                    regular = False
                    append(None)
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
                    append(None)
                    continue
                frame, chunk, stamp = row[0], row[1], row[2]
                # the messages of a frame share its number and time stamp (whose
                # repr is costly)
                if (frame != last_frame or stamp != last_stamp
                        or frame.__class__ is not last_frame.__class__
                        or stamp.__class__ is not last_stamp.__class__):
                    last_frame, last_stamp = frame, stamp
                    head = "%s,%%s,%s" % (("" if frame is None else str(frame)).replace("%", "%%"),
                                          ("" if stamp is None else str(stamp)).replace("%", "%%"))
                (tcap_type, otid, dtid, imsi, msisdn, msc, vlr, hlr, sgsn, smsc,
                 tp_pid, tp_dcs, error) = row[25], row[26], row[27], row[34], row[35], \
                    row[36], row[37], row[38], row[39], row[40], row[41], row[42], row[43]
                append((head % (numbers[chunk] if chunk.__class__ is int and 0 <= chunk < 256
                                else "" if chunk is None else chunk),
                        link, "" if tcap_type is None else tcap_type,
                        "" if otid is None else otid, "" if dtid is None else dtid, operation,
                        "" if imsi is None else imsi, "" if msisdn is None else msisdn,
                        "" if msc is None else msc, "" if vlr is None else vlr,
                        "" if hlr is None else hlr, "" if sgsn is None else sgsn,
                        "" if smsc is None else smsc,
                        "" if tp_pid is None else numbers[tp_pid]
                        if tp_pid.__class__ is int and 0 <= tp_pid < 256 else str(tp_pid),
                        "" if tp_dcs is None else numbers[tp_dcs]
                        if tp_dcs.__class__ is int and 0 <= tp_dcs < 256 else str(tp_dcs),
                        "" if error is None else error))
        except TypeError:  # a list for a row, or an unhashable value
            return "".join([self._csv_line(row) for row in rows])
        try:
            lines = [None if fields is None else ",".join(fields) for fields in lines]
        except TypeError:  # a field of another type: the csv module says how it looks
            return "".join([self._csv_line(row) for row in rows])
        if regular and None not in lines:
            text = "\n".join(lines) + "\n" if lines else ""
            count = len(lines)
            if (text.count(",") == (_COLUMNS - 1) * count and text.count("\n") == count
                    and '"' not in text and "\r" not in text):
                return text
        return "".join([line + "\n" if line is not None and _plain(line + "\n")
                        else self._csv_line(row) for row, line in zip(rows, lines)])


def _plain(line):
    """Whether ``line`` is 44 unquoted fields whose text needs no quoting."""
    return (line.count(",") == _COLUMNS - 1 and line.find("\n") == len(line) - 1
            and '"' not in line and "\r" not in line)


def _remember(cache, key, value):
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = value


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


def file_header(fmt, columns):
    """What starts a rows file: the CSV header line, or the msgpack header map
    ``{"format": "ss7tools-rows", "version": 1, "columns": [...]}``."""
    if fmt == "msgpack":
        return msgpack.packb({"format": MSGPACK_FORMAT, "version": 1, "columns": list(columns)},
                             use_bin_type=True)
    return ",".join(columns) + "\n"

