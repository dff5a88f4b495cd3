"""The control socket (pyhss.control): AMP commands driving IDR/CLR.

Unit tests run AMP over iosim's in-memory pair of transports, against an
S6aApplication over the memory store whose MME is a real
DiameterProtocol on a StringTransport; one test class uses a real UNIX
socket; the last one runs twistd's service, a Diameter client and
pyhss-admin together.
"""

import io
import os
import stat

import socket

from twisted.internet import defer, endpoints, reactor, task
from twisted.internet.error import ConnectionDone
from twisted.logger import globalLogPublisher
from twisted.python import failure
from twisted.protocols import amp
from twisted.test import iosim
from twisted.trial import unittest

from pyhss import admin, control, tap
from pyhss.apps import s6a_control
from pyhss.apps.s6a import SUBSCRIPTION_WITHDRAWAL, S6aApplication, encode_msisdn
from pyhss.node import DiameterNode, Peer
from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import APP_RELAY, APP_S6A, CMD_CLR, CMD_IDR, VENDOR_3GPP
from pyhss.protocols.peer import OPEN
from pyhss.protocols.transport import connect_peer
from pyhss.storage.errors import StoreError
from pyhss.storage.memory import MemoryStore
from pyhss.storage.records import ApnProfile, Subscriber
from tests.peer_helpers import PEER_HOST, make_node, open_connection, read_messages
from tests.test_s6a_location import K, OPC, ulr
from tests.test_tap import short_directory, write_shipped_config

IMSI = "001010000000001"
OTHER = "001010000000002"


def add_subscribers(test, store):
    test.successResultOf(store.add_apn(ApnProfile("internet")))
    test.successResultOf(store.add_subscriber(Subscriber(IMSI, K, opc=OPC, msisdn="3361234567",
                                                         apns=("internet",))))
    test.successResultOf(store.add_subscriber(Subscriber(OTHER, K, opc=OPC)))


class RawProfileChanged(amp.Command):
    """ProfileChanged as a client that sends any bytes as the IMSI."""
    commandName = b"ProfileChanged"
    arguments = [(b"imsi", amp.String())]
    response = s6a_control.ProfileChanged.response
    errors = s6a_control.ProfileChanged.errors


class RawCancelSubscription(RawProfileChanged):
    commandName = b"CancelSubscription"


class NoImsiProfileChanged(RawProfileChanged):
    commandName = b"ProfileChanged"
    arguments = []


def capture_failures(test):
    """Log events carrying a failure (a traceback) from now on."""
    events = []

    def observe(event):
        if "log_failure" in event:
            events.append(event)
    globalLogPublisher.addObserver(observe)
    test.addCleanup(globalLogPublisher.removeObserver, observe)
    return events


class AnsweringConnection:
    """A connected MME that answers every request with ``code`` on the
    next reactor turn; what it got is in ``received``."""

    state = OPEN

    def __init__(self, node, code=results.DIAMETER_SUCCESS):
        self.node = node
        self.code = code
        self.received = []

    def send_request(self, message):
        self.received.append(codec.decode_message(message.encode()))
        reactor.callLater(0, self.node.answer_received, self, message.answer(self.code))

    name = "answering"


def connect_answering_mme(node, host=PEER_HOST, code=results.DIAMETER_SUCCESS):
    connection = AnsweringConnection(node, code)
    node.peers[host.lower()] = Peer(host, "test.realm", frozenset([APP_S6A]), frozenset([APP_S6A]),
                                    connection, 0)
    return connection


class Fixture:
    """HSS node + S6a over the memory store; MME ``PEER_HOST`` attached over
    a StringTransport; an AMP client connected to the control locator."""

    def setUp(self):
        self.clock = task.Clock()
        self.node = make_node(self.clock, applications=())
        self.store = MemoryStore()
        self.app = S6aApplication(self.node, self.store, "001", "01")
        self.app.register()
        add_subscribers(self, self.store)
        self.mme, self.mme_transport = open_connection(self.node)
        self.locator = control.ControlLocator([self.app])
        self.client, _, self.pump = iosim.connectedServerAndClient(
            lambda: amp.AMP(locator=self.locator), amp.AMP)

    def attach(self, imsi=IMSI):
        """The MME registers the UE with a ULR over its connection."""
        self.mme.dataReceived(ulr(mme=PEER_HOST, imsi=imsi).encode())
        (ula,) = read_messages(self.mme_transport)
        self.assertEqual(ula.get("Result-Code"), results.DIAMETER_SUCCESS)

    def command(self, command, imsi=IMSI):
        # AMP hands an error nobody handles yet to unhandledError (which
        # drops the connection): take the result before pumping.
        result = defer.Deferred()
        self.client.callRemote(command, imsi=imsi).addCallbacks(result.callback, result.errback)
        self.pump.flush()
        return result

    def mme_answers(self, request, **answer):
        self.mme.dataReceived(request.answer(**answer).encode())
        self.pump.flush()


class CommandTests(Fixture, unittest.TestCase):

    def test_profile_changed_sends_idr_with_new_profile(self):
        self.attach()
        self.successResultOf(self.store.update_subscriber(IMSI, msisdn="4915112345678"))
        d = self.command(s6a_control.ProfileChanged)
        self.assertNoResult(d)  # waits for the IDA
        (idr,) = read_messages(self.mme_transport)
        self.assertEqual((idr.command_code, idr.is_request), (CMD_IDR, True))
        self.assertEqual(codec.validate(idr), [])
        self.assertEqual(idr.get("User-Name"), IMSI)
        self.assertEqual(idr.get("Destination-Host"), PEER_HOST)
        self.assertEqual(idr.get("Subscription-Data/MSISDN"), encode_msisdn("4915112345678"))
        self.assertEqual(idr.get("Subscription-Data/APN-Configuration-Profile/APN-Configuration/"
                                 "Service-Selection"), "internet")
        self.mme_answers(idr, result_code=results.DIAMETER_SUCCESS)
        self.assertEqual(self.successResultOf(d), s6a_control.outcome(True, PEER_HOST, 2001))

    def test_cancel_sends_subscription_withdrawal(self):
        self.attach()
        d = self.command(s6a_control.CancelSubscription)
        (clr,) = read_messages(self.mme_transport)
        self.assertEqual((clr.command_code, clr.is_request), (CMD_CLR, True))
        self.assertEqual(clr.get("Cancellation-Type"), SUBSCRIPTION_WITHDRAWAL)
        self.assertEqual(clr.get("User-Name"), IMSI)
        self.mme_answers(clr, result_code=results.DIAMETER_SUCCESS)
        self.assertEqual(self.successResultOf(d)["result_code"], 2001)

    def test_experimental_result_reported(self):
        self.attach()
        d = self.command(s6a_control.ProfileChanged)
        (idr,) = read_messages(self.mme_transport)
        self.mme_answers(idr, experimental_result=results.DIAMETER_ERROR_USER_UNKNOWN)
        self.assertEqual(self.successResultOf(d)["result_code"], results.DIAMETER_ERROR_USER_UNKNOWN)

    def test_no_answer(self):
        self.attach()
        d = self.command(s6a_control.CancelSubscription)
        self.clock.advance(self.node.timers.request_timeout + 1)
        self.pump.flush()
        self.assertEqual(self.successResultOf(d), s6a_control.outcome(True, PEER_HOST, None, s6a_control.NO_ANSWER))

    def test_nothing_sent_and_why(self):
        for command in (s6a_control.ProfileChanged, s6a_control.CancelSubscription):
            self.assertEqual(self.successResultOf(self.command(command, OTHER)),
                             s6a_control.outcome(False, reason=s6a_control.NO_SERVING_MME))
        self.attach()
        self.mme.connectionLost(failure.Failure(ConnectionDone()))
        for command in (s6a_control.ProfileChanged, s6a_control.CancelSubscription):
            self.assertEqual(self.successResultOf(self.command(command)),
                             s6a_control.outcome(False, PEER_HOST, reason=s6a_control.NOT_CONNECTED))
        self.successResultOf(self.store.mark_purged(IMSI, PEER_HOST))
        for command in (s6a_control.ProfileChanged, s6a_control.CancelSubscription):
            self.assertEqual(self.successResultOf(self.command(command)),
                             s6a_control.outcome(False, PEER_HOST, reason=s6a_control.PURGED))
        self.assertEqual(read_messages(self.mme_transport), [])

    def test_typed_errors(self):
        self.failureResultOf(self.command(s6a_control.ProfileChanged, "001019999999999"), control.UnknownSubscriber)
        failure = self.failureResultOf(self.command(s6a_control.CancelSubscription, "12"), control.InvalidImsi)
        self.assertIn("IMSI must be", str(failure.value))
        self.locator.commands.clear()   # a server without S6a
        self.failureResultOf(self.command(s6a_control.ProfileChanged), control.NotServed)

    def test_malformed_imsi_argument_is_a_typed_error(self):
        # Invalid UTF-8, or no IMSI at all: InvalidImsi, no logged
        # traceback, and the connection goes on serving.
        events = capture_failures(self)
        for command, imsi, fragment in [(RawProfileChanged, b"00101\xff\xfe0000001", "not UTF-8"),
                                        (RawCancelSubscription, b"\xc3", "not UTF-8"),
                                        (NoImsiProfileChanged, None, "no imsi given")]:
            arguments = {} if imsi is None else {"imsi": imsi}
            result = defer.Deferred()
            self.client.callRemote(command, **arguments).addCallbacks(result.callback, result.errback)
            self.pump.flush()
            error = self.failureResultOf(result, control.InvalidImsi)
            self.assertIn(fragment, str(error.value))
        self.assertEqual(events, [])
        self.assertEqual(self.successResultOf(self.command(s6a_control.ProfileChanged, OTHER)),
                         s6a_control.outcome(False, reason=s6a_control.NO_SERVING_MME))

    def test_store_failure(self):
        def broken(imsi):
            return defer.fail(StoreError("database is locked"))
        self.store.get_serving_node = broken
        failure = self.failureResultOf(self.command(s6a_control.ProfileChanged), control.StoreFailed)
        self.assertIn("database is locked", str(failure.value))

    def test_describe(self):
        self.assertEqual(s6a_control.describe("IDR", s6a_control.outcome(True, "mme.example.net", 2001)),
                         "IDR sent to mme.example.net: 2001")
        self.assertIn("no answer",
                      s6a_control.describe("IDR", s6a_control.outcome(True, "m", None, s6a_control.NO_ANSWER)))
        self.assertEqual(s6a_control.describe("CLR", s6a_control.outcome(False, reason=s6a_control.NO_SERVING_MME)),
                         "no CLR sent: no serving MME registered")
        self.assertIn("purged from m",
                      s6a_control.describe("IDR", s6a_control.outcome(False, "m", reason=s6a_control.PURGED)))
        self.assertIn("m is not connected",
                      s6a_control.describe("IDR", s6a_control.outcome(False, "m", reason=s6a_control.NOT_CONNECTED)))


class Ping(amp.Command):
    """A command of another application (as Cx's would be)."""
    arguments = [(b"imsi", control.TextArgument(control.InvalidImsi))]
    response = [(b"pong", amp.Unicode())]
    errors = control.COMMAND_ERRORS


class PingApplication:
    def control_commands(self):
        return {Ping: lambda imsi: {"pong": imsi}}


class LocatorTests(Fixture, unittest.TestCase):
    """The locator serves what each application declares, and only that."""

    def serve(self, *applications):
        locator = control.ControlLocator(applications)
        client, _, pump = iosim.connectedServerAndClient(lambda: amp.AMP(locator=locator), amp.AMP)
        result = defer.Deferred()
        client.callRemote(Ping, imsi=IMSI).addCallbacks(result.callback, result.errback)
        pump.flush()
        return locator, result

    def test_every_application_served(self):
        locator, pong = self.serve(self.app, PingApplication())
        self.assertEqual(self.successResultOf(pong), {"pong": IMSI})
        self.assertEqual(sorted(locator.commands), [b"CancelSubscription", b"Ping", b"ProfileChanged"])
        self.assertEqual(self.successResultOf(locator.respond(s6a_control.ProfileChanged, imsi=OTHER)),
                         s6a_control.outcome(False, reason=s6a_control.NO_SERVING_MME))

    def test_a_command_nobody_serves(self):
        locator, pong = self.serve(self.app)
        self.failureResultOf(pong, control.NotServed)
        self.failureResultOf(locator.respond(Ping, imsi=IMSI), control.NotServed)

    def test_two_applications_one_command(self):
        self.assertRaises(control.DuplicateCommand, control.ControlLocator, [PingApplication(), PingApplication()])


class UnixSocketTests(unittest.TestCase):
    """listen() and call() over a real UNIX socket."""

    def setUp(self):
        self.path = os.path.join(short_directory(self), "run", "control")
        self.node = DiameterNode("hss.test", "test", task.Clock())
        self.store = MemoryStore()
        self.app = S6aApplication(self.node, self.store, "001", "01")
        add_subscribers(self, self.store)

    def listen(self, locator=None):
        port = control.listen(reactor, self.path, locator or control.ControlLocator([self.app]))
        self.addCleanup(port.stopListening)
        return port

    @defer.inlineCallbacks
    def test_round_trip(self):
        self.listen()
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(self.path)).st_mode), 0o700)
        mme = connect_answering_mme(self.node)
        self.successResultOf(self.app.update_location(ulr(mme=PEER_HOST), None))
        result = yield control.call(reactor, self.path, s6a_control.CancelSubscription, 5, imsi=IMSI)
        self.assertEqual(result, s6a_control.outcome(True, PEER_HOST, 2001))
        self.assertEqual(mme.received[0].get("Cancellation-Type"), SUBSCRIPTION_WITHDRAWAL)
        yield self.assertFailure(control.call(reactor, self.path, s6a_control.ProfileChanged, 5, imsi="1"),
                                 control.InvalidImsi)

    @defer.inlineCallbacks
    def test_malformed_request_over_the_socket(self):
        self.listen()
        events = capture_failures(self)
        endpoint = endpoints.UNIXClientEndpoint(reactor, self.path)
        client = yield endpoints.connectProtocol(endpoint, amp.AMP())
        self.addCleanup(client.transport.loseConnection)
        error = yield self.assertFailure(client.callRemote(RawCancelSubscription, imsi=b"\xff" * 15),
                                         control.InvalidImsi)
        self.assertIn("imsi is not UTF-8 text", str(error))
        yield self.assertFailure(client.callRemote(NoImsiProfileChanged), control.InvalidImsi)
        # Same connection: still answering.
        yield self.assertFailure(client.callRemote(s6a_control.ProfileChanged, imsi="001019999999999"),
                                 control.UnknownSubscriber)
        self.assertEqual(events, [])

    @defer.inlineCallbacks
    def test_unreachable(self):
        error = yield self.assertFailure(control.call(reactor, self.path, s6a_control.ProfileChanged, 5, imsi=IMSI),
                                         control.ServerUnreachable)
        self.assertEqual(str(error), f"server not running (no control socket at {self.path})")
        port = self.listen()
        yield port.stopListening()
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(self.path)
        stale.close()
        error = yield self.assertFailure(control.call(reactor, self.path, s6a_control.ProfileChanged, 5, imsi=IMSI),
                                         control.ServerUnreachable)
        self.assertIn("nothing listens on control socket", str(error))

    @defer.inlineCallbacks
    def test_unexpected_server_error(self):
        class Broken(control.ControlLocator):
            @s6a_control.CancelSubscription.responder
            def cancel_subscription(self, imsi):
                raise RuntimeError("bug")
        self.listen(Broken([self.app]))
        yield self.assertFailure(control.call(reactor, self.path, s6a_control.CancelSubscription, 5, imsi=IMSI),
                                 control.ServerFailed)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    @defer.inlineCallbacks
    def test_timeout(self):
        class Silent(control.ControlLocator):
            @s6a_control.ProfileChanged.responder
            def profile_changed(self, imsi):
                return defer.Deferred()
        self.listen(Silent([self.app]))
        yield self.assertFailure(control.call(reactor, self.path, s6a_control.ProfileChanged, 0.05, imsi=IMSI),
                                 defer.TimeoutError)


class EndToEndTests(unittest.TestCase):
    """twistd's service on 127.0.0.1, an MME doing CER+ULR, pyhss-admin."""

    timeout = 30

    def setUp(self):
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        self.config = write_shipped_config(directory, os.path.join(short_directory(self), "control"))
        options = tap.Options()
        options.parseOptions(["--config", self.config, "--port", "0"])
        # The test process keeps its own collector settings.
        self.patch(tap, "tune_collector", lambda: None)
        self.service = tap.makeService(options)

    @defer.inlineCallbacks
    def admin(self, *argv, status=0):
        stdout, stderr = io.StringIO(), io.StringIO()
        code = yield admin.run(reactor, ["--config", self.config] + list(argv), stdout, stderr)
        self.assertEqual(code, status, f"stdout: {stdout.getvalue()!r} stderr: {stderr.getvalue()!r}")
        return stdout.getvalue() + stderr.getvalue()

    @defer.inlineCallbacks
    def test_admin_update_reaches_the_mme(self):
        yield self.admin("apn", "add", "internet")
        yield self.admin("subscriber", "add", "--imsi", IMSI, "--k", K.hex(), "--opc", OPC.hex(),
                         "--apn", "internet", "--msisdn", "3361234567")
        self.service.privilegedStartService()
        self.service.startService()
        self.addCleanup(self.service.stopService)
        received = []
        mme = DiameterNode(PEER_HOST, "test.realm", reactor, watchdog_jitter=0)

        def answer(request, peer):
            received.append(request)
            answer = mme.answer(request, results.DIAMETER_SUCCESS)
            answer.add("Auth-Session-State", 1)
            return answer

        mme.register_application(APP_RELAY)
        mme.register_application(APP_S6A, VENDOR_3GPP, {CMD_IDR: answer, CMD_CLR: answer})
        peer = yield connect_peer(mme, "127.0.0.1", self.service.ports[0].getHost().port)
        self.addCleanup(lambda: peer.connection.disconnect(0))
        ula = yield mme.send_request(peer.origin_host, ulr(mme=PEER_HOST))
        self.assertEqual(ula.get("Result-Code"), results.DIAMETER_SUCCESS)

        out = yield self.admin("subscriber", "update", IMSI, "--msisdn", "4915112345678")
        self.assertIn(f"IDR sent to {PEER_HOST}: 2001", out)
        (idr,) = received
        self.assertEqual(idr.command_code, CMD_IDR)
        self.assertEqual(idr.get("Subscription-Data/MSISDN"), encode_msisdn("4915112345678"))

        out = yield self.admin("subscriber", "cancel", IMSI)
        self.assertEqual(out, f"CLR (subscription withdrawal) sent to {PEER_HOST}: 2001\n")
        self.assertEqual(received[1].get("Cancellation-Type"), SUBSCRIPTION_WITHDRAWAL)
