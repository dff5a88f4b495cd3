"""
Twisted endpoints for SCTP, and their string forms for Twisted's endpoint
parser (the parsers are registered by C{twisted/plugins/pyhss_sctp.py}):

    serverFromString(reactor, "sctp:3868:interface=127.0.0.1")
    serverFromString(reactor, "sctp:2905:interface=127.0.0.1,127.0.0.2:ppid=3")
    clientFromString(reactor, "sctp:host=127.0.0.1:port=2905")
    clientFromString(reactor, "sctp:host=10.0.0.1,10.0.1.1:port=2905:local=10.0.0.9")

Several addresses, comma-separated, make a multi-homed endpoint (ours with
C{interface}/C{local}, the peer's with C{host}); an IPv6 address's colons
are escaped (C{interface=\\:\\:1}).  Every field of L{SctpOptions} but the
stream policy is a keyword too (C{streams=16:rto_min=0.2:heartbeat_interval=5}).
"""

import dataclasses

from twisted.internet import defer, error
from twisted.internet.interfaces import (
    IStreamClientEndpoint, IStreamClientEndpointStringParserWithReactor,
    IStreamServerEndpoint, IStreamServerEndpointStringParser)
from twisted.internet.protocol import ClientFactory
from twisted.plugin import IPlugin
from zope.interface import implementer

from pyhss.sctp.client import SCTPConnector
from pyhss.sctp.options import SctpOptions
from pyhss.sctp.port import listen_sctp


@implementer(IStreamServerEndpoint)
class SCTPServerEndpoint(object):
    """Listen on SCTP C{port} at C{interfaces} (several: multi-homed)."""

    def __init__(self, reactor, port, interfaces=("127.0.0.1",), options=None, backlog=128):
        self.reactor = reactor
        self.port = port
        self.interfaces = (interfaces,) if isinstance(interfaces, str) else tuple(interfaces)
        self.options = options
        self.backlog = backlog

    def listen(self, protocolFactory):
        return defer.execute(listen_sctp, self.reactor, self.port, protocolFactory,
                             self.interfaces, self.options, self.backlog)


class _ConnectingFactory(ClientFactory):
    """Builds the wrapped factory's protocol and says how the attempt went."""

    def __init__(self, wrapped, result):
        self.wrapped = wrapped
        self.result = result

    def buildProtocol(self, addr):
        return self.wrapped.buildProtocol(addr)

    def clientConnectionFailed(self, connector, reason):
        if not self.result.called:
            self.result.errback(reason)


@implementer(IStreamClientEndpoint)
class SCTPClientEndpoint(object):
    """Connect to C{hosts} (one address or several of one multi-homed
    peer) on C{port}, from C{local_addresses} (none: the kernel's
    choice)."""

    def __init__(self, reactor, hosts, port, local_addresses=(), options=None, timeout=30):
        self.reactor = reactor
        self.hosts = (hosts,) if isinstance(hosts, str) else tuple(hosts)
        self.port = port
        self.local_addresses = tuple(local_addresses)
        self.options = options
        self.timeout = timeout

    def connect(self, protocolFactory):
        connector = None

        def cancel(d):
            if connector is not None and connector.state == "connecting":
                connector.stopConnecting()
            if not d.called:
                d.errback(error.ConnectingCancelledError(connector.getDestination()))

        result = defer.Deferred(cancel)

        def connected(protocol):
            if not result.called:
                result.callback(protocol)

        try:
            connector = SCTPConnector(
                self.hosts, self.port, _ConnectingFactory(protocolFactory, result),
                self.timeout, self.local_addresses, self.options, self.reactor, connected)
            connector.connect()
        except Exception:
            return defer.fail()
        return result


# --- string forms ---------------------------------------------------------------------

# Every option is a number: seconds (float) or a count or size (int).
_OPTION_TYPES = {f.name: float if f.type is float else int
                 for f in dataclasses.fields(SctpOptions) if f.name != "stream_policy"}


def _addresses(text):
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _options(keywords):
    """SctpOptions from the string's remaining keywords, or C{None}."""
    values = {}
    for name, text in keywords.items():
        kind = _OPTION_TYPES.get(name)
        if kind is None:
            raise ValueError("unknown SCTP endpoint option %r (expected one of %s)" % (
                name, ", ".join(sorted(_OPTION_TYPES))))
        try:
            values[name] = kind(text)
        except ValueError:
            raise ValueError("SCTP endpoint option %s=%r is not a number" % (name, text)) from None
    return SctpOptions(**values) if values else None


@implementer(IPlugin, IStreamServerEndpointStringParser)
class SCTPServerParser(object):
    """C{sctp:PORT[:interface=ADDR[,ADDR...]][:backlog=N][:OPTION=VALUE...]}"""

    prefix = "sctp"

    def parseStreamServer(self, reactor, port, interface="127.0.0.1", backlog="128", **options):
        return SCTPServerEndpoint(reactor, int(port), _addresses(interface), _options(options),
                                  int(backlog))


@implementer(IPlugin, IStreamClientEndpointStringParserWithReactor)
class SCTPClientParser(object):
    """C{sctp:host=ADDR[,ADDR...]:port=PORT[:local=ADDR[,ADDR...]][:timeout=S][:OPTION=VALUE...]}"""

    prefix = "sctp"

    def parseStreamClient(self, reactor, *args, **keywords):
        if args:
            raise ValueError("SCTP client endpoints take keywords only: sctp:host=ADDR:port=PORT")
        try:
            hosts, port = keywords.pop("host"), keywords.pop("port")
        except KeyError as e:
            raise ValueError("an SCTP client endpoint needs %s=" % (e.args[0],)) from None
        local = _addresses(keywords.pop("local", ""))
        timeout = float(keywords.pop("timeout", "30"))
        return SCTPClientEndpoint(reactor, _addresses(hosts), int(port), local,
                                  _options(keywords), timeout)
