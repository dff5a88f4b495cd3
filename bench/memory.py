"""Peak memory of ``ss7tools parse`` and ``ss7tools sort`` as the input grows.

Issue 4 asks that parse memory stays flat on a capture of ten million
messages and that sort fits ten million rows in the 24 GB machine.  This
script builds inputs of increasing size on disk (streaming: never holding
the big file in memory), runs the commands as subprocesses and prints, per
run, the size, seconds and peak resident memory.  It asserts nothing.

Captures: one small capture is generated with
``ss7tools.encode.write_bench_capture`` (``--base`` messages, 4 SCTP
associations, 2 M3UA DATA per packet), then its pcap records are copied
as many times as needed with shifted timestamps.  Each copy XORs a copy
number into the high bits of every DATA chunk's TSN, so the parser sees
one long-running association per link with new TSNs (not retransmissions
it would skip), and the CRC32c is updated by linearity instead of being
recomputed, so the file stays valid SCTP at a few microseconds a packet.

Rows for sort: the base capture's parse output repeated with ``frame`` and
``time_stamp`` shifted and ``imsi``/``msisdn`` changed per copy (so there
are many distinct subscribers, as in a real capture), written as msgpack
(or CSV with ``--sort-format csv``).

Peak memory: the parse or sort process's peak from ``wait4`` (exact; it
covers the decoding workers too, which the command line forks as its
children); the script also samples ``/proc`` every 0.1 s for the largest
worker's peak (VmHWM) and the peak sum of the tree's current RSS (shared
pages counted once per process), which also sees workers started from a
forkserver.

    .venv/bin/python bench/memory.py                  # parse 200k, 1M; sort 1M rows
    .venv/bin/python bench/memory.py --full           # parse 200k, 1M, 10M; sort 10M rows
    .venv/bin/python bench/memory.py --sizes 50000,200000 --sort-rows 200000
    .venv/bin/python bench/memory.py --skip-parse --sort-rows 500000,1000000 --by imsi,calling_gt

Disk: about 175 bytes per message for a capture and 200 per row for a
msgpack rows file (10M: ~1.7 GB capture, ~1.9 GB per rows file; the
sort step holds its input and output at once).  Files go to a temporary
directory under ``--tmp`` (default bench/out/) that is removed at the end,
or to ``--keep DIR``, which is kept.
"""

import argparse
import csv
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

OUT = os.path.join(ROOT, "bench", "out")
DEFAULT_SIZES = (200000, 1000000)
FULL_SIZES = (200000, 1000000, 10000000)
BASE_MESSAGES = 20000
STEP_US = 100          # write_bench_capture's clock step
_RECORD = struct.Struct("<IIII")
_TSN = struct.Struct("!I")


# --------------------------------------------------------------- captures

def write_base_capture(path, messages=BASE_MESSAGES):
    """A small generated capture (pycrate-encoded dialogues, up to 2,000
    distinct ones)."""
    from ss7tools.encode import write_bench_capture
    return write_bench_capture(path, messages=messages,
                               pool_size=min(2000, max(1, messages // 2)))


class _Record:
    __slots__ = ("ts_us", "frame", "sctp", "tsn_offsets", "layout", "messages")


def _read_base(path):
    """Header and records of a base capture from write_bench_capture
    (classic pcap, microseconds, Ethernet + IPv4): where each SCTP packet
    starts and where its DATA chunks' TSNs are."""
    records = []
    with open(path, "rb") as handle:
        header = handle.read(24)
        if struct.unpack_from("<I", header)[0] != 0xA1B2C3D4:
            raise ValueError("%s: not a microsecond little-endian pcap" % path)
        while True:
            head = handle.read(16)
            if len(head) < 16:
                break
            sec, usec, incl, _orig = _RECORD.unpack(head)
            frame = handle.read(incl)
            if frame[12:14] != b"\x08\x00" or frame[23] != 132:
                raise ValueError("base capture frame is not Ethernet/IPv4/SCTP")
            rec = _Record()
            rec.ts_us = sec * 1000000 + usec
            rec.frame = frame
            rec.sctp = 14 + (frame[14] & 0x0F) * 4
            offsets = []
            pos, size = rec.sctp + 12, len(frame)
            while pos + 4 <= size:
                ctype = frame[pos]
                clen = (frame[pos + 2] << 8) | frame[pos + 3]
                if clen < 4:
                    break
                if ctype in (0, 64):  # DATA, I-DATA: TSN right after the chunk header
                    offsets.append(pos + 4 - rec.sctp)
                pos += (clen + 3) & ~3
            rec.tsn_offsets = tuple(offsets)
            rec.layout = (size - rec.sctp, rec.tsn_offsets)
            rec.messages = len(offsets)
            records.append(rec)
    return header, records


class _CrcDelta:
    """CRC32c change of an SCTP packet when ``copy << shift`` is XORed into
    all its TSNs.  CRC32c is affine: crc(m ^ d) = crc(m) ^ crc(d) ^ crc(0...0)
    for equal lengths, so the change depends only on the packet's layout
    (length, TSN offsets) and the copy number, one basis value per bit."""

    def __init__(self, shift):
        self.shift = shift
        self._basis = {}

    def _layout_basis(self, layout, bits):
        from ss7tools.encode.crc32c import crc32c
        basis = self._basis.get(layout)
        if basis is None:
            basis = self._basis[layout] = []
        length, offsets = layout
        while len(basis) < bits:
            delta = bytearray(length)
            for off in offsets:
                _TSN.pack_into(delta, off, 1 << (self.shift + len(basis)))
            basis.append(crc32c(bytes(delta)) ^ crc32c(bytes(length)))
        return basis

    def delta(self, layout, copy):
        basis = self._layout_basis(layout, copy.bit_length())
        out, bit = 0, 0
        while copy:
            if copy & 1:
                out ^= basis[bit]
            copy >>= 1
            bit += 1
        return out


def write_capture(path, messages, base_path):
    """Write a capture of ``messages`` M3UA messages (rounded up to a whole
    packet) by copying the base capture's records; return messages written."""
    header, records = _read_base(base_path)
    max_tsn = max(_TSN.unpack_from(r.frame, r.sctp + off)[0]
                  for r in records for off in r.tsn_offsets)
    shift = max_tsn.bit_length()
    crc = _CrcDelta(shift)
    span_us = records[-1].ts_us - records[0].ts_us + STEP_US
    written = copy = 0
    with open(path, "wb") as out:
        out.write(header)
        write = out.write
        while written < messages:
            if (copy + 1) >> (32 - shift):
                raise ValueError("too many copies of the base capture for 32-bit TSNs")
            xor = copy << shift
            deltas = {}
            pieces = []
            for rec in records:
                if written >= messages:
                    break
                ts = rec.ts_us + copy * span_us
                frame = rec.frame
                if copy:
                    frame = bytearray(frame)
                    base = rec.sctp
                    for off in rec.tsn_offsets:
                        tsn = _TSN.unpack_from(frame, base + off)[0]
                        _TSN.pack_into(frame, base + off, tsn ^ xor)
                    change = deltas.get(rec.layout)
                    if change is None:
                        change = deltas[rec.layout] = crc.delta(rec.layout, copy)
                    # the checksum goes on the wire least significant byte first
                    old = struct.unpack_from("<I", frame, base + 8)[0]
                    struct.pack_into("<I", frame, base + 8, old ^ change)
                pieces.append(_RECORD.pack(ts // 1000000, ts % 1000000,
                                           len(frame), len(frame)))
                pieces.append(frame)
                written += rec.messages
                if len(pieces) >= 8192:
                    write(b"".join(pieces))
                    pieces = []
            write(b"".join(pieces))
            copy += 1
    return written


# --------------------------------------------------------------- measuring

def _children(pid):
    # a child is listed under the thread that forked it
    out = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for task in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, task)) as handle:
                out.extend(int(p) for p in handle.read().split())
        except OSError:
            pass
    return out


def _status_kib(pid):
    """(VmRSS, VmHWM) in KiB, or None once the process is gone."""
    rss = hwm = 0
    try:
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        return None
    return rss, hwm


class _TreeSampler(threading.Thread):
    """Samples the RSS of a process and all its descendants."""

    def __init__(self, pid, interval=0.1):
        threading.Thread.__init__(self, daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_sum_kib = 0
        self.peak_other_kib = 0   # largest VmHWM of a descendant
        self.descendants = set()
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            total = 0
            stack = [self.pid]
            while stack:
                pid = stack.pop()
                status = _status_kib(pid)
                if status is None:
                    continue
                total += status[0]
                if pid != self.pid:
                    self.descendants.add(pid)
                    self.peak_other_kib = max(self.peak_other_kib, status[1])
                stack.extend(_children(pid))
            self.peak_sum_kib = max(self.peak_sum_kib, total)
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join()


class Run:
    """Result of one measured subprocess."""

    def __init__(self, rc, seconds, peak_kib, tree, stderr):
        self.rc, self.seconds, self.stderr = rc, seconds, stderr
        self.peak_kib = peak_kib                          # exact, from wait4
        self.peak_worker_kib = tree.peak_other_kib        # sampled
        self.peak_tree_kib = max(tree.peak_sum_kib, peak_kib)  # sampled
        self.processes = 1 + len(tree.descendants)


def run_measured(command):
    """Run ``command`` (stdout discarded); return a :class:`Run`."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        env = dict(os.environ)
        # `python -m ss7tools` from this checkout, whatever the working directory
        env["PYTHONPATH"] = os.pathsep.join(
            [ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=err)
        sampler = _TreeSampler(proc.pid)
        sampler.start()
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop()
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    # Linux reports ru_maxrss in KiB
    return Run(proc.returncode, seconds, usage.ru_maxrss, sampler, text)


def parse_summary(stderr):
    """``{"frames": n, "messages": n, "rows": n}`` from parse's summary."""
    out = {}
    for line in stderr.splitlines():
        name, _, value = line.partition(":")
        if name in ("frames", "messages", "rows") and value.strip().isdigit():
            out[name] = int(value)
    return out


def _mib(kib):
    return kib / 1024.0


# --------------------------------------------------------------- rows

def base_rows(capture):
    """The parse rows of a (small) capture, as lists."""
    from ss7tools.rows import iter_rows
    return [list(row) for row in iter_rows(capture)]


def _shift_digits(value, copy, prefix):
    if value is None or copy == 0 or not value[prefix:].isdigit():
        return value
    tail = value[prefix:]
    mod = 10 ** len(tail)
    return value[:prefix] + "%0*d" % (len(tail), (int(tail) + copy * 1000003) % mod)


def iter_copied_rows(rows, count):
    """``count`` rows: copies of ``rows`` with frame and time_stamp shifted
    past the previous copy and imsi/msisdn made distinct per copy."""
    from ss7tools.rows import COLUMN_INDEX
    i_frame, i_ts = COLUMN_INDEX["frame"], COLUMN_INDEX["time_stamp"]
    i_imsi, i_msisdn = COLUMN_INDEX["imsi"], COLUMN_INDEX["msisdn"]
    frames = max(row[i_frame] for row in rows)
    stamps = [row[i_ts] for row in rows]
    span = max(stamps) - min(stamps) + STEP_US / 1e6
    produced = copy = 0
    while produced < count:
        for row in rows:
            if produced >= count:
                return
            if copy:
                row = list(row)
                row[i_frame] += copy * frames
                row[i_ts] = round(row[i_ts] + copy * span, 6)
                row[i_imsi] = _shift_digits(row[i_imsi], copy, 5)   # keep MCC+MNC
                row[i_msisdn] = _shift_digits(row[i_msisdn], copy, 4)
            yield row
            produced += 1
        copy += 1


def write_rows_file(path, rows, count, fmt="msgpack"):
    """Stream ``count`` copied rows to ``path``; return rows written."""
    from ss7tools import io as ss7io
    return ss7io.write_rows(path, iter_copied_rows(rows, count), fmt=fmt)


def _iter_plain(path):
    """(columns, iterator of row lists) for a msgpack or CSV rows file."""
    from ss7tools import io as ss7io
    if ss7io.format_for(path) == "msgpack":
        import msgpack
        handle = open(path, "rb")
        unpacker = msgpack.Unpacker(handle, raw=False,
                                    max_buffer_size=64 * 1024 * 1024)
        header = next(unpacker)

        def rows():
            with handle:
                yield from unpacker
        return header["columns"], rows()
    handle = open(path, newline="")
    reader = csv.reader(handle)
    columns = next(reader)

    def csv_rows():
        with handle:
            for row in reader:
                yield [value if value != "" else None for value in row]
    return columns, csv_rows()


def check_sorted(path, by):
    """``(rows, first_out_of_order_row or None)``: rows must go by ``by``
    (values ascending, missing last) then time_stamp.  Streams the file."""
    columns, rows = _iter_plain(path)
    i_by, i_ts = columns.index(by), columns.index("time_stamp")
    csv_input = not path.endswith((".msgpack", ".mpk", ".msgp"))
    count, previous, bad = 0, None, None
    for row in rows:
        value, stamp = row[i_by], row[i_ts]
        if csv_input:
            stamp = float(stamp)
            if by in ("frame", "chunk") and value is not None:
                value = int(value)
        key = (value is None, "" if value is None else value, stamp)
        if previous is not None and key < previous and bad is None:
            bad = count
        previous = key
        count += 1
    return count, bad


# --------------------------------------------------------------- main

def _human(size):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return "%.1f %s" % (size, unit)
        size /= 1024.0


def bench_parse(work, base, sizes, jobs_list, keep):
    print("\n== ss7tools parse: peak memory by capture size ==")
    print("%10s %5s %10s %8s %9s %10s %11s %10s"
          % ("messages", "jobs", "rows", "seconds", "msg/s", "parse MiB",
             "worker MiB", "tree MiB"))
    for size in sizes:
        capture = os.path.join(work, "capture_%d.pcap" % size)
        started = time.perf_counter()
        written = write_capture(capture, size, base)
        print("(capture of %d messages written in %.1f s, %s)"
              % (written, time.perf_counter() - started,
                 _human(os.path.getsize(capture))))
        for jobs in jobs_list:
            out = os.path.join(work, "parse_%d.msgpack" % size)
            command = [sys.executable, "-m", "ss7tools", "parse", capture,
                       "-o", out]
            if jobs is not None:
                command += ["--jobs", str(jobs)]
            run = run_measured(command)
            if run.rc != 0:
                print("parse failed (exit %d):\n%s" % (run.rc, run.stderr))
                continue
            summary = parse_summary(run.stderr)
            messages = summary.get("messages", 0)
            print("%10d %5s %10d %8.2f %9.0f %10.1f %11s %10.1f"
                  % (messages, jobs or "dflt", summary.get("rows", 0),
                     run.seconds, messages / run.seconds, _mib(run.peak_kib),
                     "%.1f" % _mib(run.peak_worker_kib) if run.peak_worker_kib else "-",
                     _mib(run.peak_tree_kib)))
            if not keep:
                os.remove(out)
        if not keep:
            os.remove(capture)


def bench_sort(work, base, count, columns, fmt, keep):
    print("\n== ss7tools sort: %d rows (%s input) ==" % (count, fmt))
    rows = base_rows(base)
    source = os.path.join(work, "rows_%d.%s" % (count, fmt))
    started = time.perf_counter()
    write_rows_file(source, rows, count, fmt)
    print("(rows file written in %.1f s, %s)" % (time.perf_counter() - started,
                                                 _human(os.path.getsize(source))))
    print("%10s %12s %8s %9s %12s %12s %s"
          % ("rows", "by", "seconds", "peak GiB", "bytes/row", "output", "check"))
    for by in columns:
        out = os.path.join(work, "sorted_%s.msgpack" % by)
        run = run_measured([sys.executable, "-m", "ss7tools", "sort", source,
                            "--by", by, "-o", out])
        if run.rc != 0:
            print("sort --by %s failed (exit %d):\n%s" % (by, run.rc, run.stderr))
            continue
        checked, bad = check_sorted(out, by)
        verdict = "ok" if checked == count and bad is None else (
            "%d rows, first out of order at %s" % (checked, bad))
        print("%10d %12s %8.2f %9.3f %12.0f %12s %s"
              % (count, by, run.seconds, run.peak_kib / 1024.0 ** 2,
                 run.peak_kib * 1024.0 / count, _human(os.path.getsize(out)),
                 verdict))
        if not keep:
            os.remove(out)
    print("(bytes/row: the sort process's whole peak RSS, interpreter and "
          "pandas included, divided by the rows)")
    if not keep:
        os.remove(source)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true",
                        help="parse up to 10M messages and sort 10M rows")
    parser.add_argument("--sizes", help="comma-separated capture sizes in messages")
    parser.add_argument("--sort-rows",
                        help="comma-separated row counts for sort (default "
                             "1,000,000; 10,000,000 with --full)")
    parser.add_argument("--by", default="imsi",
                        help="comma-separated sort columns (default imsi)")
    parser.add_argument("--sort-format", choices=("msgpack", "csv"),
                        default="msgpack")
    parser.add_argument("--jobs", default="1,default",
                        help="parse --jobs values to run, 'default' for none given")
    parser.add_argument("--base", type=int, default=BASE_MESSAGES,
                        help="messages in the generated base capture")
    parser.add_argument("--skip-parse", action="store_true")
    parser.add_argument("--skip-sort", action="store_true")
    parser.add_argument("--keep", metavar="DIR",
                        help="write files to DIR and keep them")
    parser.add_argument("--tmp", metavar="DIR", default=OUT,
                        help="parent of the temporary work directory (default bench/out)")
    args = parser.parse_args(argv)

    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    else:
        sizes = list(FULL_SIZES if args.full else DEFAULT_SIZES)
    if args.sort_rows:
        sort_sizes = [int(s) for s in args.sort_rows.split(",")]
    else:
        sort_sizes = [10000000 if args.full else 1000000]
    jobs_list = [None if j == "default" else int(j) for j in args.jobs.split(",")]
    if args.keep:
        work = args.keep
        os.makedirs(work, exist_ok=True)
    else:
        os.makedirs(args.tmp, exist_ok=True)
        work = tempfile.mkdtemp(prefix="memory-", dir=args.tmp)
    try:
        base = os.path.join(work, "base_%d.pcap" % args.base)
        if not os.path.exists(base):
            started = time.perf_counter()
            write_base_capture(base, args.base)
            print("base capture: %d messages generated in %.1f s"
                  % (args.base, time.perf_counter() - started))
        print("machine: %d CPUs, load average %.2f" % (os.cpu_count() or 0,
                                                      os.getloadavg()[0]))
        if not args.skip_parse:
            bench_parse(work, base, sizes, jobs_list, bool(args.keep))
            print("(parse MiB: the parse process's peak, from wait4; worker "
                  "MiB: the largest decoding worker's peak and tree MiB: the "
                  "peak sum of all the processes' RSS, both sampled every 0.1 s)")
        if not args.skip_sort:
            for count in sort_sizes:
                bench_sort(work, base, count, args.by.split(","),
                           args.sort_format, bool(args.keep))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
