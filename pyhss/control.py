"""The control socket: how ``pyhss-admin`` reaches the running server.

pyhss-admin only writes the store; the MME serving a subscriber only
learns of a change when the server tells it.  The server therefore
listens on a local UNIX socket (``control.socket`` in config.yaml, mode
0600 so only its own user may connect) and speaks AMP there
(:mod:`twisted.protocols.amp`):

- :class:`ProfileChanged` ``(imsi)``: the subscriber's profile changed in
  the store; send Insert-Subscriber-Data-Request with the new
  Subscription-Data to its serving MME.
- :class:`CancelSubscription` ``(imsi)``: send Cancel-Location-Request with
  Cancellation-Type SUBSCRIPTION_WITHDRAWAL to its serving MME.

Both answer ``sent`` (a request went out), ``mme`` (the serving MME),
``result_code`` (the answer's Result-Code or Experimental-Result-Code; none
when nothing or no answer came back) and ``reason`` when nothing was sent
(:data:`NO_SERVING_MME`, :data:`PURGED`, :data:`NOT_CONNECTED`) or no answer
came (:data:`NO_ANSWER`).  Errors are typed: :class:`UnknownSubscriber`,
:class:`InvalidImsi`, :class:`NotServed`, :class:`StoreFailed`; the client
helper :func:`call` adds :class:`ServerUnreachable` (nothing listens) and
:class:`ServerFailed` (anything else on the way).
"""

import errno
import os
import socket
import stat

from twisted.internet import defer, endpoints
from twisted.internet import error as net_error
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols import amp

from pyhss.storage.errors import StoreError, ValidationError
from pyhss.storage.records import check_imsi

SOCKET_MODE = 0o600

# Why nothing was sent, or why no result code came back.
NO_SERVING_MME = "no-serving-mme"
PURGED = "purged"
NOT_CONNECTED = "not-connected"
NO_ANSWER = "no-answer"


class ControlError(Exception):
    """Base class of what a control command can fail with."""


class UnknownSubscriber(ControlError):
    """No subscriber with this IMSI in the store."""


class InvalidImsi(ControlError):
    """The IMSI is missing, not UTF-8 text or not 14-15 digits."""


class NotServed(ControlError):
    """The server does not run the application the command needs (S6a)."""


class StoreFailed(ControlError):
    """The server could not read the store."""


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


_ERRORS = {
    UnknownSubscriber: b"UNKNOWN_SUBSCRIBER",
    InvalidImsi: b"INVALID_IMSI",
    NotServed: b"NOT_SERVED",
    StoreFailed: b"STORE_FAILED",
}

class _Text(amp.Unicode):
    """amp.Unicode whose missing or undecodable value is answered with the
    typed error ``error``.

    amp.Unicode raises KeyError or UnicodeDecodeError while the arguments
    are parsed, before the command's errors apply: AMP logs a traceback,
    answers "Unknown Error" and drops the connection.  A RemoteAmpError
    raised there is sent as it is.
    """

    def __init__(self, error, optional=False):
        amp.Unicode.__init__(self, optional)
        self.error = error

    def fromBox(self, name, strings, objects, proto):
        label = name.decode("ascii", "replace")
        if not self.optional and strings.get(name) is None:
            raise self._refuse(f"no {label} given")
        try:
            amp.Unicode.fromBox(self, name, strings, objects, proto)
        except UnicodeDecodeError as e:
            raise self._refuse(f"{label} is not UTF-8 text ({e.reason} at byte {e.start})") from None

    def _refuse(self, problem):
        return amp.RemoteAmpError(_ERRORS[self.error], problem)


_OUTCOME = [
    (b"sent", amp.Boolean()),
    (b"mme", amp.Unicode(optional=True)),
    (b"result_code", amp.Integer(optional=True)),
    (b"reason", amp.Unicode(optional=True)),
]


class ProfileChanged(amp.Command):
    """IDR with the subscriber's new Subscription-Data to its serving MME."""
    arguments = [(b"imsi", _Text(InvalidImsi))]
    response = _OUTCOME
    errors = _ERRORS


class CancelSubscription(amp.Command):
    """CLR (Cancellation-Type SUBSCRIPTION_WITHDRAWAL) to the serving MME."""
    arguments = [(b"imsi", _Text(InvalidImsi))]
    response = _OUTCOME
    errors = _ERRORS


def outcome(sent, mme=None, result_code=None, reason=None):
    return {"sent": sent, "mme": mme, "result_code": result_code, "reason": reason}


def describe(what, result):
    """One line for a command's outcome, e.g. ``IDR sent to mme1.example.net: 2001``."""
    mme, reason = result.get("mme"), result.get("reason")
    if result.get("sent"):
        if result.get("result_code") is not None:
            return f"{what} sent to {mme}: {result['result_code']}"
        return f"{what} sent to {mme}: no answer (timeout or disconnect)"
    if reason == PURGED:
        return f"no {what} sent: the UE was purged from {mme}"
    if reason == NOT_CONNECTED:
        return f"no {what} sent: serving MME {mme} is not connected"
    return f"no {what} sent: no serving MME registered"


# --- server side --------------------------------------------------------------------------

class ControlLocator(amp.CommandLocator):
    """The responders, over an :class:`pyhss.apps.s6a.S6aApplication` (or None)."""

    log = Logger(namespace="pyhss.control")

    def __init__(self, s6a):
        self.s6a = s6a

    @ProfileChanged.responder
    def profile_changed(self, imsi):
        return self._push("IDR", imsi, lambda: self.s6a.insert_subscriber_data(imsi))

    @CancelSubscription.responder
    def cancel_subscription(self, imsi):
        return self._push("CLR", imsi, lambda: self.s6a.withdraw_subscription(imsi))

    @defer.inlineCallbacks
    def _push(self, what, imsi, send):
        if self.s6a is None:
            raise NotServed("this server does not serve S6a")
        try:
            check_imsi(imsi)
        except ValidationError as e:
            raise InvalidImsi(str(e)) from None
        store, node = self.s6a.store, self.s6a.node
        try:
            subscriber = yield store.get_subscriber(imsi)
            serving = yield store.get_serving_node(imsi)
        except StoreError as e:
            raise StoreFailed(f"store: {e}") from None
        if subscriber is None:
            raise UnknownSubscriber(f"no subscriber {imsi}")
        # The checks S6aApplication makes before sending, done here too so
        # the answer can say why nothing went out.
        if serving is None:
            result = outcome(False, reason=NO_SERVING_MME)
        elif serving.purged:
            result = outcome(False, serving.mme_host, reason=PURGED)
        elif node.peer(serving.peer or serving.mme_host) is None:
            result = outcome(False, serving.mme_host, reason=NOT_CONNECTED)
        else:
            try:
                code = yield send()
            except StoreError as e:
                raise StoreFailed(f"store: {e}") from None
            # None here: timeout, or the MME went away meanwhile.
            result = outcome(True, serving.mme_host, code, None if code is not None else NO_ANSWER)
        self.log.info("control: {what} for {imsi}: {text}", what=what, imsi=imsi,
                      text=describe(what, result))
        return result


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
