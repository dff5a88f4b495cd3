"""The S6a (and Cx, S13) server path in one process, without sockets: CPU per request.

    .venv/bin/python bench/s6a_pipeline.py [--request air|ulr|mar|sar|uar|ecr] [--requests 30000]
        [--window 50] [--subscribers 100000] [--eir-rules 100000] [--db FILE] [--profile FILE]
        [--metrics on|off]

Builds the server as ``twistd pyhss`` does (HSSService from the shipped
config.yaml, SQLite store with its worker thread, collector tuned), opens
one peer connection on an in-memory transport, then feeds the requests of
bench/diameter_load.py's kinds (--window of them per read, the next read
when all were answered) and prints requests per second, CPU microseconds
per request, and how that CPU splits between the reactor thread and the
SQLite worker thread (from /proc/self/task).

What it leaves out, on purpose: the load client and the socket system
calls, so the figures move less with other load on the machine than
diameter_load.py's.  For figures that do not move at all, count
instructions with callgrind: two runs that differ only in --requests,

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/s6a_pipeline.py --requests 50 --variants 2000
    (the same with --requests 2050)

and the difference in "Collected" divided by 2,000 is the instructions one
request costs, both threads together (bench/README.md lists them).

The Cx kinds (mar, sar, uar) are diameter_load.py's: the provisioned
subscribers each have an IMS subscription (bench/provision.py).

--profile FILE writes cProfile statistics of the reactor thread to FILE
and of the SQLite thread to FILE.sqlite.  --db keeps the provisioned
SQLite file between runs (provisioning 100,000 subscribers takes a few
seconds; the default is a temporary file).
"""

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from twisted.internet import defer  # noqa: E402
from twisted.internet.testing import StringTransport  # noqa: E402
import yaml  # noqa: E402

import provision  # noqa: E402
import request_kinds  # noqa: E402
from pyhss.config import load_config_data  # noqa: E402
from pyhss.protocols import codec  # noqa: E402
from pyhss.protocols.dictionary import APP_BASE, CMD_CER  # noqa: E402
from pyhss.protocols.peer import ROLE_RESPONDER, DiameterProtocol  # noqa: E402
from pyhss.tap import HSSService, tune_collector  # noqa: E402


class AnswerCounter(StringTransport):
    """Keeps what the server writes and fires ``waiter`` once ``target``
    messages were written."""

    def __init__(self, reactor):
        StringTransport.__init__(self)
        self.reactor = reactor
        self.written = 0
        self.target = 0
        self.waiter = None

    def write(self, data):
        StringTransport.write(self, data)
        self.written += 1
        if self.waiter is not None and self.written >= self.target:
            waiter, self.waiter = self.waiter, None
            self.reactor.callLater(0, waiter.callback, None)

    def writeSequence(self, data):
        # What the connection writes within a read (the CEA): one message
        # each, so that the CER's waiter fires then, not at the first DWR
        # 30 s later.
        for message in data:
            self.write(message)

    def wait_for(self, count):
        self.target = count
        self.waiter = defer.Deferred()
        return self.waiter


def thread_cpu_ticks(names):
    """{thread name: user+system clock ticks} from /proc/self/task."""
    ticks = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/stat" % (tid,)) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(tid), "other")
        ticks[name] = ticks.get(name, 0) + int(fields[11]) + int(fields[12])
    return ticks


def result_code(data):
    """Result-Code (or Experimental-Result-Code) of the first answer in data."""
    answer = codec.decode_message(data[:codec.peek_message_length(data)])
    return answer.result_code


def answer_codes(data):
    """{Result-Code or Experimental-Result-Code: count} of the answers in data."""
    codes = {}
    offset = 0
    while offset < len(data):
        length = codec.peek_message_length(data, offset)
        code = codec.decode_message(data[offset:offset + length]).result_code
        codes[code] = codes.get(code, 0) + 1
        offset += length
    return codes


def profile_worker(worker_class, path):
    """Run the SQLite worker thread under cProfile, stats to ``path``."""
    import cProfile
    work = worker_class._work

    def profiled(self):
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            work(self)
        finally:
            profiler.disable()
            profiler.dump_stats(path)
    worker_class._work = profiled


@defer.inlineCallbacks
def run(reactor, options, out):
    with open(os.path.join(ROOT, "config.yaml")) as handle:
        data = yaml.safe_load(handle)
    data["database"] = {"backend": "sqlite", "sqlite": {"path": options.db}}
    data.setdefault("control", {})["enabled"] = False
    data.setdefault("logging", {})["level"] = "warn"
    data.setdefault("api", {})["listen"] = ""
    if options.metrics != "config":
        data.setdefault("metrics", {})["enabled"] = options.metrics == "on"
    config = load_config_data(data, "<s6a_pipeline>", ROOT)
    if not os.path.exists(options.db):
        yield provision.provision(reactor, options.db, options.imsi_first, options.subscribers)
        if options.request == "ecr":
            yield provision.provision_eir(reactor, options.db, options.eir_rules, options.imsi_first,
                                          options.subscribers)
    if options.profile:
        from pyhss.storage.sqlite_worker import SqliteWorker
        profile_worker(SqliteWorker, options.profile + ".sqlite")
    service = HSSService(config, reactor)
    yield service.store.opened
    tune_collector()
    transport = AnswerCounter(reactor)
    connection = DiameterProtocol(service.node, ROLE_RESPONDER)
    connection.makeConnection(transport)

    kind_options = argparse.Namespace(
        subscribers=options.subscribers, imsi_first=options.imsi_first, variants=options.variants,
        seed=1, vectors=1, mcc=None, mnc=None, destination_realm=None, eir_rules=options.eir_rules,
        config=os.path.join(ROOT, "config.yaml"))
    request_kinds.server_identity(kind_options)
    kind = request_kinds.REQUEST_KINDS[options.request](kind_options, "bench.localdomain", "localdomain")
    cer = codec.Message.request(APP_BASE, CMD_CER, proxiable=False)
    for name, value in (("Origin-Host", "bench.localdomain"), ("Origin-Realm", "localdomain"),
                        ("Host-IP-Address", "127.0.0.1"), ("Vendor-Id", 0), ("Product-Name", "s6a_pipeline")):
        cer.add(name, value)
    for vendor, application in kind.cer_applications:
        cer.add("Vendor-Specific-Application-Id", [("Vendor-Id", vendor), ("Auth-Application-Id", application)])
    answered = transport.wait_for(1)
    connection.dataReceived(cer.encode())
    yield answered
    if result_code(transport.value()) != 2001:
        raise RuntimeError("the CER was refused")
    templates = request_kinds.build_templates(kind)
    transport.clear()
    transport.written = 0

    names = {thread.native_id: ("sqlite" if thread.name.startswith("pyhss-sqlite ") else
                                "checkpoints" if thread.name.startswith("pyhss-sqlite-checkpoint") else
                                "reactor" if thread is threading.main_thread() else thread.name)
             for thread in threading.enumerate()}
    profiler = None
    if options.profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    ticks_before = thread_cpu_ticks(names)
    cpu_before = time.process_time()
    start = time.perf_counter()
    sent = 0
    first_code = None
    last_batch = b""
    while sent < options.requests:
        count = min(options.window, options.requests - sent)
        batch = b"".join(templates[(sent + i) % len(templates)].render(sent + i + 2, sent + i + 2, sent + i)
                         for i in range(count))
        sent += count
        answered = transport.wait_for(sent)
        connection.dataReceived(batch)
        yield answered
        if first_code is None:
            first_code = result_code(transport.value())
        last_batch = transport.value()
        transport.clear()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_before
    ticks_after = thread_cpu_ticks(names)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(options.profile)
    for application in service.applications.values():
        yield application.stop()        # S13's check history, before the store closes
    yield service.store.close()

    per_second = os.sysconf("SC_CLK_TCK")
    split = {name: (ticks_after.get(name, 0) - ticks_before.get(name, 0)) / per_second / sent * 1e6
             for name in ticks_after}
    out.write("%s: %d requests, window %d, first answer %s\n" % (options.request, sent, options.window, first_code))
    out.write("  last batch's answers by code: %s\n" % (
        ", ".join("%s %d" % item for item in sorted(answer_codes(last_batch).items())),))
    out.write("  %10.0f requests/s (no sockets, no client)\n" % (sent / elapsed,))
    # Clock ticks are 10 ms: a short run may show 0 for a thread.
    shown = sorted(item for item in split.items() if item[0] in ("reactor", "sqlite") or item[1] > 0)
    out.write("  %10.1f us CPU per request: %s\n" % (cpu / sent * 1e6, ", ".join("%s %.1f" % item for item in shown)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--request", choices=("air", "ulr", "mar", "sar", "uar", "ecr"), default="air")
    parser.add_argument("--requests", type=int, default=30000)
    parser.add_argument("--window", type=int, default=50)
    parser.add_argument("--subscribers", type=int, default=100000)
    parser.add_argument("--imsi-first", default=request_kinds.DEFAULT_IMSI_FIRST)
    parser.add_argument("--eir-rules", type=int, default=request_kinds.DEFAULT_EIR_RULES,
                        help="ecr: the bench EIR's IMEI rules (request_kinds.bench_imei)")
    parser.add_argument("--variants", type=int, default=100000,
                        help="distinct requests built before the run (default 100000)")
    parser.add_argument("--db", help="SQLite file to provision once and keep")
    parser.add_argument("--profile", metavar="FILE")
    parser.add_argument("--metrics", choices=("config", "on", "off"), default="config",
                        help="metrics.enabled: as config.yaml says, or on, or off (the cost of counting)")
    options = parser.parse_args(argv)
    directory = None
    if options.db is None:
        directory = tempfile.mkdtemp(prefix="pyhss-pipeline-")
        options.db = os.path.join(directory, "bench.sqlite3")
    from twisted.internet import reactor
    failures = []
    out = sys.stdout

    def go():
        d = run(reactor, options, out)
        d.addErrback(failures.append)
        d.addBoth(lambda _: reactor.stop())
    reactor.callWhenRunning(go)
    reactor.run()
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
    if failures:
        failures[0].printTraceback(file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
