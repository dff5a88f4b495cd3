"""The database goes away under load and comes back: a real MariaDB server
(of this test's own) is stopped in the middle of an AIR load and started
again.  Every AIR is answered, 2001 or 5012 (never a hang, never a crash),
DWR keeps being answered, the outage is logged once when it starts and
once when it ends, and the load is answered 2001 again without
restarting pyhss."""

from twisted.internet import defer, reactor, task, threads
from twisted.internet.testing import StringTransport
from twisted.internet.error import ConnectionDone
from twisted.logger import globalLogPublisher
from twisted.python import failure
from twisted.trial import unittest

from pyhss import tap
from pyhss.config import Config
from pyhss.protocols import codec, results
from pyhss.protocols.peer import ROLE_RESPONDER, DiameterProtocol
from pyhss.storage.records import Subscriber
from tests import db_servers
from tests.peer_helpers import cer, dwr
from tests.test_s6a_air import IMSI, K, OPC, air

HSS = {"OriginHost": "hss.epc.mnc001.mcc001.3gppnetwork.org", "OriginRealm": "epc.mnc001.mcc001.3gppnetwork.org",
       "MCC": "001", "MNC": "01", "port": 0}
BATCH = 20
BATCH_INTERVAL = 0.02


class AnswerTransport(StringTransport):
    """Keeps the result code of every answer written; ``wait_for(n)``
    fires when ``n`` answers are in."""

    def __init__(self):
        StringTransport.__init__(self)
        self.codes = []
        self._buffer = b""
        self._waiters = []

    def write(self, data):
        self._buffer += data
        while len(self._buffer) >= 20:
            length = codec.peek_message_length(self._buffer, 0)
            if len(self._buffer) < length:
                break
            answer = codec.decode_message(self._buffer[:length])
            self.codes.append(answer.get("Result-Code")
                              or answer.get("Experimental-Result/Experimental-Result-Code"))
            self._buffer = self._buffer[length:]
        for count, d in list(self._waiters):
            if len(self.codes) >= count:
                self._waiters.remove((count, d))
                d.callback(None)

    def writeSequence(self, data):
        # The connection writes what one read produced in one call.
        self.write(b"".join(data))

    def wait_for(self, count):
        d = defer.Deferred()
        self._waiters.append((count, d))
        self.write(b"")
        return d


class MariaDbOutageTests(unittest.TestCase):

    timeout = 180

    def setUp(self):
        try:
            self.server = db_servers.private_server("mariadb")
        except db_servers.ServerUnavailable as e:
            raise unittest.SkipTest(str(e))
        self.addCleanup(self.server.stop)
        name = self.server.create_database()
        database = self.server.server_config(name, query_timeout=2, pool_size=4)
        self.config = Config.default(hss=HSS, database=database)
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)
        self.recovered = defer.Deferred()
        globalLogPublisher.addObserver(self._watch_recovery)
        self.addCleanup(globalLogPublisher.removeObserver, self._watch_recovery)

    def _watch_recovery(self, event):
        if (event.get("log_format") or "").startswith("database available again") and not self.recovered.called:
            # Not inside the log call: the test goes on from the reactor.
            reactor.callLater(0, self.recovered.callback, None)

    def store_lines(self, start):
        return [event for event in self.events
                if event.get("log_namespace") == "pyhss.storage.sqlserver"
                and (event.get("log_format") or "").startswith(start)]

    @defer.inlineCallbacks
    def start_service(self):
        service = tap.HSSService(self.config, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        yield service.when_store_open()
        yield service.store.add_subscriber(Subscriber(IMSI, K, opc=OPC))
        connection = DiameterProtocol(service.node, ROLE_RESPONDER)
        self.transport = AnswerTransport()
        connection.makeConnection(self.transport)
        connection.dataReceived(cer().encode())
        yield self.transport.wait_for(1)
        self.assertEqual(self.transport.codes, [results.DIAMETER_SUCCESS])
        self.connection = connection
        # Gone before the service stops (it would wait for a DPA).
        self.addCleanup(connection.connectionLost, failure.Failure(ConnectionDone()))
        self.store = service.store
        self.sent = 1
        return service

    @defer.inlineCallbacks
    def batch(self, requests=None):
        """Send a batch of AIRs (or ``requests``); their answers' codes.
        Batches go at most every BATCH_INTERVAL (the load's rate: 5012s
        come back at once) and each lets the reactor run."""
        requests = requests or [air() for _ in range(BATCH)]
        yield task.deferLater(reactor, BATCH_INTERVAL, lambda: None)
        first = self.sent
        for hop, request in enumerate(requests, start=self.sent):
            request.hop_by_hop = hop
            self.connection.dataReceived(request.encode())
        self.sent += len(requests)
        yield self.transport.wait_for(self.sent)
        return self.transport.codes[first:self.sent]

    @defer.inlineCallbacks
    def test_stop_and_restart_under_air_load(self):
        yield self.start_service()
        codes = []
        before = yield self.batch()
        self.assertEqual(set(before), {results.DIAMETER_SUCCESS})
        # Stop the server while batches keep going.
        stopping = threads.deferToThread(self.server.stop_process)
        while not stopping.called:
            codes.extend((yield self.batch()))
        yield stopping
        down = yield self.batch()
        self.assertEqual(set(down), {results.DIAMETER_UNABLE_TO_COMPLY})
        (dwa,) = yield self.batch([dwr()])
        self.assertEqual(dwa, results.DIAMETER_SUCCESS)
        # Start it again; the load goes on until the store says it is back.
        restarting = self.server.restart_later(reactor)
        while not (restarting.called and self.recovered.called):
            codes.extend((yield self.batch()))
            if restarting.called and not self.recovered.called:
                yield self.recovered
        after = yield self.batch()
        self.assertEqual(set(after), {results.DIAMETER_SUCCESS})
        codes += down + after
        self.assertTrue(set(codes) <= {results.DIAMETER_SUCCESS, results.DIAMETER_UNABLE_TO_COMPLY}, set(codes))
        self.assertEqual(len(self.transport.codes), self.sent)   # every request answered
        # One line when the outage starts, one when it ends.
        self.assertEqual(len(self.store_lines("database unavailable")), 1)
        (back,) = self.store_lines("database available again")
        self.assertGreater(back["refused"], 0)
        self.flushLoggedErrors()
