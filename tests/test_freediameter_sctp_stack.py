"""
freeDiameterd (which speaks SCTP natively) connects to pyhss nodes over
SCTP, completes the capabilities exchange, keeps the associations through
DWR/DWA rounds both ways and answers our DPR: the TCP interop test of
tests/test_interop_freediameter.py, over SCTP.

Skipped where the kernel has no SCTP; the test command runs it inside
user-mode Linux (tests/test_sctp_uml.py).
"""

from tests import sctp_stack_helpers as stack
from tests import test_interop_freediameter as over_tcp


class FreeDiameterOverSctpTests(over_tcp.FreeDiameterInteropTests):

    skip = stack.SKIP or over_tcp.SKIP_NO_FREEDIAMETER
    transport = "sctp"
