"""``ss7tools parse --jobs N``: decoding and formatting in worker processes.

The parent reads the capture (frames, IP, SCTP reassembly: all the ordered
state) and sends batches of messages to N workers, which decode them and
return the formatted CSV text or msgpack bytes.  At most ``2 * N`` batches
are in flight, so memory stays flat.  Results are written in capture
order; segmented SCCP messages come back undecoded and are decoded by the
parent, the only place that sees all their segments in order.  The output
is byte-for-byte that of the serial path.
"""

import multiprocessing
import signal
from collections import deque

import msgpack

from .io import MSGPACK_FORMAT
from .rowformat import formatter
from .rows import COLUMNS, Deferred, MessageDecoder, guarded_rows, iter_messages
from .stats import ParseStats

BATCH = 2000

_worker = {}


def _init(fmt):
    # A parent running a Twisted reactor has its own SIGTERM/SIGINT
    # handlers; a worker keeping them would ignore Pool.terminate().
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _worker["encode"] = formatter(fmt).text


def _decode_batch(batch):
    stats = ParseStats()
    decode = MessageDecoder(stats, defer_segments=True).rows
    encode = _worker["encode"]
    pieces = []
    rows = []
    for msg in batch:
        try:
            rows.extend(guarded_rows(decode, msg, stats))
        except Deferred:
            if rows:
                pieces.append(encode(rows))
                stats.rows += len(rows)
                rows = []
            pieces.append(msg)
    if rows:
        pieces.append(encode(rows))
        stats.rows += len(rows)
    return pieces, stats.rows, stats.undecodable, stats.counters


def write_parallel(in_path, out_path, fmt, jobs, stats, on_rows=None):
    """Parse ``in_path`` into ``out_path`` with ``jobs`` workers; return rows written."""
    encode = formatter(fmt).text
    decode = MessageDecoder(stats).rows
    # forkserver: workers start from a clean single-threaded process, not
    # from a parent that may hold threads and locks (a reactor, a store).
    ctx = multiprocessing.get_context("forkserver")
    written = 0
    mode = "wb" if fmt == "msgpack" else "w"
    with open(out_path, mode, **({} if fmt == "msgpack" else {"newline": ""})) as out, \
            ctx.Pool(jobs, initializer=_init, initargs=(fmt,)) as pool:
        if fmt == "msgpack":
            out.write(msgpack.packb({"format": MSGPACK_FORMAT, "version": 1,
                                     "columns": list(COLUMNS)}, use_bin_type=True))
        else:
            out.write(",".join(COLUMNS) + "\n")

        def drain(result):
            nonlocal written
            pieces, rows, undecodable, counters = result.get()
            for piece in pieces:
                if isinstance(piece, tuple):
                    decoded = guarded_rows(decode, piece, stats)
                    out.write(encode(decoded))
                    rows += len(decoded)
                else:
                    out.write(piece)
            for table, delta in ((stats.undecodable, undecodable), (stats.counters, counters)):
                for key, value in delta.items():
                    table[key] = table.get(key, 0) + value
            stats.rows += rows
            written += rows
            if on_rows is not None:
                on_rows(rows)

        pending = deque()
        batch = []
        for msg in iter_messages(in_path, stats):
            batch.append(tuple(msg[:10]))
            if len(batch) >= BATCH:
                pending.append(pool.apply_async(_decode_batch, (batch,)))
                batch = []
                while len(pending) > 2 * jobs:
                    drain(pending.popleft())
        if batch:
            pending.append(pool.apply_async(_decode_batch, (batch,)))
        while pending:
            drain(pending.popleft())
    return written
