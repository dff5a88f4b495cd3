"""Integration test: ``ss7tools parse`` agrees with Wireshark (tshark).

tshark's PDML output is cut into SS7 messages at each M3UA or M2PA layer
and each message into components at each GSM MAP layer, so that its
per-frame, multi-occurrence values line up with our rows (one row per
message, or per component).  On every message tshark decodes, op_code,
imsi, msisdn, the short message's TP-PID and TP-DCS, calling/called
GT and SSN, OPC, DPC, otid, dtid and tcap_type must agree.  Runs on
every capture in ../shared/ss7-captures and on generated traffic
covering every message kind of the issue.
"""

import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections import OrderedDict, defaultdict

from twisted.trial import unittest

from ss7tools.encode import (LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2,
                             LINKTYPE_RAW, write_sample_capture)

TSHARK = shutil.which("tshark")
HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURES = os.path.normpath(os.path.join(HERE, "..", "..", "shared",
                                         "ss7-captures"))

MESSAGE_LAYERS = ("m3ua", "m2pa")
MALFORMED = ("_ws.malformed", "_ws.unreassembled", "_ws.short")
TCAP_TYPES = ("begin", "end", "continue", "abort", "unidirectional")
MESSAGE_FIELDS = ("opc", "dpc", "called_gt", "called_ssn", "calling_gt",
                  "calling_ssn", "otid", "dtid", "tcap_type")
COMPONENT_FIELDS = ("op_code", "imsi", "msisdn", "tp_pid", "tp_dcs")
TSHARK_PREFS = ["-o", "sctp.checksum:NONE", "-o", "sctp.reassembly:TRUE",
                "-o", "m3ua.version:RFC 4666"]


def _fields(element):
    """All <field> descendants in document order."""
    return element.iter("field")


class TsharkMessage:
    def __init__(self):
        self.values = {}
        self.components = []
        self.retransmission = False
        self.decoded = False
        self.malformed = False      # tshark could not decode all of it

    def set(self, name, value):
        if value not in (None, "") and name not in self.values:
            self.values[name] = value


def _component(proto):
    """op_code, imsi, msisdn of one GSM MAP component layer."""
    comp = {}
    for field in _fields(proto):
        name = field.get("name")
        if name == "gsm_old.opCode" and "op_code" not in comp:
            # (gsm_old.localValue also spells error codes: take the opCode's)
            for sub in _fields(field):
                if sub.get("name") == "gsm_old.localValue":
                    comp["op_code"] = sub.get("show")
                    break
        elif name == "e212.imsi" and "imsi" not in comp:
            comp["imsi"] = field.get("show")
        elif name.endswith(".msisdn") and name.startswith("gsm_map") \
                and "msisdn" not in comp:
            for sub in _fields(field):
                if sub.get("name") in ("e164.msisdn", "gsm_map.address.digits"):
                    comp["msisdn"] = sub.get("show")
                    break
    return comp


def tshark_messages(path):
    """{frame number: [TsharkMessage, ...]} from tshark's PDML."""
    proc = subprocess.Popen([TSHARK, "-n", "-r", path, "-T", "pdml"]
                            + TSHARK_PREFS, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    frames = {}
    seen_tsns = set()   # (src, dst, sport, dport, vtag, tsn): duplicates are skipped by design
    for _event, packet in ET.iterparse(proc.stdout):
        if packet.tag != "packet":
            continue
        number, messages, current, retrans = None, [], None, False
        endpoints, header = (), ()
        for proto in packet.findall("proto"):
            name = proto.get("name")
            if name in ("ip", "ipv6"):
                endpoints = tuple(f.get("show") for f in proto.findall("field")
                                  if f.get("name") in ("ip.src", "ip.dst",
                                                       "ipv6.src", "ipv6.dst"))
            if name == "frame":
                for field in proto.iter("field"):
                    if field.get("name") == "frame.number":
                        number = int(field.get("show"))
                        break
            elif name == "sctp":
                retrans = False
                for field in _fields(proto):
                    fname = field.get("name")
                    if fname in ("sctp.srcport", "sctp.dstport",
                                 "sctp.verification_tag"):
                        header = (header + (field.get("show"),))[-3:]
                    elif fname == "sctp.chunk_type" and field.get("show") == "1":
                        seen_tsns.difference_update(
                            [k for k in seen_tsns if set(k[:2]) == set(endpoints)])
                    elif fname == "sctp.data_tsn_raw":
                        key = endpoints + header + (field.get("show"),)
                        retrans = retrans or key in seen_tsns
                        seen_tsns.add(key)
                    elif fname == "sctp.retransmission":
                        retrans = True
            elif name in MALFORMED:
                if current is not None:
                    current.malformed = True
            elif name in MESSAGE_LAYERS:
                current = TsharkMessage()
                current.retransmission = retrans
                messages.append(current)
                for field in _fields(proto):
                    fname = field.get("name")
                    if fname == "m3ua.protocol_data_opc":
                        current.set("opc", field.get("show"))
                    elif fname == "m3ua.protocol_data_dpc":
                        current.set("dpc", field.get("show"))
            elif current is None:
                continue
            elif name == "mtp3":
                for field in _fields(proto):
                    if field.get("name") in ("mtp3.opc", "mtp3.dpc"):
                        current.set(field.get("name")[5:], field.get("show"))
            elif name == "sccp":
                for field in _fields(proto):
                    fname = field.get("name")
                    for side in ("called", "calling"):
                        if fname == "sccp.%s.digits" % side:
                            current.set(side + "_gt", field.get("show"))
                        elif fname == "sccp.%s.ssn" % side:
                            current.set(side + "_ssn", field.get("show"))
            elif name == "tcap":
                current.decoded = True
                for field in _fields(proto):
                    fname = field.get("name")
                    if fname in ("tcap.otid", "tcap.dtid"):
                        current.set(fname[5:], field.get("value"))
                    elif fname.startswith("tcap.") and fname[5:].endswith("_element") \
                            and fname[5:-8] in TCAP_TYPES:
                        current.set("tcap_type", fname[5:-8])
            elif name == "gsm_map":
                current.components.append(_component(proto))
            elif name == "gsm_sms" and current.components:
                # the TPDU of the last MAP component's SM-RP-UI
                for field in _fields(proto):
                    fname = field.get("name")
                    if fname in ("gsm_sms.tp-pid", "gsm_sms.tp-dcs"):
                        current.components[-1].setdefault(
                            fname[8:].replace("-", "_"), str(int(field.get("value"), 16)))
            if current is not None and any(
                    p.get("name") in MALFORMED for p in proto.iter("proto")):
                current.malformed = True
        frames[number] = messages
        packet.clear()
    error = proc.stderr.read().decode("utf-8", "replace")
    if proc.wait() != 0:
        raise RuntimeError("tshark failed on %s: %s" % (path, error[-500:]))
    return frames


def our_messages(path):
    """{frame: [(message row, [component rows])]} from ss7tools' parser."""
    from ss7tools.rows import COLUMNS, iter_rows
    from ss7tools.stats import ParseStats
    grouped = defaultdict(OrderedDict)
    for row in iter_rows(path, ParseStats()):
        if not isinstance(row, dict):
            row = dict(zip(COLUMNS, row))
        grouped[int(row["frame"])].setdefault(int(row["chunk"]), []).append(row)
    return {frame: list(chunks.values()) for frame, chunks in grouped.items()}


def norm(field, value):
    """One spelling for both sides."""
    if value is None:
        return ""
    value = str(value).strip()
    if value in ("", "nan", "None"):
        return ""
    if field in ("otid", "dtid"):
        return value.lower().replace(":", "").replace("0x", "")
    if field in ("opc", "dpc", "called_ssn", "calling_ssn", "op_code", "tp_pid", "tp_dcs"):
        try:
            return str(int(float(value)))
        except ValueError:
            return value
    if field == "tcap_type":
        return value.lower().replace("tc-", "").replace("_", "")
    return value.lower()


def compare_capture(path):
    """List of disagreements (strings) and the count of compared values."""
    theirs = tshark_messages(path)
    ours = our_messages(path)
    problems, compared = [], 0
    for frame in sorted(set(theirs) | set(ours)):
        t_messages = [m for m in theirs.get(frame, []) if not m.retransmission]
        o_messages = ours.get(frame, [])
        if len(t_messages) != len(o_messages):
            if any(m.values or m.components for m in t_messages):
                problems.append("frame %d: tshark has %d SS7 messages, we have %d"
                                % (frame, len(t_messages), len(o_messages)))
            continue
        for index, (t_msg, rows) in enumerate(zip(t_messages, o_messages)):
            where = "frame %d message %d" % (frame, index)
            for field in MESSAGE_FIELDS:
                if field not in t_msg.values:
                    continue
                want = norm(field, t_msg.values[field])
                for row in rows:
                    compared += 1
                    got = norm(field, row.get(field))
                    if got != want:
                        problems.append("%s %s: tshark %r, ours %r"
                                        % (where, field, want, got))
                        break
            if not t_msg.components or t_msg.malformed:
                continue
            if len(t_msg.components) != len(rows):
                problems.append("%s: tshark has %d components, we have %d rows"
                                % (where, len(t_msg.components), len(rows)))
                continue
            for cindex, (comp, row) in enumerate(zip(t_msg.components, rows)):
                for field in COMPONENT_FIELDS:
                    if field not in comp:
                        continue
                    compared += 1
                    want, got = norm(field, comp[field]), norm(field, row.get(field))
                    if got != want:
                        problems.append("%s component %d %s: tshark %r, ours %r"
                                        % (where, cindex, field, want, got))
    return problems, compared


def real_captures():
    found = []
    for root, _dirs, files in os.walk(CAPTURES):
        found.extend(os.path.join(root, name) for name in files
                     if name.endswith((".pcap", ".pcapng", ".cap")))
    return sorted(found)


class TsharkComparison(unittest.TestCase):
    def setUp(self):
        if TSHARK is None:
            raise unittest.SkipTest("tshark is not installed "
                                    "(scripts/bootstrap.sh install test)")
        try:
            import ss7tools.rows  # noqa: F401
        except ImportError as exc:
            raise unittest.SkipTest("ss7tools.rows not available: %s" % exc)
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def assertAgrees(self, path):
        problems, compared = compare_capture(path)
        self.assertEqual(problems[:40], [], "%s: %d disagreements"
                         % (os.path.basename(path), len(problems)))
        return compared

    def test_real_captures(self):
        paths = real_captures()
        if not paths:
            raise unittest.SkipTest("no captures in %s" % CAPTURES)
        failures = {}
        total = 0
        for path in paths:
            problems, compared = compare_capture(path)
            total += compared
            if problems:
                failures[os.path.relpath(path, CAPTURES)] = problems[:10]
        self.assertEqual(failures, {})
        self.assertGreater(total, 500)

    def test_generated_traffic(self):
        path = os.path.join(self.dir, "sample.pcap")
        write_sample_capture(path)
        self.assertGreater(self.assertAgrees(path), 1000)

    def test_generated_random_subscribers(self):
        from ss7tools.encode import write_bench_capture
        path = os.path.join(self.dir, "bench.pcap")
        write_bench_capture(path, messages=1200, bundle=3, pool_size=150)
        self.assertGreater(self.assertAgrees(path), 8000)

    def test_generated_link_types(self):
        for kwargs in ({"pcapng": True, "ipv6": True, "vlans": (10, 20)},
                       {"linktype": LINKTYPE_LINUX_SLL},
                       {"linktype": LINKTYPE_LINUX_SLL2},
                       {"linktype": LINKTYPE_RAW}):
            path = os.path.join(self.dir, "sample-%d.pcap" % len(kwargs))
            write_sample_capture(path, **kwargs)
            self.assertGreater(self.assertAgrees(path), 1000)
