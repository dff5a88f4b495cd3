"""The control socket: how ``pyhss-admin`` reaches the running server.

pyhss-admin only writes the store; the MME serving a subscriber only
learns of a change when the server tells it.  The server therefore
listens on a local UNIX socket (``control.socket`` in config.yaml, mode
0600 so only its own user may connect) and speaks AMP there
(:mod:`twisted.protocols.amp`).

This module knows no application: each one declares the AMP commands it
serves (``IApplication.control_commands``, e.g. S6a's ProfileChanged and
CancelSubscription in :mod:`pyhss.apps.s6a_control`, made of the pieces
of :mod:`pyhss.apps.commands`) and :class:`ControlLocator` serves those
of every application it is given; a command none serves fails with
:class:`NotServed`.  Every command's typed errors (:data:`COMMAND_ERRORS`:
:class:`UnknownSubscriber`, :class:`InvalidImsi`, :class:`NotServed`,
:class:`StoreFailed`) are importable from here; the client helper
:func:`call` adds :class:`ServerUnreachable` (nothing listens) and
:class:`ServerFailed` (anything else on the way).
"""

import errno
import os
import socket
import stat

from twisted.internet import defer, endpoints
from twisted.internet import error as net_error
from twisted.internet.protocol import Factory
from twisted.protocols import amp

from pyhss.apps.commands import (
    COMMAND_ERRORS, ControlError, DuplicateCommand, InvalidImsi, NotServed, StoreFailed, TextArgument,
    UnknownSubscriber,
)

__all__ = [
    "COMMAND_ERRORS", "ControlError", "ControlFactory", "ControlLocator", "DuplicateCommand", "InvalidImsi",
    "NotServed", "ServerFailed", "ServerUnreachable", "StoreFailed", "TextArgument", "UnknownSubscriber",
    "call", "clear_stale_socket", "listen",
]

SOCKET_MODE = 0o600


class ServerFailed(ControlError):
    """Client side: the server failed to answer (an unexpected error there,
    or the connection closed before the answer)."""


class ServerUnreachable(ControlError):
    """Client side: no server answers on the control socket."""

    def __init__(self, path, why):
        ControlError.__init__(self, path, why)
        self.path = path
        self.why = why

    def __str__(self):
        return self.why


# --- server side --------------------------------------------------------------------------

class ControlLocator(amp.CommandLocator):
    """The responders of every application's control commands.

    ``applications`` provide ``IApplication``; a command no application
    serves fails with :class:`NotServed`.  ``commands`` maps each served
    command's wire name to ``(command class, responder)``.  With
    ``count`` (``count(command name, outcome)``) every request is counted,
    its outcome "ok" or the error's class name.
    """

    def __init__(self, applications, count=None):
        self.commands = {}
        for application in applications:
            for command, responder in application.control_commands().items():
                name = command.commandName
                if name in self.commands:
                    raise DuplicateCommand(f"control command {name.decode()} declared by two applications")
                if count is not None:
                    responder = _counted(responder, name.decode(), count)
                self.commands[name] = (command, responder)

    def locateResponder(self, name):
        # Responders declared on the class (a subclass's) come first.
        responder = amp.CommandLocator.locateResponder(self, name)
        if responder is not None:
            return responder
        served = self.commands.get(name)
        if served is None:
            return self._not_served(name)
        command, function = served
        return self._wrapWithSerialization(function, command)

    @staticmethod
    def _not_served(name):
        # The error box needs no command class: the client maps NOT_SERVED
        # through its own command's errors (COMMAND_ERRORS).
        def refuse(box):
            raise amp.RemoteAmpError(COMMAND_ERRORS[NotServed],
                                     f"this server does not serve {name.decode('ascii', 'replace')}")
        return refuse

    def respond(self, command, **arguments):
        """Run ``command``'s responder in-process; a Deferred of its response
        dict, failing as over the socket (NotServed when nobody serves it)."""
        served = self.commands.get(command.commandName)
        if served is None:
            return defer.fail(NotServed(f"this server does not serve {command.commandName.decode()}"))
        return defer.maybeDeferred(served[1], **arguments)


def _counted(responder, name, count):
    def counted(**arguments):
        d = defer.maybeDeferred(responder, **arguments)

        def ok(result):
            count(name, "ok")
            return result

        def failed(reason):
            count(name, reason.type.__name__)
            return reason
        return d.addCallbacks(ok, failed)
    return counted


class ControlFactory(Factory):
    def __init__(self, locator):
        self.locator = locator

    def buildProtocol(self, addr):
        return amp.AMP(locator=self.locator)


def clear_stale_socket(path):
    """Remove ``path`` if it is a socket nobody listens on.

    CannotListenError when it is not a socket or a server answers there
    (a second server must not take the first one's socket away).
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise net_error.CannotListenError(None, path, "exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)  # never wait, even on a full backlog
    try:
        code = probe.connect_ex(path)
    finally:
        probe.close()
    if code == errno.ECONNREFUSED:
        os.unlink(path)
    elif code in (0, errno.EAGAIN, errno.EINPROGRESS):
        raise net_error.CannotListenError(None, path, "another server is listening on this control socket")
    else:
        raise net_error.CannotListenError(None, path, os.strerror(code))


def listen(reactor, path, locator):
    """Listen on the control socket ``path`` (mode 0600); returns the listening port.

    A stale socket file (server killed) is removed first; the directory is
    created (0700) if missing.  The port removes the file when it stops.
    """
    clear_stale_socket(path)
    directory = os.path.dirname(path)
    if directory:
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except OSError as e:
            raise net_error.CannotListenError(None, path, e.strerror or e) from None
    # Twisted chmods before listen(): no one connects while the mode is wider.
    return reactor.listenUNIX(path, ControlFactory(locator), mode=SOCKET_MODE)


# --- client side --------------------------------------------------------------------------

@defer.inlineCallbacks
def call(reactor, path, command, timeout, **arguments):
    """Run one control command against the server listening on ``path``.

    Fires the command's response dict.  Fails with ServerUnreachable when
    no server listens there, with the command's typed errors, ServerFailed
    for anything else going wrong on the way, or ``defer.TimeoutError``
    when no answer comes within ``timeout`` seconds.
    """
    if not os.path.exists(path):
        raise ServerUnreachable(path, f"server not running (no control socket at {path})")
    endpoint = endpoints.UNIXClientEndpoint(reactor, path, timeout=timeout)
    try:
        protocol = yield endpoints.connectProtocol(endpoint, amp.AMP())
    except net_error.ConnectionRefusedError:
        raise ServerUnreachable(path, f"server not running (nothing listens on control socket {path})") from None
    except net_error.ConnectError as e:
        why = e.args[0] if e.args and e.args[0] else e
        raise ServerUnreachable(path, f"cannot connect to control socket {path}: {why}") from None
    try:
        result = yield protocol.callRemote(command, **arguments).addTimeout(timeout, reactor)
    except (amp.RemoteAmpError, net_error.ConnectionClosed) as e:
        raise ServerFailed(f"control socket {path}: {e}") from None
    finally:
        protocol.transport.loseConnection()
    return result
