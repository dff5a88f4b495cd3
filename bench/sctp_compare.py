#!/usr/bin/env python
"""
Diameter over SCTP beside TCP, under one kernel: bench/diameter_load.py
(--spawn-server) run for DWR and AIR over each transport, in turns, and
the figures side by side with SCTP's share of TCP's rate.

Where this machine's kernel has no SCTP, the runs happen inside one
user-mode Linux guest (tests/uml.py), TCP's as well as SCTP's, so the two
compare: the guest is far slower than the host (every system call is a
round trip to the host kernel), so its figures compare the transports,
not the machine.  The store and temporary files live on a tmpfs inside
the guest.

    .venv/bin/python bench/sctp_compare.py --duration 5 --runs 3

See bench/README.md ("Diameter over SCTP").
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

REQUESTS = ("dwr", "air")
TRANSPORTS = ("tcp", "sctp")
# SCTP's rate as a share of TCP's that the issue asks for.
TARGET_SHARE = 0.5


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description="DWR/s and AIR/s over SCTP and TCP under one kernel.")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of each run (default 5)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each of the four (default 1);"
                        " medians are reported")
    parser.add_argument("--window", type=int, default=50, help="requests in flight (default 50)")
    parser.add_argument("--provision", type=int, default=1000,
                        help="subscribers provisioned for AIR (default 1000)")
    parser.add_argument("--here", action="store_true",
                        help="run on this machine's kernel (it must have SCTP); the default boots"
                             " a user-mode Linux guest when it has none")
    parser.add_argument("--guest-timeout", type=float, default=1200.0,
                        help="seconds the guest may take in all (default 1200)")
    options = parser.parse_args(argv)
    if options.duration <= 0 or options.runs < 1 or options.window < 1 or options.provision < 1:
        parser.error("--duration, --runs, --window and --provision must be positive")
    return options


def load_command(options, transport, request):
    command = [sys.executable, os.path.join(_HERE, "diameter_load.py"), "--spawn-server",
               "--transport", transport, "--request", request, "--window", str(options.window),
               "--duration", str(options.duration)]
    if request == "air":
        command += ["--provision", str(options.provision), "--variants", str(min(options.provision, 5000))]
    return command


def run_here(options):
    """The runs, in turns; one JSON summary per run, each printed."""
    results = []
    for _ in range(options.runs):
        for request in REQUESTS:
            for transport in TRANSPORTS:
                done = subprocess.run(load_command(options, transport, request), cwd=_ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                lines = done.stdout.strip().splitlines()
                if done.returncode != 0 or not lines or not lines[-1].startswith("{"):
                    raise SystemExit("diameter_load.py --transport %s --request %s failed:\n%s"
                                     % (transport, request, done.stdout[-4000:]))
                summary = json.loads(lines[-1])
                results.append(summary)
                print("RUN " + json.dumps(summary), flush=True)
    return results


def report(results, where):
    """Print the table and the shares; True when SCTP reached its target
    share of TCP's rate for every request kind."""
    by = {}
    for summary in results:
        by.setdefault((summary["kind"], summary["transport"]), []).append(summary)
    print("\nDiameter over SCTP and TCP, %s (medians of %d run(s) each):\n" % (
        where, len(next(iter(by.values())))))
    print("| request | transport | req/s | p50 ms | p99 ms | server CPU µs/request | errors |")
    print("|---|---|---|---|---|---|---|")
    rates = {}
    for request in REQUESTS:
        for transport in TRANSPORTS:
            runs = by[request, transport]
            rate = statistics.median(run["requests_per_s"] for run in runs)
            rates[request, transport] = rate
            cpu = statistics.median(1e6 * run["server_cpu_s"] / max(1, run["answered"]) for run in runs)
            errors = sum(sum(run["errors"]["result_codes"].values()) + run["errors"]["timeouts"]
                         + run["errors"]["disconnects"] for run in runs)
            print("| %s | %s | %s | %.2f | %.2f | %.0f | %d |" % (
                request.upper(), transport, format(round(rate), ","),
                statistics.median(run["latency_ms"]["p50"] for run in runs),
                statistics.median(run["latency_ms"]["p99"] for run in runs), cpu, errors))
    print()
    verdicts = {}
    for request in REQUESTS:
        share = rates[request, "sctp"] / rates[request, "tcp"]
        verdicts[request] = share
        print("%s: SCTP at %.0f%% of TCP's rate (target at least %.0f%%: %s)" % (
            request.upper(), 100 * share, 100 * TARGET_SHARE, "met" if share >= TARGET_SHARE else "MISSED"))
    print(json.dumps({"where": where, "rates": {"%s/%s" % key: rate for key, rate in rates.items()},
                      "sctp_share": verdicts}))
    return all(share >= TARGET_SHARE for share in verdicts.values())


def run_in_guest(options):
    from tests import uml
    reason = uml.unavailable_reason()
    if reason is not None:
        raise SystemExit("this kernel has no SCTP and %s" % (reason,))
    arguments = ["--here", "--duration", str(options.duration), "--runs", str(options.runs),
                 "--window", str(options.window), "--provision", str(options.provision)]
    script = (
        "mkdir -p fast && mount -t tmpfs -o size=256m tmpfs fast && export TMPDIR=$PWD/fast"
        " && cd %s && %s bench/sctp_compare.py %s; status=$?; umount \"$OLDPWD/fast\"; exit $status" % (
            _ROOT, uml.python(), " ".join(arguments)))
    print("# booting a user-mode Linux guest (its kernel has SCTP; this one has not)", flush=True)
    result = uml.run_shell(script, timeout=options.guest_timeout, memory="768M")
    sys.stdout.write(result.output)
    return result.status


def main(argv=None):
    options = parse_arguments(sys.argv[1:] if argv is None else argv)
    from pyhss.sctp import unavailable_reason
    if not options.here and unavailable_reason() is not None:
        return run_in_guest(options)
    results = run_here(options)
    return 0 if report(results, kernel_name()) else 1


def kernel_name():
    """'user-mode Linux 6.1.176' inside a guest, 'Linux 6.1.0' elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            guest = "User Mode Linux" in f.read()
    except OSError:
        guest = False
    return "%s %s" % ("user-mode Linux" if guest else "Linux", os.uname().release)


if __name__ == "__main__":
    sys.exit(main())
