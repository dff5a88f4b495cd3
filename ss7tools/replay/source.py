"""The replay's inputs: one list of messages per association, from a
directory of captures or from one capture split by a key on the fly (with
``ss7tools split``'s code, into a temporary directory removed at once).

Each message keeps its capture timestamp, payload (the M3UA or M2PA
message), SCTP stream and PPID.  An unreadable capture, a directory
without captures, or inputs without a single SS7 message are one
:class:`~ss7tools.errors.ReplayInputError` line.
"""

import os
import tempfile
from collections import namedtuple

from ss7tools.capture import iter_messages
from ss7tools.errors import CaptureError, ReplayInputError, SplitError
from ss7tools.split import KEYS, split
from ss7tools.stats import ParseStats

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap")

#: One message to replay.
ReplayMessage = namedtuple("ReplayMessage", ("stamp", "payload", "stream", "ppid"))


class ReplayInput:
    """One association's messages, named after its file or key value."""

    def __init__(self, name, messages, skipped=0):
        self.name = name
        self.messages = messages
        self.skipped = skipped

    def __repr__(self):
        return "ReplayInput(%r, %d messages)" % (self.name, len(self.messages))


def read_capture(path, name=None):
    """The :class:`ReplayInput` of one capture file."""
    stats = ParseStats()
    try:
        messages = [ReplayMessage(m.time_stamp, bytes(m.payload), m.stream, m.ppid)
                    for m in iter_messages(path, stats)]
    except (OSError, CaptureError) as exc:
        raise ReplayInputError("%s: %s" % (path, getattr(exc, "strerror", None) or exc)) from None
    messages.sort(key=lambda m: m.stamp)    # stable: capture order among equal stamps
    skipped = sum(stats.skipped.values())
    return ReplayInput(name or os.path.basename(path), messages, skipped)


def captures_in(directory):
    """The capture files of ``directory``, sorted by name."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise ReplayInputError("%s: %s" % (directory, exc.strerror or exc)) from None
    paths = [os.path.join(directory, name) for name in names
             if name.endswith(CAPTURE_SUFFIXES) and os.path.isfile(os.path.join(directory, name))]
    if not paths:
        raise ReplayInputError("%s: no capture files (%s) in it"
                               % (directory, ", ".join(CAPTURE_SUFFIXES)))
    return paths


def from_directory(directory):
    """One input per capture of ``directory`` that holds SS7 messages."""
    return _nonempty([read_capture(path) for path in captures_in(directory)], directory)


def from_split(path, key):
    """One input per value of ``key`` in the capture at ``path``."""
    if key not in KEYS:
        raise ReplayInputError("cannot split by %r; keys: %s" % (key, ", ".join(KEYS)))
    if not os.path.isfile(path):
        raise ReplayInputError("%s: no such capture file" % (path,))
    with tempfile.TemporaryDirectory(prefix="ss7replay-split-") as directory:
        try:
            split(path, key, directory)
        except (OSError, CaptureError, SplitError) as exc:
            raise ReplayInputError("%s: %s" % (path, getattr(exc, "strerror", None) or exc)) from None
        inputs = []
        for part in captures_in(directory):
            name = "%s=%s" % (key, os.path.splitext(os.path.basename(part))[0])
            inputs.append(read_capture(part, name))
    return _nonempty(inputs, path)


def _nonempty(inputs, where):
    kept = [i for i in inputs if i.messages]
    if not kept:
        raise ReplayInputError("%s: no M3UA or M2PA message to replay" % (where,))
    return kept
