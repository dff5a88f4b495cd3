"""Parsing as a pipeline: a capture's messages, decoded into
:class:`~ss7tools.model.Ss7Message` objects, go to a *task* in capture order.

A task is a picklable callable: ``task(stats)`` makes the function that
takes a list of decoded messages and returns what the caller collects
(:func:`~ss7tools.rows.format_task`: their rows as CSV text or msgpack
bytes; later detection's alerts), counting what it does in ``stats``.  The
same task runs in this process (``jobs`` 1) or in worker processes
(:mod:`ss7tools.parallel`), with the same results.
"""

from .decoder import decoded_batches
from .rowformat import file_header
from .rows import COLUMNS, format_task

# messages per call of the task: the decoded messages of a longer list stay
# alive together, and the garbage collector walks them over and over
CHUNK = 64


def map_messages(in_path, jobs, stats, task, on_result):
    """Decode the messages of ``in_path`` and run ``task(stats)`` on lists of
    them, in ``jobs`` worker processes (1: in this process);
    ``on_result(value)`` gets the results in capture order, ``stats`` the
    counts (the reader's, the decoder's and the task's)."""
    if jobs > 1:
        from .parallel import map_in_workers
        map_in_workers(in_path, jobs, stats, task, on_result, CHUNK)
        return
    run = task(stats)
    for batch in decoded_batches(in_path, stats, CHUNK):
        on_result(run(batch))


def write_rows_file(in_path, out_path, fmt, jobs, stats, on_rows=None):
    """Parse ``in_path`` into the ``fmt`` (``csv``/``msgpack``) rows file
    ``out_path`` with ``jobs`` processes; return the rows written.
    ``on_rows(count)`` follows progress."""
    rows_before = stats.rows
    binary = fmt == "msgpack"
    with open(out_path, "wb" if binary else "w", **({} if binary else {"newline": ""})) as out:
        out.write(file_header(fmt, COLUMNS))
        write = out.write
        if on_rows is not None:
            counted = [rows_before]

            def write(value):
                out.write(value)
                on_rows(stats.rows - counted[0])
                counted[0] = stats.rows
        map_messages(in_path, jobs, stats, format_task(fmt), write)
    return stats.rows - rows_before
