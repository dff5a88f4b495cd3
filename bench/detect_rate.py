"""Detection speed: offline from msgpack rows on one core, memory as the
traffic grows, and live evaluation latency at a paced arrival rate.

1. Simulates the default world (``--subscribers``, ``--duration``), parses
   it to msgpack rows, and times ``ss7tools detect``'s loop in this one
   process: read rows, group them into messages, evaluate (default rules,
   plus ``--model`` if given), write the verdicts CSV.  Target: >= 50,000
   messages/s.
2. Memory: the same rows replayed ``--passes`` times, each a day later
   (so state expires as it would) and with the subscribers renumbered (so
   each pass brings new ones): resident memory after each pass must stay
   flat, the state tables bounded.
3. Live: the capture's decoded messages handed to
   :class:`~ss7tools.detect.live.LiveEvaluator` one at a time at
   ``--rate`` messages/s (paced by the wall clock): p50, p99 and max
   evaluation time.  Target: p99 < 1 ms at 5,000 messages/s.

    .venv/bin/python bench/detect_rate.py
"""

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from ss7tools.decoder import decoded_batches  # noqa: E402
from ss7tools.detect.command import build_engine, detect_messages  # noqa: E402
from ss7tools.detect.live import LiveEvaluator  # noqa: E402
from ss7tools.detect.source import iter_file_messages, iter_file_rows, messages  # noqa: E402
from ss7tools.pipeline import write_rows_file  # noqa: E402
from ss7tools.rows import COLUMN_INDEX  # noqa: E402
from ss7tools.simulate.command import parse_attack_mix, simulate  # noqa: E402
from ss7tools.stats import ParseStats  # noqa: E402

MIX = "location_tracking=0.004,interception=0.001,fraud=0.001,dos=0.001,info_theft=0.002," \
      "sms_spoofing=0.002"


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def offline(rows_path, out_path, model):
    """ss7tools detect's loop (read, group, evaluate, write) in this process."""
    engine = build_engine(model_path=model)
    started, cpu = time.perf_counter(), time.process_time()
    with open(out_path, "w", newline="", encoding="utf-8") as out:
        count = detect_messages(engine, iter_file_messages(rows_path), out)
    engine.cpu_seconds = time.process_time() - cpu
    return count, time.perf_counter() - started, engine


def shifted(rows, day, renumber):
    """The rows a day later, with other subscriber numbers."""
    t, imsi, msisdn = COLUMN_INDEX["time_stamp"], COLUMN_INDEX["imsi"], COLUMN_INDEX["msisdn"]
    offset = 86400.0 * day
    for row in rows:
        row = list(row)
        row[t] += offset
        if renumber:
            for i in (imsi, msisdn):
                if row[i]:
                    row[i] = row[i][:-3] + "%03d" % ((int(row[i][-3:]) + 7 * day) % 1000)
        yield tuple(row)


def memory(rows_path, passes, model):
    engine = build_engine(model_path=model)
    base = list(iter_file_rows(rows_path))
    figures = []
    for day in range(passes):
        for group in messages(shifted(base, day, True)):
            engine.evaluate(group)
        figures.append((day + 1, rss_mib(), engine.features.state.sizes()))
    return figures


def live(pcap, rate, model, limit):
    evaluator = LiveEvaluator(build_engine(model_path=model))
    decoded = [m for batch in decoded_batches(pcap, ParseStats(), 256) for m in batch][:limit]
    period = 1.0 / rate
    started = time.perf_counter()
    late = 0
    for i, message in enumerate(decoded):
        due = started + i * period
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
        elif now - due > 0.01:
            late += 1
        evaluator.evaluate(message)
    elapsed = time.perf_counter() - started
    return evaluator.latency(), len(decoded) / elapsed, late


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=50000)
    parser.add_argument("--duration", type=float, default=3600.0)
    parser.add_argument("--model", help="a model file (ss7tools train) to run with the rules")
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--live-messages", type=int, default=50000)
    args = parser.parse_args(argv)
    directory = tempfile.mkdtemp(prefix="detect_rate")
    try:
        pcap = os.path.join(directory, "t.pcap")
        sim = simulate(pcap, None, seed=5, duration=args.duration,
                       subscribers=args.subscribers, attack_mix=parse_attack_mix(MIX))
        rows = os.path.join(directory, "t.msgpack")
        write_rows_file(pcap, rows, "msgpack", 1, ParseStats())
        print("capture: %d messages (default world, %d subscribers, %.0f s)"
              % (sim.messages, args.subscribers, args.duration))
        count, seconds, engine = offline(rows, os.path.join(directory, "v.csv"), args.model)
        print("offline detect from msgpack, one core: %d messages in %.2f s = %.0f messages/s "
              "(target >= 50,000)%s; by this process's CPU time %.0f messages/s (what a "
              "shared machine's other jobs take from the wall clock left out)"
              % (count, seconds, count / seconds, " with the model" if args.model else "",
                 count / engine.cpu_seconds))
        print("  verdicts: %s; state %s" % (engine.counts, engine.features.state.sizes()))
        print("memory, the capture replayed a day later each pass with new subscribers:")
        for day, mib, sizes in memory(rows, args.passes, args.model):
            print("  pass %d: resident %.0f MiB, state %s" % (day, mib, sizes))
        latency, achieved, late = live(pcap, args.rate, args.model, args.live_messages)
        print("live, %.0f messages/s asked (%.0f achieved, %d messages started > 10 ms late): "
              "p50 %.3f ms, p99 %.3f ms, max %.3f ms over %d messages (target p99 < 1 ms)"
              % (args.rate, achieved, late, latency["p50"] * 1e3, latency["p99"] * 1e3,
                 latency["max"] * 1e3, latency["count"]))
        print("peak resident memory %.0f MiB" % (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
