"""pyhss and ss7tools tests (trial)."""

import faulthandler
import os
import signal

# scripts/run_tests.py sets PYHSS_TEST_STACKS and sends SIGUSR1 to every
# trial worker of a run that hangs: each writes its Python stacks to
# stacks.log in its working directory (_trial_temp/N) before being killed.
if os.environ.get("PYHSS_TEST_STACKS"):
    _stacks = open("stacks.log", "w")
    faulthandler.register(signal.SIGUSR1, file=_stacks, all_threads=True)
