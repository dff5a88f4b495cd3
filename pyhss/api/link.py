"""The private AMP link between ``twistd pyhss`` and its API child process.

A socket pair made at spawn: the HSS serves on it every application's
control commands (the same responders as the control socket, so an edit
made over HTTP sends IDR/CLR exactly as ``pyhss-admin`` does) and
:class:`MetricsSnapshot`, the node's counters for ``/metrics``.  The
child's :class:`LinkServer` is what :class:`pyhss.provisioning.Provisioning`
calls; :class:`LocalServer` is the same over the HSS's own locator when
HTTP is served on the reactor.
"""

import json

from twisted.internet import defer
from twisted.internet import error as net_error
from twisted.protocols import amp

from pyhss import control

CHUNK = 60000   # an AMP value holds at most 65535 bytes


class LongText(amp.Argument):
    """Text of any length: split over numbered keys (``name.0``, ``name.1``...)."""

    def toBox(self, name, strings, objects, proto):
        data = objects[name.decode("ascii")].encode("utf-8")
        chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
        strings[name] = b"%d" % len(chunks)
        for index, chunk in enumerate(chunks):
            strings[b"%s.%d" % (name, index)] = chunk

    def fromBox(self, name, strings, objects, proto):
        count = int(strings[name])
        objects[name.decode("ascii")] = b"".join(
            strings[b"%s.%d" % (name, index)] for index in range(count)).decode("utf-8")


class MetricsSnapshot(amp.Command):
    """The node's counters (``DiameterNode.metrics_snapshot``) as JSON; "null"
    when it counts nothing."""
    arguments = []
    response = [(b"snapshot", LongText())]


class LinkLocator(control.ControlLocator):
    """The HSS side: the control commands, and the metrics snapshot."""

    def __init__(self, applications, node, count=None):
        control.ControlLocator.__init__(self, applications, count)
        self.node = node

    @MetricsSnapshot.responder
    def metrics_snapshot(self):
        return {"snapshot": json.dumps(self.node.metrics_snapshot(), separators=(",", ":"))}


class LinkServer:
    """The child side: ``call(command, imsi=None, **arguments)`` over the link, as the control
    socket client does (ServerUnreachable when the link is down)."""

    def __init__(self, reactor, timeout):
        self.reactor = reactor
        self.timeout = timeout
        self.protocol = None

    def call(self, command, imsi=None, **arguments):
        if imsi is not None:
            arguments["imsi"] = imsi
        return self._remote(command, **arguments)

    def snapshot(self):
        return self._remote(MetricsSnapshot).addCallback(lambda result: json.loads(result["snapshot"]))

    def _remote(self, command, **arguments):
        if self.protocol is None:
            return defer.fail(control.ServerUnreachable(None, "the HSS process is not connected"))
        d = self.protocol.callRemote(command, **arguments).addTimeout(self.timeout, self.reactor)

        def lost(reason):
            reason.trap(net_error.ConnectionLost, net_error.ConnectionDone)
            raise control.ServerUnreachable(None, "the HSS process closed the link")
        return d.addErrback(lost)


class LocalServer:
    """``call(command, imsi=None, **arguments)`` on the HSS's own locator (HTTP on the reactor)."""

    timeout = None

    def __init__(self, locator, node):
        self.locator = locator
        self.node = node

    def call(self, command, imsi=None, **arguments):
        if imsi is not None:
            arguments["imsi"] = imsi
        return self.locator.respond(command, **arguments)

    def snapshot(self):
        return self.node.metrics_snapshot()
