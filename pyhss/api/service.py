"""Where HTTP runs: a child process of ``twistd pyhss`` (``api.process: child``) or its reactor.

The HSS binds the API's socket itself at start-up (before twistd drops
privileges; a port in use stops start-up with one line), then either
serves it on its own reactor, or hands it to a child process
(``python -m pyhss.api.child``, fd 3) together with one end of a socket
pair (fd 4) that carries the AMP link (:mod:`pyhss.api.link`).  The child
opens the same SQLite store, serves every HTTP request, and asks the HSS
over the link for IDR/CLR and the metrics snapshot.  It writes its log
lines itself, to the configured log file (appending, as the HSS does) or
to the standard output and error it inherits: nothing of its logging
passes through the Diameter reactor.  A child that exits is started again (after 1 s,
doubling to 30 s); stopping the service stops it (SIGTERM, then SIGKILL
after 5 s); a child whose parent is gone stops by itself (its standard
input closes).

Measured with ``bench/api_rate.py`` (bench/README.md): HTTP served flat out
on the Diameter reactor pushes AIR latency up with it; from the child the
Diameter reactor only answers the link's rare IDR/CLR/metrics requests.
"""

import os
import socket
import sys

from twisted.application import service
from twisted.internet import defer, protocol
from twisted.logger import Logger
from twisted.protocols import amp

from pyhss.api import link, tokens
from pyhss.api.site import build_site
from pyhss.config import tls_options
from pyhss.provisioning import Provisioning

RESTART_FIRST = 1.0
RESTART_MAX = 30.0
STOP_TIMEOUT = 5.0
LISTEN_FD = 3
LINK_FD = 4


class ApiRefused(Exception):
    """The API must not start; str() is one line."""


def bind(listen):
    """The listening socket for an HttpListen (OSError when it cannot)."""
    family = socket.AF_INET6 if ":" in listen.interface else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((listen.interface, listen.port))
        sock.listen(listen.backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def serve(reactor, sock, site, api_config):
    """Serve ``site`` on the bound ``sock`` (TLS when configured); the port."""
    factory = site
    if api_config.tls_certificate is not None:
        from twisted.protocols.tls import TLSMemoryBIOFactory
        factory = TLSMemoryBIOFactory(tls_options(api_config), False, site)
    return reactor.adoptStreamPort(sock.fileno(), sock.family, factory)


class ApiService(service.Service):
    """The HTTP side of the HSS service ``hss`` (an HSSService)."""

    log = Logger(namespace="pyhss.api")

    def __init__(self, hss):
        self.hss = hss
        self.config = hss.config
        self.reactor = hss.reactor
        self.socket = None
        self.port = None          # reactor mode: the listening port
        self.child = None         # child mode: the ChildProcess
        self.site = None
        self._restart = None
        self._restarts = 0
        self._stopping = False

    @property
    def address(self):
        """(host, port) the API listens on, once bound."""
        return self.socket.getsockname()[:2] if self.socket is not None else None

    def bind(self):
        """Bind the socket; ApiRefused (tokens missing, port in use)."""
        if self.socket is not None:
            return
        refusal = tokens.check_listen(self.config)
        if refusal is not None:
            raise ApiRefused(f"{self.config.path}: api.listen: {refusal}")
        listen = self.config.api.listen
        try:
            self.socket = bind(listen)
        except OSError as e:
            raise ApiRefused(f"api.listen {listen}: cannot listen on {listen.interface} port {listen.port}: "
                             f"{e.strerror or e}") from None

    def privilegedStartService(self):
        self.bind()
        service.Service.privilegedStartService(self)

    def startService(self):
        self.bind()
        service.Service.startService(self)
        self._stopping = False
        if self.config.api.process == "reactor":
            self._serve_here()
        else:
            self._spawn()
        host, port = self.address
        self.log.info("API on {scheme}://{host}:{port} ({where})",
                      scheme="https" if self.config.api.tls_certificate else "http", host=host, port=port,
                      where="in a child process" if self.config.api.process == "child" else "on the reactor")

    def _serve_here(self):
        hss = self.hss
        locator = hss.control_locator()
        server = link.LocalServer(locator, hss.node)
        authenticator = tokens.Authenticator(tokens.TokenFile(self.config.api.tokens),
                                             self.config.api.listen.loopback)
        self.site = build_site(self.config, Provisioning(hss.store, server), server.snapshot, authenticator)
        self.port = serve(self.reactor, self.socket, self.site, self.config.api)

    def _spawn(self):
        self._restart = None
        hss = self.hss
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        locator = link.LinkLocator(hss.applications.values(), hss.node,
                                   count=hss.node.stats.control_request if hss.node.stats is not None else None)
        factory = protocol.Factory.forProtocol(lambda: amp.AMP(locator=locator))
        try:
            self.reactor.adoptStreamConnection(ours.fileno(), socket.AF_UNIX, factory)
        finally:
            ours.close()
        self.child = ChildProcess(self)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p])
        try:
            self.reactor.spawnProcess(
                self.child, sys.executable,
                [sys.executable, "-m", "pyhss.api.child", os.path.abspath(self.config.path)],
                env=env, childFDs={0: "w", 1: 1, 2: 2, LISTEN_FD: self.socket.fileno(), LINK_FD: theirs.fileno()})
        finally:
            theirs.close()

    def child_ended(self, child, reason):
        if child is not self.child:
            return
        self.child = None
        if self._stopping:
            return
        delay = min(RESTART_MAX, RESTART_FIRST * 2 ** min(self._restarts, 8))
        self._restarts += 1
        self.log.error("API child process ended ({why}); starting it again in {delay:g} s",
                       why=reason.getErrorMessage(), delay=delay)
        self._restart = self.reactor.callLater(delay, self._spawn)

    @defer.inlineCallbacks
    def stopService(self):
        self._stopping = True
        yield defer.maybeDeferred(service.Service.stopService, self)
        if self._restart is not None and self._restart.active():
            self._restart.cancel()
        self._restart = None
        if self.port is not None:
            port, self.port = self.port, None
            yield port.stopListening()
        if self.child is not None:
            yield self.child.stop(self.reactor)
        if self.socket is not None:
            self.socket.close()
            self.socket = None


class ChildProcess(protocol.ProcessProtocol):
    """The API child: its end reported to the service."""

    def __init__(self, owner):
        self.owner = owner
        self.ended = defer.Deferred()

    def processEnded(self, reason):
        self.owner.child_ended(self, reason)
        self.ended.callback(None)

    def stop(self, reactor):
        if self.ended.called:
            return self.ended
        try:
            self.transport.closeStdin()
            self.transport.signalProcess("TERM")
        except Exception:
            pass
        killer = reactor.callLater(STOP_TIMEOUT, self._kill)

        def done(result):
            if killer.active():
                killer.cancel()
            return result
        return self.ended.addBoth(done)

    def _kill(self):
        try:
            self.transport.signalProcess("KILL")
        except Exception:
            pass

