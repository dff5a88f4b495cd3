"""
C{twistd -n pyhss} with C{transports: [tcp, sctp]}: one node listening on
both, a peer over each, both in the log with their transport, and on
SIGTERM a DPR to each (over SCTP on stream 0) before a clean exit.

Skipped where the kernel has no SCTP; the test command runs it inside
user-mode Linux (tests/test_sctp_uml.py).
"""

import os
import re
import signal
import sys

import yaml
from twisted.internet import defer, protocol, reactor

from pyhss.node import DiameterNode
from pyhss.protocols import transport
from pyhss.protocols.dictionary import APP_S6A, VENDOR_3GPP
from tests import sctp_stack_helpers as stack
from tests.interop_helpers import wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LISTENING = re.compile(r"listening on (tcp|sctp) 127\.0\.0\.1 port (\d+)")


class Server(protocol.ProcessProtocol):

    def __init__(self):
        self.output = bytearray()
        self.ended = defer.Deferred()

    def childDataReceived(self, fd, data):
        self.output.extend(data)

    def processEnded(self, reason):
        # (exit status, signal): twistd stopped by SIGTERM ends by it again
        # once shut down, so that its parent sees why.
        self.ended.callback((reason.value.exitCode, reason.value.signal))

    def text(self):
        return self.output.decode("utf-8", "replace")

    def ports(self):
        return {name: int(port) for name, port in LISTENING.findall(self.text())}


class TwistdTests(stack.StackTestCase):

    timeout = 90

    def spawn(self):
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        config = stack.hss_config()
        with open(os.path.join(ROOT, "config.yaml")) as f:
            data = yaml.safe_load(f)
        data["hss"].update(port=0, transports=["tcp", "sctp"], OriginHost=config.hss.origin_host)
        data["control"]["socket"] = ""
        data["database"]["backend"] = "memory"
        data["api"]["listen"] = ""
        path = os.path.join(directory, "config.yaml")
        with open(path, "w") as f:
            yaml.safe_dump(data, f)
        server = Server()
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        reactor.spawnProcess(server, sys.executable, [sys.executable, twistd, "-n", "--pidfile=", "pyhss",
                                                       "--config", path],
                             env=dict(os.environ, PYTHONPATH=ROOT), path=directory)
        self.addCleanup(self.kill, server)
        return server

    def kill(self, server):
        if not server.ended.called:
            server.transport.signalProcess("KILL")
            return server.ended
        return None

    @defer.inlineCallbacks
    def test_tcp_and_sctp_at_once_then_sigterm(self):
        server = self.spawn()
        ports = yield wait_until(lambda: len(server.ports()) == 2 and server.ports(), 60,
                                 "twistd to listen on TCP and SCTP")
        sctp_client = yield stack.connect_client(self, "127.0.0.1", ports["sctp"], "mme-sctp.stack.test")
        tcp_node = DiameterNode("mme-tcp.stack.test", stack.REALM, reactor, watchdog_jitter=0)
        tcp_node.register_application(APP_S6A, VENDOR_3GPP)
        tcp_peer = yield transport.connect_peer(tcp_node, "127.0.0.1", ports["tcp"], reactor)
        yield wait_until(lambda: "mme-tcp.stack.test" in server.text() and "over tcp" in server.text(),
                         10, "the TCP peer in the log")
        self.assertRegex(server.text(), r"peer mme-sctp\.stack\.test \(stack\.test\) open on [^ ]+ over sctp")
        self.assertRegex(server.text(), r"peer mme-tcp\.stack\.test \(stack\.test\) open on [^ ]+ over tcp")
        server.transport.signalProcess("TERM")
        ended = yield server.ended
        self.assertIn(ended, [(0, None), (None, signal.SIGTERM)], server.text())
        self.assertIn("Server Shut Down.", server.text())
        self.assertEqual([(stream, ppid) for _, stream, ppid in sctp_client.server_requests("DPR")],
                         [(0, 46)])
        yield sctp_client.lost
        yield tcp_peer.connection.when_closed()
        self.assertEqual(tcp_peer.connection.counters["messages_received"], 2)   # CEA, DPR
