"""The ``ss7tools`` command: ``parse`` here; ``split``, ``sort`` and
``flatten`` come from their modules' ``add_parser(subparsers)`` when present.

Each subcommand registers ``func`` (taking the parsed arguments, returning an
exit status) with ``set_defaults``.
"""

import argparse
import importlib
import os
import sys

from . import io as rowio
from .pcapio import CaptureError
from .pipeline import write_rows_file
from .stats import ParseStats


EXTENSION_MODULES = ("split", "sort", "flatten", "simulate", "replay.commands", "detect")
PROGRESS_EVERY = 2000


def default_jobs():
    """Worker processes for ``parse``: one per core beyond the reader, 2..4."""
    count = os.cpu_count() or 1
    return 1 if count < 2 else min(count, 4)


def _progress_callback(stream):
    """``(update, close)`` of a tqdm bar on ``stream`` if it is a terminal."""
    if not (hasattr(stream, "isatty") and stream.isatty()):
        return None, lambda: None
    from tqdm import tqdm
    bar = tqdm(unit=" rows", file=stream, mininterval=0.5, unit_scale=True)
    return bar.update, bar.close


def _progress(rows, stream):
    """``rows`` (an iterable, e.g. :func:`ss7tools.rows.iter_rows`) counted by
    the bar of :func:`_progress_callback`; ``parse`` itself counts its
    output with the callback."""
    update, close = _progress_callback(stream)
    if update is None:
        return rows

    def counted():
        pending = 0
        try:
            for row in rows:
                yield row
                pending += 1
                if pending >= PROGRESS_EVERY:
                    update(pending)
                    pending = 0
        finally:
            update(pending)
            close()
    return counted()


def run_parse(args, stderr=None):
    stderr = stderr if stderr is not None else sys.stderr
    stats = ParseStats()
    jobs = args.jobs if args.jobs is not None else default_jobs()
    fmt = rowio.format_for(args.output, args.format)
    try:
        update, close = _progress_callback(stderr)
        try:
            write_rows_file(args.input, args.output, fmt, jobs, stats, on_rows=update)
        finally:
            close()
    except (OSError, CaptureError) as exc:
        stderr.write("ss7tools parse: %s\n" % (exc,))
        if stats.frames:
            stderr.write(stats.summary() + "\n")
        return 2
    if not args.quiet:
        stderr.write(stats.summary() + "\n")
    return 0


def add_parse_parser(subparsers):
    parser = subparsers.add_parser(
        "parse", help="decode a SIGTRAN capture into one row per SS7 message",
        description="Decode pcap/pcapng (M3UA or M2PA over SCTP) down to GSM MAP "
                    "and write one row per SS7 message (per TCAP component).")
    parser.add_argument("input", help="capture file (pcap or pcapng)")
    parser.add_argument("-o", "--output", required=True,
                        help="output file: .csv or .msgpack")
    parser.add_argument("--format", choices=("csv", "msgpack"),
                        help="output format (default: from the output file name)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no summary on stderr")
    parser.add_argument("-j", "--jobs", type=int, default=None,
                        help="decoding processes (default: one per core, 2 to 4; "
                             "1 decodes in this process); the output is the same")
    parser.set_defaults(func=run_parse)
    return parser


def build_parser(extensions=EXTENSION_MODULES):
    """The argument parser; ``extensions`` names the subcommand modules to load."""
    parser = argparse.ArgumentParser(
        prog="ss7tools", description="SS7-over-IP (SIGTRAN) capture tools")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_parse_parser(subparsers)
    for name in extensions:
        try:
            module = importlib.import_module("ss7tools." + name)
        except ModuleNotFoundError as exc:
            if exc.name != "ss7tools." + name:
                raise
            continue
        add = getattr(module, "add_parser", None)
        if add is not None:
            add(subparsers)
    return parser


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    # `parse` needs none of the other subcommands' modules (and their heavy
    # imports): keep its start-up short, it is what gets timed
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(() if first == "parse" else EXTENSION_MODULES)
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    return args.func(args)
