"""Run the whole trial suite and finish with one plain summary line.

trial's own closing line ("PASSED (skips=2, successes=90)") is not a
format CI readers know, so we add "trial: N passed, N failed, N skipped".
"""

import os
import re
import subprocess
import sys

SUMMARY = re.compile(r"^(PASSED|FAILED) \((?P<counts>[^)]*)\)\s*$")


def main(argv):
    jobs = os.environ.get("PYHSS_TEST_JOBS", str(min(2, os.cpu_count() or 1)))
    suites = argv or ["tests"]
    command = [sys.executable, "-m", "twisted.trial", "--jobs", jobs] + suites
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    counts = {}
    for line in process.stdout:
        sys.stdout.write(line)
        match = SUMMARY.match(line.strip())
        if match:
            counts = dict(
                (key.strip(), int(value))
                for key, value in (item.split("=") for item in match.group("counts").split(",") if "=" in item)
            )
    status = process.wait()
    passed = counts.get("successes", 0) + counts.get("expectedFailures", 0)
    failed = counts.get("failures", 0) + counts.get("errors", 0) + counts.get("unexpectedSuccesses", 0)
    if status != 0 and failed == 0:
        failed = 1  # trial died before it could summarise
    print("trial: %d passed, %d failed, %d skipped" % (passed, failed, counts.get("skips", 0)))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
