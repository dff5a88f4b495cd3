"""``python -m pyhss.api.child CONFIG``: the API's child process (``api.process: child``).

Started by :class:`pyhss.api.service.ApiService` with the bound listening
socket on fd 3 and its end of the AMP link on fd 4.  It opens the store
named by the configuration (the same SQLite file as the HSS), then serves
HTTP on fd 3; IDR, CLR and the metrics snapshot are asked of the HSS over
fd 4.  It logs as the HSS does (``logging``: the same file, appended, or
the standard output it inherits).  It stops on SIGTERM, or when its standard input closes (the HSS is
gone).
"""

import os
import socket
import sys

from twisted.internet import defer, protocol, stdio
from twisted.logger import Logger, globalLogBeginner
from twisted.protocols import amp

from pyhss import logsetup
from pyhss.api import link, tokens
from pyhss.api.service import LINK_FD, LISTEN_FD, serve
from pyhss.api.site import build_site
from pyhss.config import ConfigError, load_config
from pyhss.provisioning import Provisioning
from pyhss.storage import open_store

log = Logger(namespace="pyhss.api")

# Seconds the child waits for the HSS's answer beyond request_timeout.
LINK_MARGIN = 5.0


class _ParentWatch(protocol.Protocol):
    """Standard input: closed when the HSS process is gone."""

    def __init__(self, reactor):
        self.reactor = reactor

    def connectionLost(self, reason):
        if self.reactor.running:
            self.reactor.stop()


@defer.inlineCallbacks
def start(reactor, config):
    store = open_store(config.database, reactor)
    yield store.opened
    reactor.addSystemEventTrigger("after", "shutdown", store.close)
    server = link.LinkServer(reactor, config.timers.request_timeout + LINK_MARGIN)
    link_socket = socket.socket(fileno=LINK_FD)
    try:
        server.protocol = amp.AMP()
        reactor.adoptStreamConnection(link_socket.fileno(), socket.AF_UNIX,
                                      protocol.Factory.forProtocol(lambda: server.protocol))
    finally:
        link_socket.detach()
        os.close(LINK_FD)
    authenticator = tokens.Authenticator(tokens.TokenFile(config.api.tokens), config.api.listen.loopback)
    site = build_site(config, Provisioning(store, server), server.snapshot, authenticator, hss_pid=os.getppid())
    family = socket.AF_INET6 if ":" in config.api.listen.interface else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM, fileno=LISTEN_FD)
    try:
        serve(reactor, listening, site, config.api)
    finally:
        listening.detach()
        os.close(LISTEN_FD)
    log.info("API child process {pid} serving", pid=os.getpid())


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    from twisted.internet import reactor
    try:
        config = load_config(argv[0])
    except (ConfigError, IndexError) as e:
        sys.stderr.write(f"pyhss api child: {e}\n")
        raise SystemExit(2)
    globalLogBeginner.beginLoggingTo([logsetup.make_observer(config.logging)], redirectStandardIO=False)
    stdio.StandardIO(_ParentWatch(reactor), stdout=os.open(os.devnull, os.O_WRONLY), reactor=reactor)

    failures = []

    def failed(reason):
        log.failure("API child process could not start", reason)
        failures.append(reason)
        reactor.stop()
    reactor.callWhenRunning(lambda: start(reactor, config).addErrback(failed))
    reactor.run()
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
