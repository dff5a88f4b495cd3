"""Generation rate of ``ss7tools simulate`` on one core.

Runs the default world with many subscribers (so that a short simulated
time yields the message count) until ``--messages`` messages are written,
pcap and labels included, and prints messages per second, the projected
time for one million messages and the peak resident memory.  Target: one
million messages in under 5 minutes (>= 3,334 messages/s).

    .venv/bin/python bench/simulate_rate.py              # 100,000 messages
    .venv/bin/python bench/simulate_rate.py --full       # 1,000,000 messages
"""

import argparse
import os
import resource
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from ss7tools.simulate.command import simulate  # noqa: E402

TARGET_SECONDS_PER_MILLION = 300.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100000)
    parser.add_argument("--full", action="store_true", help="one million messages")
    parser.add_argument("--subscribers", type=int, default=200000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", help="directory to keep the pcap and labels in")
    args = parser.parse_args(argv)
    messages = 1000000 if args.full else args.messages
    out_dir = args.keep or tempfile.mkdtemp(prefix="simulate_rate")
    pcap = os.path.join(out_dir, "simulate.pcap")
    labels = os.path.join(out_dir, "simulate.labels.csv")
    started = time.perf_counter()
    cpu_started = time.process_time()
    sim = simulate(pcap, labels, seed=args.seed, subscribers=args.subscribers,
                   duration=30 * 86400.0, max_messages=messages)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    rate = sim.messages / wall
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("messages: %d in %d frames, simulated %.0f s, %d subscribers"
          % (sim.messages, sim.frames, sim.now, args.subscribers))
    print("wall %.1f s, cpu %.1f s: %.0f messages/s (%.0f per cpu second)"
          % (wall, cpu, rate, sim.messages / cpu))
    print("one million messages: %.0f s projected (target %.0f s): %s"
          % (1e6 / rate, TARGET_SECONDS_PER_MILLION,
             "OK" if 1e6 / rate <= TARGET_SECONDS_PER_MILLION else "SLOWER"))
    print("peak RSS %.0f MiB; pcap %.1f MiB" % (peak_mb, os.path.getsize(pcap) / 2 ** 20))
    if not args.keep:
        os.unlink(pcap)
        os.unlink(labels)
        os.rmdir(out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
