"""Messages for detection from a capture or a rows file, and labels.

Detection reads the parser's rows (:data:`ss7tools.rows.COLUMNS`): a
capture (pcap/pcapng) is parsed on the way, a msgpack rows file is read as
written, a CSV rows file has its numbers turned back into integers.  The
rows of one SS7 message (same frame and chunk) are grouped into a list:
one message, one verdict.
"""

import csv

import msgpack

from ..errors import DetectError, RowFormatError
from ..rowformat import MSGPACK_FORMAT
from ..rows import COLUMNS, iter_rows
from ..sort import INTEGER_COLUMNS

_CAPTURE_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                   b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a")
_INTEGER_INDEXES = tuple(i for i, name in enumerate(COLUMNS)
                         if name in INTEGER_COLUMNS and name != "op_code")
_OP_CODE = COLUMNS.index("op_code")
_TIME = COLUMNS.index("time_stamp")
_FRAME, _CHUNK = COLUMNS.index("frame"), COLUMNS.index("chunk")


def kind_of(path):
    """``capture``, ``msgpack`` or ``csv``: by the file's first octets."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise DetectError("%s: cannot read: %s" % (path, exc.strerror or exc))
    if head in _CAPTURE_MAGICS:
        return "capture"
    if head[:1] in (b"\x81", b"\x82", b"\x83", b"\xde", b"\xdf") and b"format" in _peek(path):
        return "msgpack"
    return "csv"


def _peek(path):
    with open(path, "rb") as f:
        return f.read(64)


def iter_file_rows(path, stats=None):
    """Row tuples aligned with COLUMNS from a capture, msgpack or CSV file."""
    kind = kind_of(path)
    if kind == "capture":
        return iter_rows(path, stats)
    if kind == "msgpack":
        return _msgpack_rows(path)
    return _csv_rows(path)


def iter_file_messages(path, stats=None):
    """The messages (lists of rows, see :func:`messages`) of a capture,
    msgpack or CSV file; a msgpack file in the parser's column order is
    read and grouped in one loop (the offline detector's hot path)."""
    if kind_of(path) == "msgpack":
        return _msgpack_messages(path)
    return messages(iter_file_rows(path, stats))


def _msgpack_messages(path):
    with open(path, "rb") as handle:
        unpacker = msgpack.Unpacker(handle, raw=False, max_buffer_size=64 * 1024 * 1024,
                                    use_list=False, read_size=1 << 20)
        try:
            header = next(unpacker)
        except StopIteration:
            return
        if not isinstance(header, dict) or header.get("format") != MSGPACK_FORMAT:
            raise RowFormatError("%s: not an ss7tools msgpack rows file" % (path,))
        if tuple(header.get("columns") or ()) != COLUMNS:
            yield from messages(_msgpack_rows(path))
            return
        width = len(COLUMNS)
        group = None
        frame = chunk = None
        for row in unpacker:
            if row.__class__ is not tuple or len(row) != width:
                raise RowFormatError("%s: a row does not have %d columns" % (path, width))
            if row[_FRAME] == frame and row[_CHUNK] == chunk and group is not None:
                group.append(row)
            else:
                if group is not None:
                    yield group
                group = [row]
                frame, chunk = row[_FRAME], row[_CHUNK]
        if group is not None:
            yield group


def _msgpack_rows(path):
    with open(path, "rb") as handle:
        unpacker = msgpack.Unpacker(handle, raw=False, max_buffer_size=64 * 1024 * 1024,
                                    use_list=False)
        try:
            header = next(unpacker)
        except StopIteration:
            return
        if not isinstance(header, dict) or header.get("format") != MSGPACK_FORMAT:
            raise RowFormatError("%s: not an ss7tools msgpack rows file" % (path,))
        columns = tuple(header.get("columns") or ())
        if columns == COLUMNS:
            for row in unpacker:
                if row.__class__ is not tuple or len(row) != len(COLUMNS):
                    raise RowFormatError("%s: a row does not have %d columns"
                                         % (path, len(COLUMNS)))
                yield row
            return
        missing = [c for c in ("frame", "chunk", "time_stamp") if c not in columns]
        if missing:
            raise RowFormatError("%s: no %s column" % (path, missing[0]))
        positions = [columns.index(c) if c in columns else None for c in COLUMNS]
        for row in unpacker:
            yield tuple(row[p] if p is not None and p < len(row) else None for p in positions)


def _csv_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        if "frame" not in header or "time_stamp" not in header:
            raise RowFormatError("%s: not an ss7tools rows file (no frame and time_stamp "
                                 "columns)" % (path,))
        positions = [header.index(c) if c in header else None for c in COLUMNS]
        width = len(header)
        for line, fields in enumerate(reader, 2):
            if len(fields) != width:
                raise RowFormatError("%s:%d: %d fields, the header has %d"
                                     % (path, line, len(fields), width))
            row = [fields[p] if p is not None and fields[p] != "" else None for p in positions]
            try:
                for i in _INTEGER_INDEXES:
                    if row[i] is not None:
                        row[i] = int(row[i])
                if row[_TIME] is not None:
                    row[_TIME] = float(row[_TIME])
            except ValueError as exc:
                raise RowFormatError("%s:%d: %s" % (path, line, exc))
            code = row[_OP_CODE]
            if code is not None and code.isdigit():
                row[_OP_CODE] = int(code)
            yield tuple(row)


def messages(rows):
    """Lists of the rows of each message (consecutive rows with the same
    frame and chunk)."""
    group = None
    key = None
    for row in rows:
        k = (row[_FRAME], row[_CHUNK])
        if k != key:
            if group is not None:
                yield group
            group = [row]
            key = k
        else:
            group.append(row)
    if group is not None:
        yield group


def read_labels(path):
    """``{(frame, chunk): label row dict}`` from a simulator labels CSV."""
    labels = {}
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"frame", "chunk", "label"} <= set(reader.fieldnames):
                raise DetectError("%s: not a labels file (frame, chunk and label columns)"
                                  % path)
            for line, entry in enumerate(reader, 2):
                try:
                    labels[(int(entry["frame"]), int(entry["chunk"]))] = entry
                except (TypeError, ValueError):
                    raise DetectError("%s:%d: frame and chunk must be numbers" % (path, line))
    except OSError as exc:
        raise DetectError("%s: cannot read: %s" % (path, exc.strerror or exc))
    return labels


def labels_path_for(capture):
    """The labels file ``ss7tools simulate`` writes beside ``capture``."""
    base = capture[:-5] if capture.endswith(".pcap") else capture
    for suffix in (".msgpack", ".csv"):
        if base.endswith(suffix) and not base.endswith(".labels.csv"):
            base = base[:-len(suffix)]
    return base + ".labels.csv"
