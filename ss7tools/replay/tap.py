"""``twistd ss7replay``: the replay server and client as Twisted services.

``twistd -n ss7replay server --listen tcp:2905 [--listen sctp:2905]
[--log events.jsonl] [--record received.pcap] [--rules rules.yaml|default]
[--model FILE] [--network net.yaml]`` and ``twistd -n ss7replay
client --connect sctp:HOST:PORT (--pcap-dir DIR | --split-by KEY IN.pcap)
[--speed X] [--loop N] [--max-rate R] [--clients-limit N] [--json F]``.

A refused option (an unreadable capture, an empty directory, SCTP on a
host without it, an unwritable output) is one line on stderr and exit
status 2.  The client exits 0 when every association replayed all its
messages and had them acknowledged, 1 otherwise.
"""

import atexit
import gc
import itertools
import json
import os
import sys

from twisted.application import service
from twisted.logger import Logger
from twisted.python import usage
from twisted.python.failure import Failure

from ss7tools.errors import EndpointError, ReplayInputError, Ss7ToolsError
from ss7tools.split import KEYS

from .client import ASP_MODES, DEFAULT_ACK_TIMEOUT, ReplayRun, ReplaySettings, format_report
from .detection import ServerDetection
from .endpoints import client_endpoint, server_endpoint
from .record import EventLog, Recorder
from .schedule import DEFAULT_LATE_AFTER
from .server import DEFAULT_MAX_ASSOCIATIONS, ReplayServer
from .source import from_directory, from_split

log = Logger(namespace="ss7replay")

TRANSPORT_HELP = ("sctp:PORT[:interface=ADDR][:streams=N] is standard SIGTRAN (257 streams"
                  " unless told); tcp:PORT[:interface=ADDR] frames messages by their M3UA header"
                  " length, is not standard and carries no SCTP stream or PPID")


class Refusal(SystemExit):
    """An option refused: ``line`` is written to stderr, exit status 2."""

    def __init__(self, line):
        SystemExit.__init__(self, 2)
        self.line = line


def _positive(kind):
    def convert(text):
        value = kind(text)
        if value <= 0:
            raise ValueError("must be positive")
        return value
    convert.coerceDoc = "A positive number."
    return convert


class _RefusingOptions(usage.Options):
    stderr = None

    def refuse(self, line):
        stream = self.stderr if self.stderr is not None else sys.stderr
        stream.write("twistd ss7replay %s: %s\n" % (self.command, line))
        stream.flush()
        raise Refusal(line)


class ServerOptions(_RefusingOptions):
    command = "server"
    synopsis = ("--listen ENDPOINT [--listen ENDPOINT] [--log FILE] [--record FILE] "
                "[--rules FILE|default] [--model FILE] [--network FILE]")
    longdesc = ("Accept SIGTRAN associations, answer M3UA ASP management, log and record"
                " what arrives. Endpoints: " + TRANSPORT_HELP + ".")
    optParameters = [
        ["log", None, None, "JSON lines: associations opened/closed and every message"
         " received with its decoded summary (file created 0600)."],
        ["record", None, None, "pcap of what is received: one SCTP DATA chunk per message,"
         " original stream and PPID, receive timestamps (file created 0600)."],
        ["max-associations", None, DEFAULT_MAX_ASSOCIATIONS,
         "Associations served at once; more are closed at once", _positive(int)],
        ["rules", None, None, "Judge every SS7 message as it arrives with these firewall rules"
         " (ss7tools detect's YAML; 'default': the FS.11 category rules): alerts and drops"
         " are JSON lines in the log and on the console, a dropped message is neither"
         " recorded nor counted as accepted."],
        ["model", None, None, "With detection: a model from ss7tools train for the messages"
         " no rule decides (detection on, default rules if --rules is not given)."],
        ["network", None, None, "With detection: the home network file (default: the"
         " simulator's default world; detection on)."],
    ]

    def __init__(self):
        usage.Options.__init__(self)
        self["listen"] = []

    def opt_listen(self, description):
        """Endpoint to listen on (repeatable), e.g. sctp:2905:interface=127.0.0.1 or
        tcp:2905:interface=127.0.0.1."""
        self["listen"].append(description)

    def postOptions(self):
        if not self["listen"]:
            self.refuse("--listen ENDPOINT is required (%s)" % TRANSPORT_HELP)
        from twisted.internet import reactor
        try:
            self.endpoints = [(d, server_endpoint(reactor, d)) for d in self["listen"]]
        except EndpointError as exc:
            self.refuse("--listen %s" % (exc,))
        self.detection = None
        if self["rules"] or self["model"] or self["network"]:
            rules = None if self["rules"] in (None, "default") else self["rules"]
            try:
                self.detection = ServerDetection.from_files(rules, self["model"],
                                                            self["network"])
            except Ss7ToolsError as exc:
                self.refuse(str(exc))
            except OSError as exc:
                self.refuse("%s: %s" % (exc.filename, exc.strerror))
        try:
            self.event_log = EventLog(self["log"]) if self["log"] else None
            self.recorder = Recorder(self["record"]) if self["record"] else None
        except OSError as exc:
            self.refuse("%s: %s" % (exc.filename, exc.strerror))


class ClientOptions(_RefusingOptions):
    command = "client"
    synopsis = ("--connect ENDPOINT (--pcap-dir DIR | --split-by KEY IN.pcap) [--speed X]"
                " [--loop N] [--max-rate R] [--clients-limit N] [--json FILE]")
    longdesc = ("Replay captures to a server, one association per capture (or per key value"
                " of one capture), each message on its original stream and PPID at its"
                " original instant divided by --speed. Endpoints: sctp:HOST:PORT, or"
                " tcp:HOST:PORT (frames messages by their M3UA header length; not standard;"
                " carries no stream or PPID).")
    optParameters = [
        ["connect", None, None, "Server endpoint: sctp:HOST:PORT[:streams=N] (257 streams unless"
         " told) or tcp:HOST:PORT (or Twisted's sctp:host=H:port=P form)."],
        ["pcap-dir", None, None, "Replay every capture of this directory, one association each."],
        ["split-by", None, None, "Split the capture given as argument by this key (%s), one"
         " association per value." % ", ".join(KEYS)],
        ["speed", None, 1.0, "Divide the capture's time gaps by this.", _positive(float)],
        ["max-gap", None, None, "Cap every gap of the capture at this many seconds (before"
         " --speed), for captures with idle hours", _positive(float)],
        ["loop", None, 1, "Replay each capture this many times back to back.", _positive(int)],
        ["max-rate", None, None, "At most this many messages per second per association",
         _positive(float)],
        ["clients-limit", None, None, "At most this many associations at once (the next starts"
         " when one ends)", _positive(int)],
        ["asp", None, "auto", "Bring the M3UA ASP up (ASPUP, ASPAC) before replaying: on, off,"
         " or auto (when the capture has M3UA DATA and no ASPUP of its own)."],
        ["ack-timeout", None, DEFAULT_ACK_TIMEOUT, "Seconds to wait for each ASP management"
         " acknowledgement and for the final BEAT_ACK.", _positive(float)],
        ["late-after", None, DEFAULT_LATE_AFTER * 1000, "A message sent more than this many"
         " milliseconds after its instant counts as late.", _positive(float)],
        ["json", None, None, "Write the report as JSON to this file (- for stdout)."],
    ]

    def parseOptions(self, options=None):
        # the capture may come before options (``--split-by opc IN.pcap
        # --speed 2``): getopt would stop at it, so options go first
        if options is None:
            options = sys.argv[1:]
        takes_value = {"--" + name[:-1] for name in self.longOpt if name.endswith("=")}
        flags, positional = [], []
        args = iter(options)
        for arg in args:
            if arg == "--":
                positional.extend(args)
                break
            if arg.startswith("-") and arg != "-":
                flags.append(arg)
                if arg in takes_value:
                    flags.extend(itertools.islice(args, 1))
            else:
                positional.append(arg)
        usage.Options.parseOptions(self, flags + ["--"] + positional)

    def parseArgs(self, *captures):
        self.captures = captures

    def postOptions(self):
        if not self["connect"]:
            self.refuse("--connect ENDPOINT is required")
        if self["asp"] not in ASP_MODES:
            self.refuse("--asp must be one of %s" % ", ".join(ASP_MODES))
        if bool(self["pcap-dir"]) == bool(self["split-by"]):
            self.refuse("give either --pcap-dir DIR or --split-by KEY IN.pcap")
        if self["split-by"] and len(self.captures) != 1:
            self.refuse("--split-by KEY needs exactly one capture file argument")
        if self["pcap-dir"] and self.captures:
            self.refuse("--pcap-dir takes no capture file arguments")
        from twisted.internet import reactor
        try:
            self.endpoint = client_endpoint(reactor, self["connect"])
        except EndpointError as exc:
            self.refuse("--connect %s" % (exc,))
        try:
            if self["pcap-dir"]:
                self.inputs = from_directory(self["pcap-dir"])
            else:
                self.inputs = from_split(self.captures[0], self["split-by"])
        except ReplayInputError as exc:
            self.refuse(str(exc))
        self.settings = ReplaySettings(
            speed=self["speed"], max_gap=self["max-gap"], loops=self["loop"],
            max_rate=self["max-rate"], clients_limit=self["clients-limit"],
            asp_mode=self["asp"], ack_timeout=self["ack-timeout"],
            late_after=self["late-after"] / 1000.0)
        if self["json"] and self["json"] != "-":
            try:
                with open(self["json"], "a"):
                    pass
            except OSError as exc:
                self.refuse("--json %s: %s" % (self["json"], exc.strerror))


class Options(usage.Options):
    synopsis = "server|client [options]"
    longdesc = "Replay SS7 captures over SCTP (or TCP), and receive them."
    subCommands = [
        ["server", None, ServerOptions, "Receive, answer ASP management, log and record."],
        ["client", None, ClientOptions, "Replay captures on their original schedule."],
    ]

    def postOptions(self):
        if self.subCommand is None:
            raise usage.UsageError("say server or client")


class ServerService(service.Service):
    """Listens on every endpoint; stops with the outputs flushed and closed."""

    def __init__(self, endpoints, server):
        self.endpoints = endpoints
        self.server = server
        self.ports = []

    def privilegedStartService(self):
        # bind before the reactor runs (and before twistd drops
        # privileges): a port in use stops start-up with its error
        for description, endpoint in self.endpoints:
            outcome = []
            listening = endpoint.listen(self.server)
            listening.addBoth(outcome.append)
            if not outcome:
                # an endpoint that listens later: its failure stops the server then
                listening.addCallbacks(self._listening, self._cannot_listen,
                                       callbackArgs=(description,), errbackArgs=(description,))
                continue
            if isinstance(outcome[0], Failure):
                self._stop_ports()
                raise SystemExit("ss7replay server: cannot listen on %s: %s" % (
                    description, outcome[0].getErrorMessage()))
            self._listening(outcome[0], description)
        service.Service.privilegedStartService(self)

    def _listening(self, port, description):
        self.ports.append(port)
        host = port.getHost()
        log.info("listening on {description} ({host} port {port})", description=description,
                 host=getattr(host, "host", host), port=getattr(host, "port", ""))

    def _cannot_listen(self, failure, description):
        log.critical("cannot listen on {description}: {why}", description=description,
                     why=failure.getErrorMessage())
        from twisted.internet import reactor
        atexit.register(_exit_failed)
        if reactor.running:
            reactor.stop()

    def startService(self):
        service.Service.startService(self)
        self.server.start_counters()

    def _stop_ports(self):
        ports, self.ports = self.ports, []
        for port in ports:
            port.stopListening()

    def stopService(self):
        service.Service.stopService(self)
        self._stop_ports()
        self.server.stop()


class ClientService(service.Service):
    """Runs the replay when the reactor runs; reports and stops it at the end."""

    def __init__(self, options, reactor, stdout=None):
        self.options = options
        self.reactor = reactor
        self.stdout = stdout if stdout is not None else sys.stdout
        self.run = None
        self.report = None

    def startService(self):
        service.Service.startService(self)
        self.reactor.callWhenRunning(self._start)

    def _start(self):
        options = self.options
        self.run = ReplayRun(options.inputs, options.settings, options.endpoint.connect,
                             self.reactor)
        tune_collector()
        self.run.run().addCallback(self._finished)

    def _finished(self, report):
        self.report = report
        self.stdout.write("\n".join(format_report(report)) + "\n")
        self.stdout.flush()
        destination = self.options["json"]
        if destination:
            text = json.dumps(report, indent=1, sort_keys=True) + "\n"
            if destination == "-":
                self.stdout.write(text)
            else:
                with open(destination, "w") as handle:
                    handle.write(text)
        if report["overall"]["failed"]:
            atexit.register(_exit_failed)
        if self.reactor.running:
            self.reactor.stop()

    def stopService(self):
        service.Service.stopService(self)
        if self.run is not None and self.report is None:
            self.run.stop()


def tune_collector(collector=gc):
    """Keep the collector's pauses out of the send times: the messages
    loaded for the replay (one tuple each) are moved out of its reach, and
    collections made rarer.  A full collection walks every object: with a
    few hundred thousand messages that is milliseconds during which
    nothing is sent."""
    collector.collect()
    collector.freeze()
    collector.set_threshold(*GC_THRESHOLDS)


#: Collector thresholds while replaying (CPython's defaults: 700, 10, 10).
GC_THRESHOLDS = (50000, 20, 100)


def _exit_failed():
    # twistd exits 0 once its reactor has run: a script must see the failure
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(1)


def makeService(options):
    from twisted.internet import reactor
    sub = options.subOptions
    if options.subCommand == "server":
        server = ReplayServer(reactor, event_log=sub.event_log, recorder=sub.recorder,
                              log_messages=True, max_associations=sub["max-associations"],
                              detection=sub.detection)
        return ServerService(sub.endpoints, server)
    return ClientService(sub, reactor)
