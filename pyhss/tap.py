"""
C{twistd pyhss}: the HSS as a Twisted application.

C{twistd -n pyhss --config config.yaml} loads the configuration, opens the
store, builds the L{DiameterNode}, builds and registers every application
of L{pyhss.apps.APPLICATIONS} and listens on every configured address and
transport, and on the control socket (C{control.socket}, L{pyhss.control})
serving the commands the applications declare (pyhss-admin asks S6a for
IDR/CLR there).  Stopping (SIGTERM, Ctrl-C) stops the listeners (the control
socket file is removed), sends DPR (Disconnect-Cause REBOOTING) to every peer and waits
for the DPAs (at most timers.dpa_timeout), stops the applications (S13 writes its
check history) and closes the store.

A store that does not open at start-up (locked, a directory where the
file should be) is tried again with backoff while Diameter is served
(requests that need it are answered 5012); after
C{database.start_timeout} seconds the server stops with one line and
exit status 1; a database newer than this code stops it at once.
"""

import atexit
import dataclasses
import gc
import os
import sys

from twisted.application import service
from twisted.internet import defer
from twisted.internet.error import CannotListenError
from twisted.logger import Logger
from twisted.python import usage

from pyhss import apps, control, logsetup
from pyhss.api.service import ApiRefused, ApiService
from pyhss.api.tokens import check_listen
from pyhss.config import ConfigError, check_log_file, load_config
from pyhss.node import DiameterNode, PeerDialer
from pyhss.node.stats import TimedOperations
from pyhss.protocols import transport
from pyhss.storage import open_store
from pyhss.storage.errors import StoreError
from pyhss.storage.schema import SchemaTooNew
from pyhss.storage.interface import IStore
from zope.interface.interface import Method

# The store operations timed for metrics: every method of the roles.
STORE_OPERATIONS = tuple(sorted(name for name in IStore.names(all=True)
                                if isinstance(IStore[name], Method) and name != "close"))


class ConfigRefused(SystemExit):
    """
    The configuration stops start-up; C{str()} is one line naming the file,
    the key and the problem, which the interpreter prints to standard error
    (exit status 1).  Not a L{usage.UsageError}: twistd prints nine lines of
    usage text before those.

    @ivar error: the L{ConfigError}.
    """

    def __init__(self, error):
        SystemExit.__init__(self, str(error))
        self.error = error


class Options(usage.Options):
    synopsis = "[--config FILE] [--port N]"
    longdesc = ("Run the pyhss Home Subscriber Server (Diameter) with the"
                " settings of a config.yaml file.")

    optParameters = [
        ["config", "c", "config.yaml", "Configuration file (YAML)."],
        ["port", "p", None, "Listen on this port instead of hss.port"
         " (0: any free port).", int],
    ]

    def postOptions(self):
        try:
            config = load_config(self["config"])
        except ConfigError as e:
            raise ConfigRefused(e) from None
        if self["port"] is not None:
            if not 0 <= self["port"] <= 65535:
                raise usage.UsageError("--port must be between 0 and 65535")
            config = dataclasses.replace(
                config, hss=dataclasses.replace(config.hss, port=self["port"]))
            config = _keep_path(config, self["config"])
        try:
            plan_transports(config)
        except ConfigError as e:
            raise ConfigRefused(e) from None
        try:
            check_log_file(config)
        except ConfigError as e:
            raise ConfigRefused(e) from None
        refusal = check_listen(config)
        if refusal is not None:
            raise ConfigRefused(ConfigError(self["config"], "api.listen", refusal))
        self.loaded = config


def _keep_path(config, path):
    object.__setattr__(config, "path", path)
    return config


def plan_transports(config):
    """
    What this system can do of the configuration's transports:
    C{(listen, dial, warnings)}, the transports of C{hss.transports} to
    listen on, the peers of C{hss.connect_peers} to connect to, and lines
    to log.  A transport the system lacks is a L{ConfigError} (one line
    saying why), except SCTP with C{hss.sctp_optional}: left out, with a
    warning.
    """
    hss = config.hss
    listen, dial, warnings = [], [], []
    for name in hss.transports:
        reason = transport.unavailable(name)
        if reason is None:
            listen.append(name)
        elif name == "sctp" and hss.sctp_optional:
            warnings.append("serving %s without SCTP (hss.sctp_optional): %s" % (
                ", ".join(other for other in hss.transports if other != "sctp"), reason))
        else:
            raise ConfigError(config.path, "hss.transports", "%s requested but %s%s" % (
                name, reason, ", or use transports: [tcp]" if name == "sctp" else ""))
    for index, peer in enumerate(hss.connect_peers):
        reason = transport.unavailable(peer.transport)
        if reason is None:
            dial.append(peer)
        elif peer.transport == "sctp" and hss.sctp_optional:
            warnings.append("not connecting to %s (SCTP; hss.sctp_optional): %s" % (
                peer.origin_host, reason))
        else:
            raise ConfigError(config.path, "hss.connect_peers", "item %d (%s): %s requested but %s%s" % (
                index, peer.origin_host, peer.transport, reason,
                ", or use transport: tcp" if peer.transport == "sctp" else ""))
    return tuple(listen), tuple(dial), warnings


def sctp_options(config):
    """The L{pyhss.sctp.SctpOptions} of Diameter associations."""
    return transport.diameter_sctp_options(
        max_message_size=config.limits.max_message_size, **config.sctp.options())


def add_dialers(node, config, peers, reactor):
    """A L{PeerDialer} on C{node} for each of C{peers} (of
    C{hss.connect_peers})."""
    options = sctp_options(config)
    timers = config.timers
    for peer in peers:
        connect = transport.peer_dialling(
            node, peer.addresses, peer.port, peer.transport, peer.local_addresses, options,
            timers.connect_timeout, reactor)
        node.dialers.add(PeerDialer(
            node, peer.origin_host, connect, node.clock, timers.reconnect_min,
            timers.reconnect_max, node.rng,
            "over %s to %s port %d" % (peer.transport, ",".join(peer.addresses), peer.port)))


# Collector settings for the server process (see tune_collector).
GC_THRESHOLDS = (50000, 20, 100)


def tune_collector(collector=gc):
    """
    Move everything built at start-up out of the collector's reach and make
    collections rarer.

    Requests allocate many short-lived container objects (messages, AVPs,
    Deferreds) that reference counting frees; the default thresholds
    (700, 10, 10) still ran a young collection every ~20 requests and a full
    one every few seconds, and a full collection walks every object in the
    process (the dictionary, the codec tables, the Milenage key cache): up
    to 111 ms with all requests in flight stalled, 13% of the CPU under
    load.  Freezing puts the start-up heap in the permanent generation, and
    larger thresholds make young collections rare and full ones rarer still
    (a full one still runs when the surviving objects grew by a quarter,
    CPython's own rule, so cyclic garbage cannot pile up without bound).
    """
    collector.collect()
    collector.freeze()
    collector.set_threshold(*GC_THRESHOLDS)


class HSSService(service.MultiService):
    """
    The running HSS: node, listeners and store.

    @ivar tune_gc: call L{tune_collector} when started (set for the
        twistd server by L{makeService}; tests leave the process alone).
    @ivar ports: the listening ports once started.
    @ivar control_port: the control socket's listening port, or None.
    @ivar applications: the applications served, by Auth-Application-Id.
    @ivar clock: what times the store's retries at start-up (the reactor).
    @ivar store_attempt: the Deferred of the store's latest open attempt
        (fires None when it failed), once started.
    """

    log = Logger(namespace="pyhss.tap")

    def __init__(self, config, reactor=None, store=None, clock=None):
        service.MultiService.__init__(self)
        if reactor is None:
            from twisted.internet import reactor
        self.config = config
        self.reactor = reactor
        self.clock = clock if clock is not None else reactor   # store retries
        self.store_attempt = None
        self._store_open = False
        self._store_waiters = []
        self._store_cause = None        # the last open failure logged
        self._store_attempts = 0
        self._store_since = None
        self._store_retry = None
        self._store_deadline = None
        self._store_stopped = False     # stopping, or given up: no more retries
        self.store = store if store is not None else open_store(
            config.database, reactor)
        self.node = DiameterNode.from_config(config, reactor)
        if self.node.stats is not None:
            self.store = TimedOperations(self.store, STORE_OPERATIONS, self.node.stats)
        try:
            self._transports, peers, self._transport_warnings = plan_transports(config)
        except ConfigError as e:    # said at start-up, as a port in use would be
            self._transports, peers, self._transport_warnings = None, (), [str(e)]
        add_dialers(self.node, config, peers, reactor)
        self.applications = apps.load_applications(self.node, self.store, config)
        self.ports = []
        self.control_port = None
        self.tune_gc = False
        self.api = None
        if config.api.listen is not None:
            self.api = ApiService(self)
            self.api.setServiceParent(self)

    def setServiceParent(self, parent):
        # twistd passes its Application here before it starts logging:
        # make the configured observer (level, file) the one it uses.
        if hasattr(parent, "setComponent"):
            logsetup.set_application_observer(parent, self.config.logging)
        return service.MultiService.setServiceParent(self, parent)

    def privilegedStartService(self):
        # Bind here (before the reactor runs, and before twistd drops
        # privileges) so that a port in use stops start-up with its error.
        try:
            self._listen()
            service.MultiService.privilegedStartService(self)
        except (CannotListenError, transport.TransportUnavailable, ApiRefused) as e:
            self._release_ports()
            raise SystemExit("pyhss: %s" % (e,))

    def _release_ports(self):
        ports, self.ports = self.ports, []
        if self.control_port is not None:
            ports.append(self.control_port)
            self.control_port = None
        for port in ports:
            port.stopListening()

    def _listen(self):
        if not self.ports:
            hss = self.config.hss
            if self._transports is None:
                raise transport.TransportUnavailable(self._transport_warnings[0])
            self.ports = transport.listen(
                self.node, hss.bind_addresses, hss.port, self._transports,
                self.reactor, sctp_options(self.config))
        path = self.config.control.socket_path
        if path is not None and self.control_port is None:
            try:
                self.control_port = control.listen(self.reactor, path, self.control_locator())
            except CannotListenError:
                # Start-up stops here: release the Diameter ports too.
                ports, self.ports = self.ports, []
                for port in ports:
                    port.stopListening()
                raise

    def control_locator(self):
        """The responders of every application's control commands, counted
        for metrics when the node counts."""
        stats = self.node.stats
        return control.ControlLocator(self.applications.values(),
                                      count=stats.control_request if stats is not None else None)

    def startService(self):
        self._listen()
        try:
            service.MultiService.startService(self)
        except ApiRefused as e:
            self._release_ports()
            raise SystemExit("pyhss: %s" % (e,))
        self._follow_store()
        if self.tune_gc:
            # After the store, node and applications exist: they are what
            # the process keeps for its lifetime.
            tune_collector()
        for line in self._transport_warnings:
            self.log.warn("{line}", line=line)
        for port in self.ports:
            address = port.getHost()
            self.log.info("{host} listening on {transport} {address} port {port}",
                          host=self.node.origin_host, transport=address.type.lower(),
                          address=",".join(getattr(address, "addresses", ()) or (address.host,)),
                          port=address.port)
        self.node.dialers.start()
        if self.control_port is not None:
            self.log.info("control socket {path} (mode 0600)",
                          path=self.config.control.socket_path)

    @defer.inlineCallbacks
    def stopService(self):
        self._stop_store_retries()
        ports, self.ports = self.ports, []
        if self.control_port is not None:
            ports.append(self.control_port)
            self.control_port = None
        yield defer.DeferredList(
            [defer.maybeDeferred(port.stopListening) for port in ports],
            consumeErrors=True)
        yield self.node.stop()
        yield defer.maybeDeferred(service.MultiService.stopService, self)
        # What the applications still owe the store (S13's check history).
        yield defer.DeferredList([defer.maybeDeferred(application.stop)
                                  for application in self.applications.values()], consumeErrors=True)
        yield defer.maybeDeferred(self.store.close)
        self.log.info("{host} stopped", host=self.node.origin_host)


    # --- the store at start-up ---------------------------------------------------------

    def when_store_open(self):
        """A Deferred firing with the store once it is open (after retries)."""
        if self._store_open:
            return defer.succeed(self.store)
        d = defer.Deferred()
        self._store_waiters.append(d)
        return d

    def _follow_store(self):
        if self.store_attempt is not None:
            return
        self._store_since = self.clock.seconds()
        timeout = self.config.database.start_timeout
        if timeout:
            self._store_deadline = self.clock.callLater(timeout, self._store_timed_out)
        self._store_attempt(self.store.opened)

    def _store_attempt(self, d):
        self._store_attempts += 1
        self.store_attempt = d.addCallbacks(self._store_opened, self._store_failed)

    def _store_opened(self, store):
        if self._store_deadline is not None and self._store_deadline.active():
            self._store_deadline.cancel()
        self._store_deadline = None
        if self._store_cause is not None:
            self.log.info("store open after {attempts} attempts in {seconds:.1f} s",
                          attempts=self._store_attempts, seconds=self.clock.seconds() - self._store_since)
        else:
            self.log.info("store open ({backend})", backend=self.config.database.backend)
        self._store_cause = None
        self._store_open = True
        waiters, self._store_waiters = self._store_waiters, []
        for waiter in waiters:
            waiter.callback(store)
        return store

    def _store_failed(self, reason):
        if self._store_stopped:
            return None
        cause = reason.getErrorMessage()
        if reason.check(SchemaTooNew):
            # Trying again cannot help: stop now, with that one line.
            self._store_cause = cause
            self._give_up_on_store(cause)
            return None
        if cause != self._store_cause:
            # One line per cause, not per attempt nor per request.
            self._store_cause = cause
            timeout = self.config.database.start_timeout
            until = f"for up to {timeout:g} s, database.start_timeout" if timeout else "for ever"
            if reason.check(StoreError):
                self.log.error("store not open: {cause}; requests that need it are answered 5012 while it is "
                               "tried again ({until})", cause=cause, until=until)
            else:   # not a store's error: a bug, keep its traceback
                self.log.failure("store not open; tried again ({until})", reason, until=until)
        if not hasattr(self.store, "reopen"):
            return None
        delay = min(STORE_RETRY_MAX, STORE_RETRY_FIRST * 2 ** min(self._store_attempts - 1, 32))
        self._store_retry = self.clock.callLater(delay, self._retry_store)
        return None

    def _retry_store(self):
        self._store_retry = None
        self._store_attempt(self.store.reopen())

    def _stop_store_retries(self):
        self._store_stopped = True
        for call in (self._store_retry, self._store_deadline):
            if call is not None and call.active():
                call.cancel()
        self._store_retry = self._store_deadline = None

    def _store_timed_out(self):
        self._store_deadline = None
        self._give_up_on_store(f"{self.config.path}: database.start_timeout: the store did not open within "
                               f"{self.config.database.start_timeout:g} s: {self._store_cause or 'still opening'}")

    def _give_up_on_store(self, message):
        self._stop_store_retries()
        self.log.critical("{line}", line=message)
        for waiter in self._store_waiters:
            waiter.errback(StoreError(message))
        self._store_waiters = []
        self.give_up(message)

    def give_up(self, message):
        """Stop the server, exit status 1 (tests replace this)."""
        # twistd exits 0 once its reactor has run: a supervisor must see
        # that start-up failed.
        atexit.register(_exit_failed)
        self.reactor.stop()


# Store retries at start-up: the first after half a second, each later one
# twice as late, then every 10 s.
STORE_RETRY_FIRST = 0.5
STORE_RETRY_MAX = 10.0


def _exit_failed():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(1)


def makeService(options):
    hss = HSSService(options.loaded)
    hss.tune_gc = True
    return hss
