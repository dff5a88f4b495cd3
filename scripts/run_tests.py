"""Run the whole trial suite and finish with one plain summary line.

trial's own closing line ("PASSED (skips=2, successes=90)") is not a
format CI readers know, so we add "trial: N passed, N failed, N skipped".

Two guards keep a CI run from hanging silently:
  - trial runs in its own process group; once it exits, anything it left
    behind (a server, a capture tool) is killed, so that nothing holds our
    output pipe open;
  - past PYHSS_TEST_TIMEOUT seconds (default 1500), every trial worker
    dumps its Python stacks (tests/__init__.py registers SIGUSR1 with
    faulthandler when PYHSS_TEST_STACKS is set), the dumps are printed and the run is killed and failed.

Every test cleans up after itself: trial runs with TMPDIR set to a new
empty directory, and whatever is still in it at the end (a capture file
written with tempfile and never removed, say) is listed and fails the run.
"""

import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

SUMMARY = re.compile(r"^(PASSED|FAILED) \((?P<counts>[^)]*)\)\s*$")
LEFTOVER_GRACE = 5.0


def _kill_group(process, sig):
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def _print_worker_stacks():
    for path in sorted(glob.glob(os.path.join("_trial_temp", "*", "stacks.log"))):
        with open(path, errors="replace") as f:
            text = f.read()[-20000:]
        if text.strip():
            print("==== %s (last 20000 characters) ====" % (path,))
            print(text, flush=True)


def _watch(process, timeout, timed_out):
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        timed_out.set()
        print("run_tests: still running after %d s; worker stacks follow" % (timeout,), flush=True)
        # Only the workers (children of the trial manager) dump stacks.
        for pid in _children(process.pid):
            try:
                os.kill(pid, signal.SIGUSR1)
            except ProcessLookupError:
                pass
        threading.Event().wait(3.0)
        _print_worker_stacks()
        _kill_group(process, signal.SIGKILL)
        process.wait()
        return
    # trial is done; whatever is left in its group would keep the pipe open.
    threading.Event().wait(LEFTOVER_GRACE)
    _kill_group(process, signal.SIGKILL)


def _children(pid):
    found = []
    for status in glob.glob("/proc/[0-9]*/status"):
        try:
            with open(status) as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(fields["Pid"]))
    return found


def _leftovers(directory):
    """What is left under directory: its files, and its directories that
    hold no file, as paths relative to it."""
    found = []
    for root, directories, files in os.walk(directory):
        relative = os.path.relpath(root, directory)
        if root != directory and not directories and not files:
            found.append(relative + "/")
        found.extend(os.path.normpath(os.path.join(relative, name)) for name in files)
    return sorted(found)


def main(argv):
    jobs = os.environ.get("PYHSS_TEST_JOBS", str(min(2, os.cpu_count() or 1)))
    timeout = int(os.environ.get("PYHSS_TEST_TIMEOUT", "1500"))
    suites = argv or ["tests"]
    command = [sys.executable, "-m", "twisted.trial", "--jobs", jobs] + suites
    temporary = tempfile.mkdtemp(prefix="pyhss-tests-")
    environment = dict(os.environ, PYHSS_TEST_STACKS="1", TMPDIR=temporary)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True, env=environment)
    timed_out = threading.Event()
    watcher = threading.Thread(target=_watch, args=(process, timeout, timed_out), daemon=True)
    watcher.start()
    counts = {}
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        match = SUMMARY.match(line.strip())
        if match:
            counts = dict(
                (key.strip(), int(value))
                for key, value in (item.split("=") for item in match.group("counts").split(",") if "=" in item)
            )
    status = process.wait()
    watcher.join()
    passed = counts.get("successes", 0) + counts.get("expectedFailures", 0)
    failed = counts.get("failures", 0) + counts.get("errors", 0) + counts.get("unexpectedSuccesses", 0)
    if timed_out.is_set():
        status = status or 1
        print("run_tests: killed after %d s (PYHSS_TEST_TIMEOUT)" % (timeout,))
    leftovers = _leftovers(temporary)
    shutil.rmtree(temporary, ignore_errors=True)
    if leftovers:
        print("run_tests: the tests left %d in their temporary directory (TMPDIR);"
              " each test must remove what it creates:" % (len(leftovers),))
        for name in leftovers:
            print("  " + name)
        status = status or 1
    if status != 0 and failed == 0:
        failed = 1  # trial died before it could summarise, or left files behind
    print("trial: %d passed, %d failed, %d skipped" % (passed, failed, counts.get("skips", 0)), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
