"""
Tests for L{pyhss.tap}: options, and the service built from the shipped
config.yaml started on a free port, spoken to, and stopped.
"""

import os
import shutil
import socket
import stat
import sys
import tempfile

import yaml

from twisted.application.service import Application
from twisted.internet import defer, reactor, utils
from twisted.internet.protocol import Factory
from twisted.logger import ILogObserver, LogLevel, formatEvent, globalLogPublisher
from twisted.python import usage
from twisted.trial import unittest

from pyhss import sctp, tap
from pyhss.config import load_config_data
from pyhss.node import DiameterNode
from pyhss.protocols.dictionary import APP_CX, APP_RELAY, APP_S13, APP_S6A, VENDOR_3GPP
from pyhss.protocols.peer import CLOSED
from pyhss.protocols.transport import connect_peer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED_CONFIG = os.path.join(ROOT, "config.yaml")
NO_SCTP = "the kernel has no SCTP support (Protocol not supported); load the sctp module"


class OptionsTests(unittest.TestCase):

    def setUp(self):
        self.directory = self.mktemp()
        os.makedirs(self.directory)

    def _write(self, text):
        path = os.path.join(self.directory, "config.yaml")
        with open(path, "w") as handle:
            handle.write(text)
        return path

    def test_shipped_config(self):
        options = tap.Options()
        options.parseOptions(["--config", SHIPPED_CONFIG])
        self.assertEqual(options.loaded.hss.port, 3868)
        self.assertEqual(options.loaded.hss.transports, ("tcp",))

    def test_port_override(self):
        options = tap.Options()
        options.parseOptions(["--config", SHIPPED_CONFIG, "--port", "0"])
        self.assertEqual(options.loaded.hss.port, 0)
        self.assertEqual(options.loaded.hss.origin_realm,
                         "epc.mnc001.mcc001.3gppnetwork.org")

    def test_bad_port(self):
        self.assertRaises(usage.UsageError, tap.Options().parseOptions,
                          ["--config", SHIPPED_CONFIG, "--port", "70000"])

    def test_config_error_is_one_line(self):
        # ConfigRefused, not usage.UsageError: twistd prints its usage text
        # before a UsageError.
        path = self._write("hss: {OriginHost: 'not a host!'}\n")
        error = self.assertRaises(tap.ConfigRefused,
                                  tap.Options().parseOptions,
                                  ["--config", path])
        self.assertIsInstance(error, SystemExit)
        self.assertTrue(str(error).startswith(path + ": hss.OriginHost: "), str(error))
        self.assertNotIn("\n", str(error))
        self.assertEqual(error.code, str(error))

    def test_missing_file(self):
        error = self.assertRaises(
            tap.ConfigRefused, tap.Options().parseOptions,
            ["--config", os.path.join(self.directory, "absent.yaml")])
        self.assertIn("cannot read", str(error))

    def test_unwritable_log_file(self):
        with open(SHIPPED_CONFIG) as handle:
            text = handle.read()
        target = os.path.abspath(os.path.join(self.directory, "no-such-dir", "pyhss.log"))
        path = self._write(text.replace('file: "-"', "file: %s" % (target,)).replace(
            "socket: var/pyhss.control", "socket: ''"))
        error = self.assertRaises(tap.ConfigRefused, tap.Options().parseOptions,
                                  ["--config", path])
        self.assertEqual(str(error), "%s: logging.file: cannot write %r: No such file or directory"
                         % (path, target))

    def _sctp_config(self, optional=False, peer=False):
        with open(SHIPPED_CONFIG) as handle:
            text = handle.read()
        text = text.replace("transports: [tcp]", "transports: [tcp, sctp]").replace(
            "socket: var/pyhss.control", "socket: ''").replace("backend: sqlite", "backend: memory").replace(
            "listen: tcp:8080:interface=127.0.0.1", "listen: ''")       # no API beside the memory store
        if optional:
            text = text.replace("sctp_optional: false", "sctp_optional: true")
        if peer:
            text = text.replace("connect_peers: []", "connect_peers: [{origin_host: mme.test.realm,"
                                " addresses: [127.0.0.1], transport: sctp}]")
        return self._write(text)

    def test_sctp_refused_clearly(self):
        # Whatever this machine's kernel has: the refusal of one without.
        self.patch(sctp, "unavailable_reason", lambda: NO_SCTP)
        path = self._sctp_config()
        error = self.assertRaises(tap.ConfigRefused,
                                  tap.Options().parseOptions,
                                  ["--config", path])
        self.assertEqual(str(error), "%s: hss.transports: sctp requested but %s, or use transports: [tcp]"
                         % (path, NO_SCTP))

    def test_sctp_peer_refused_clearly(self):
        self.patch(sctp, "unavailable_reason", lambda: NO_SCTP)
        path = self._sctp_config(peer=True)
        with open(path) as handle:
            text = handle.read()
        with open(path, "w") as handle:
            handle.write(text.replace("transports: [tcp, sctp]", "transports: [tcp]"))
        error = self.assertRaises(tap.ConfigRefused, tap.Options().parseOptions, ["--config", path])
        self.assertEqual(str(error), "%s: hss.connect_peers: item 0 (mme.test.realm): sctp requested but %s,"
                         " or use transport: tcp" % (path, NO_SCTP))

    @defer.inlineCallbacks
    def test_sctp_optional_serves_tcp_with_a_warning(self):
        self.patch(sctp, "unavailable_reason", lambda: NO_SCTP)
        options = tap.Options()
        options.parseOptions(["--config", self._sctp_config(optional=True, peer=True), "--port", "0"])
        self.assertEqual(options.loaded.hss.transports, ("tcp", "sctp"))
        service = tap.HSSService(options.loaded)
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        service.startService()
        try:
            self.assertEqual([port.getHost().type for port in service.ports], ["TCP"])
            self.assertEqual(dict(service.node.dialers), {})
            warnings = [formatEvent(event) for event in events
                        if event["log_level"] == LogLevel.warn]
            self.assertEqual(warnings, ["serving tcp without SCTP (hss.sctp_optional): " + NO_SCTP,
                                        "not connecting to mme.test.realm (SCTP; hss.sctp_optional): "
                                        + NO_SCTP])
        finally:
            yield service.stopService()


class TwistdConfigErrorTests(unittest.TestCase):
    """C{twistd -n pyhss} with a bad configuration: exit status 1 and one
    line on standard error naming the file, the key and the problem."""

    timeout = 60

    def setUp(self):
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        with open(SHIPPED_CONFIG) as handle:
            self.shipped = handle.read().replace(
                "socket: var/pyhss.control", "socket: ''").replace(
                "backend: sqlite", "backend: memory").replace(
                "listen: tcp:8080:interface=127.0.0.1", "listen: ''")

    @defer.inlineCallbacks
    def twistd(self, text):
        path = os.path.join(self.directory, "bad.yaml")
        with open(path, "w") as handle:
            handle.write(text)
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        if not os.path.exists(twistd):
            raise unittest.SkipTest("no twistd script beside %s" % (sys.executable,))
        out, err, code = yield utils.getProcessOutputAndValue(
            twistd, ["-n", "pyhss", "--config", "bad.yaml", "--port", "0"],
            env=dict(os.environ, PYTHONPATH=ROOT), path=self.directory)
        self.assertEqual((code, out), (1, b""), err)
        self.assertEqual(err.count(b"\n"), 1, err)
        return err.decode().rstrip("\n")

    @defer.inlineCallbacks
    def test_bad_value(self):
        err = yield self.twistd(self.shipped.replace('MCC: "001"', 'MCC: "1"'))
        self.assertEqual(err, "bad.yaml: hss.MCC: must be a string of 3 digits, got '1'")

    @defer.inlineCallbacks
    def test_duplicate_key(self):
        # Before: the last one won silently (here, out of range).
        text = self.shipped.replace("  port: 3868\n", "  port: 3868\n  port: 70000\n")
        err = yield self.twistd(text)
        line = text.splitlines().index("  port: 3868") + 1
        self.assertEqual(err, "bad.yaml: hss.port: given twice, on line %d and line %d" % (line, line + 1))

    @defer.inlineCallbacks
    def test_sctp_without_kernel_support(self):
        reason = sctp.unavailable_reason()
        if reason is None:
            raise unittest.SkipTest("this kernel has SCTP: nothing to refuse here")
        err = yield self.twistd(self.shipped.replace("transports: [tcp]", "transports: [tcp, sctp]"))
        self.assertEqual(err, "bad.yaml: hss.transports: sctp requested but %s, or use transports: [tcp]"
                         % (reason,))

    @defer.inlineCallbacks
    def test_unwritable_log_file(self):
        err = yield self.twistd(self.shipped.replace('file: "-"', "file: missing/pyhss.log"))
        self.assertEqual(err, "bad.yaml: logging.file: cannot write %r: No such file or directory"
                         % (os.path.join(self.directory, "missing", "pyhss.log"),))


def short_directory(test):
    """A temporary directory short enough for a UNIX socket path (trial's
    own temporary paths can pass the 107-byte limit)."""
    directory = tempfile.mkdtemp(prefix="pyhss-test-")
    test.addCleanup(shutil.rmtree, directory, True)
    return directory


def write_shipped_config(directory, control_socket, api=None):
    """The shipped config.yaml in C{directory} (so its relative SQLite path
    lands there) with the control socket at C{control_socket}; the API off
    unless C{api} (its section's settings) is given."""
    with open(SHIPPED_CONFIG) as handle:
        data = yaml.safe_load(handle)
    data["control"]["socket"] = control_socket
    data["api"]["listen"] = ""
    data["api"].update(api or {})
    path = os.path.join(directory, "config.yaml")
    with open(path, "w") as handle:
        yaml.safe_dump(data, handle)
    return path


class FakeCollector(object):

    def __init__(self):
        self.calls = []

    def collect(self):
        self.calls.append("collect")

    def freeze(self):
        self.calls.append("freeze")

    def set_threshold(self, *thresholds):
        self.calls.append(("set_threshold",) + thresholds)


class CollectorTests(unittest.TestCase):

    def test_tune_collector(self):
        collector = FakeCollector()
        tap.tune_collector(collector)
        self.assertEqual(collector.calls, [
            "collect", "freeze", ("set_threshold",) + tap.GC_THRESHOLDS])
        # Young collections rarer than CPython's default of 700.
        self.assertGreater(tap.GC_THRESHOLDS[0], 700)

    def test_only_the_server_tunes(self):
        options = tap.Options()
        options.parseOptions(["--config", SHIPPED_CONFIG, "--port", "0"])
        service = tap.makeService(options)
        self.addCleanup(service.store.close)
        self.assertTrue(service.tune_gc)
        other = tap.HSSService(options.loaded, store=service.store)
        self.assertFalse(other.tune_gc)


class ServiceTests(unittest.TestCase):

    timeout = 20

    def setUp(self):
        # The test process keeps its own collector settings.
        self.tuned = []
        self.patch(tap, "tune_collector", lambda: self.tuned.append(True))
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        self.control_socket = os.path.join(short_directory(self), "control")
        self.config_path = write_shipped_config(directory, self.control_socket)
        options = tap.Options()
        options.parseOptions(["--config", self.config_path, "--port", "0"])
        self.service = tap.makeService(options)
        self.directory = directory

    def test_application_log_observer(self):
        self.addCleanup(self.service.store.close)
        application = Application("pyhss")
        self.service.setServiceParent(application)
        self.assertIsNotNone(application.getComponent(ILogObserver, None))

    def test_serves_s6a_cx_and_s13(self):
        self.addCleanup(self.service.store.close)
        self.assertEqual(self.service.node.applications, {APP_S6A: VENDOR_3GPP, APP_CX: VENDOR_3GPP, APP_S13: VENDOR_3GPP})
        self.assertEqual([(application_id, type(application).__module__)
                          for application_id, application in self.service.applications.items()],
                         [(APP_S6A, "pyhss.apps.s6a"), (APP_CX, "pyhss.apps.cx"), (APP_S13, "pyhss.apps.s13")])

    @defer.inlineCallbacks
    def test_stop_writes_the_s13_history_before_closing_the_store(self):
        from pyhss.storage.sqlite import SqliteStore
        from tests.test_s13 import ecr
        self.service.startService()
        stopped = False
        try:
            (port,) = self.service.ports
            client = DiameterNode("mme.test.realm", "test.realm", reactor, watchdog_jitter=0)
            client.register_application(APP_S13, VENDOR_3GPP)
            peer = yield connect_peer(client, "127.0.0.1", port.getHost().port)
            answer = yield client.send_request(peer.origin_host, ecr("35123456000001", mme="mme.test.realm"))
            self.assertEqual(answer.get("Experimental-Result/Experimental-Result-Code"), 5422)
            self.assertEqual(self.service.applications[APP_S13].history.pending, 1)   # within flush_interval
            yield self.service.stopService()
            stopped = True
        finally:
            if not stopped:
                yield self.service.stopService()
        store = SqliteStore(self.service.config.database.sqlite.path, reactor)
        self.addCleanup(store.close)
        (check,) = yield store.list_equipment_checks()
        self.assertEqual((check.imei, check.origin_host, check.result_code), ("35123456000001", "mme.test.realm", 5422))

    @defer.inlineCallbacks
    def test_cea_announces_exactly_the_loaded_applications(self):
        self.service.startService()
        try:
            (port,) = self.service.ports
            client = DiameterNode("mme.test.realm", "test.realm", reactor, watchdog_jitter=0)
            client.register_application(APP_RELAY)     # shares whatever we serve
            peer = yield connect_peer(client, "127.0.0.1", port.getHost().port)
            self.assertEqual(peer.announced, frozenset(self.service.applications))
            self.assertEqual(peer.announced, frozenset([APP_S6A, APP_CX, APP_S13]))
            # Each as Vendor-Specific-Application-Id with 3GPP's Vendor-Id.
            cer = client.messages.capabilities_request("127.0.0.1")
            cea = self.service.node.messages.capabilities_answer(cer, 2001, None, "127.0.0.1")
            self.assertEqual(sorted((group.get("Vendor-Id"), group.get("Auth-Application-Id"))
                                    for group in cea.find_all("Vendor-Specific-Application-Id")),
                             sorted([(VENDOR_3GPP, APP_S6A), (VENDOR_3GPP, APP_CX), (VENDOR_3GPP, APP_S13)]))
            self.assertEqual(cea.find_all("Auth-Application-Id"), [])
        finally:
            yield self.service.stopService()

    @defer.inlineCallbacks
    def test_start_serve_stop(self):
        self.service.startService()
        self.assertEqual(self.tuned, [True])
        stopped = False
        try:
            (port,) = self.service.ports
            address = port.getHost()
            self.assertEqual(address.host, "127.0.0.1")
            self.assertNotEqual(address.port, 0)
            client = DiameterNode("mme.test.realm", "test.realm", reactor,
                                  watchdog_jitter=0)
            client.register_application(APP_RELAY)
            peer = yield connect_peer(client, "127.0.0.1", address.port)
            self.assertEqual(peer.origin_host,
                             "hss.epc.mnc001.mcc001.3gppnetwork.org")
            self.assertEqual(
                list(self.service.node.peers),
                ["mme.test.realm"])
            # Stopping sends DPR; our client answers DPA and both close.
            yield self.service.stopService()
            stopped = True
            yield peer.connection.when_closed()
            self.assertEqual(peer.connection.state, CLOSED)
            self.assertEqual(peer.connection.counters["messages_received"], 2)
            self.assertEqual(self.service.node.peers, {})
            self.assertTrue(os.path.exists(
                os.path.join(self.directory, "var", "pyhss.sqlite3")))
        finally:
            if not stopped:
                yield self.service.stopService()

    def test_port_in_use_stops_start_up(self):
        busy = reactor.listenTCP(0, Factory(), interface="127.0.0.1")
        self.addCleanup(busy.stopListening)
        self.addCleanup(self.service.store.close)
        options = tap.Options()
        options.parseOptions(["--config", self.config_path, "--port",
                              str(busy.getHost().port)])
        service = tap.makeService(options)
        self.addCleanup(service.store.close)
        error = self.assertRaises(SystemExit, service.privilegedStartService)
        self.assertIn("Couldn't listen", str(error))
        self.assertEqual(service.ports, [])


    @defer.inlineCallbacks
    def test_control_socket_private_and_removed_at_stop(self):
        self.service.privilegedStartService()
        self.service.startService()
        mode = os.stat(self.control_socket).st_mode
        self.assertTrue(stat.S_ISSOCK(mode))
        self.assertEqual(stat.S_IMODE(mode), 0o600)
        yield self.service.stopService()
        self.assertFalse(os.path.exists(self.control_socket))

    @defer.inlineCallbacks
    def test_stale_control_socket_replaced(self):
        # A socket file nobody listens on, as a killed server leaves it.
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(self.control_socket)
        stale.close()
        self.service.privilegedStartService()
        self.service.startService()
        self.assertIsNotNone(self.service.control_port)
        yield self.service.stopService()
        self.assertFalse(os.path.exists(self.control_socket))

    def test_control_socket_of_a_running_server_kept(self):
        self.addCleanup(self.service.store.close)
        live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(live.close)
        live.bind(self.control_socket)
        live.listen(1)
        error = self.assertRaises(SystemExit, self.service.privilegedStartService)
        self.assertIn("another server is listening", str(error))
        self.assertTrue(os.path.exists(self.control_socket))
        self.assertEqual((self.service.ports, self.service.control_port), ([], None))

    def test_control_path_not_a_socket(self):
        self.addCleanup(self.service.store.close)
        with open(self.control_socket, "w") as handle:
            handle.write("precious")
        error = self.assertRaises(SystemExit, self.service.privilegedStartService)
        self.assertIn("not a socket", str(error))
        with open(self.control_socket) as handle:
            self.assertEqual(handle.read(), "precious")

    @defer.inlineCallbacks
    def test_control_off(self):
        with open(self.config_path) as handle:
            text = handle.read()
        with open(self.config_path, "w") as handle:
            handle.write(text.replace("enabled: true", "enabled: false"))
        options = tap.Options()
        options.parseOptions(["--config", self.config_path, "--port", "0"])
        service = tap.makeService(options)
        self.addCleanup(self.service.store.close)
        service.privilegedStartService()
        service.startService()
        self.assertIsNone(service.control_port)
        self.assertFalse(os.path.exists(self.control_socket))
        yield service.stopService()


class ConnectPeersTests(unittest.TestCase):
    """hss.connect_peers over TCP: the HSS connects out to a peer that
    listens, keeps the connection, and connects again when it is lost."""

    timeout = 20

    @defer.inlineCallbacks
    def test_connects_and_reconnects(self):
        from tests.interop_helpers import wait_until
        from tests.interop_nodes import start_node
        mme = yield start_node(self, "mme.dial.test", "dial.test")
        with open(SHIPPED_CONFIG) as handle:
            data = yaml.safe_load(handle)
        data["control"]["socket"] = ""
        data["database"]["backend"] = "memory"
        data["api"]["listen"] = ""
        data["hss"]["connect_peers"] = [{"origin_host": "MME.dial.test", "addresses": ["127.0.0.1"],
                                         "port": mme.port, "transport": "tcp"}]
        data["timers"].update(reconnect_min=0.05, reconnect_max=0.2)
        config = load_config_data(data, "<test>")
        service = tap.HSSService(config)
        service.startService()
        self.addCleanup(service.stopService)
        hss = service.node
        first = yield wait_until(lambda: hss.peer("mme.dial.test"), 5, "the HSS to open mme.dial.test")
        self.assertEqual((first.connection.role, first.connection.transport_name), ("initiator", "tcp"))
        self.assertIsNotNone(mme.peer(hss.origin_host))
        first.connection.abort()
        second = yield wait_until(
            lambda: hss.peer("mme.dial.test") not in (None, first) and hss.peer("mme.dial.test"),
            5, "the HSS to connect again")
        self.assertEqual(second.connection.role, "initiator")
        self.assertEqual(hss.dialers["mme.dial.test"].failures, 0)
