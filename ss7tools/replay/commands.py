"""The replay's ``ss7tools`` subcommands: ``send``, ``udp-server``,
``udp-load`` and ``rate``.  Each refuses bad input with one line on stderr
and exit status 2; a run that fails (a refused connection, no answer)
exits 1.
"""

import json
import sys
import time

from twisted.internet import defer, task
from twisted.python.failure import Failure

from ss7tools import m3ua
from ss7tools.errors import EndpointError, ReplayInputError

from . import asp, rate, udp
from .endpoints import client_endpoint
from .framing import SigtranProtocol, is_framable

DEFAULT_PPID = 3


def _refuse(command, line):
    sys.stderr.write("ss7tools %s: %s\n" % (command, line))
    return 2


def _run_reactor(work):
    """Run ``work(reactor)`` (a Deferred) on the global reactor until it
    fires or the process is interrupted; its result, or the Failure."""
    from twisted.internet import reactor
    outcome = []

    def start():
        d = defer.maybeDeferred(work, reactor)
        d.addBoth(finish)

    def finish(result):
        outcome.append(result)
        if reactor.running:
            reactor.stop()

    reactor.callWhenRunning(start)
    reactor.run()
    return outcome[0] if outcome else None


# -- send --------------------------------------------------------------

class _OneMessage(SigtranProtocol):
    def __init__(self, data, stream, ppid, expect):
        self.data, self.stream, self.ppid, self.expect = data, stream, ppid, expect
        self.replies = []
        self.finished = defer.Deferred()

    def connectionMade(self):
        self.send_message(self.data, self.stream, self.ppid)
        if self.expect == 0:
            self.transport.loseConnection()

    def message_received(self, data, stream, ppid):
        self.replies.append((data, stream, ppid))
        if len(self.replies) >= self.expect:
            self.transport.loseConnection()

    def connectionLost(self, reason):
        if not self.finished.called:
            self.finished.callback(self.replies)


def send_once(reactor, endpoint, data, stream, ppid, expect=0, wait=2.0):
    """Send one message; fires with the replies received (up to
    ``expect``, waiting at most ``wait`` seconds for them)."""
    from twisted.internet.protocol import Factory
    protocol = _OneMessage(data, stream, ppid, expect)
    d = endpoint.connect(Factory.forProtocol(lambda: protocol))

    def connected(_):
        timer = reactor.callLater(wait, protocol.transport.loseConnection)
        protocol.finished.addBoth(_cancel, timer)
        return protocol.finished
    return d.addCallback(connected)


def _cancel(result, call):
    if call.active():
        call.cancel()
    return result


def describe(data):
    try:
        message = m3ua.decode(data)
    except m3ua.M3uaError as exc:
        return "undecodable: %s" % (exc,)
    if message.type_name == "ERR":
        return "MGMT ERR %s" % asp.describe_err(message)
    return "%s %s" % (message.class_name, message.type_name)


def run_send(args):
    try:
        if args.hex is not None:
            data = bytes.fromhex(args.hex.replace(":", "").replace(" ", ""))
        else:
            with open(args.file, "rb") as handle:
                data = handle.read()
    except ValueError:
        return _refuse("send", "--hex: not hexadecimal")
    except OSError as exc:
        return _refuse("send", "%s: %s" % (args.file, exc.strerror))
    if not data:
        return _refuse("send", "the message is empty")
    from twisted.internet import reactor
    try:
        endpoint = client_endpoint(reactor, args.connect)
    except EndpointError as exc:
        return _refuse("send", "--connect %s" % (exc,))
    if not args.connect.lower().startswith("sctp") and not is_framable(data):
        return _refuse("send", "over TCP a message must be one SIGTRAN message (version 1, its"
                       " header's length equal to its %d octets)" % len(data))
    stream = args.stream
    if stream is None:
        stream = 0 if len(data) > 2 and data[2] in (m3ua.CLASS_MGMT, m3ua.CLASS_ASPSM) else 1
    result = _run_reactor(lambda r: send_once(r, endpoint, data, stream, args.ppid,
                                              args.expect, args.wait))
    if isinstance(result, Failure):
        sys.stderr.write("ss7tools send: %s\n" % result.getErrorMessage())
        return 1
    print("sent %d octets on stream %d, PPID %d" % (len(data), stream, args.ppid))
    for reply, reply_stream, reply_ppid in result:
        # SCTP says where each answer came; TCP carries neither
        where = "" if reply_stream is None else " on stream %d, PPID %d" % (reply_stream, reply_ppid)
        print("received %s (%d octets)%s: %s" % (describe(reply), len(reply), where, reply.hex()))
    return 0 if len(result) >= args.expect else 1


# -- UDP ---------------------------------------------------------------

def run_udp_server(args):
    from twisted.internet import reactor
    sink = udp.UdpSink()
    try:
        port = reactor.listenUDP(args.listen, sink, interface=args.interface)
    except Exception as exc:  # CannotListenError and its kin: one line
        return _refuse("udp-server", "cannot listen on %s:%d: %s" % (
            args.interface, args.listen, exc))
    granted = udp.enlarge_receive_buffer(port)
    sys.stderr.write("listening on udp %s:%d (receive buffer %d octets)\n"
                     % (args.interface, port.getHost().port, granted))

    def show():
        report = sink.report()
        if args.json:
            print(json.dumps(report, sort_keys=True), flush=True)
        else:
            print("\n".join(udp.format_sink_report(report)), flush=True)

    ticker = task.LoopingCall(show)
    ticker.start(args.report, now=False)
    reactor.run()
    show()
    return 0


def _parse_host_port(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError("HOST:PORT expected, not %r" % (text,))
    return host.strip("[]"), int(port)


def run_udp_load(args):
    try:
        address = _parse_host_port(args.connect)
        from twisted.internet import reactor
        load = udp.UdpLoad(reactor, address, args.clients, args.rate, args.duration,
                           args.churn, args.size, args.seed)
    except ValueError as exc:
        return _refuse("udp-load", str(exc))

    def work(reactor):
        reactor.listenUDP(0, load, interface="::" if ":" in address[0] else "0.0.0.0")
        return load.run()
    report = _run_reactor(work)
    if isinstance(report, Failure):
        sys.stderr.write("ss7tools udp-load: %s\n" % report.getErrorMessage())
        return 1
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        for name, count in report["clients"].items():
            print("%s sent %d" % (name, count["sent"]))
        total = report["total"]
        print("total: %d clients, sent %d, send errors %d"
              % (total["clients"], total["sent"], total["send_errors"]))
    return 0


# -- rate --------------------------------------------------------------

def run_rate(args, sleep=time.sleep, clock=time.monotonic, out=None):
    out = out if out is not None else sys.stdout
    try:
        counters = rate.read_counters(args.interface)
    except ReplayInputError as exc:
        return _refuse("rate", str(exc))
    meter = rate.RateMeter()
    start = clock()
    meter.sample(start, counters)
    shown = 0
    try:
        while args.count is None or shown < args.count:
            # absolute instants: one slow read does not shift the next
            delay = start + (shown + 1) * args.interval - clock()
            if delay > 0:
                sleep(delay)
            try:
                counters = rate.read_counters(args.interface)
            except ReplayInputError as exc:
                sys.stderr.write("ss7tools rate: %s\n" % (exc,))
                return 1
            rates = meter.sample(clock(), counters)
            shown += 1
            if rates is None:
                continue
            if args.json:
                line = dict(rates, interface=args.interface, time=round(time.time(), 3))
                out.write(json.dumps(line, sort_keys=True) + "\n")
            else:
                out.write(rate.format_rates(args.interface, rates) + "\n")
            out.flush()
    except KeyboardInterrupt:
        pass
    return 0


def _positive(kind):
    def convert(text):
        value = kind(text)
        if value <= 0:
            raise ValueError(text)
        return value
    convert.__name__ = kind.__name__
    return convert


def add_parser(subparsers):
    send = subparsers.add_parser(
        "send", help="send one SIGTRAN message (over SCTP, or TCP: not standard)",
        description="Send one message (M3UA, M2PA...) to a server and print what comes back.")
    send.add_argument("--connect", required=True,
                      help="sctp:HOST:PORT, or tcp:HOST:PORT (frames by the M3UA header"
                           " length; not standard; no stream or PPID)")
    what = send.add_mutually_exclusive_group(required=True)
    what.add_argument("--hex", help="the message as hexadecimal")
    what.add_argument("--file", help="a file holding the message")
    send.add_argument("--stream", type=int, default=None,
                      help="SCTP stream (default: 0 for MGMT and ASPSM, else 1)")
    send.add_argument("--ppid", type=int, default=DEFAULT_PPID, help="SCTP PPID (default 3, M3UA)")
    send.add_argument("--expect", type=int, default=0,
                      help="wait for this many messages in answer (default 0)")
    send.add_argument("--wait", type=_positive(float), default=2.0,
                      help="seconds to wait for them at most (default 2)")
    send.set_defaults(func=run_send)

    server = subparsers.add_parser(
        "udp-server", help="count numbered UDP datagrams per client (received, lost, reordered)",
        description=udp.__doc__.split("\n\n")[0])
    server.add_argument("--listen", type=int, required=True, help="UDP port")
    server.add_argument("--interface", default="127.0.0.1", help="address to bind (127.0.0.1)")
    server.add_argument("--report", type=_positive(float), default=5.0,
                        help="seconds between reports (default 5)")
    server.add_argument("--json", action="store_true", help="reports as JSON lines")
    server.set_defaults(func=run_udp_server)

    load = subparsers.add_parser(
        "udp-load", help="many numbered UDP clients, with churn",
        description=udp.__doc__.split("\n\n")[0])
    load.add_argument("--connect", required=True, help="HOST:PORT of udp-server")
    load.add_argument("--clients", type=_positive(int), required=True,
                      help="clients alive at once")
    load.add_argument("--rate", type=_positive(float), required=True,
                      help="datagrams per second per client")
    load.add_argument("--duration", type=_positive(float), required=True, help="seconds")
    load.add_argument("--churn", type=float, default=0.0,
                      help="client ends per client-second (each is replaced at once)")
    load.add_argument("--size", type=_positive(int), default=udp.DEFAULT_SIZE,
                      help="datagram size in octets (default %d)" % udp.DEFAULT_SIZE)
    load.add_argument("--seed", type=int, default=None, help="random seed (ids and churn)")
    load.add_argument("--json", action="store_true", help="the report as JSON")
    load.set_defaults(func=run_udp_load)

    meter = subparsers.add_parser(
        "rate", help="packets/s and bytes/s of an interface, from the kernel's counters",
        description=rate.__doc__.split("\n\n")[0])
    meter.add_argument("interface", help="interface name (lo, eth0...)")
    meter.add_argument("--interval", type=_positive(float), default=1.0,
                       help="seconds per line (default 1)")
    meter.add_argument("--count", type=_positive(int), default=None,
                       help="stop after this many lines (default: until interrupted)")
    meter.add_argument("--json", action="store_true", help="JSON lines")
    meter.set_defaults(func=run_rate)
