"""Cx against a real IMS core: Debian's Kamailio 5.6 as I-CSCF and S-CSCF
(cdp, ims_icscf, ims_auth, ims_registrar_scscf) on 127.0.0.1, both
connecting to an in-process pyhss over TCP with their own Diameter stack.

A SIP UA written for the tests (tests/sip_ua.py) registers through the
I-CSCF: UAR, then MAR (the 401's nonce is RAND||AUTN from our MAA; the UA
checks AUTN and computes RES with its own MILENAGE), then SAR (the S-CSCF
checks our User-Data against TS 29.228's schema, user_data_xsd); a
re-registration (SAR RE_REGISTRATION) and a de-registration (SAR
USER_DEREGISTRATION) follow, an unknown user is refused (UAR 5001, 403),
and ``pyhss-admin ims deregister`` makes the S-CSCF drop the contact (RTR).
A second test forces the timings of a loaded machine (a slow MAA, so the
I-CSCF retransmits; the S-CSCF's cdp workers held after each send, so the
UE answers before the MAA callback has finished). Any failure shows both
Kamailio logs.
"""

import io
import os

import yaml
from twisted.internet import defer, reactor, task
from twisted.trial import unittest

from pyhss import admin, control
from pyhss.apps.cx import CxApplication
from pyhss.apps.cx_policy import CxPolicy
from pyhss.node import DiameterNode, Timers
from pyhss.storage.ims_records import IfcTemplate, ImsSubscription
from pyhss.storage.records import Subscriber
from pyhss.storage.sqlite import SqliteStore
from tests import interop_helpers as helpers
from tests import kamailio_ims
from tests.interop_nodes import RunningNode, _NodeFactory
from tests.sip_ua import ImsUserAgent
from tests.test_cx import IFC, K, OPC
from tests.test_tap import short_directory

IMSI = "001010000000001"
IMPI = "alice@" + kamailio_ims.REALM
IMPU = "sip:" + IMPI
TEL = "tel:+15551230001"
START_TIMEOUT = 20.0
STEP_TIMEOUT = 10.0


class KamailioImsTests(unittest.TestCase):

    skip = kamailio_ims.skip_reason()
    timeout = 90

    @defer.inlineCallbacks
    def setUp(self):
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        database = os.path.join(self.directory, "hss.sqlite3")
        self.store = SqliteStore(database, reactor)
        self.addCleanup(self.store.close)
        yield self.store.add_subscriber(Subscriber(IMSI, K, opc=OPC, sqn=32 * 100))
        yield self.store.add_ifc_template(IfcTemplate("voice", IFC))
        yield self.store.add_ims_subscription(ImsSubscription(IMPI, IMSI, (IMPU, TEL), ifc="voice"))
        node = DiameterNode(kamailio_ims.HSS_HOST, kamailio_ims.REALM, reactor,
                            timers=Timers(request_timeout=5.0), watchdog_jitter=0)
        self.cx = CxApplication(node, self.store, CxPolicy(visited_networks=(kamailio_ims.REALM,)))
        self.cx.register()
        self.requests = []
        self.answer_delays = {}     # request name -> seconds before the next one is answered
        for command, handler in list(node.dispatcher.handlers.items()):
            node.dispatcher.handlers[command] = self._recording(handler)
        listener = reactor.listenTCP(0, _NodeFactory(node), interface="127.0.0.1")
        self.hss = RunningNode(node, listener)
        self.addCleanup(self.hss.stop)
        # pyhss-admin reaches this HSS over a control socket, the store shared.
        sockets = short_directory(self)
        socket_path = os.path.join(sockets, "control")
        port = control.listen(reactor, socket_path, control.ControlLocator([self.cx]))
        self.addCleanup(port.stopListening)
        self.config = os.path.join(self.directory, "config.yaml")
        with open(self.config, "w") as handle:
            yaml.safe_dump({"hss": {"OriginHost": kamailio_ims.HSS_HOST, "OriginRealm": kamailio_ims.REALM,
                                    "MCC": "001", "MNC": "01"},
                            "database": {"backend": "sqlite", "sqlite": {"path": database}},
                            "control": {"socket": socket_path}}, handle)
        self.core = kamailio_ims.ImsCore(self.directory, self.hss.port, sockets)
        self.core.start(reactor)
        self.addCleanup(self.core.stop, reactor)
        yield self.wait(lambda: self.core.ended() or (node.peer(kamailio_ims.ICSCF_HOST)
                                                      and node.peer(kamailio_ims.SCSCF_HOST)),
                        START_TIMEOUT, "the I-CSCF and S-CSCF to connect (CER/CEA)")
        self.check(not self.core.ended(), "Kamailio stopped: %s" % self.core.ended())

    def _recording(self, handler):
        def record(request, peer):
            self.requests.append(request)
            delay = self.answer_delays.pop(request.name, 0)
            if delay:
                return task.deferLater(reactor, delay, handler, request, peer)
            return handler(request, peer)
        return record

    def explain(self):
        seen = ", ".join("%s%s" % (r.name, "(%s)" % r.get("Server-Assignment-Type")
                                   if r.get("Server-Assignment-Type") is not None else "") for r in self.requests)
        return "Cx requests seen: %s\n%s" % (seen or "none", self.core.logs())

    def wait(self, predicate, timeout, description):
        return helpers.wait_or_fail(self, predicate, timeout, description, self.explain)

    @defer.inlineCallbacks
    def within(self, deferred, description):
        """``deferred``'s result, or the test fails with the logs after STEP_TIMEOUT."""
        try:
            result = yield deferred.addTimeout(STEP_TIMEOUT, reactor)
        except defer.TimeoutError:
            self.fail("no answer within %ss: %s\n%s" % (STEP_TIMEOUT, description, self.explain()))
        return result

    def check(self, condition, message):
        if not condition:
            self.fail("%s\n%s" % (message, self.explain()))

    def user_agent(self, impi=IMPI, impu=IMPU):
        ua = ImsUserAgent(impi, impu, K, OPC, ("127.0.0.1", self.core.icscf_port), kamailio_ims.REALM)
        port = reactor.listenUDP(0, ua, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        return ua

    def sar_types(self):
        return [r.get("Server-Assignment-Type") for r in self.requests if r.name == "SAR"]

    @defer.inlineCallbacks
    def registration(self):
        subscription, registration = yield self.store.ims_lookup(IMPI)
        return registration

    @defer.inlineCallbacks
    def has_contact(self, ua):
        """Whether the S-CSCF holds ``ua``'s contact (ulscscf.showimpu)."""
        output = yield self.core.kamcmd(reactor, "scscf", "ulscscf.showimpu", IMPU)
        self.shown = output.decode("utf-8", "replace")
        return "sip:ue@127.0.0.1:%d:" % ua.port in self.shown

    @defer.inlineCallbacks
    def test_register_reregister_deregister_and_rtr(self):
        ua = self.user_agent()
        challenge, final = yield self.within(ua.register(), "REGISTER through the I-CSCF")
        self.check(challenge.code == 401 and final.code == 200,
                   "registration: %r then %r" % (challenge, final))
        self.check("AKAv1-MD5" in challenge.header("www-authenticate"), challenge.header("www-authenticate"))
        self.assertEqual(ua.last_sqn, (101 << 5) | 1)       # the USIM accepted AUTN: the S6a counter moved on
        # The I-CSCF keeps the S-CSCF it chose across the 401: one UAR.
        self.assertEqual([r.name for r in self.requests], ["UAR", "MAR", "SAR"])
        registration = yield self.registration()
        self.assertEqual((registration.server_name, registration.state(IMPU), registration.state(TEL)),
                         (self.core.scscf_uri, "registered", "registered"))
        # Kamailio's quirks, lived with: the Visited-Network-Identifier in
        # quotes (cx.visited_networks still matches it), and a Call-ID AVP
        # of vendor 50 outside the Cx dictionary in its SAR.
        uar = self.requests[0]
        self.assertEqual(uar.get("Visited-Network-Identifier"), b'"%s"' % kamailio_ims.REALM.encode())
        sar = self.requests[-1]
        self.assertIn((494, 50), [(avp.code, avp.vendor_id) for avp in sar.avps if avp.definition is None])
        self.check((yield self.has_contact(ua)), "the S-CSCF has no contact for %s:\n%s" % (IMPU, self.shown))

        challenge, final = yield self.within(ua.register(), "re-REGISTER")
        self.check(final.code == 200, "re-registration: %r" % (final,))
        self.assertEqual(self.sar_types()[-1], 2)           # RE_REGISTRATION

        challenge, final = yield self.within(ua.register(expires=0), "de-REGISTER")
        self.check(final.code == 200, "de-registration: %r" % (final,))
        self.assertEqual(self.sar_types()[-1], 5)           # USER_DEREGISTRATION
        registration = yield self.registration()
        self.assertEqual(registration.states, ())

        stranger = self.user_agent("zed@" + kamailio_ims.REALM, "sip:zed@" + kamailio_ims.REALM)
        challenge, final = yield self.within(stranger.register(), "REGISTER of an unknown user")
        self.check(final.code == 403, "unknown user: %r" % (final,))

        challenge, final = yield self.within(ua.register(), "REGISTER again")
        self.check(final.code == 200, "registration again: %r" % (final,))
        self.check((yield self.has_contact(ua)), "no contact before RTR:\n%s" % self.shown)
        stdout, stderr = io.StringIO(), io.StringIO()
        status = yield self.within(admin.run(reactor, ["--config", self.config, "ims", "deregister", IMPU,
                                                       "--reason", "test"], stdout, stderr), "ims deregister")
        self.check(status == 0, "pyhss-admin ims deregister: %s %s" % (stdout.getvalue(), stderr.getvalue()))
        self.assertIn("RTR sent to %s: 2001" % kamailio_ims.SCSCF_HOST, stdout.getvalue())
        registration = yield self.registration()
        self.assertEqual((registration.states, registration.server_name), ((), None))
        # The S-CSCF answers RTA at once and purges the contacts it marked
        # on its next usrloc timer (timer_interval 1 s).
        deadline = reactor.seconds() + STEP_TIMEOUT
        while (yield self.has_contact(ua)):
            self.check(reactor.seconds() < deadline, "contact still there after RTR:\n%s" % self.shown)
            yield task.deferLater(reactor, 0.2, lambda: None)

    @defer.inlineCallbacks
    def test_register_with_a_slow_hss_and_a_preempted_scscf(self):
        """What a loaded machine does now and then, forced: the HSS answers
        the MAR after 1.2 s, so the I-CSCF retransmits the REGISTER to the
        S-CSCF (T1, 500 ms) while the MAR is out; and the S-CSCF's cdp
        workers, which run the MAA callback, stop for 0.3 s each time a
        send returns, so the UE's answer arrives before anything the
        callback does after sending the 401. One MAR, and the answer
        finds its vector (kamailio_ims.SCSCF's comments say how)."""
        self.answer_delays["MAR"] = 1.2
        yield self.core.hold_after_send(reactor, "scscf", "cdp worker", 0.3)
        ua = self.user_agent()
        challenge, final = yield self.within(ua.register(), "REGISTER through the I-CSCF")
        self.check(challenge.code == 401 and final.code == 200, "registration: %r then %r" % (challenge, final))
        self.assertEqual([r.name for r in self.requests], ["UAR", "MAR", "SAR"])

    if not os.path.exists(kamailio_ims.STRACE):
        test_register_with_a_slow_hss_and_a_preempted_scscf.skip = "strace is not installed (apt-get install strace)"
