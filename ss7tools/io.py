"""Writing rows to CSV or msgpack, and reading them back.

CSV: a header line with :data:`~ss7tools.rows.COLUMNS`, absent values as
empty fields, integers as integers; exactly what ``DataFrame.to_csv`` writes
for the same rows (object columns, ``index=False``).  The default engine is
:class:`~ss7tools.rowformat.CsvFormatter` (the csv module's text, with the
column groups that repeat cached), fed in batches; ``engine="pandas"``
writes through pandas.

msgpack: a stream of objects: first a header map
``{"format": "ss7tools-rows", "version": 1, "columns": [...]}``, then one
array per row aligned with those columns.  :func:`read_rows` yields dicts
from either file; :func:`read_frame` gives a pandas DataFrame.
"""

import csv

import msgpack

from .errors import RowFormatError
from .rowformat import MSGPACK_FORMAT, CsvFormatter, MsgpackFormatter, file_header
from .rows import COLUMNS
BATCH_ROWS = 20000


def format_for(path, fmt=None):
    if fmt:
        return fmt
    lower = str(path).lower()
    if lower.endswith((".msgpack", ".mpk", ".msgp")):
        return "msgpack"
    return "csv"


def write_rows(path, rows, fmt=None, columns=COLUMNS, batch=BATCH_ROWS, engine="csv"):
    """Write an iterable of row tuples; return the number written."""
    if format_for(path, fmt) == "msgpack":
        return _write_msgpack(path, rows, columns)
    if engine == "pandas":
        return _write_csv_pandas(path, rows, columns, batch)
    return _write_csv(path, rows, columns, batch)


def _write_csv(path, rows, columns, batch):
    with open(path, "w", newline="") as out:
        csv.writer(out, lineterminator="\n").writerow(columns)
        return _write_batches(out, rows, CsvFormatter().text, batch)


def _write_batches(out, rows, text, batch):
    """Write ``rows`` to ``out`` as ``text(rows)`` gives them, ``batch`` at a
    time; return the number written."""
    count = 0
    pending = []
    append = pending.append
    for row in rows:
        append(row)
        if len(pending) >= batch:
            out.write(text(pending))
            count += len(pending)
            pending.clear()
    out.write(text(pending))
    return count + len(pending)


def _write_csv_pandas(path, rows, columns, batch):
    import pandas
    count = 0
    header = True
    pending = []
    with open(path, "w", newline="") as out:
        for row in rows:
            pending.append(row)
            if len(pending) >= batch:
                frame = pandas.DataFrame(pending, columns=columns, dtype=object)
                frame.to_csv(out, header=header, index=False)
                header = False
                count += len(pending)
                pending = []
        if pending or header:
            frame = pandas.DataFrame(pending, columns=columns, dtype=object)
            frame.to_csv(out, header=header, index=False)
            count += len(pending)
    return count


def _write_msgpack(path, rows, columns):
    with open(path, "wb") as out:
        out.write(msgpack_header(columns))
        return _write_batches(out, rows, MsgpackFormatter().text, 4096)


def msgpack_header(columns=COLUMNS):
    """The header object that starts a msgpack rows file."""
    return file_header("msgpack", columns)


def read_rows(path, fmt=None):
    """Yield each row as a dict (column -> value) from a CSV or msgpack file.

    CSV values come back as strings (empty string where absent), msgpack
    values with their types (None where absent).
    """
    if format_for(path, fmt) == "msgpack":
        with open(path, "rb") as handle:
            unpacker = msgpack.Unpacker(handle, raw=False, max_buffer_size=64 * 1024 * 1024)
            header = None
            for obj in unpacker:
                if header is None:
                    if not isinstance(obj, dict) or obj.get("format") != MSGPACK_FORMAT:
                        raise RowFormatError("%s: not an ss7tools msgpack rows file" % (path,))
                    header = obj["columns"]
                    continue
                yield dict(zip(header, obj))
    else:
        with open(path, newline="") as handle:
            yield from csv.DictReader(handle)


def read_frame(path, fmt=None):
    """Read a rows file as a pandas DataFrame (columns in file order)."""
    import pandas
    if format_for(path, fmt) == "msgpack":
        columns = None
        records = []
        with open(path, "rb") as handle:
            unpacker = msgpack.Unpacker(handle, raw=False, max_buffer_size=64 * 1024 * 1024)
            for obj in unpacker:
                if columns is None:
                    if not isinstance(obj, dict) or obj.get("format") != MSGPACK_FORMAT:
                        raise RowFormatError("%s: not an ss7tools msgpack rows file" % (path,))
                    columns = obj["columns"]
                    continue
                records.append(obj)
        return pandas.DataFrame.from_records(records, columns=columns or list(COLUMNS))
    return pandas.read_csv(path, dtype={"otid": str, "dtid": str, "called_gt": str,
                                         "calling_gt": str, "imsi": str, "msisdn": str,
                                         "msc": str, "vlr": str, "hlr": str, "sgsn": str,
                                         "smsc": str, "op_code": str, "app_context": str})
