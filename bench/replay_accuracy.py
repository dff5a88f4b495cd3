#!/usr/bin/env python3
"""Send-time accuracy of ``twistd ss7replay client`` against ``twistd
ss7replay server``, both as processes.

Part 1: ``--clients`` (50) associations replaying at a combined ``--rate``
(5,000 messages/s) for ``--duration`` seconds: send-time error p50/p99/max
(target p99 < 2 ms), late messages, and the server's count of what it
received against what the client sent (target: equal, nothing lost).
Part 2 (``--ramp``, on by default): the same captures at growing
``--speed`` until the p99 reaches 5 ms or a message is lost: the highest
combined rate one client process sustains with p99 < 5 ms.
It also measures how late this kernel's timers wake when asked for 1 ms:
``time.sleep``, the reactor's ``callLater`` and the timerfd the replay's
pacer wakes on.  Under user-mode Linux the replay's p99 is to be read
beside those (no target there: nothing lost is the check).

``--transport sctp`` where this machine's kernel has no SCTP boots one
user-mode Linux guest (tests/uml.py: a Linux 6.1 kernel with SCTP, run as
a process) and runs the whole benchmark inside it, server and client both,
with its temporary files on a tmpfs of the guest; the timers measured are
the guest's.  Every system call there is a round trip to the host kernel,
so the guest's figures describe the guest, not the machine.

With ``--detect RULES`` (a rule file or ``default``) the server judges
every message with ``ss7tools detect``'s engine (``--rules``): its
evaluation time per message (p50/p99/max, target p99 < 1 ms at 5,000
messages/s) and its verdicts are printed beside the replay's figures.

Each association's capture is M3UA DATA (MAP dialogues of
``ss7tools.encode``'s bench pool) with Poisson arrivals, written as pcap.

    .venv/bin/python bench/replay_accuracy.py                   # TCP loopback
    .venv/bin/python bench/replay_accuracy.py --transport sctp --no-ramp  # kernel SCTP (in UML)

The last line is JSON with every figure.
"""

import argparse
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from ss7tools.encode import PcapWriter, SigtranLink  # noqa: E402
from ss7tools.encode.traffic import bench_pool  # noqa: E402
from ss7tools.replay.schedule import percentile  # noqa: E402

TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")
ASP_MESSAGES = 5            # ASPUP, ASPAC, BEAT, ASPIA, ASPDN per association
RAMP_SPEEDS = (1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32)


def write_captures(directory, clients, rate, duration, seed=1):
    """One capture per client, Poisson arrivals at ``rate / clients``
    messages/s each; returns the number of messages written."""
    pool = bench_pool(256)
    rng = random.Random(seed)
    per_client = rate / float(clients)
    total = 0
    for number in range(clients):
        link = SigtranLink("10.1.%d.%d" % (number // 250, 1 + number % 250), "10.2.0.1",
                           20000 + number, 2905, 0x100 + number)
        path = os.path.join(directory, "client%03d.pcap" % number)
        stamp = 1700000000.0
        end = stamp + duration
        with PcapWriter(path) as writer:
            while True:
                stamp += rng.expovariate(per_client)
                if stamp >= end:
                    break
                message = pool[rng.randrange(len(pool))]
                for frame in link.frames([message], stream=1 + total % 15):
                    writer.write(frame, stamp)
                total += 1
    return total


class Server:
    """``twistd -n ss7replay server`` on a free port of 127.0.0.1."""

    def __init__(self, transport, directory, rules=None):
        self.output_path = os.path.join(directory, "server.out")
        self.output = open(self.output_path, "wb")
        listen = "%s:0:interface=127.0.0.1" % transport
        detect = ["--rules", rules] if rules else []
        self.detection = None
        self.process = subprocess.Popen(
            [TWISTD, "-n", "--pidfile=", "ss7replay", "server", "--listen", listen] + detect,
            stdout=self.output, stderr=subprocess.STDOUT, cwd=directory,
            env=dict(os.environ, PYTHONPATH=ROOT))
        self.port = self._wait_port()

    def _wait_port(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(self.output_path, "rb") as handle:
                text = handle.read().decode(errors="replace")
            if "listening on" in text:
                line = text.split("listening on", 1)[1].split("\n", 1)[0]
                return int(line.rsplit("port", 1)[1].strip(" )"))
            if self.process.poll() is not None:
                raise SystemExit("the server did not start:\n" + text)
            time.sleep(0.05)
        self.stop()
        raise SystemExit("the server did not listen within 30 s")

    def stop(self):
        """Stop it; the messages it received, from its association lines."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output.close()
        received = 0
        with open(self.output_path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if '"association_closed"' in line:
                    received += json.loads(line[line.index("{"):])["messages"]
                elif '{"event":"detection"' in line:
                    self.detection = json.loads(line[line.index("{"):])
        return received


def replay(transport, port, captures, speed, directory, timeout):
    report_path = os.path.join(directory, "report-%g.json" % speed)
    command = [TWISTD, "-n", "--pidfile=", "ss7replay", "client", "--connect",
               "%s:127.0.0.1:%d" % (transport, port), "--pcap-dir", captures, "--speed",
               str(speed), "--asp", "on", "--json", report_path]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = subprocess.run(command, cwd=directory, capture_output=True, timeout=timeout,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if not os.path.isfile(report_path) or os.path.getsize(report_path) == 0:
        raise SystemExit("the client wrote no report (exit %d):\n%s" % (
            run.returncode, (run.stdout + run.stderr).decode(errors="replace")[-3000:]))
    with open(report_path) as handle:
        return json.load(handle), cpu


def step(transport, captures, speed, directory, timeout, rules=None):
    """One replay against a fresh server: the client's overall figures, the
    server's count, and what was expected (and, with ``rules``, the
    server's detection figures)."""
    server = Server(transport, directory, rules)
    try:
        report, client_cpu = replay(transport, server.port, captures, speed, directory, timeout)
    finally:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        received = server.stop()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    overall = report["overall"]
    expected = overall["sent"] + ASP_MESSAGES * overall["clients"]
    seconds = overall.get("seconds") or 0.0
    return {"speed": speed, "clients": overall["clients"], "failed": overall["failed"],
            "messages": overall["messages"], "sent": overall["sent"],
            "server_received": received, "expected_at_server": expected,
            "lost": expected - received, "late": overall["late"],
            "p50_ms": overall["p50_ms"], "p99_ms": overall["p99_ms"],
            "max_ms": overall["max_ms"], "seconds": seconds,
            "client_cpu_s": round(client_cpu, 2), "server_cpu_s": round(server_cpu, 2),
            "detection": server.detection}


def timer_overshoot(samples=1000, interval=0.001):
    """How late ``time.sleep``, ``callLater`` and the replay's timerfd
    waker wake when asked for ``interval`` (ms: p50, p99, max)."""
    sleeps = []
    for _ in range(samples):
        start = time.monotonic()
        time.sleep(interval)
        sleeps.append(time.monotonic() - start - interval)
    from twisted.internet import reactor, task

    from ss7tools.replay.timerfd import precise_waker
    lates = []
    timerfd_lates = []
    state = {"count": 0, "due": None, "waker": None}

    def tick():
        now = reactor.seconds()
        if state["due"] is not None:
            lates.append(now - state["due"])
        state["count"] += 1
        if state["count"] > samples:
            state["count"] = 0
            state["due"] = None
            state["waker"] = precise_waker(reactor, woken)
            if state["waker"] is None:
                reactor.stop()
            else:
                woken()
            return
        state["due"] = now + interval
        reactor.callLater(interval, tick)

    def woken():
        # the pacer's way: an absolute instant on reactor.seconds()'s clock
        now = reactor.seconds()
        if state["due"] is not None:
            timerfd_lates.append(now - state["due"])
        state["count"] += 1
        if state["count"] > samples:
            state["waker"].close()
            reactor.stop()
            return
        state["due"] = now + interval
        state["waker"].arm(state["due"])
    task.deferLater(reactor, 0, tick)
    reactor.run()

    def summary(values):
        values.sort()
        return {"p50_ms": round(percentile(values, 50) * 1000, 3),
                "p99_ms": round(percentile(values, 99) * 1000, 3),
                "max_ms": round(values[-1] * 1000, 3)}
    result = {"sleep_1ms_overshoot": summary(sleeps), "call_later_1ms_overshoot": summary(lates)}
    if timerfd_lates:
        result["timerfd_1ms_overshoot"] = summary(timerfd_lates)
    return result


def kernel_name():
    """'user-mode Linux 6.1.176' inside a guest, 'Linux 6.1.0' elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            guest = "User Mode Linux" in f.read()
    except OSError:
        guest = False
    return "%s %s" % ("user-mode Linux" if guest else "Linux", os.uname().release)


def run_in_guest(argv, guest_timeout):
    """This benchmark with ``argv`` inside one user-mode Linux guest; its
    exit status (its output goes to ours)."""
    from tests import uml
    reason = uml.unavailable_reason()
    if reason is not None:
        print("replay_accuracy: cannot boot a user-mode Linux guest: %s" % (reason,),
              file=sys.stderr)
        return 2
    import shlex
    script = (
        "mkdir -p fast && mount -t tmpfs -o size=512m tmpfs fast && export TMPDIR=$PWD/fast"
        " && cd %s && %s bench/replay_accuracy.py --here %s; status=$?; umount \"$OLDPWD/fast\";"
        " exit $status" % (shlex.quote(ROOT), shlex.quote(uml.python()),
                           " ".join(shlex.quote(arg) for arg in argv)))
    print("# booting a user-mode Linux guest (a Linux 6.1 kernel with SCTP, run as a process)",
          flush=True)
    try:
        result = uml.run_shell(script, timeout=guest_timeout, memory="1G")
    except uml.GuestError as exc:
        print("replay_accuracy: %s" % (exc,), file=sys.stderr)
        return 1
    sys.stdout.write(result.output)
    sys.stdout.flush()
    return result.status


def show(label, figures):
    print("%-22s %6d clients  %8d sent  %8.0f msg/s  p50 %7.3f  p99 %7.3f  max %8.3f ms"
          "  late %d  server %d of %d (lost %d)  cpu client %.1f s server %.1f s%s" % (
              label, figures["clients"], figures["sent"],
              figures["sent"] / figures["seconds"] if figures["seconds"] else 0.0,
              figures["p50_ms"] or 0, figures["p99_ms"] or 0, figures["max_ms"] or 0,
              figures["late"], figures["server_received"], figures["expected_at_server"],
              figures["lost"], figures["client_cpu_s"], figures["server_cpu_s"],
              "  FAILED %d" % figures["failed"] if figures["failed"] else ""),
          flush=True)
    detection = figures.get("detection")
    if detection:
        print("%-22s detection: %d judged, evaluation p50 %.3f ms, p99 %.3f ms, max %.3f ms "
              "(target p99 < 1 ms); verdicts %s" % (
                  "", detection["judged"], detection["latency_p50_ms"],
                  detection["latency_p99_ms"], detection["latency_max_ms"],
                  detection["verdicts"]), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transport", choices=("tcp", "sctp"), default="tcp")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rate", type=float, default=5000.0, help="combined messages/s")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of capture")
    parser.add_argument("--no-ramp", dest="ramp", action="store_false",
                        help="part 1 only")
    parser.add_argument("--ramp-p99-ms", type=float, default=5.0)
    parser.add_argument("--no-timers", dest="timers", action="store_false",
                        help="skip the timer overshoot measurement")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds allowed per replay")
    parser.add_argument("--detect", metavar="RULES",
                        help="the server judges every message (--rules RULES: a file or "
                             "'default')")
    parser.add_argument("--here", action="store_true",
                        help="run on this kernel (it must have SCTP for --transport sctp); the"
                             " default boots a user-mode Linux guest when it has none")
    parser.add_argument("--guest-timeout", type=float, default=1200.0,
                        help="seconds the guest may take in all (default 1200)")
    parser.add_argument("--guest", action="store_true",
                        help="run inside a user-mode Linux guest whatever the transport (TCP"
                             " there compares with SCTP under the same kernel)")
    if argv is None:
        argv = sys.argv[1:]
    args = parser.parse_args(argv)
    if args.guest and not args.here:
        return run_in_guest([arg for arg in argv if arg not in ("--here", "--guest")],
                            args.guest_timeout)
    if args.transport == "sctp":
        from pyhss.sctp import unavailable_reason
        reason = unavailable_reason()
        if reason is not None and not args.here:
            return run_in_guest([arg for arg in argv if arg != "--here"], args.guest_timeout)
        if reason is not None:
            print("replay_accuracy: --transport sctp: %s" % reason, file=sys.stderr)
            return 2
    directory = tempfile.mkdtemp(prefix="ss7replay-bench-")
    try:
        captures = os.path.join(directory, "captures")
        os.mkdir(captures)
        written = write_captures(captures, args.clients, args.rate, args.duration)
        print("%d messages in %d captures (%g msg/s combined for %g s), over %s loopback"
              % (written, args.clients, args.rate, args.duration, args.transport), flush=True)
        result = {"transport": args.transport, "clients": args.clients, "rate": args.rate,
                  "duration": args.duration}
        base = step(args.transport, captures, 1.0, directory, args.timeout, args.detect)
        show("at %g msg/s" % args.rate, base)
        result["base"] = base
        if args.ramp:
            ramp = []
            best = None
            for speed in RAMP_SPEEDS:
                figures = step(args.transport, captures, speed, directory, args.timeout,
                               args.detect)
                show("at %g msg/s" % (args.rate * speed), figures)
                ramp.append(figures)
                if (figures["failed"] or figures["lost"] or figures["p99_ms"] is None
                        or figures["p99_ms"] >= args.ramp_p99_ms):
                    break
                best = figures
            result["ramp"] = ramp
            if best is not None:
                achieved = best["sent"] / best["seconds"] if best["seconds"] else None
                result["highest_rate_p99_under_%gms" % args.ramp_p99_ms] = {
                    "asked": args.rate * best["speed"], "achieved": achieved,
                    "p99_ms": best["p99_ms"]}
                print("highest combined rate with p99 < %g ms: %.0f msg/s asked (%.0f achieved),"
                      " p99 %.3f ms" % (args.ramp_p99_ms, args.rate * best["speed"],
                                        achieved or 0, best["p99_ms"]))
        result["kernel"] = kernel_name()
        if args.timers:
            timers = result["timers"] = timer_overshoot()
            print("%s: timers asked for 1 ms wake late by: sleep p99 %.3f ms, callLater p99 %.3f"
                  " ms, timerfd (the replay's) p99 %s ms" % (
                      result["kernel"], timers["sleep_1ms_overshoot"]["p99_ms"],
                      timers["call_later_1ms_overshoot"]["p99_ms"],
                      "%.3f" % timers["timerfd_1ms_overshoot"]["p99_ms"]
                      if "timerfd_1ms_overshoot" in timers else "-"))
            print("replay p99 %.3f ms over %s beside this kernel's timers' own p99 lateness:"
                  " timerfd %s ms, sleep %.3f ms (%s; %d lost)" % (
                      base["p99_ms"] or 0, args.transport,
                      "%.3f" % timers["timerfd_1ms_overshoot"]["p99_ms"]
                      if "timerfd_1ms_overshoot" in timers else "-",
                      timers["sleep_1ms_overshoot"]["p99_ms"], result["kernel"], base["lost"]))
        print(json.dumps(result, sort_keys=True))
        return 0 if not base["lost"] and not base["failed"] else 1
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
