"""SQN is atomic across processes: two ``twistd pyhss`` servers share one
real MariaDB database, and 4 Diameter connections (two to each) send 250
AIRs at once each, all for one IMSI.  Every AIA is 2001 and the SQNs the
UE recovers from the 1000 vectors are 1000 different ones: SEQ 1 to
1000, none handed out twice."""

import os
import sys

import yaml
from twisted.internet import defer, protocol, reactor
from twisted.trial import unittest

from pyhss.config import Config
from pyhss.storage import open_store
from pyhss.storage.records import Subscriber
from tests import db_servers
from tests.interop_helpers import RecordingDiameterClient, free_tcp_port
from tests.peer_helpers import cer
from tests.test_s6a_air import HOME, IMSI, K, OPC, UE, air

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONNECTIONS_PER_SERVER = 2
AIRS_PER_CONNECTION = 250
IND_BITS = 5


class _Server(protocol.ProcessProtocol):
    """``twistd -n pyhss``; ``ready`` fires once it listens and its store is open."""

    def __init__(self):
        self.output = b""
        self.ready = defer.Deferred()
        self.ended = defer.Deferred()

    def childDataReceived(self, fd, data):
        self.output += data
        if not self.ready.called and b"listening on tcp" in self.output and b"store open" in self.output:
            self.ready.callback(self)

    def processEnded(self, reason):
        if not self.ready.called:
            self.ready.errback(RuntimeError("pyhss exited during start-up:\n" + self.output.decode(errors="replace")))
        self.ended.callback(None)


class SqnAcrossProcessesTests(unittest.TestCase):

    timeout = 120

    def setUp(self):
        try:
            self.server = db_servers.shared_server("mariadb")
        except db_servers.ServerUnavailable as e:
            raise unittest.SkipTest(str(e))
        name = self.server.create_database()
        self.addCleanup(self.server.drop_database, name)
        self.database = self.server.server_config(name, pool_size=4)

    @defer.inlineCallbacks
    def provision(self):
        store = open_store(Config.default(database=self.database).database, reactor)
        try:
            yield store.opened
            yield store.add_subscriber(Subscriber(IMSI, K, opc=OPC, sqn=0))
        finally:
            yield store.close()

    @defer.inlineCallbacks
    def start_server(self, index):
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        port = free_tcp_port()
        config = {"hss": {"OriginHost": f"hss{index}.epc.mnc001.mcc001.3gppnetwork.org",
                          "OriginRealm": "epc.mnc001.mcc001.3gppnetwork.org", "MCC": "001", "MNC": "01",
                          "bind_addresses": ["127.0.0.1"], "port": port},
                  "s6a": {"ind_bits": IND_BITS},
                  "control": {"socket": ""},
                  "database": self.database,
                  "logging": {"level": "info", "file": "-"}}
        path = os.path.join(directory, "pyhss.yaml")
        with open(path, "w") as handle:
            yaml.safe_dump(config, handle)
        process = _Server()
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        transport = reactor.spawnProcess(process, sys.executable,
                                         [sys.executable, twistd, "-n", "--pidfile=", "pyhss", "--config", path],
                                         env=dict(os.environ, PYTHONPATH=ROOT), path=directory)

        def stop():
            if not process.ended.called:
                transport.signalProcess("TERM")
            return process.ended
        self.addCleanup(stop)
        yield process.ready
        return port

    @defer.inlineCallbacks
    def connect(self, port, number):
        client = yield protocol.ClientCreator(reactor, RecordingDiameterClient, f"mme{number}.test",
                                              "test").connectTCP("127.0.0.1", port)
        self.addCleanup(client.transport.loseConnection)
        cea = yield client.request(cer(origin_host=f"mme{number}.test", origin_realm="test"))
        self.assertEqual(cea.get("Result-Code"), 2001)
        return client

    @defer.inlineCallbacks
    def test_no_sqn_repeats(self):
        yield self.provision()
        ports = yield defer.gatherResults([self.start_server(index) for index in range(2)])
        clients = []
        for number in range(2 * CONNECTIONS_PER_SERVER):
            clients.append((yield self.connect(ports[number % 2], number)))
        answers = yield defer.gatherResults([client.request(air(eutran=1)) for client in clients
                                             for _ in range(AIRS_PER_CONNECTION)])
        self.assertEqual({answer.get("Result-Code") for answer in answers}, {2001})
        ue = UE()
        sqns = []
        for answer in answers:
            (vector,) = answer.find("Authentication-Info").find_all("E-UTRAN-Vector")
            sqns.append(ue.check_eutran(self, vector, HOME))
        self.assertEqual(len(set(sqns)), len(sqns))
        self.assertEqual(sorted(sqn >> IND_BITS for sqn in sqns), list(range(1, len(answers) + 1)))
