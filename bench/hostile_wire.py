"""bench/hostile.py's pieces: the bytes the attackers send, and the figures
read from /proc."""

import os
import struct
import sys
import time

from twisted.internet import defer, error, task

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
for _path in (_ROOT, _HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from pyhss.protocols import dictionary  # noqa: E402
from pyhss.protocols.codec import Message  # noqa: E402


APP_BASE = dictionary.APP_BASE
APP_S6A = dictionary.APP_S6A
VENDOR_3GPP = dictionary.VENDOR_3GPP
CMD_CER = dictionary.CMD_CER
CMD_DWR = dictionary.CMD_DWR
CMD_DPR = dictionary.CMD_DPR
CMD_AIR = dictionary.CMD_AIR

FLAG_REQUEST = 0x80
FLAG_PROXIABLE = 0x40
AVP_MANDATORY = 0x40
AVP_VENDOR = 0x80

HEADER = struct.Struct("!IIIII")
_AVP = struct.Struct("!II")
_AVP_V = struct.Struct("!III")
IDS = struct.Struct("!II")
_U32 = struct.Struct("!I")

CER_ID = 0x0CE40CE4
MARK_ID = 0x0D0E0D0E
# An AVP code no dictionary of ours knows (unknown AVPs decode as raw bytes).
UNKNOWN_AVP = 0x7FFF0001
VENDOR_SPECIFIC_APPLICATION_ID = 260
REALM = "bench.test"



# --- bytes on the wire -------------------------------------------------------


def avp(code, payload, flags=AVP_MANDATORY, vendor=None):
    if vendor is not None:
        head = _AVP_V.pack(code, ((flags | AVP_VENDOR) << 24)
                           | (12 + len(payload)), vendor)
    else:
        head = _AVP.pack(code, (flags << 24) | (8 + len(payload)))
    return head + payload + b"\0" * (-len(payload) & 3)


def u32(value):
    return _U32.pack(value)


def message(flags, command, application, avps, hop_by_hop=0, end_to_end=0):
    body = b"".join(avps)
    return HEADER.pack((1 << 24) | (20 + len(body)), (flags << 24) | command,
                        application, hop_by_hop, end_to_end) + body


def identity_avps(origin_host):
    return [avp(264, origin_host.encode()), avp(296, REALM.encode())]


def cer_bytes(origin_host, local_address):
    cer = Message.request(APP_BASE, CMD_CER, proxiable=False)
    cer.add("Origin-Host", origin_host)
    cer.add("Origin-Realm", REALM)
    cer.add("Host-IP-Address", local_address)
    cer.add("Vendor-Id", 0)
    cer.add("Product-Name", "pyhss-bench-hostile")
    cer.add("Supported-Vendor-Id", VENDOR_3GPP)
    cer.add("Vendor-Specific-Application-Id", [
        ("Vendor-Id", VENDOR_3GPP), ("Auth-Application-Id", APP_S6A)])
    cer.hop_by_hop = cer.end_to_end = CER_ID
    return cer.encode()


def dwr_bytes(origin_host, hop_by_hop=1, extra=()):
    return message(FLAG_REQUEST, CMD_DWR, APP_BASE,
                   identity_avps(origin_host) + list(extra),
                   hop_by_hop, hop_by_hop)


class FloodGroups(object):
    """
    DWRs carrying a Vendor-Specific-Application-Id (Grouped, code 260) made
    of C{avps} unknown 12-byte AVPs (code L{UNKNOWN_AVP}, no M bit, distinct
    4-byte payloads); the first payload is the message's index, so every
    message's group has distinct bytes (a distinct key for a cache keyed on
    them).
    """

    def __init__(self, origin_host, group_bytes):
        self.avps = max(1, (group_bytes - 8) // 12)
        inner = b"".join(avp(UNKNOWN_AVP, u32(i), flags=0)
                         for i in range(self.avps))
        group = avp(VENDOR_SPECIFIC_APPLICATION_ID, inner)
        self.group_size = len(group)
        self.template = bytearray(dwr_bytes(origin_host, 0, [group]))
        # The first inner AVP's payload: 8 bytes of the group's header, 8
        # of the AVP's.
        self.index_offset = len(self.template) - len(group) + 16

    def render(self, index, hop_by_hop):
        IDS.pack_into(self.template, 12, hop_by_hop, hop_by_hop)
        _U32.pack_into(self.template, self.index_offset, index & 0xFFFFFFFF)
        return bytes(self.template)


def answer_result_code(data, start, end):
    from diameter_load import answer_result_code as parse
    return parse(data, start, end)


def vm_status_kib(pid, field):
    """C{field} (VmRSS, VmHWM) of /proc/<pid>/status, in KiB."""
    prefix = field + ":"
    try:
        with open("/proc/%d/status" % (pid,)) as handle:
            for line in handle:
                if line.startswith(prefix):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def vm_rss_kib(pid):
    return vm_status_kib(pid, "VmRSS")


def file_size(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def percentiles(values):
    ordered = sorted(values)
    if not ordered:
        return {"p50": None, "p99": None, "max": None}

    def at(fraction):
        return round(ordered[min(len(ordered) - 1,
                                 int(round(fraction * (len(ordered) - 1))))],
                     3)
    return {"p50": at(0.5), "p99": at(0.99), "max": round(ordered[-1], 3)}


def sleep(reactor, seconds):
    return task.deferLater(reactor, max(0.0, seconds), lambda: None)


# Processes we started (servers, fast peers) and the temporary directories
# of the servers: if the run is cut short (SIGINT, SIGTERM), the reactor's
# shutdown stops them (see stop_children).
CHILDREN = []
LEFT = {"servers": [], "directories": [], "files": [], "stopping": False}


@defer.inlineCallbacks
def stop_children(reactor):
    import shutil
    LEFT["stopping"] = True
    # A server's process exists from its spawn on, before it listens.
    processes = CHILDREN + [server.process for server in LEFT["servers"]
                             if server.process is not None]
    alive = [child for child in processes if not child.ended.called]
    for child in alive:
        try:
            child.transport.signalProcess("TERM")
        except error.ProcessExitedAlready:
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
            not child.ended.called for child in alive):
        yield sleep(reactor, 0.1)
    for child in alive:
        if not child.ended.called:
            try:
                child.transport.signalProcess("KILL")
            except error.ProcessExitedAlready:
                pass
    for directory in LEFT["directories"]:
        shutil.rmtree(directory, ignore_errors=True)
    for path in LEFT["files"]:
        if os.path.exists(path):
            os.unlink(path)
