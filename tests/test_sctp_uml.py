"""
The tests that need a kernel SCTP stack, run inside user-mode Linux where
this machine's kernel has none (tests/uml.py): one guest boot per group,
each running trial on its modules and failing with their output if any
test inside failed, errored or was skipped.

 - transport and Diameter (loopback MTU 1500, so that SCTP fragments
   what a network would): tests.test_sctp_stack,
   tests.test_diameter_sctp_stack;
 - freeDiameterd over SCTP and twistd pyhss serving TCP and SCTP:
   tests.test_freediameter_sctp_stack, tests.test_twistd_sctp_stack
   (the guest gets an address besides the loopback: freeDiameterd ignores
   loopback addresses when it looks for its own).

Where the kernel has SCTP those modules run directly and these boots are
skipped; where neither the kernel nor user-mode Linux can give SCTP, the
skip reason says so.
"""

import re

from twisted.trial import unittest

from tests import uml
from tests.sctp_stack_helpers import NO_KERNEL_SCTP

if NO_KERNEL_SCTP is None:
    SKIP = "this kernel has SCTP: the stack test modules run directly"
elif uml.unavailable_reason() is not None:
    SKIP = ("no SCTP anywhere: this kernel has none (%s) and %s; the SCTP tests did not run"
            % (NO_KERNEL_SCTP, uml.unavailable_reason()))
else:
    SKIP = None

SUMMARY = re.compile(r"^(PASSED|FAILED) \((?P<counts>[^)]*)\)\s*$", re.MULTILINE)
# A guest's whole run, boot to power-off, including trial's start-up in it.
GUEST_TIMEOUT = 420


class GuestRuns(unittest.TestCase):

    skip = SKIP
    timeout = GUEST_TIMEOUT + 30

    def run_in_guest(self, modules, **options):
        result = uml.run_trial(modules, timeout=GUEST_TIMEOUT, **options)
        summary = SUMMARY.search(result.output)
        explain = "trial in the guest (%.1f s):\n%s" % (result.seconds, result.output[-20000:])
        self.assertIsNotNone(summary, explain)
        counts = dict(item.strip().split("=") for item in summary.group("counts").split(","))
        self.assertEqual((result.status, summary.group(1), set(counts)), (0, "PASSED", {"successes"}),
                         explain)
        return int(counts["successes"])

    def test_transport_and_diameter(self):
        ran = self.run_in_guest(["tests.test_sctp_stack", "tests.test_diameter_sctp_stack"], mtu=1500)
        self.assertGreaterEqual(ran, 17)

    def test_freediameter_and_twistd(self):
        ran = self.run_in_guest(["tests.test_freediameter_sctp_stack", "tests.test_twistd_sctp_stack"],
                                addresses=["192.0.2.1/24"])
        self.assertGreaterEqual(ran, 3)
