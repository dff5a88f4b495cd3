"""Authentication-centre throughput: E-UTRAN vectors per second.

Measures, on one core, one E-UTRAN vector at a time (what an AIR with
Number-Of-Requested-Vectors = 1 costs):

  warm      the subscriber's MILENAGE object (AES key schedule, OPc) is in
            the per-key cache: vector math only (2 AES calls, HMAC-SHA-256,
            RAND from the OS CSPRNG)
  cold-opc  a different subscriber every time, cache defeated: AES key
            expansion + vector
  cold-op   as cold-opc for subscribers provisioned with OP (OPc computed)
  centre    AuthenticationCentre.generate() with an in-memory synchronous
            reserve_sqns: Deferred plumbing + SQN allocation + vector
  air       the whole S6a AIR handler on the in-memory store: decode the
            AIR bytes, look the subscriber up, reserve the SQN, build and
            encode the AIA (everything but the socket and the reactor)

Usage: python bench/auc_rate.py [--seconds 2] [--subscribers 100000]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from twisted.internet import defer  # noqa: E402

from pyhss.auc import milenage as milenage_module  # noqa: E402
from pyhss.auc.centre import AuthenticationCentre  # noqa: E402
from pyhss.auc.kdf import encode_plmn_id  # noqa: E402
from pyhss.auc.milenage import Milenage  # noqa: E402
from pyhss.auc.sqn import advance  # noqa: E402
from pyhss.auc.vectors import eutran_vector  # noqa: E402

PLMN = encode_plmn_id("001", "01")
AMF = b"\x80\x00"


def run_for(seconds, step):
    """Call step(i) repeatedly for about ``seconds``; return (count, elapsed)."""
    count = 0
    batch = 500
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for i in range(count, count + batch):
            step(i)
        count += batch
        now = time.perf_counter()
        if now >= deadline:
            return count, now - start


def report(name, count, elapsed):
    print(f"{name:<10} {count / elapsed:>10,.0f} vectors/s  {elapsed / count * 1e6:7.2f} us/vector  ({count} in {elapsed:.2f} s)")


class InstantStore:
    """reserve_sqns without I/O, as the in-memory store adapter behaves."""

    def __init__(self):
        self.sqn = {}

    def reserve_sqns(self, imsi, request):
        new, sqns = advance(self.sqn.get(imsi, 0), request)
        self.sqn[imsi] = new
        return defer.succeed((imsi, sqns))


class Subscriber:
    __slots__ = ("imsi", "k", "opc", "op", "amf")

    def __init__(self, imsi, k, opc=None, op=None, amf=AMF):
        self.imsi, self.k, self.opc, self.op, self.amf = imsi, k, opc, op, amf


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each measurement")
    parser.add_argument("--subscribers", type=int, default=100_000, help="distinct keys for the cold runs")
    args = parser.parse_args(argv)

    keys = [os.urandom(16) for _ in range(args.subscribers)]
    opcs = [os.urandom(16) for _ in range(args.subscribers)]
    n = args.subscribers

    print(f"python {sys.version.split()[0]}, {args.seconds:.1f} s per run, {n} subscribers for cold runs")

    warm = Milenage(keys[0], opcs[0])
    report("warm", *run_for(args.seconds, lambda i: eutran_vector(warm, i, AMF, PLMN)))

    milenage_module.set_cache_size(1)  # every lookup below misses
    try:
        report("cold-opc", *run_for(
            args.seconds,
            lambda i: eutran_vector(Milenage.for_subscriber(keys[i % n], opc=opcs[i % n]), i, AMF, PLMN),
        ))
        report("cold-op", *run_for(
            args.seconds,
            lambda i: eutran_vector(Milenage.for_subscriber(keys[i % n], op=opcs[i % n]), i, AMF, PLMN),
        ))
    finally:
        milenage_module.set_cache_size(65536)

    centre = AuthenticationCentre(InstantStore())
    subscribers = [Subscriber(str(i), keys[i], opc=opcs[i]) for i in range(min(n, 50_000))]
    m = len(subscribers)
    for s in subscribers:  # warm the cache as a running server would be
        centre.milenage_for(s)
    report("centre", *run_for(
        args.seconds,
        lambda i: centre.generate(subscribers[i % m], eutran=1, serving_network_id=PLMN),
    ))

    report("air", *air_rate(args.seconds, min(n, 20_000)))


def air_rate(seconds, count):
    from twisted.internet import task

    from pyhss.apps.s6a import S6aApplication
    from pyhss.node import DiameterNode
    from pyhss.protocols import codec
    from pyhss.protocols.dictionary import APP_S6A, CMD_AIR
    from pyhss.storage.memory import MemoryStore
    from pyhss.storage.records import Subscriber as Record

    store = MemoryStore()
    node = DiameterNode("hss.bench", "bench.realm", task.Clock())
    app = S6aApplication(node, store, "001", "01")
    imsis = ["00101%010d" % i for i in range(count)]
    for imsi in imsis:
        store.add_subscriber(Record(imsi, os.urandom(16), opc=os.urandom(16)))
    requests = [codec.Message.request(APP_S6A, CMD_AIR, [
        ("Session-Id", "mme.bench;1;%d" % i), ("Auth-Session-State", 1), ("Origin-Host", "mme.bench"),
        ("Origin-Realm", "bench.realm"), ("Destination-Realm", "bench.realm"), ("User-Name", imsi),
        ("Visited-PLMN-Id", PLMN),
        ("Requested-EUTRAN-Authentication-Info", [("Number-Of-Requested-Vectors", 1),
                                                  ("Immediate-Response-Preferred", 1)]),
    ]).encode() for i, imsi in enumerate(imsis)]
    answers = []

    def step(i):
        d = app.authentication_information(codec.decode_message(requests[i % count]), None)
        d.addCallback(lambda answer: answers.append(answer.encode()))

    result = run_for(seconds, step)
    assert len(answers) == result[0] and codec.decode_message(answers[-1]).get("Result-Code") == 2001
    return result


if __name__ == "__main__":
    main()
