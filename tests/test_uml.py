"""
tests/uml.py, the harness that runs code inside user-mode Linux: a script's
exit status and output come back, SCTP is loaded in the guest, and a guest
that overruns its time is killed with everything it started.
"""

import os
import tempfile

from twisted.trial import unittest

from tests import uml

SKIP = uml.unavailable_reason()


def _processes_mentioning(text):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % (pid,), "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


class GuestTests(unittest.TestCase):

    skip = SKIP
    timeout = 120

    def setUp(self):
        # The guest's files go under a directory of this test's, to check
        # that none are left.
        self.parent = os.path.abspath(self.mktemp())
        os.makedirs(self.parent)
        self.patch(tempfile, "tempdir", self.parent)

    def assertNothingLeft(self):
        self.assertEqual(os.listdir(self.parent), [])
        self.assertEqual(_processes_mentioning(self.parent), [])

    def test_shell_script_status_output_and_sctp(self):
        result = uml.run_shell(
            "echo hello from $(uname -r); grep -c '^sctp ' /proc/modules; exit 7", timeout=60)
        self.assertEqual(result.status, 7, result.output)
        self.assertIn("hello from %s" % (uml._release(),), result.output)
        self.assertIn("\n1\n", result.output)
        self.assertNothingLeft()

    def test_python_script_has_kernel_sctp(self):
        result = uml.run_python(
            "import sys\nfrom pyhss import sctp\nprint(sctp.unavailable_reason(), sys.argv[1:])",
            argv=["one", "two"], timeout=60)
        self.assertEqual(result.status, 0, result.output)
        self.assertEqual(result.output.strip(), "None ['one', 'two']")
        self.assertNothingLeft()

    def test_overrun_guest_is_killed(self):
        error = self.assertRaises(uml.GuestError, uml.run_shell,
                                  "echo started; sleep 600", timeout=6)
        self.assertIn("overran its 6s", str(error))
        self.assertIn("started", str(error))
        self.assertNothingLeft()
