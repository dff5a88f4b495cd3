"""Parse rate of ``ss7tools parse`` against tshark and a scapy loop.

Generates (once, cached under bench/out/) a capture of at least 200,000
M3UA/SCCP/TCAP/MAP messages with the ss7tools.encode builder, then times:

* ``ss7tools parse IN -o OUT.csv`` (the CLI, CSV output);
* ``tshark -T fields`` with the fields the comparison test uses, to a file;
* a scapy dissection loop (PcapReader, full dissection to SCTP, walking
  every DATA chunk's payload down to the M3UA header), over a subset of
  frames and scaled, since scapy is slow.

Prints the rates in messages per second (ours with the default --jobs and
with --jobs 1) and the ratios; targets: ours/tshark >= 2.0, ours/scapy >= 20.

    .venv/bin/python bench/parse_rate.py [--messages 200000] [--scapy-frames 5000]
"""

import argparse
import os
import shutil
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

OUT = os.path.join(ROOT, "bench", "out")
TSHARK_FIELDS = [
    "frame.number", "frame.time_epoch", "ip.src", "ip.dst", "sctp.srcport",
    "sctp.dstport", "sctp.data_sid", "sctp.data_payload_proto_id",
    "m3ua.message_class", "m3ua.message_type", "m3ua.protocol_data_opc",
    "m3ua.protocol_data_dpc", "m3ua.protocol_data_si",
    "m3ua.protocol_data_ni", "m3ua.protocol_data_sls",
    "m3ua.network_appearance", "m3ua.routing_context",
    "sccp.message_type", "sccp.called.digits", "sccp.called.ssn",
    "sccp.called.pc", "sccp.calling.digits", "sccp.calling.ssn",
    "sccp.calling.pc", "tcap.otid", "tcap.dtid", "tcap.oid",
    "tcap.invokeID", "gsm_old.localValue", "gsm_old.errorCode",
    "e212.imsi", "e164.msisdn",
]


def build_capture(messages):
    from ss7tools.encode import write_bench_capture
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "parse_rate_%d_v2.pcap" % messages)
    if not os.path.exists(path):
        started = time.time()
        written = write_bench_capture(path + ".tmp", messages=messages)
        os.rename(path + ".tmp", path)
        print("generated %s: %d messages in %.1f s" % (path, written,
                                                      time.time() - started))
    return path


def time_ours(path, jobs=None):
    out = os.path.join(OUT, "parse_rate.csv")
    command = [sys.executable, "-m", "ss7tools", "parse", path, "-o", out]
    if jobs is not None:
        command += ["--jobs", str(jobs)]
    started = time.perf_counter()
    subprocess.run(command,
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    with open(out, "rb") as handle:
        rows = sum(1 for _ in handle) - 1
    return elapsed, rows


def time_tshark(path):
    tshark = shutil.which("tshark")
    if tshark is None:
        return None
    args = [tshark, "-n", "-r", path, "-T", "fields", "-E", "separator=,",
            "-E", "occurrence=a", "-E", "header=y"]
    for field in TSHARK_FIELDS:
        args += ["-e", field]
    out = os.path.join(OUT, "parse_rate_tshark.csv")
    started = time.perf_counter()
    with open(out, "wb") as handle:
        subprocess.run(args, check=True, stdout=handle,
                       stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def time_scapy(path, max_frames):
    """Seconds per frame and messages per frame of a scapy dissection loop."""
    from scapy.layers.sctp import SCTP, SCTPChunkData
    from scapy.utils import PcapReader
    frames = messages = 0
    started = time.perf_counter()
    with PcapReader(path) as reader:
        for packet in reader:
            frames += 1
            if SCTP in packet:
                layer = packet[SCTP].payload
                while layer is not None and layer.name != "NoPayload":
                    if isinstance(layer, SCTPChunkData) and layer.proto_id == 3:
                        data = bytes(layer.data)
                        if len(data) >= 8:
                            _v, _r, cls, typ, length = struct.unpack("!BBBBI", data[:8])
                            messages += 1
                    layer = layer.payload
            if frames >= max_frames:
                break
    elapsed = time.perf_counter() - started
    return elapsed, frames, messages


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200000)
    parser.add_argument("--scapy-frames", type=int, default=5000,
                        help="frames for the scapy loop (rate is scaled)")
    args = parser.parse_args(argv)
    path = build_capture(args.messages)
    from ss7tools import pcapio
    total_frames = sum(1 for _ in pcapio.iter_frames(path))

    single_s, rows = time_ours(path, jobs=1)
    single_rate = rows / single_s
    print("ss7tools parse -j1: %8d rows in %7.2f s  = %9.0f msg/s (one process)"
          % (rows, single_s, single_rate))
    ours_s, rows = time_ours(path)
    ours_rate = rows / ours_s
    print("ss7tools parse : %8d rows   in %7.2f s  = %9.0f msg/s (default --jobs)"
          % (rows, ours_s, ours_rate))

    tshark_s = time_tshark(path)
    if tshark_s is None:
        print("tshark         : not installed")
        tshark_rate = None
    else:
        tshark_rate = rows / tshark_s
        print("tshark -T fields: %8d msgs   in %7.2f s  = %9.0f msg/s"
              % (rows, tshark_s, tshark_rate))

    scapy_s, frames, messages = time_scapy(path, args.scapy_frames)
    scapy_rate = messages / scapy_s
    scaled = " (subset: %d of %d frames, scaled)" % (frames, total_frames) \
        if frames < total_frames else ""
    print("scapy loop     : %8d msgs   in %7.2f s  = %9.0f msg/s%s"
          % (messages, scapy_s, scapy_rate, scaled))

    if tshark_rate:
        print("ours / tshark  : %.2f  (target >= 2.0; one process: %.2f)"
              % (ours_rate / tshark_rate, single_rate / tshark_rate))
    print("ours / scapy   : %.1f  (target >= 20; one process: %.1f)"
          % (ours_rate / scapy_rate, single_rate / scapy_rate))
    print("(timings are wall clock on this machine; other load skews them)")


if __name__ == "__main__":
    main()
