"""``ss7tools parse --jobs N``: decoding and formatting in worker processes.

The parent reads the capture (frames, IP, SCTP reassembly: all the ordered
state) and sends batches of messages to N workers, which decode them and
return the formatted CSV text or msgpack bytes.  Results are written in
capture order; segmented SCCP messages come back undecoded and are decoded
by the parent, the only place that sees all their segments in order.  The
output is byte-for-byte that of the serial path.

What crosses a process boundary is kept cheap: a batch is one pickled tuple
of columns (the address strings shared, the payloads as bytes), a result
the formatted text.  The workers are plain processes on pipes: no pool
threads compete with the reader for the GIL.  Batch ``k`` goes to worker
``k % N``; each worker has at most :data:`WINDOW` batches in flight.  From
the command line the workers are forked (see :func:`_context`).
"""

import fcntl
import multiprocessing
import pickle
import signal
import threading
from collections import deque

from .io import msgpack_header
from .rowformat import formatter
from .rows import (COLUMNS, Deferred, MessageDecoder, error_rows, guarded_rows,
                   iter_messages)
from .stats import ParseStats

# messages per batch: WINDOW batches of messages of usual size (200 octets)
# fit a pipe; larger ones leave fewer in flight (see _Workers.submit)
BATCH = 1500
PIPE_SIZE = 1024 * 1024
# batches in flight per worker: while the parent waits for the oldest result,
# the other workers still have work queued
WINDOW = 3
START_METHOD = None      # "fork" or "forkserver"; None: see _context
_FIELDS = 10              # Message fields a worker needs: frame .. payload


class ParallelError(RuntimeError):
    """A worker process failed or went away."""


def _worker_main(tasks, results, fmt, parent_ends):
    # A parent running a Twisted reactor has its own SIGTERM/SIGINT
    # handlers; a worker keeping them would not end when terminated.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    # the parent's ends of the pipes (a forked worker has them all): closed,
    # so that a worker sees the end of its tasks when the parent goes away
    for connection in parent_ends:
        connection.close()
    encode = formatter(fmt).text
    while True:
        try:
            data = tasks.recv_bytes()
        except EOFError:  # the parent went away
            return
        if not data:
            return
        try:
            reply = _decode_batch(pickle.loads(data), encode)
        except Exception as exc:  # reported to the parent, which stops the run
            reply = ("error", "%s: %s" % (type(exc).__name__, exc))
        try:
            results.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
        except BrokenPipeError:
            return


def _decode_batch(columns, encode):
    stats = ParseStats()
    decode = MessageDecoder(stats, defer_segments=True).rows
    pieces = []
    rows = []
    extend = rows.extend
    for msg in zip(*columns):
        try:
            extend(decode(msg))
        except Deferred:
            if rows:
                pieces.append(encode(rows))
                stats.rows += len(rows)
                rows = []
                extend = rows.extend
            pieces.append(msg)
        except Exception as exc:  # a decoder bug must not end the run
            extend(error_rows(msg, exc, stats))
    if rows:
        pieces.append(encode(rows))
        stats.rows += len(rows)
    return pieces, stats.rows, stats.undecodable, stats.counters


def _pipe_capacity(connection):
    """Octets the pipe under ``connection`` holds, enlarged to PIPE_SIZE where
    the system allows; 0 when unknown (then only an idle worker is sent to)."""
    try:
        fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (AttributeError, OSError):  # not Linux, or above the system's limit
        pass
    try:
        return fcntl.fcntl(connection.fileno(), fcntl.F_GETPIPE_SZ)
    except (AttributeError, OSError):
        return 0


def _context():
    """The multiprocessing context the workers start from.

    fork where this process runs no other thread (the command line): the
    workers start at once, the decoders already imported.  Otherwise
    forkserver, so that workers start from a clean single-threaded process,
    not from a parent that may hold threads and locks (a reactor's thread
    pool, a store).  :data:`START_METHOD` overrides the choice.
    """
    method = START_METHOD
    if method is None:
        method = "fork" if threading.active_count() == 1 else "forkserver"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        # the forkserver imports the decoders once, not each worker
        ctx.set_forkserver_preload([__name__])
    return ctx


class _Workers:
    """N worker processes, fed batches round-robin; ``on_result`` gets their
    results in batch order.

    A batch is written to a worker only when it fits in the worker's pipe
    next to the batches it may not have read yet, or when the worker is
    idle: so the parent never waits on a write while the worker waits on
    the parent to read its result.
    """

    def __init__(self, jobs, fmt, on_result):
        ctx = _context()
        self._on_result = on_result
        self._procs = []
        self._tasks = []
        self._results = []
        self._pending = []  # per worker: sizes of the batches sent, results not read
        self._capacity = []
        for _ in range(jobs):
            task_read, task_write = ctx.Pipe(duplex=False)
            result_read, result_write = ctx.Pipe(duplex=False)
            self._capacity.append(_pipe_capacity(task_write))
            _pipe_capacity(result_write)
            parent_ends = self._tasks + self._results + [task_write, result_read]
            proc = ctx.Process(target=_worker_main,
                               args=(task_read, result_write, fmt, parent_ends), daemon=True)
            proc.start()
            task_read.close()
            result_write.close()
            self._procs.append(proc)
            self._tasks.append(task_write)
            self._results.append(result_read)
            self._pending.append(deque())
        self._sent = 0
        self._received = 0

    def submit(self, columns):
        data = pickle.dumps(columns, protocol=pickle.HIGHEST_PROTOCOL)
        worker = self._sent % len(self._procs)
        pending = self._pending[worker]
        size = len(data) + 16  # with the connection's length header
        while pending and (len(pending) >= WINDOW
                           or sum(pending) + size > self._capacity[worker]):
            self._receive()
        self._tasks[worker].send_bytes(data)
        pending.append(size)
        self._sent += 1

    def _receive(self):
        worker = self._received % len(self._procs)
        try:
            reply = pickle.loads(self._results[worker].recv_bytes())
        except EOFError:
            raise ParallelError("worker %d went away" % worker) from None
        self._pending[worker].popleft()
        self._received += 1
        if reply[0] == "error":
            raise ParallelError("worker %d: %s" % (worker, reply[1]))
        self._on_result(*reply)

    def finish(self):
        """Read every result still to come."""
        while self._received < self._sent:
            self._receive()

    def close(self, wait=True):
        for tasks in self._tasks:
            try:
                tasks.send_bytes(b"")
            except OSError:
                pass
            tasks.close()
        for proc in self._procs:
            if wait:
                proc.join(5)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        for results in self._results:
            results.close()


def write_parallel(in_path, out_path, fmt, jobs, stats, on_rows=None):
    """Parse ``in_path`` into ``out_path`` with ``jobs`` workers; return rows written."""
    encode = formatter(fmt).text
    decode = MessageDecoder(stats).rows
    written = 0
    mode = "wb" if fmt == "msgpack" else "w"
    batch_limit = BATCH
    with open(out_path, mode, **({} if fmt == "msgpack" else {"newline": ""})) as out:
        out.write(msgpack_header() if fmt == "msgpack" else ",".join(COLUMNS) + "\n")

        def write_result(pieces, rows, undecodable, counters):
            nonlocal written
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

        workers = _Workers(jobs, fmt, write_result)
        try:
            batch = []
            append = batch.append
            for msg in iter_messages(in_path, stats):
                append(msg)
                if len(batch) >= batch_limit:
                    # one tuple per column: the Message fields up to the payload
                    workers.submit(tuple(zip(*batch))[:_FIELDS])
                    batch = []
                    append = batch.append
            if batch:
                workers.submit(tuple(zip(*batch))[:_FIELDS])
            workers.finish()
        except BaseException:
            workers.close(wait=False)
            raise
        workers.close()
    return written
