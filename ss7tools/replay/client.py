"""``twistd ss7replay client``: replays inputs, one association each, all in
one reactor, on an absolute schedule.

A :class:`ReplayJob` is one association's replay.  Connected, it brings
the ASP up first when asked to (ASPUP then ASPAC with the routing contexts
of the messages it will send, each awaited), then sends every message on
its original stream and PPID at its instant (:mod:`.schedule`).  When all
are sent it sends a BEAT and waits for the BEAT_ACK that echoes it (the
server has then received everything before it: TCP keeps order, SCTP
keeps it on stream 0 and its shutdown waits for every DATA to be
acknowledged), takes the ASP down if it brought it up, and closes.
:class:`ReplayRun` starts the jobs, at most ``clients_limit`` at once, and
fires with a report when all have ended.
"""

import itertools
import os

from twisted.internet import defer
from twisted.internet.protocol import Factory
from twisted.logger import Logger

from ss7tools import m3ua

from . import asp
from .framing import SigtranProtocol, is_framable
from .schedule import DEFAULT_LATE_AFTER, Pacer, SendErrors, Timeline

log = Logger(namespace="ss7replay.client")

ASP_MODES = ("auto", "on", "off")
DEFAULT_ACK_TIMEOUT = 10.0
PPID_M3UA = 3

_ACK_OF = {"ASPUP": "ASPUP_ACK", "ASPAC": "ASPAC_ACK", "ASPIA": "ASPIA_ACK",
           "ASPDN": "ASPDN_ACK", "BEAT": "BEAT_ACK"}


class ReplaySettings:
    """The client's options (see ``twistd ss7replay client --help``)."""

    def __init__(self, speed=1.0, max_gap=None, loops=1, max_rate=None, clients_limit=None,
                 asp_mode="auto", ack_timeout=DEFAULT_ACK_TIMEOUT, late_after=DEFAULT_LATE_AFTER):
        self.speed, self.max_gap, self.loops, self.max_rate = speed, max_gap, loops, max_rate
        self.clients_limit = clients_limit
        self.asp_mode = asp_mode
        self.ack_timeout = ack_timeout
        self.late_after = late_after


def routing_contexts(messages):
    """The routing contexts of the M3UA DATA among ``messages``, in order."""
    found = {}
    for message in messages:
        payload = message.payload
        if len(payload) > 8 and payload[2] == m3ua.CLASS_TRANSFER:
            try:
                rc = m3ua.decode(payload).routing_context
            except m3ua.M3uaError:
                continue
            if rc is not None:
                found.setdefault(rc, None)
    return tuple(found)


def needs_asp_startup(messages, mode):
    """Whether a job brings the ASP up itself: ``on``/``off`` as said;
    ``auto`` when the messages hold M3UA DATA and no ASPUP of their own."""
    if mode != "auto":
        return mode == "on"
    data = False
    for message in messages:
        payload = message.payload
        if len(payload) < 4 or payload[0] != 1:
            continue
        if payload[2] == m3ua.CLASS_ASPSM and payload[3] == 1:
            return False
        if payload[2] == m3ua.CLASS_TRANSFER and payload[3] == 1:
            data = True
    return data


def carries_m3ua(messages):
    return any(m.ppid == PPID_M3UA or (m.ppid == 0 and len(m.payload) > 2 and m.payload[2] != 11)
               for m in messages)


class JobProtocol(SigtranProtocol):
    """The association of one job: hands what arrives to the job."""

    def __init__(self, job):
        self.job = job

    def connectionMade(self):
        self.job.connected(self)

    def message_received(self, data, stream, ppid):
        self.job.answer(data)

    def framing_failed(self, error):
        self.job.fail("the server sent garbage: %s" % (error,))
        self.transport.abortConnection()

    def connectionLost(self, reason):
        self.job.lost(reason)


class ReplayJob:
    """One association's replay; ``done`` fires (with the job) at its end."""

    def __init__(self, replay_input, settings, clock, pacer, token):
        self.name = replay_input.name
        messages = replay_input.messages
        self.payloads = [m.payload for m in messages]
        self.streams = [m.stream for m in messages]
        self.ppids = [m.ppid for m in messages]
        self.timeline = Timeline.from_stamps(
            [m.stamp for m in messages], settings.speed, settings.max_gap, settings.loops,
            settings.max_rate)
        self.settings = settings
        self.clock = clock
        self.pacer = pacer
        self.asp_startup = needs_asp_startup(messages, settings.asp_mode)
        self.routing_contexts = routing_contexts(messages) if self.asp_startup else ()
        self.ends_with_beat = carries_m3ua(messages)
        self.token = token
        self.protocol = None
        self.state = "connecting"
        self.errors = SendErrors(settings.late_after)
        self.sent = 0
        self.unframable = 0
        self.restreamed = 0
        self._streams_out = None
        self.answers = {}
        self.failure = None
        self.started = self.ended = None
        self.done = defer.Deferred()
        self._next = 0
        self._origin = None
        self._awaiting = None
        self._timeout = None
        self._steps = []

    # -- connection -----------------------------------------------------

    def connected(self, protocol):
        self.protocol = protocol
        self.started = self.clock.seconds()
        # SCTP: the outbound streams negotiated (None over TCP)
        self._streams_out = getattr(protocol.transport, "outbound_streams", None)
        if self.asp_startup:
            self._steps = [("ASPUP", asp.aspup(), None),
                           ("ASPAC", asp.aspac(self.routing_contexts), None)]
            self.state = "asp startup"
            self._step()
        else:
            self._replay()

    def connect_failed(self, failure):
        self.fail("cannot connect: %s" % (failure.getErrorMessage(),))
        self._finish()

    def lost(self, reason):
        self._cancel_timeout()
        self.pacer.remove(self)
        if self.state != "closing" and self.failure is None:
            self.failure = "connection lost %s: %s" % (
                "after %d of %d messages" % (self.sent, self.timeline.count)
                if self.state == "replaying" else "during " + self.state,
                reason.getErrorMessage())
        self._finish()

    def fail(self, why):
        if self.failure is None:
            self.failure = why
        self._cancel_timeout()
        self.pacer.remove(self)
        if self.protocol is not None and self.protocol.transport is not None:
            self.state = "failed"
            self.protocol.transport.abortConnection()

    def _finish(self):
        if self.ended is None:
            self.ended = self.clock.seconds()
            self.state = "failed" if self.failure else "done"
            self.done.callback(self)

    # -- ASP management: one request at a time, each awaited -------------

    def _step(self):
        if not self._steps:
            if self.state == "asp startup":
                self._replay()
            else:
                self._close()
            return
        name, data, heartbeat = self._steps.pop(0)
        self._awaiting = (_ACK_OF[name], heartbeat)
        self.protocol.send_message(data, 0, PPID_M3UA)
        self._timeout = self.clock.callLater(self.settings.ack_timeout, self._ack_timed_out, name)

    def _ack_timed_out(self, name):
        self._timeout = None
        self.fail("no %s within %g s" % (_ACK_OF[name], self.settings.ack_timeout))

    def _cancel_timeout(self):
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
        self._timeout = None

    def answer(self, data):
        """A message from the server."""
        try:
            message = m3ua.decode(data)
        except m3ua.M3uaError as exc:
            self.answers["undecodable"] = self.answers.get("undecodable", 0) + 1
            log.warn("{job}: undecodable message from the server: {why}", job=self.name, why=exc)
            return
        name = message.type_name
        key = "ERR(%s)" % asp.describe_err(message) if name == "ERR" else name
        self.answers[key] = self.answers.get(key, 0) + 1
        if name == "BEAT":
            self.protocol.send_message(asp.SgpMachine._ack(message, "BEAT").data, 0, PPID_M3UA)
            return
        if self._awaiting is None:
            return
        expected, heartbeat = self._awaiting
        if name == expected and (
                heartbeat is None or asp.parameter(message, asp.TAG_HEARTBEAT_DATA) == heartbeat):
            self._awaiting = None
            self._cancel_timeout()
            self._step()
        elif name == "ERR" and self.state == "asp startup":
            self.fail("the server refused %s: %s" % (expected.replace("_ACK", ""),
                                                      asp.describe_err(message)))

    # -- the replay -----------------------------------------------------

    def _replay(self):
        self.state = "replaying"
        if not self.timeline.count:
            self._end_of_messages()
            return
        self._origin = self.clock.seconds()
        self.pacer.add(self, self._origin + self.timeline.offsets[0])

    def fire(self, now):
        """Send every message due by ``now``; the next instant or None."""
        offsets = self.timeline.offsets
        count = len(offsets)
        origin = self._origin
        k = self._next
        seconds = self.clock.seconds
        payloads, streams, ppids = self.payloads, self.streams, self.ppids
        n = self.timeline.messages
        send = self.protocol.send_message
        tcp = not self.protocol.keeps_boundaries
        streams_out = self._streams_out
        add = self.errors.add
        while k < count:
            due = origin + offsets[k]
            if due > now:
                break
            i = k % n
            payload = payloads[i]
            if tcp and not is_framable(payload):
                # the receiver could not find where it ends: it would
                # desynchronise the whole stream
                self.unframable += 1
            else:
                stream = streams[i]
                if streams_out and stream >= streams_out:
                    # the association has fewer streams than the capture's
                    stream %= streams_out
                    self.restreamed += 1
                send(payload, stream, ppids[i])
                add(seconds() - due)
                self.sent += 1
            k += 1
        self._next = k
        if k < count:
            return origin + offsets[k]
        self._end_of_messages()
        return None

    def _end_of_messages(self):
        self.state = "ending"
        steps = []
        if self.ends_with_beat:
            heartbeat = b"ss7replay " + self.token
            steps.append(("BEAT", asp.beat(heartbeat), heartbeat))
        if self.asp_startup:
            steps += [("ASPIA", asp.aspia(self.routing_contexts), None),
                      ("ASPDN", asp.aspdn(), None)]
        self._steps = steps
        self._step()

    def _close(self):
        self.state = "closing"
        self.protocol.transport.loseConnection()

    def report(self):
        line = {"name": self.name, "messages": self.timeline.count, "sent": self.sent,
                "unframable": self.unframable, "restreamed": self.restreamed, "status": "ok" if self.failure is None else "failed",
                "asp_startup": self.asp_startup}
        line.update(self.errors.summary())
        if self.failure is not None:
            line["failure"] = self.failure
        if self.answers:
            line["answers"] = dict(sorted(self.answers.items()))
        if self.started is not None and self.ended is not None:
            line["seconds"] = round(self.ended - self.started, 3)
        return line


class JobFactory(Factory):
    """Builds the one protocol of a job."""

    noisy = False       # no "Starting factory" line per association

    def __init__(self, job):
        self.job = job

    def buildProtocol(self, addr):
        protocol = JobProtocol(self.job)
        protocol.factory = self
        return protocol


class ReplayRun:
    """All the jobs of one client process, on one reactor.

    ``connect(factory)`` opens one association (an endpoint's ``connect``);
    ``run()`` returns a Deferred that fires with the report
    (:meth:`report`) when every job has ended.
    """

    def __init__(self, inputs, settings, connect, clock):
        self.settings = settings
        self.clock = clock
        self.pacer = Pacer(clock)
        self._connect = connect
        run_id = os.urandom(4).hex()
        self.jobs = [ReplayJob(replay_input, settings, clock, self.pacer,
                               ("%s-%d" % (run_id, number)).encode())
                     for number, replay_input in enumerate(inputs, 1)]
        self._pending = iter(self.jobs)
        self._running = 0
        self._finished = defer.Deferred()
        self._left = len(self.jobs)
        self.started = self.ended = None

    def run(self):
        self.started = self.clock.seconds()
        limit = self.settings.clients_limit or len(self.jobs)
        for job in itertools.islice(self._pending, limit):
            self._start(job)
        if not self.jobs:
            self.pacer.close()
            self._finished.callback(self.report())
        return self._finished

    def _start(self, job):
        self._running += 1
        job.done.addCallback(self._job_done)
        attempt = self._connect(JobFactory(job))
        attempt.addErrback(job.connect_failed)

    def _job_done(self, job):
        self._running -= 1
        self._left -= 1
        following = next(self._pending, None)
        if following is not None:
            self._start(following)
        if self._left == 0:
            self.ended = self.clock.seconds()
            self.pacer.close()
            self._finished.callback(self.report())
        return job

    def stop(self):
        """Abort every association still open (the process is stopping)."""
        self.pacer.close()
        for job in self.jobs:
            if job.ended is None and job.protocol is not None:
                job.fail("stopped")

    def report(self):
        """Per job and overall: messages, sent, send-time error, failures."""
        overall = SendErrors(self.settings.late_after)
        jobs = []
        for job in self.jobs:
            overall.merge(job.errors)
            jobs.append(job.report())
        total = {"clients": len(self.jobs),
                 "failed": sum(1 for job in self.jobs if job.failure is not None),
                 "messages": sum(job.timeline.count for job in self.jobs),
                 "sent": sum(job.sent for job in self.jobs),
                 "unframable": sum(job.unframable for job in self.jobs),
                 "restreamed": sum(job.restreamed for job in self.jobs)}
        total.update(overall.summary())
        if self.started is not None and self.ended is not None:
            total["seconds"] = round(self.ended - self.started, 3)
        return {"clients": jobs, "overall": total}


def format_report(report):
    """The report as text lines for the console."""
    def row(name, entry):
        fields = ["%-28s" % name[:28], "%8s" % entry["sent"], "%8s" % entry["messages"],
                  "%9s" % _num(entry["p50_ms"]), "%9s" % _num(entry["p99_ms"]),
                  "%9s" % _num(entry["max_ms"]), "%6s" % entry["late"]]
        extra = entry.get("failure") or ""
        if entry.get("unframable"):
            extra = ("%d not framable over TCP; " % entry["unframable"]) + extra
        if entry.get("restreamed"):
            extra = ("%d on their stream modulo the streams negotiated; "
                     % entry["restreamed"]) + extra
        answers = entry.get("answers", {})
        errs = {k: v for k, v in answers.items() if k.startswith("ERR")}
        if errs:
            extra += " " + ", ".join("%s x%d" % item for item in errs.items())
        return "  ".join(fields) + ("  " + extra.strip() if extra.strip() else "")

    lines = ["%-28s  %8s  %8s  %9s  %9s  %9s  %6s" % (
        "client", "sent", "of", "p50 ms", "p99 ms", "max ms", "late")]
    for entry in report["clients"]:
        lines.append(row(entry["name"], entry))
    overall = report["overall"]
    lines.append(row("overall", overall))
    lines.append("%d clients, %d failed; %d of %d messages sent, %d late" % (
        overall["clients"], overall["failed"], overall["sent"], overall["messages"],
        overall["late"]))
    return lines


def _num(value):
    return "-" if value is None else "%.3f" % value
