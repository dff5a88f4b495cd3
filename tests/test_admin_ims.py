"""pyhss-admin ims/ifc in-process against a temporary SQLite store, and
RTR/PPR through a real control socket to a Cx application whose S-CSCF
answers."""

import os

from twisted.internet import defer, reactor, task
from twisted.trial import unittest

from pyhss import control
from pyhss.apps.cx import CxApplication
from pyhss.config import load_config
from pyhss.node import DiameterNode, Peer
from pyhss.protocols import results
from pyhss.protocols.dictionary import APP_CX
from pyhss.storage.ims_state import REGISTRATION, Assignment
from pyhss.storage.sqlite import SqliteStore
from tests.test_admin import IMSI, K, OPC, AdminFixture
from tests.test_control import AnsweringConnection
from tests.test_cx import IFC

IMPI = "alice@ims.test"
IMPU = "sip:alice@ims.test"
TEL = "tel:+15551230001"
SCSCF_HOST = "scscf.ims.test"


class ImsAdminTests(AdminFixture, unittest.TestCase):

    @defer.inlineCallbacks
    def setUp(self):
        AdminFixture.setUp(self)
        yield self.admin("subscriber", "add", "--imsi", IMSI, "--k", K, "--opc", OPC)
        self.ifc_file = os.path.join(self.directory, "voice.xml")
        with open(self.ifc_file, "w") as handle:
            handle.write(IFC)

    def add(self, *extra, status=0):
        return self.admin("ims", "add", "--impi", IMPI, "--impu", IMPU, "--impu", TEL, "--imsi", IMSI, *extra,
                          status=status)

    @defer.inlineCallbacks
    def test_add_show_list_delete(self):
        yield self.admin("ifc", "add", "voice", self.ifc_file)
        out = yield self.add("--ifc", "voice", "--digest-password", "secret", "--barred", TEL)
        self.assertIn(IMPI, out)
        shown = yield self.json("ims", "show", TEL)
        self.assertEqual((shown["impi"], shown["imsi"], shown["ifc"], shown["digest_realm"]),
                         (IMPI, IMSI, "voice", "ims.test"))
        self.assertEqual([(i["uri"], i["barred"], i["implicit_set"], i["state"]) for i in shown["impus"]],
                         [(IMPU, False, 1, "not-registered"), (TEL, True, 1, "not-registered")])
        self.assertEqual(len(shown["digest_ha1"]), 32)
        self.assertNotIn("secret", str(shown))
        text = yield self.admin("ims", "show", IMPI)
        self.assertIn("set 1 barred", text)
        listed = yield self.json("ims", "list")
        self.assertEqual([row["impi"] for row in listed], [IMPI])
        self.assertNotIn("digest_ha1", listed[0])
        yield self.admin("ims", "delete", IMPI)
        self.assertEqual((yield self.json("ims", "list")), [])
        yield self.admin("ims", "delete", IMPI, status=1)
        yield self.admin("ims", "show", IMPU, status=1)

    @defer.inlineCallbacks
    def test_implicit_sets(self):
        yield self.admin("ims", "add", "--impi", IMPI, "--impu", IMPU, "--impu", TEL, "--impu",
                         "sip:alice.work@ims.test", "--set", f"{IMPU},{TEL}", "--imsi", IMSI)
        shown = yield self.json("ims", "show", IMPI)
        self.assertEqual([i["implicit_set"] for i in shown["impus"]], [1, 1, 2])

    @defer.inlineCallbacks
    def test_refused_input(self):
        cases = [
            (["--impi", "no-realm", "--impu", IMPU, "--imsi", IMSI], "private identity"),
            (["--impi", IMPI, "--impu", "http://x", "--imsi", IMSI], "public identity"),
            (["--impi", IMPI, "--impu", IMPU, "--imsi", "123"], "IMSI"),
            (["--impi", IMPI, "--impu", IMPU, "--imsi", "001019999999999"], "no subscriber"),
            (["--impi", IMPI, "--impu", IMPU, "--imsi", IMSI, "--ifc", "nope"], "unknown iFC"),
            (["--impi", IMPI, "--impu", IMPU, "--imsi", IMSI, "--barred", TEL], "not one of"),
            (["--impi", IMPI, "--impu", IMPU, "--impu", IMPU, "--imsi", IMSI], "twice"),
            (["--impi", IMPI, "--impu", IMPU, "--imsi", IMSI, "--digest-realm", "x"], "--digest-password"),
            (["--impi", IMPI, "--imsi", IMSI], "--impu"),
        ]
        for argv, word in cases:
            error = yield self.admin("ims", "add", *argv, status=2)
            self.assertIn(word, error)
        yield self.add()
        self.assertIn("already exists", (yield self.add(status=2)))
        result = yield self.json("ims", "add", "--impi", IMPI, "--impu", IMPU, "--imsi", IMSI, "--if-missing")
        self.assertEqual(result, {"impi": IMPI, "created": False})
        error = yield self.admin("ims", "add", "--impi", "bob@ims.test", "--impu", TEL, "--imsi", IMSI, status=2)
        self.assertIn(IMPI, error)
        yield self.admin("ims", "update", IMPI, status=2)                    # nothing to change
        yield self.admin("ims", "update", "bob@ims.test", "--ifc", "x", status=1)
        yield self.admin("ims", "show", "not an identity", status=2)
        yield self.admin("ims", "deregister", "not an identity", status=2)
        # The subscriber an IMS subscription uses stays.
        self.assertIn("IMS subscription", (yield self.admin("subscriber", "delete", IMSI, status=2)))

    @defer.inlineCallbacks
    def test_ifc_templates(self):
        yield self.admin("ifc", "add", "voice", self.ifc_file)
        self.assertIn("already exists", (yield self.admin("ifc", "add", "voice", self.ifc_file, status=2)))
        listed = yield self.json("ifc", "list")
        self.assertEqual(listed, [{"name": "voice", "criteria": 1}])
        self.assertIn("sip:voicemail.ims.test", (yield self.admin("ifc", "show", "voice")))
        bad = os.path.join(self.directory, "bad.xml")
        for text, word in [("<InitialFilterCriteria><Priority>x</Priority></InitialFilterCriteria>", "integer"),
                           ("<InitialFilterCriteria><Priority>1</Priority></InitialFilterCriteria>",
                            "ApplicationServer"),
                           ("<x><y/></x>", "unexpected element y"), ("<unclosed>", "well-formed"),
                           ("\xff", "well-formed")]:
            with open(bad, "w", encoding="utf-8") as handle:
                handle.write(text)
            error = yield self.admin("ifc", "add", "bad", bad, status=2)
            self.assertIn(word, error)
            self.assertIn("bad.xml", error)
        yield self.admin("ifc", "add", "bad", os.path.join(self.directory, "missing.xml"), status=2)
        yield self.add("--ifc", "voice")
        self.assertIn("is used by", (yield self.admin("ifc", "delete", "voice", status=2)))
        replaced = yield self.json("ifc", "add", "voice", self.ifc_file, "--replace")
        self.assertEqual((replaced["users"], [p["reason"] for p in replaced["ppr"]]),
                         ([IMPI], ["server-unreachable"]))
        yield self.admin("ims", "update", IMPI, "--no-ifc")
        yield self.admin("ifc", "delete", "voice")
        yield self.admin("ifc", "delete", "voice", status=1)

    @defer.inlineCallbacks
    def test_update_without_server(self):
        yield self.add()
        updated = yield self.json("ims", "update", IMPI, "--impu", IMPU)
        self.assertEqual([i["uri"] for i in updated["impus"]], [IMPU])
        self.assertEqual(updated["ppr"]["reason"], "server-unreachable")
        updated = yield self.json("ims", "update", IMPI, "--digest-password", "pw")
        self.assertEqual(updated["ppr"]["reason"], "not-needed")
        self.assertEqual(updated["digest_realm"], "ims.test")

    @defer.inlineCallbacks
    def test_deregister_without_server(self):
        yield self.add()
        error = yield self.admin("ims", "deregister", IMPU, status=1)
        self.assertIn("no RTR sent", error)

    # --- with a server ----------------------------------------------------------------
    @defer.inlineCallbacks
    def serve(self, code=results.DIAMETER_SUCCESS):
        """Cx over the same SQLite file behind the control socket, with
        S-CSCF SCSCF_HOST connected and answering ``code``."""
        config = load_config(self.config)
        store = SqliteStore(config.database.sqlite.path, reactor)
        self.addCleanup(store.close)
        yield store.opened
        node = DiameterNode(config.hss.origin_host, config.hss.origin_realm, task.Clock())
        self.cx = CxApplication(node, store)
        port = control.listen(reactor, self.control_socket, control.ControlLocator([self.cx]))
        self.addCleanup(port.stopListening)
        self.scscf = AnsweringConnection(node, code)
        node.peers[SCSCF_HOST] = Peer(SCSCF_HOST, "ims.test", frozenset([APP_CX]), frozenset([APP_CX]),
                                      self.scscf, 0)
        self.store = store

    def registered(self):
        return self.store.ims_assign(Assignment(REGISTRATION, IMPI, IMPU, "sip:scscf.ims.test:6060", SCSCF_HOST,
                                                "ims.test", SCSCF_HOST, 1.0))

    @defer.inlineCallbacks
    def test_deregister_sends_rtr_and_forgets_the_registration(self):
        yield self.add()
        yield self.serve()
        result = yield self.json("ims", "deregister", IMPI)
        self.assertEqual(result["rtr"]["reason"], "not-registered")
        self.assertEqual(self.scscf.received, [])
        yield self.registered()
        out = yield self.admin("ims", "deregister", TEL, "--reason", "contract ended")
        self.assertEqual(out.strip(), f"RTR sent to {SCSCF_HOST}: 2001")
        (rtr,) = self.scscf.received
        self.assertEqual((rtr.name, rtr.get("User-Name"), rtr.get("Destination-Host")), ("RTR", IMPI, SCSCF_HOST))
        self.assertEqual((rtr.get("Deregistration-Reason/Reason-Code"), rtr.get("Deregistration-Reason/Reason-Info")),
                         (0, "contract ended"))
        self.assertEqual(sorted(a.value for a in rtr.find_all("Public-Identity")), sorted([IMPU, TEL]))
        self.assertEqual(rtr.get("Vendor-Specific-Application-Id/Auth-Application-Id"), APP_CX)
        shown = yield self.json("ims", "show", IMPI)
        self.assertEqual((shown["scscf"], [i["state"] for i in shown["impus"]]),
                         (None, ["not-registered", "not-registered"]))
        self.assertIn("no IMS subscription", (yield self.admin("ims", "deregister", "sip:zed@ims.test", status=1)))

    @defer.inlineCallbacks
    def test_deregister_refused_by_the_scscf_keeps_the_registration(self):
        yield self.add()
        yield self.serve(code=results.DIAMETER_UNABLE_TO_COMPLY)
        yield self.registered()
        error = yield self.admin("ims", "deregister", IMPU, status=1)
        self.assertIn("5012", error)
        self.assertEqual((yield self.json("ims", "show", IMPI))["impus"][0]["state"], "registered")

    @defer.inlineCallbacks
    def test_update_sends_ppr_to_a_registered_user(self):
        yield self.admin("ifc", "add", "voice", self.ifc_file)
        yield self.add()
        yield self.serve()
        yield self.registered()
        result = yield self.json("ims", "update", IMPI, "--ifc", "voice")
        self.assertEqual((result["ppr"]["sent"], result["ppr"]["result_code"]), (True, 2001))
        (ppr,) = self.scscf.received
        self.assertEqual((ppr.name, ppr.get("User-Name")), ("PPR", IMPI))
        self.assertIn(b"sip:voicemail.ims.test", ppr.get("User-Data"))
        replaced = yield self.json("ifc", "add", "voice", self.ifc_file, "--replace")
        self.assertEqual([(p["impi"], p["result_code"]) for p in replaced["ppr"]], [(IMPI, 2001)])
        self.assertEqual(len(self.scscf.received), 2)
