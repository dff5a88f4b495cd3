"""
C{twistd pyhss}: the HSS as a Twisted application.

C{twistd -n pyhss --config config.yaml} loads the configuration, opens the
store, builds the L{DiameterNode}, lets every application module in
L{pyhss.apps.APP_MODULES} register its handlers and listens on every
configured address and transport, and on the control socket
(C{control.socket}, L{pyhss.control}) through which pyhss-admin asks for
IDR/CLR.  Stopping (SIGTERM, Ctrl-C) stops the listeners (the control
socket file is removed), sends DPR (Disconnect-Cause REBOOTING) to every peer and waits
for the DPAs (at most timers.dpa_timeout), then closes the store.
"""

import dataclasses
import gc

from twisted.application import service
from twisted.internet import defer
from twisted.internet.error import CannotListenError
from twisted.logger import Logger
from twisted.python import usage

from pyhss import apps, control, logsetup
from pyhss.config import ConfigError, load_config
from pyhss.node import DiameterNode
from pyhss.protocols import transport
from pyhss.storage import open_store


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
            raise usage.UsageError(str(e))
        if self["port"] is not None:
            if not 0 <= self["port"] <= 65535:
                raise usage.UsageError("--port must be between 0 and 65535")
            config = dataclasses.replace(
                config, hss=dataclasses.replace(config.hss, port=self["port"]))
            config = _keep_path(config, self["config"])
        for name in config.hss.transports:
            if name == "sctp":
                reason = transport.sctp_unavailable_reason() or (
                    "the SCTP listener is not part of this version of pyhss")
                raise usage.UsageError(
                    "%s: hss.transports: sctp requested but %s" % (
                        self["config"], reason))
        self.loaded = config


def _keep_path(config, path):
    object.__setattr__(config, "path", path)
    return config


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
    @ivar s6a: the S6a application (what the control socket drives).
    """

    log = Logger(namespace="pyhss.tap")

    def __init__(self, config, reactor=None, store=None):
        service.MultiService.__init__(self)
        if reactor is None:
            from twisted.internet import reactor
        self.config = config
        self.reactor = reactor
        self.store = store if store is not None else open_store(
            config.database, reactor)
        self.node = DiameterNode.from_config(config, reactor)
        registered = {}
        self.applications = apps.load_applications(
            self.node, self.store, config, registered=registered)
        self.s6a = registered.get("pyhss.apps.s6a")
        self.ports = []
        self.control_port = None
        self.tune_gc = False

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
        except (CannotListenError, transport.TransportUnavailable) as e:
            raise SystemExit("pyhss: %s" % (e,))
        service.MultiService.privilegedStartService(self)

    def _listen(self):
        if not self.ports:
            hss = self.config.hss
            self.ports = transport.listen(
                self.node, hss.bind_addresses, hss.port, hss.transports,
                self.reactor)
        path = self.config.control.socket_path
        if path is not None and self.control_port is None:
            try:
                self.control_port = control.listen(
                    self.reactor, path, control.ControlLocator(self.s6a))
            except CannotListenError:
                # Start-up stops here: release the Diameter ports too.
                ports, self.ports = self.ports, []
                for port in ports:
                    port.stopListening()
                raise

    def startService(self):
        self._listen()
        service.MultiService.startService(self)
        if self.tune_gc:
            # After the store, node and applications exist: they are what
            # the process keeps for its lifetime.
            tune_collector()
        for port in self.ports:
            address = port.getHost()
            self.log.info("{host} listening on {transport} {address}:{port}",
                          host=self.node.origin_host,
                          transport=type(port).__module__.rsplit(".", 1)[-1],
                          address=address.host, port=address.port)
        if self.control_port is not None:
            self.log.info("control socket {path} (mode 0600)",
                          path=self.config.control.socket_path)

    @defer.inlineCallbacks
    def stopService(self):
        ports, self.ports = self.ports, []
        if self.control_port is not None:
            ports.append(self.control_port)
            self.control_port = None
        yield defer.DeferredList(
            [defer.maybeDeferred(port.stopListening) for port in ports],
            consumeErrors=True)
        yield self.node.stop()
        yield defer.maybeDeferred(service.MultiService.stopService, self)
        yield defer.maybeDeferred(self.store.close)
        self.log.info("{host} stopped", host=self.node.origin_host)


def makeService(options):
    hss = HSSService(options.loaded)
    hss.tune_gc = True
    return hss
