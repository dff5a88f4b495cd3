"""
What the tests on a real kernel SCTP stack share: the reason they skip
where there is none, the kernel's SCTP counters, an HSS serving TCP and
SCTP at once, and a Diameter client over SCTP that sees the stream and
PPID of everything it receives.

These tests run where the kernel has SCTP; on a machine without it the
test command runs them inside user-mode Linux (tests/test_sctp_uml.py).
"""

from twisted.internet import defer, protocol, reactor
from twisted.trial import unittest
from zope.interface import implementer

from pyhss import sctp, tap
from pyhss.config import Config
from pyhss.protocols import codec
from pyhss.protocols.dictionary import APP_BASE, CMD_CER, CMD_DPR, CMD_DWR
from pyhss.sctp import ISCTPMessageReceiver, SctpOptions
from pyhss.sctp.endpoints import SCTPClientEndpoint

NO_KERNEL_SCTP = sctp.unavailable_reason()
SKIP = None if NO_KERNEL_SCTP is None else (
    "needs kernel SCTP, which this machine lacks (%s); the test command runs this"
    " module inside user-mode Linux instead: tests/test_sctp_uml.py" % (NO_KERNEL_SCTP,))

HSS_HOST = "hss.epc.mnc001.mcc001.3gppnetwork.org"
HSS_REALM = "epc.mnc001.mcc001.3gppnetwork.org"
REALM = "stack.test"


def snmp():
    """The kernel's SCTP counters (/proc/net/sctp/snmp) by name."""
    with open("/proc/net/sctp/snmp") as f:
        return {name: int(value) for name, value in (line.split() for line in f if line.strip())}


def loopback_mtu():
    with open("/sys/class/net/lo/mtu") as f:
        return int(f.read())


# --- the HSS ---------------------------------------------------------------------------

def hss_config(**sections):
    """The HSS of these tests: TCP and SCTP on 127.0.0.1, any free port,
    a memory store; C{sections} replace or extend the defaults."""
    data = {
        "hss": {"OriginHost": HSS_HOST, "OriginRealm": HSS_REALM, "MCC": "001", "MNC": "01",
                "bind_addresses": ["127.0.0.1"], "port": 0, "transports": ["tcp", "sctp"]},
        "database": {"backend": "memory"},
        "control": {"socket": ""},
        "logging": {"level": "info"},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return Config.default(**data)


class RunningHSS(object):
    """A started L{tap.HSSService} and its ports by transport."""

    def __init__(self, service):
        self.service = service
        self.node = service.node
        self.store = service.store
        self.ports = {port.getHost().type.lower(): port for port in service.ports}
        self.tcp_port = self.ports["tcp"].getHost().port if "tcp" in self.ports else None
        self.sctp_port = self.ports["sctp"].getHost().port if "sctp" in self.ports else None

    def connection(self, origin_host):
        """The node's open connection of peer C{origin_host}, or None."""
        peer = self.node.peer(origin_host)
        return None if peer is None else peer.connection


def start_hss(testcase, **sections):
    """Start an HSS (L{hss_config}); it stops (DPR to its peers) at cleanup."""
    service = tap.HSSService(hss_config(**sections))
    service.startService()
    running = RunningHSS(service)
    testcase.addCleanup(_stop, running)
    return running


def _stop(running):
    if running.service.running:
        return running.service.stopService()
    return None


# --- a Diameter client over SCTP --------------------------------------------------------

def cer(origin_host, applications=((10415, 16777251),)):
    message = codec.Message.request(APP_BASE, CMD_CER, proxiable=False)
    message.add("Origin-Host", origin_host).add("Origin-Realm", REALM)
    message.add("Host-IP-Address", "127.0.0.1").add("Vendor-Id", 0).add("Product-Name", "stack-test")
    for vendor, application in applications:
        message.add("Vendor-Specific-Application-Id", [
            ("Vendor-Id", vendor), ("Auth-Application-Id", application)])
    return message


def dwr(origin_host):
    return codec.Message.request(APP_BASE, CMD_DWR, proxiable=False).add(
        "Origin-Host", origin_host).add("Origin-Realm", REALM)


def dpr(origin_host):
    return codec.Message.request(APP_BASE, CMD_DPR, proxiable=False).add(
        "Origin-Host", origin_host).add("Origin-Realm", REALM).add("Disconnect-Cause", 0)


@implementer(ISCTPMessageReceiver)
class SctpDiameterClient(protocol.Protocol):
    """
    A Diameter peer over SCTP for tests.  Every message it receives is kept
    in C{received} as C{(message, stream, ppid)}; requests from the server
    (DWR, DPR) are answered 2001 on stream 0.  C{request} sends a request
    (on C{stream}, or the client's own turn of streams) and fires with
    C{(answer, stream, ppid)}.
    """

    def __init__(self, origin_host):
        self.origin_host = origin_host
        self.received = []
        self.waiting = {}
        self.lost = defer.Deferred()        # fires with why (an exception) at the end
        self.answer_server_requests = True
        self._next_id = 0x20000000

    def next_id(self):
        self._next_id += 1
        return self._next_id

    def request(self, message, stream=0):
        message.hop_by_hop = message.end_to_end = self.next_id()
        d = self.waiting[message.hop_by_hop] = defer.Deferred()
        self.transport.write_message(message.encode(), stream=stream, ppid=46)
        return d

    def message_received(self, data, stream, ppid):
        message = codec.decode_message(data)
        self.received.append((message, stream, ppid))
        if message.is_request:
            if self.answer_server_requests:
                answer = message.answer(2001)
                answer.add("Origin-Host", self.origin_host).add("Origin-Realm", REALM)
                self.transport.write_message(answer.encode(), stream=0, ppid=46)
            return
        waiter = self.waiting.pop(message.hop_by_hop, None)
        if waiter is not None:
            waiter.callback((message, stream, ppid))

    def connectionLost(self, reason):
        waiting, self.waiting = self.waiting, {}
        for waiter in waiting.values():
            waiter.errback(reason)
        self.lost.callback(reason.value)

    def server_requests(self, name):
        return [(m, stream, ppid) for m, stream, ppid in self.received if m.is_request and m.name == name]


@defer.inlineCallbacks
def connect_client(testcase, hosts, port, origin_host, local_addresses=(), options=None, exchange=True):
    """An L{SctpDiameterClient} connected to C{hosts}:C{port}, past its
    CER/CEA when C{exchange}; aborted at cleanup if still connected."""
    endpoint = SCTPClientEndpoint(reactor, hosts, port, local_addresses,
                                  options or SctpOptions(ppid=46), timeout=10)
    client = yield endpoint.connect(protocol.Factory.forProtocol(lambda: SctpDiameterClient(origin_host)))
    testcase.addCleanup(_abort, client)
    if exchange:
        cea, stream, ppid = yield client.request(cer(origin_host))
        testcase.assertEqual((cea.get("Result-Code"), stream, ppid), (2001, 0, 46))
    return client


def _abort(client):
    if not client.lost.called:
        client.transport.abortConnection()
        return client.lost
    return None


class StackTestCase(unittest.TestCase):
    """Skipped without kernel SCTP; each test's timeout fits a slow guest."""

    skip = SKIP
    timeout = 60

