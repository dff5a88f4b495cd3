"""config.yaml loading and validation."""

import os

import yaml
from twisted.trial import unittest

from pyhss.config import (
    AllowedPeer, Config, ConfigError, HssConfig, check_log_file, describe_keys, load_config, load_config_data,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(ROOT, "config.yaml")

MINIMAL_HSS = {
    "OriginHost": "hss.example.org",
    "OriginRealm": "example.org",
    "MCC": "001",
    "MNC": "01",
}


class ShippedConfigTests(unittest.TestCase):
    def test_shipped_config_loads(self):
        config = load_config(SHIPPED)
        self.assertEqual(config.hss.bind_addresses, ("127.0.0.1",))
        self.assertEqual(config.hss.port, 3868)
        self.assertEqual(config.hss.transports, ("tcp",))
        self.assertEqual(config.hss.origin_host, "hss.epc.mnc001.mcc001.3gppnetwork.org")
        self.assertEqual((config.hss.mcc, config.hss.mnc), ("001", "01"))
        self.assertEqual(config.timers.watchdog, 30.0)
        self.assertEqual(config.limits.max_message_size, 65536)
        self.assertEqual(config.database.backend, "sqlite")
        # Relative to the configuration file, not to the working directory.
        self.assertEqual(config.database.sqlite.path, os.path.join(ROOT, "var", "pyhss.sqlite3"))
        self.assertEqual(config.logging.level, "info")
        self.assertEqual(config.control.socket_path, os.path.join(ROOT, "var", "pyhss.control"))
        self.assertEqual(config.path, SHIPPED)

    def test_every_shipped_key_is_known(self):
        with open(SHIPPED) as handle:
            data = yaml.safe_load(handle)
        keys = {key for key, _, _ in describe_keys()}
        for section, values in data.items():
            for name, value in values.items():
                if isinstance(value, dict):
                    for sub in value:
                        self.assertIn(f"{section}.{name}.{sub}", keys)
                else:
                    self.assertIn(f"{section}.{name}", keys)

    def test_every_key_is_documented(self):
        for key, _, doc in describe_keys():
            self.assertTrue(doc, f"{key} has no doc")

    def test_records_are_frozen(self):
        config = load_config(SHIPPED)
        with self.assertRaises(AttributeError):
            config.hss.port = 1


class ConfigErrorTests(unittest.TestCase):
    def write(self, data, text=None):
        path = self.mktemp() + ".yaml"
        with open(path, "w") as handle:
            handle.write(text if text is not None else yaml.safe_dump(data))
        return path

    def assertError(self, data, key, *fragments, text=None):
        path = self.write(data, text)
        with self.assertRaises(ConfigError) as caught:
            load_config(path)
        error = caught.exception
        message = str(error)
        self.assertNotIn("\n", message)
        self.assertTrue(message.startswith(path + ": "), message)
        self.assertEqual(error.key, key)
        if key:
            self.assertIn(f": {key}: ", message)
        for fragment in fragments:
            self.assertIn(fragment, message)
        return error

    def with_hss(self, **changes):
        hss = dict(MINIMAL_HSS)
        hss.update(changes)
        return {"hss": hss}

    def test_minimal_config_takes_defaults(self):
        path = self.write({"hss": MINIMAL_HSS})
        config = load_config(path)
        self.assertEqual(config.hss.port, 3868)
        self.assertEqual(config.timers.dpa_timeout, 5.0)
        self.assertEqual(config.database.backend, "sqlite")
        self.assertEqual(os.path.dirname(config.database.sqlite.path),
                         os.path.join(os.path.dirname(os.path.abspath(path)), "var"))

    def test_missing_file(self):
        with self.assertRaises(ConfigError) as caught:
            load_config("/nonexistent/pyhss.yaml")
        self.assertIn("/nonexistent/pyhss.yaml: cannot read", str(caught.exception))

    def test_bad_yaml(self):
        self.assertError(None, None, "not valid YAML", "line 2 column 10", text="hss:\n  port: 3: 4\n")

    def test_duplicate_keys_refused(self):
        # PyYAML keeps the last one silently; a second "port:" is a mistake.
        hss = "hss:\n  OriginHost: h.example\n  OriginRealm: example\n  MCC: '001'\n  MNC: '01'\n"
        self.assertError(None, "hss.port", "given twice, on line 6 and line 8",
                         text=hss + "  port: 1\n  VendorId: 0\n  port: 2\n")
        self.assertError(None, "hss.OriginHost", "on line 2 and line 6", text=hss + "  'OriginHost': x.example\n")
        self.assertError(None, "timers", "on line 6 and line 8",
                         text=hss + "timers: {watchdog: 1}\nlimits: {}\ntimers: {watchdog: 2}\n")
        self.assertError(None, "hss.allowed_peers[1].origin_host", "line 8 and line 9",
                         text=hss + "  allowed_peers:\n  - {origin_host: a.example}\n  - origin_host: b.example\n"
                                    "    origin_host: c.example\n")
        # The same key in different mappings, and anchors, are fine.
        config = load_config(self.write(None, text=hss + "  allowed_peers:\n  - &p {origin_host: a.example}\n"
                                                         "  - *p\ntimers: {watchdog: 1}\n"))
        self.assertEqual(config.hss.allowed_peers, (AllowedPeer("a.example"), AllowedPeer("a.example")))

    def test_log_file_must_be_writable(self):
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        path = self.write({"hss": MINIMAL_HSS, "logging": {"file": os.path.join(base, "missing", "x.log")}})
        with self.assertRaises(ConfigError) as caught:
            check_log_file(load_config(path))
        self.assertEqual(str(caught.exception), f"{path}: logging.file: cannot write "
                         f"{os.path.join(base, 'missing', 'x.log')!r}: No such file or directory")
        path = self.write({"hss": MINIMAL_HSS, "logging": {"file": base}})
        with self.assertRaises(ConfigError) as caught:
            check_log_file(load_config(path))
        self.assertIn("logging.file: cannot write", str(caught.exception))
        self.assertIn("Is a directory", str(caught.exception))
        good = os.path.join(base, "pyhss.log")
        check_log_file(load_config(self.write({"hss": MINIMAL_HSS, "logging": {"file": good}})))
        self.assertTrue(os.path.exists(good))
        check_log_file(load_config(self.write({"hss": MINIMAL_HSS})))   # "-": standard output

    def test_top_level_not_mapping(self):
        self.assertError(None, "(top level)", "mapping", text="- 1\n- 2\n")

    def test_missing_section_and_key(self):
        self.assertError({}, "hss", "missing required key")
        hss = dict(MINIMAL_HSS)
        del hss["OriginRealm"]
        self.assertError({"hss": hss}, "hss.OriginRealm", "missing required key")

    def test_unknown_keys(self):
        error = self.assertError({"hss": MINIMAL_HSS, "timer": {}}, "timer", "unknown key")
        self.assertIn("timers", error.problem)
        self.assertError({"hss": MINIMAL_HSS, "timers": {"watchdgo": 3}}, "timers.watchdgo", "unknown key",
                         "watchdog")
        self.assertError({"hss": MINIMAL_HSS, "database": {"sqlite": {"paht": "x"}}}, "database.sqlite.paht",
                         "unknown key")

    def test_wrong_types(self):
        self.assertError(self.with_hss(port="3868"), "hss.port", "must be an integer", "'3868'")
        self.assertError(self.with_hss(port=True), "hss.port", "must be an integer")
        self.assertError({"hss": MINIMAL_HSS, "timers": {"watchdog": "soon"}}, "timers.watchdog",
                         "number of seconds")
        self.assertError(self.with_hss(bind_addresses="127.0.0.1"), "hss.bind_addresses", "must be a list")
        self.assertError({"hss": MINIMAL_HSS, "limits": []}, "limits", "mapping")

    def test_out_of_range(self):
        self.assertError(self.with_hss(port=70000), "hss.port", "between 0 and 65535", "70000")
        self.assertError({"hss": MINIMAL_HSS, "timers": {"watchdog": 0}}, "timers.watchdog", "greater than 0")
        self.assertError({"hss": MINIMAL_HSS, "limits": {"max_message_size": 10}}, "limits.max_message_size",
                         "between 20 and 16777215")
        self.assertError(self.with_hss(VendorId=-1), "hss.VendorId", "between")

    def test_s6a_section(self):
        config = load_config(self.write({"hss": MINIMAL_HSS, "s6a": {"max_vectors": 5, "cancel_old_mme": False}}))
        self.assertEqual((config.s6a.max_vectors, config.s6a.ind_bits, config.s6a.cancel_old_mme), (5, 5, False))
        self.assertError({"hss": MINIMAL_HSS, "s6a": {"max_vectors": 33}}, "s6a.max_vectors", "between 1 and 32")
        self.assertError({"hss": MINIMAL_HSS, "s6a": {"cancel_old_mme": "yes"}}, "s6a.cancel_old_mme",
                         "true or false")
        self.assertError({"hss": MINIMAL_HSS, "s6a": {"utran_geran_vectors": "lte"}},
                         "s6a.utran_geran_vectors", "utran, geran")

    def test_control_section(self):
        # Off unless a socket is named; relative to the file; enabled: false keeps the path but turns it off.
        self.assertIsNone(load_config(self.write({"hss": MINIMAL_HSS})).control.socket_path)
        path = self.write({"hss": MINIMAL_HSS, "control": {"socket": "run/c"}})
        control = load_config(path).control
        self.assertEqual(control.socket_path, os.path.join(os.path.dirname(os.path.abspath(path)), "run", "c"))
        control = load_config(self.write({"hss": MINIMAL_HSS, "control": {"socket": "/tmp/c", "enabled": False}}))
        self.assertEqual((control.control.socket, control.control.socket_path), ("/tmp/c", None))
        for empty in ("", None):
            config = load_config(self.write({"hss": MINIMAL_HSS, "control": {"socket": empty}}))
            self.assertIsNone(config.control.socket_path)
        self.assertError({"hss": MINIMAL_HSS, "control": {"enabled": "yes"}}, "control.enabled", "true or false")
        self.assertError({"hss": MINIMAL_HSS, "control": {"socket": 5}}, "control.socket", "path string")
        self.assertError({"hss": MINIMAL_HSS, "control": {"socket": "/" + "x" * 107}}, "control.socket",
                         "too long for a UNIX socket", "108 bytes, at most 107")
        self.assertError({"hss": MINIMAL_HSS, "control": {"sockt": "x"}}, "control.sockt", "unknown key",
                         "socket")

    def test_bad_ip_address(self):
        self.assertError(self.with_hss(bind_addresses=["127.0.0.1", "300.1.1.1"]), "hss.bind_addresses",
                         "item 1", "not an IP address", "300.1.1.1")
        self.assertError(self.with_hss(bind_addresses=[]), "hss.bind_addresses", "must not be empty")
        self.assertError(self.with_hss(bind_addresses=["::1", "::1"]), "hss.bind_addresses", "twice")

    def test_ipv6_bind_address(self):
        config = load_config(self.write(self.with_hss(bind_addresses=["::1", "0:0::1:1"])))
        self.assertEqual(config.hss.bind_addresses, ("::1", "::1:1"))

    def test_unknown_transport_and_backend(self):
        self.assertError(self.with_hss(transports=["tcp", "udp"]), "hss.transports", "item 1", "'udp'",
                         "tcp, sctp")
        self.assertError({"hss": MINIMAL_HSS, "database": {"backend": "oracle"}}, "database.backend",
                         "'oracle'", "sqlite")
        self.assertError({"hss": MINIMAL_HSS, "logging": {"level": "loud"}}, "logging.level", "'loud'")

    def test_connect_peers(self):
        config = load_config(self.write(self.with_hss(connect_peers=[
            {"origin_host": "mme1.example.org", "addresses": ["10.0.0.1", "10.0.1.1"],
             "transport": "sctp", "local_addresses": ["10.0.0.9", "10.0.1.9"]},
            {"origin_host": "mme2.example.org", "addresses": ["10.0.0.2"], "port": 3869}])))
        first, second = config.hss.connect_peers
        self.assertEqual((first.addresses, first.port, first.transport, first.local_addresses),
                         (("10.0.0.1", "10.0.1.1"), 3868, "sctp", ("10.0.0.9", "10.0.1.9")))
        self.assertEqual((second.port, second.transport, second.local_addresses), (3869, "tcp", ()))

    def test_connect_peers_mistakes(self):
        peer = {"origin_host": "mme.example.org", "addresses": ["10.0.0.1"]}
        self.assertError(self.with_hss(connect_peers=[{"addresses": ["10.0.0.1"]}]),
                         "hss.connect_peers", "item 0", "origin_host: missing required key")
        self.assertError(self.with_hss(connect_peers=[dict(peer, addresses=[])]),
                         "hss.connect_peers", "addresses: must not be empty")
        self.assertError(self.with_hss(connect_peers=[dict(peer, transport="udp")]),
                         "hss.connect_peers", "transport", "'udp'")
        self.assertError(self.with_hss(connect_peers=[peer, dict(peer, origin_host="MME.example.org")]),
                         "hss.connect_peers", "item 1", "listed twice")
        self.assertError(self.with_hss(connect_peers=["mme.example.org"]),
                         "hss.connect_peers", "item 0", "must be a mapping")

    def test_reconnect_timers(self):
        config = load_config(self.write({"hss": MINIMAL_HSS, "timers": {"reconnect_min": 2,
                                                                        "reconnect_max": 60}}))
        self.assertEqual((config.timers.reconnect_min, config.timers.reconnect_max,
                          config.timers.connect_timeout), (2.0, 60.0, 10.0))
        self.assertError({"hss": MINIMAL_HSS, "timers": {"reconnect_min": 40}}, "timers.reconnect_min",
                         "at most timers.reconnect_max (30), got 40")

    def test_sctp_section(self):
        config = load_config(self.write({"hss": dict(MINIMAL_HSS, transports=["tcp", "sctp"],
                                                     sctp_optional=True),
                                         "sctp": {"streams": 16, "rto_min": 0.2, "rto_initial": 0.5,
                                                  "heartbeat_interval": 0}}))
        self.assertTrue(config.hss.sctp_optional)
        self.assertEqual(config.sctp.options(), {
            "streams": 16, "rto_initial": 0.5, "rto_min": 0.2, "rto_max": 60.0, "heartbeat_interval": 0.0,
            "max_retransmissions": 10, "path_max_retransmissions": 5, "init_max_retransmissions": 8})
        self.assertError({"hss": MINIMAL_HSS, "sctp": {"rto_min": 5}}, "sctp.rto_initial",
                         "rto_min <= rto_initial <= rto_max", "5, 3, 60")
        self.assertError({"hss": MINIMAL_HSS, "sctp": {"streams": 0}}, "sctp.streams", "between 1 and 65535")
        self.assertError(self.with_hss(sctp_optional="yes"), "hss.sctp_optional", "true or false")

    def test_mcc_mnc(self):
        self.assertError(self.with_hss(MCC="01"), "hss.MCC", "3 digits")
        self.assertError(self.with_hss(MCC="0a1"), "hss.MCC", "3 digits")
        error = self.assertError(None, "hss.MCC", "quoted", text="hss:\n  OriginHost: h.example\n"
                                 "  OriginRealm: example\n  MCC: 001\n  MNC: '01'\n")
        self.assertIn("got 1", str(error))
        self.assertError(self.with_hss(MNC="1"), "hss.MNC", "2 or 3 digits")
        self.assertError(self.with_hss(MNC="1234"), "hss.MNC", "2 or 3 digits")
        self.assertEqual(load_config(self.write(self.with_hss(MNC="001"))).hss.mnc, "001")

    def test_origin_host_must_be_fqdn(self):
        self.assertError(self.with_hss(OriginHost="bad host"), "hss.OriginHost", "fully qualified")
        self.assertError(self.with_hss(OriginRealm=""), "hss.OriginRealm", "non-empty")

    def test_allowed_peers(self):
        config = load_config(self.write(self.with_hss(allowed_peers=[
            {"origin_host": "mme.example.org"}, {"origin_realm": "partner.org"}])))
        self.assertEqual(config.hss.allowed_peers, (AllowedPeer("mme.example.org"), AllowedPeer(None, "partner.org")))
        self.assertTrue(config.hss.peer_allowed("MME.example.org", "example.org"))
        self.assertTrue(config.hss.peer_allowed("other.partner.org", "partner.org"))
        self.assertFalse(config.hss.peer_allowed("other.example.org", "example.org"))
        self.assertTrue(Config.default().hss.peer_allowed("anyone", "anywhere"))
        self.assertError(self.with_hss(allowed_peers=[{}]), "hss.allowed_peers", "item 0",
                         "origin_host and/or origin_realm")
        self.assertError(self.with_hss(allowed_peers=[{"host": "x"}]), "hss.allowed_peers", "item 0", "host",
                         "unknown key")

    def test_allowed_peers_pinned_to_addresses(self):
        config = load_config(self.write(self.with_hss(allowed_peers=[
            {"origin_host": "mme.example.org", "addresses": ["192.0.2.10", "2001:db8::/64"]},
            {"origin_realm": "example.org"}])))
        allowed = config.hss.peer_allowed
        self.assertTrue(allowed("mme.example.org", "example.org", "192.0.2.10"))
        self.assertTrue(allowed("MME.example.org", "example.org", "2001:db8::7"))
        self.assertTrue(allowed("mme.example.org", "example.org", "::ffff:192.0.2.10"))
        # The pinned host is refused from elsewhere, although its realm is
        # allowed: the realm entry does not let the same identity in.
        self.assertFalse(allowed("mme.example.org", "example.org", "198.51.100.1"))
        self.assertFalse(allowed("mme.example.org", "example.org", None))
        self.assertTrue(allowed("other.example.org", "example.org", "198.51.100.1"))
        self.assertError(self.with_hss(allowed_peers=[{"origin_host": "m.example", "addresses": ["10.0.0.5/24"]}]),
                         "hss.allowed_peers", "item 0", "addresses", "host bits set")
        self.assertError(self.with_hss(allowed_peers=[{"origin_host": "m.example", "addresses": ["mme"]}]),
                         "hss.allowed_peers", "item 0", "addresses", "not an IP address")

    def test_paths_relative_to_file(self):
        path = self.write({"hss": MINIMAL_HSS, "database": {"sqlite": {"path": "db/x.sqlite3"}},
                           "logging": {"file": "log/pyhss.log"}})
        config = load_config(path)
        base = os.path.dirname(os.path.abspath(path))
        self.assertEqual(config.database.sqlite.path, os.path.join(base, "db", "x.sqlite3"))
        self.assertEqual(config.logging.file, os.path.join(base, "log", "pyhss.log"))
        self.assertEqual(load_config(self.write({"hss": MINIMAL_HSS})).logging.file, "-")


class DefaultConfigTests(unittest.TestCase):
    def test_default(self):
        config = Config.default()
        self.assertIsInstance(config.hss, HssConfig)
        self.assertEqual(config.database.backend, "memory")

    def test_default_with_sections(self):
        config = Config.default(timers={"watchdog": 1, "watchdog_timeout": 0.5})
        self.assertEqual((config.timers.watchdog, config.timers.watchdog_timeout), (1.0, 0.5))
        with self.assertRaises(ConfigError) as caught:
            Config.default(limits={"max_connections": 0})
        self.assertEqual(str(caught.exception),
                         "<defaults>: limits.max_connections: must be between 1 and 1000000, got 0")

    def test_load_config_data_names_source(self):
        with self.assertRaises(ConfigError) as caught:
            load_config_data({"hss": 3}, "inline")
        self.assertEqual(str(caught.exception), "inline: hss: must be a mapping of keys, got the number 3")


class LoggingSetupTests(unittest.TestCase):
    def test_level_filter_to_stream(self):
        import io

        from twisted.logger import Logger, LogPublisher

        from pyhss.logsetup import configure_logging
        publisher = LogPublisher()
        stream = io.StringIO()
        config = Config.default(logging={"level": "warn"})
        configure_logging(config.logging, publisher, stdout=stream)
        log = Logger(namespace="pyhss.test", observer=publisher)
        log.info("hidden {x}", x=1)
        log.warn("shown {x}", x=2)
        log.error("also shown")
        lines = stream.getvalue().splitlines()
        self.assertEqual(len(lines), 2)
        self.assertIn("shown 2", lines[0])
        self.assertIn("[pyhss.test#error] also shown", lines[1])

    def test_file_and_application_component(self):
        from twisted.application.service import Application
        from twisted.logger import ILogObserver, Logger

        from pyhss.logsetup import set_application_observer
        path = os.path.abspath(self.mktemp())
        config = load_config_data({"hss": MINIMAL_HSS, "logging": {"level": "debug", "file": path}}, "inline")
        application = Application("pyhss")
        observer = set_application_observer(application, config.logging)
        self.assertIs(application.getComponent(ILogObserver), observer)
        Logger(namespace="pyhss.test", observer=observer).debug("one request")
        with open(path) as handle:
            self.assertIn("[pyhss.test#debug] one request", handle.read())
