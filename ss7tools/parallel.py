"""``ss7tools parse --jobs N``: decoding and a function of the decoded
messages (formatting rows; later detection) in worker processes.

The parent reads the capture (frames, IP, SCTP reassembly: all the ordered
state) and sends batches of messages to N workers, which decode them into
:class:`~ss7tools.model.Ss7Message` objects and run a *task* on them: a
function of a list of messages, made in each worker by ``task(stats)``, whose
results (text, bytes, anything picklable) come back to the parent in
capture order.  Segmented SCCP messages come back undecoded; the parent,
the only place that sees all their segments in order, decodes them and runs
its own ``task(stats)`` on them.  So a task's results, and what it and the
decoders count (``rows``, ``undecodable``, ``counters``), are those of the
serial path.

What crosses a process boundary is kept cheap: a batch is one pickled tuple
of columns (the address strings shared, the payloads as bytes), a result
the task's value.  The workers are plain processes on pipes: no pool
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

from .capture import DECODED_FIELDS, iter_messages
from .decoder import Deferred, MessageDecoder, failed_message, guarded_decode
from .errors import ParallelError
from .stats import ParseStats

# messages per batch: WINDOW batches of messages of usual size (200 octets)
# fit a pipe; larger ones leave fewer in flight (see _Workers.submit)
BATCH = 1500
PIPE_SIZE = 1024 * 1024
# batches in flight per worker: while the parent waits for the oldest result,
# the other workers still have work queued
WINDOW = 3
START_METHOD = None      # "fork" or "forkserver"; None: see _context


def _worker_main(tasks, results, task, chunk, parent_ends):
    # A parent running a Twisted reactor has its own SIGTERM/SIGINT
    # handlers; a worker keeping them would not end when terminated.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    # the parent's ends of the pipes (a forked worker has them all): closed,
    # so that a worker sees the end of its tasks when the parent goes away
    for connection in parent_ends:
        connection.close()
    # one decoder and one task function for all batches: their caches
    # (routing labels, CSV text of repeated columns) carry over
    stats = ParseStats()
    decode = MessageDecoder(stats, defer_segments=True).decode
    run = task(stats)
    while True:
        try:
            data = tasks.recv_bytes()
        except EOFError:  # the parent went away
            return
        if not data:
            return
        try:
            reply = _run_batch(pickle.loads(data), decode, run, stats, chunk)
        except Exception as exc:  # reported to the parent, which stops the run
            reply = ("error", "%s: %s" % (type(exc).__name__, exc))
        try:
            results.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
        except BrokenPipeError:
            return


def _run_batch(columns, decode, run, stats, chunk):
    """``(pieces, rows, undecodable, counters)`` of one batch: ``pieces`` the
    task's results and the deferred messages, as ``(deferred, value)`` in
    capture order; the rest what the decoder and the task counted in
    ``stats`` for this batch."""
    stats.rows, stats.undecodable, stats.counters = 0, {}, {}
    pieces = []
    decoded = []
    append = decoded.append
    for msg in zip(*columns):
        try:
            append(decode(msg))
        except Deferred:
            if decoded:
                pieces.append((False, run(decoded)))
                decoded = []
                append = decoded.append
            pieces.append((True, msg))
            continue
        except Exception as exc:  # a decoder bug must not end the run
            append(failed_message(msg, exc, stats))
        if len(decoded) >= chunk:
            pieces.append((False, run(decoded)))
            decoded = []
            append = decoded.append
    if decoded:
        pieces.append((False, run(decoded)))
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

    def __init__(self, jobs, task, chunk, on_result):
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
                               args=(task_read, result_write, task, chunk, parent_ends),
                               daemon=True)
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


def map_in_workers(in_path, jobs, stats, task, on_result, chunk):
    """Decode the messages of ``in_path`` in ``jobs`` worker processes and run
    ``task(stats)`` on lists of up to ``chunk`` of them there;
    ``on_result(value)`` gets its results in capture order, ``stats`` the
    counts (the reader's, the decoders' and the task's).  See
    :func:`ss7tools.pipeline.map_messages`."""
    decode = MessageDecoder(stats).decode
    run = task(stats)

    def merge(pieces, rows, undecodable, counters):
        for table, delta in ((stats.undecodable, undecodable), (stats.counters, counters)):
            for key, count in delta.items():
                table[key] = table.get(key, 0) + count
        stats.rows += rows
        for deferred, value in pieces:
            if deferred:
                value = run([guarded_decode(decode, value, stats)])
            on_result(value)

    workers = _Workers(jobs, task, chunk, merge)
    try:
        batch = []
        append = batch.append
        for msg in iter_messages(in_path, stats):
            append(msg)
            if len(batch) >= BATCH:
                # one tuple per column: the message fields the decoder reads
                workers.submit(tuple(zip(*batch))[:DECODED_FIELDS])
                batch = []
                append = batch.append
        if batch:
            workers.submit(tuple(zip(*batch))[:DECODED_FIELDS])
        workers.finish()
    except BaseException:
        workers.close(wait=False)
        raise
    workers.close()

