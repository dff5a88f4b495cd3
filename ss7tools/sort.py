"""``ss7tools sort IN.csv|IN.msgpack --by COLUMN -o OUT``: stable sort of
parse output by a column, then time_stamp, with ``time_diff`` (seconds
since the previous row with the same value of the column, -1 for the first).

Ten million rows must fit in 24 GB: rows are read in batches and every
column gets a compact dtype (nullable small integers for numbers,
categoricals for strings) before the batches are joined.
"""

import os
import sys

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from ss7tools.errors import SortError

BATCH_ROWS = 500000

# Columns of the parse output holding integers; everything else but
# time_stamp is text.
INTEGER_COLUMNS = (
    "frame", "chunk", "src_port", "dst_port", "sctp_stream", "ppid", "opc",
    "dpc", "si", "ni", "sls", "network_appearance", "routing_context",
    "called_ssn", "called_pc", "calling_ssn", "calling_pc", "invoke_id",
    "op_code", "error_code", "tp_pid", "tp_dcs")
FLOAT_COLUMNS = ("time_stamp", "time_diff")
TIME_DIFF = "time_diff"


def _compact_integers(series):
    numbers = pd.to_numeric(series, errors="coerce")
    if numbers.isna().all():
        return numbers.astype("UInt8")
    if (numbers.dropna() % 1 != 0).any():
        return numbers.astype("float64")
    low, high = numbers.min(), numbers.max()
    for dtype, lo, hi in (("UInt8", 0, 2 ** 8 - 1), ("UInt16", 0, 2 ** 16 - 1),
                          ("UInt32", 0, 2 ** 32 - 1), ("Int64", -2 ** 63,
                                                       2 ** 63 - 1)):
        if lo <= low and high <= hi:
            return numbers.astype(dtype)
    return numbers.astype("float64")


def _text_category(column):
    """Categorical of strings; empty strings and None become missing."""
    cat = pd.Categorical(column)
    categories = cat.categories
    if len(categories) and not all(isinstance(v, str) for v in categories):
        cat = pd.Categorical(column.map(lambda v: None if v is None or v != v
                                        else str(v)))
        categories = cat.categories
    if "" in categories:
        cat = cat.remove_categories([""])
    return cat


def compact(frame):
    """Same data, compact dtypes."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        if name in FLOAT_COLUMNS:
            out[name] = pd.to_numeric(column, errors="coerce").astype("float64")
        elif name in INTEGER_COLUMNS:
            out[name] = _compact_integers(column)
        else:
            out[name] = _text_category(column)
    return pd.DataFrame(out, index=frame.index)


def _join(batches):
    """Concatenate compacted batches keeping categoricals (pandas would fall
    back to object for differing categories)."""
    if not batches:
        return pd.DataFrame()
    if len(batches) == 1:
        return batches[0].reset_index(drop=True)
    columns = {}
    for name in batches[0].columns:
        parts = [batch[name] for batch in batches]
        if isinstance(parts[0].dtype, pd.CategoricalDtype):
            columns[name] = union_categoricals(
                [pd.Categorical(p) for p in parts], ignore_order=True)
        else:
            dtypes = {p.dtype for p in parts}
            joined = pd.concat(parts, ignore_index=True)
            if len(dtypes) > 1 and name in INTEGER_COLUMNS:
                joined = _compact_integers(joined)
            columns[name] = joined.reset_index(drop=True)
    return pd.DataFrame(columns)


def _csv_batches(path):
    reader = pd.read_csv(path, dtype=str, keep_default_na=False,
                         na_values=[""], chunksize=BATCH_ROWS)
    for chunk in reader:
        yield compact(chunk)


def _msgpack_batches(path):
    from ss7tools import io as ss7io
    rows, columns = [], None
    for row in ss7io.read_rows(path):
        if isinstance(row, dict):
            columns = columns or list(row)
            row = [row.get(name) for name in columns]
        rows.append(row)
        if len(rows) >= BATCH_ROWS:
            yield compact(pd.DataFrame(rows, columns=columns or _columns()))
            rows = []
    if rows or columns is None:
        yield compact(pd.DataFrame(rows, columns=columns or _columns()))


def _columns():
    from ss7tools.rows import COLUMNS
    return list(COLUMNS)


def is_msgpack(path):
    return os.path.splitext(path)[1].lower() in (".msgpack", ".mpk", ".msgp")


def load(path):
    """The rows of a parse output file as a compact DataFrame."""
    batches = _msgpack_batches(path) if is_msgpack(path) else _csv_batches(path)
    return _join(list(batches))


def sort_rows(frame, by):
    """Stable sort by ``by`` then time_stamp; adds ``time_diff``."""
    if by not in frame.columns:
        raise SortError("no column %r (columns: %s)" % (by, ", ".join(frame.columns)))
    if "time_stamp" not in frame.columns:
        raise SortError("input has no time_stamp column")
    keys = [by] if by == "time_stamp" else [by, "time_stamp"]
    key = frame[by]
    if isinstance(key.dtype, pd.CategoricalDtype):
        # order categories by value so the sort is by value, not by first seen
        frame[by] = key.cat.reorder_categories(sorted(key.cat.categories),
                                              ordered=True)
    ordered = frame.sort_values(keys, kind="stable", na_position="last",
                                ignore_index=True)
    if isinstance(ordered[by].dtype, pd.CategoricalDtype):
        ordered[by] = ordered[by].cat.as_unordered()
    codes = _group_codes(ordered[by])
    same = np.empty(len(codes), dtype=bool)
    if len(codes):
        same[0] = False
        same[1:] = codes[1:] == codes[:-1]
    stamps = ordered["time_stamp"].to_numpy(dtype="float64", na_value=np.nan)
    diff = np.empty(len(stamps))
    if len(stamps):
        diff[0] = -1.0
        diff[1:] = stamps[1:] - stamps[:-1]
    ordered[TIME_DIFF] = np.where(same, diff, -1.0)
    return ordered


def _group_codes(series):
    """Integer per distinct value, with empty values one group of their own."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy()
    codes, _uniques = pd.factorize(series, use_na_sentinel=True)
    return codes


def _plain_rows(frame):
    """Row tuples of Python values (None where missing), batch by batch."""
    for start in range(0, len(frame), BATCH_ROWS):
        part = frame.iloc[start:start + BATCH_ROWS]
        columns = []
        for name in part.columns:
            values = part[name].astype(object)
            columns.append(values.where(part[name].notna(), None).tolist())
        yield from zip(*columns)


def save(frame, path):
    if is_msgpack(path):
        from ss7tools import io as ss7io
        ss7io.write_rows(path, _plain_rows(frame), fmt="msgpack",
                         columns=list(frame.columns))
    else:
        frame.to_csv(path, index=False, na_rep="")


def sort_file(in_path, by, out_path):
    frame = load(in_path)
    ordered = sort_rows(frame, by)
    save(ordered, out_path)
    return len(ordered)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "sort", help="sort parse output by a column and add time_diff",
        description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="CSV or msgpack written by ss7tools parse")
    parser.add_argument("--by", required=True, help="column to sort by")
    parser.add_argument("-o", "--output", required=True,
                        help="output file (.csv or .msgpack)")
    parser.set_defaults(func=run)
    return parser


def run(args):
    try:
        count = sort_file(args.input, args.by, args.output)
    except (SortError, OSError, ValueError) as exc:
        print("ss7tools sort: %s" % (exc,), file=sys.stderr)
        return 2
    print("sorted %d rows by %s into %s" % (count, args.by, args.output),
          file=sys.stderr)
    return 0
