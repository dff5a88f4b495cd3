"""twistd pyhss with the API over real sockets: HTTP served by the child
process (api.process: child) over the shared SQLite store, an MME over
TCP that gets the IDR an HTTP edit causes through the AMP link; HTTPS
from config (reactor mode, a certificate made here); start-up refusals."""

import datetime
import hashlib
import os
import signal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import defer, reactor, ssl
from twisted.trial import unittest
from twisted.web.client import BrowserLikePolicyForHTTPS

from pyhss import tap
from pyhss.apps.s6a import encode_msisdn
from pyhss.node import DiameterNode
from pyhss.protocols import results
from pyhss.protocols.dictionary import APP_RELAY, APP_S6A, CMD_CLR, CMD_IDR, VENDOR_3GPP
from pyhss.protocols.transport import connect_peer
from tests.api_helpers import K_HEX, OPC_HEX, SECRETS, HttpClient
from tests.peer_helpers import PEER_HOST
from tests.test_s6a_location import ulr
from tests.test_tap import short_directory, write_shipped_config

IMSI = "001010000000001"


def start_service(test, api):
    directory = short_directory(test)
    config = write_shipped_config(directory, os.path.join(directory, "control"), api=api)
    options = tap.Options()
    options.parseOptions(["--config", config, "--port", "0"])
    test.patch(tap, "tune_collector", lambda: None)
    service = tap.makeService(options)
    service.privilegedStartService()
    service.startService()
    test.addCleanup(service.stopService)
    return service, config


@defer.inlineCallbacks
def connect_mme(test, service, received):
    mme = DiameterNode(PEER_HOST, "test.realm", reactor, watchdog_jitter=0)

    def answer(request, peer):
        received.append(request)
        reply = mme.answer(request, results.DIAMETER_SUCCESS)
        reply.add("Auth-Session-State", 1)
        return reply

    mme.register_application(APP_RELAY)
    mme.register_application(APP_S6A, VENDOR_3GPP, {CMD_IDR: answer, CMD_CLR: answer})
    peer = yield connect_peer(mme, "127.0.0.1", service.ports[0].getHost().port)
    test.addCleanup(lambda: peer.connection.disconnect(0))
    return mme, peer


class ChildProcessTests(unittest.TestCase):

    timeout = 60

    @defer.inlineCallbacks
    def test_http_in_a_child_process(self):
        service, _ = start_service(self, {"listen": "tcp:0:interface=127.0.0.1", "process": "child"})
        host, port = service.api.address
        client = HttpClient(reactor, f"http://{host}:{port}")
        self.addCleanup(client.close)
        created = yield client.request("POST", "/apns", {"name": "internet"})
        self.assertEqual(created.status, 201, created)
        created = yield client.request("POST", "/subscribers", {
            "imsi": IMSI, "k": K_HEX, "opc": OPC_HEX, "apns": ["internet"], "msisdn": "3361234567"})
        self.assertEqual(created.status, 201, created)
        child_pid = service.api.child.transport.pid
        self.assertNotEqual(child_pid, os.getpid())

        received = []
        mme, peer = yield connect_mme(self, service, received)
        ula = yield mme.send_request(peer.origin_host, ulr(mme=PEER_HOST))
        self.assertEqual(ula.get("Result-Code"), results.DIAMETER_SUCCESS)

        serving = yield client.request("GET", f"/subscribers/{IMSI}/serving")
        self.assertEqual(serving.json["mme_host"], PEER_HOST)
        changed = yield client.request("PATCH", f"/subscribers/{IMSI}", {"msisdn": "4915112345678"})
        self.assertEqual(changed.json["idr"]["message"], f"IDR sent to {PEER_HOST}: 2001")
        (idr,) = received
        self.assertEqual(idr.get("Subscription-Data/MSISDN"), encode_msisdn("4915112345678"))
        cancelled = yield client.request("POST", f"/subscribers/{IMSI}/cancel")
        self.assertEqual((cancelled.status, cancelled.json["result_code"]), (200, 2001))
        self.assertEqual(received[1].command_code, CMD_CLR)

        # IMS and EIR through the child: the SQLite store's roles, and RTR's
        # arguments (identity, reason) over the AMP link to Cx.
        ims = yield client.request("POST", "/ims/subscriptions", {
            "impi": "alice@ims.test", "imsi": IMSI, "impus": ["sip:alice@ims.test"],
            "digest_password": "secret password"})
        self.assertEqual(ims.status, 201, ims)
        ha1 = hashlib.md5(b"alice@ims.test:ims.test:secret password").hexdigest().encode()
        for secret in (b"secret password", ha1, b"digest_password"):
            self.assertNotIn(secret, ims.body)
        rtr = yield client.request("POST", "/ims/subscriptions/alice@ims.test/deregister?reason=ended")
        self.assertEqual((rtr.status, rtr.json["reason"]), (200, "not-registered"))
        rule = yield client.request("POST", "/eir/rules", {"key": "49015420", "status": "greylisted"})
        self.assertEqual((rule.status, rule.json["status"]), (201, "greylisted"))
        self.assertEqual((yield client.request("GET", "/eir/checks")).json["total"], 0)

        metrics = (yield client.request("GET", "/metrics")).body.decode()
        self.assertIn('pyhss_diameter_requests_total{app="s6a",command="ULR",result="2001"} 1.0', metrics)
        self.assertIn('pyhss_diameter_sent_requests_total{app="s6a",command="IDR",result="2001"} 1.0', metrics)
        self.assertIn("pyhss_api_process_cpu_seconds_total", metrics)
        got = yield client.request("GET", f"/subscribers/{IMSI}")
        for response in (created, got, changed, serving):
            for secret in SECRETS:
                self.assertNotIn(secret.encode(), response.body.upper())
        docs = yield client.request("GET", "/docs/ui/swagger-ui-bundle.js")
        self.assertEqual(docs.status, 200)
        self.assertGreater(len(docs.body), 100000)

        # A child that dies is started again; the socket stays bound meanwhile.
        ended = service.api.child.ended
        os.kill(child_pid, signal.SIGKILL)
        yield ended
        self.assertIsNotNone(service.api._restart)
        service.api._restart.reset(0)
        while service.api.child is None or service.api.child.transport.pid == child_pid:
            yield deferLater(0.05)
        again = yield client.request("GET", f"/subscribers/{IMSI}")
        self.assertEqual(again.status, 200)


def deferLater(seconds):
    from twisted.internet import task
    return task.deferLater(reactor, seconds, lambda: None)


def make_certificate(directory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_path = os.path.join(directory, "api.crt")
    key_path = os.path.join(directory, "api.key")
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    with open(cert_path, "wb") as handle:
        handle.write(pem)
    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return cert_path, key_path, pem


class TlsTests(unittest.TestCase):

    timeout = 30

    @defer.inlineCallbacks
    def test_https_from_config(self):
        cert_path, key_path, pem = make_certificate(short_directory(self))
        service, _ = start_service(self, {"listen": "tcp:0:interface=127.0.0.1", "process": "reactor",
                                          "tls_certificate": cert_path, "tls_key": key_path})
        _, port = service.api.address
        trust = BrowserLikePolicyForHTTPS(trustRoot=ssl.Certificate.loadPEM(pem))
        client = HttpClient(reactor, f"https://localhost:{port}", context_factory=trust)
        self.addCleanup(client.close)
        response = yield client.request("GET", "/subscribers")
        self.assertEqual((response.status, response.json["total"]), (200, 0))


class StartUpRefusalTests(unittest.TestCase):

    def test_tokens_needed_off_loopback(self):
        directory = short_directory(self)
        config = write_shipped_config(directory, os.path.join(directory, "control"),
                                      api={"listen": "tcp:0:interface=0.0.0.0", "process": "reactor"})
        options = tap.Options()
        error = self.assertRaises(tap.ConfigRefused, options.parseOptions, ["--config", config])
        self.assertIn("api.listen: listening on 0.0.0.0 needs an API token", str(error))
        self.assertEqual(len(str(error).splitlines()), 1)

    def test_tls_key_not_matching(self):
        directory = short_directory(self)
        cert_path, _, _ = make_certificate(directory)
        _, other_key, _ = make_certificate(short_directory(self))
        config = write_shipped_config(directory, os.path.join(directory, "control"), api={
            "listen": "tcp:0:interface=127.0.0.1", "process": "reactor", "tls_certificate": cert_path,
            "tls_key": other_key})
        error = self.assertRaises(tap.ConfigRefused, tap.Options().parseOptions, ["--config", config])
        self.assertIn("api.tls_key: does not match api.tls_certificate", str(error))

    def test_port_in_use(self):
        first, _ = start_service(self, {"listen": "tcp:0:interface=127.0.0.1", "process": "reactor"})
        _, port = first.api.address
        directory = short_directory(self)
        config = write_shipped_config(directory, os.path.join(directory, "control"), api={
            "listen": f"tcp:{port}:interface=127.0.0.1", "process": "reactor"})
        options = tap.Options()
        options.parseOptions(["--config", config, "--port", "0"])
        service = tap.makeService(options)
        # Its store (opened by makeService) is closed before its directory goes: its worker
        # thread would otherwise create the database again in the removed directory.
        self.addCleanup(service.store.close)
        # The released control socket is unlinked on the next turn: before the directory goes.
        self.addCleanup(deferLater, 0)
        error = self.assertRaises(SystemExit, service.privilegedStartService)
        self.assertIn(f"cannot listen on 127.0.0.1 port {port}", str(error))
        self.assertEqual(service.ports, [])
