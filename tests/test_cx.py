"""Cx UAR, MAR, SAR and LIR on an HSS node over the memory store; MAA
vectors checked against tests.milenage_reference (TS 35.206 written out
apart from pyhss.auc), as a UE's USIM would."""

import hashlib
import xml.etree.ElementTree as ET

from twisted.internet import task
from twisted.trial import unittest

from pyhss.apps.cx import CxApplication
from pyhss.apps.cx_policy import CxPolicy
from pyhss.apps.s6a import S6aApplication
from pyhss.auc.kdf import encode_plmn_id
from pyhss.node import DiameterNode, Peer
from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import APP_CX, APP_S6A, CMD_AIR, CMD_LIR, CMD_MAR, CMD_SAR, CMD_UAR
from pyhss.storage.ims_records import IfcTemplate, ImsSubscription, PublicIdentity, digest_ha1
from pyhss.storage.memory import MemoryStore
from pyhss.storage.records import Subscriber
from tests import milenage_reference as usim
from tests.test_s6a_location import FakeConnection

IMSI = "001010000000001"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
IMPI = "alice@ims.test"
IMPU = "sip:alice@ims.test"
TEL = "tel:+15551230001"
WORK = "sip:alice.work@ims.test"
SCSCF = "sip:scscf.ims.test:6060"
SCSCF_HOST = "scscf.ims.test"
OTHER_SCSCF = "sip:scscf2.ims.test:6060"
ICSCF_HOST = "icscf.ims.test"
IFC = """<InitialFilterCriteriaSet>
  <InitialFilterCriteria>
    <Priority>10</Priority>
    <TriggerPoint><ConditionTypeCNF>0</ConditionTypeCNF>
      <SPT><ConditionNegated>0</ConditionNegated><Group>0</Group><Method>INVITE</Method></SPT>
      <SPT><Group>0</Group><SessionCase>2</SessionCase></SPT>
    </TriggerPoint>
    <ApplicationServer><ServerName>sip:voicemail.ims.test</ServerName><DefaultHandling>0</DefaultHandling>
    </ApplicationServer>
  </InitialFilterCriteria>
</InitialFilterCriteriaSet>"""

EXPERIMENTAL = "Experimental-Result/Experimental-Result-Code"


def cx(command, origin=SCSCF_HOST, **avps):
    base = [("Session-Id", "%s;1;%d" % (origin, command)), ("Vendor-Specific-Application-Id", [
        ("Vendor-Id", 10415), ("Auth-Application-Id", APP_CX)]), ("Auth-Session-State", 1),
        ("Origin-Host", origin), ("Origin-Realm", "ims.test"), ("Destination-Realm", "ims.test")]
    return codec.Message.request(APP_CX, command, base + [(name.replace("_", "-"), value)
                                                          for name, value in avps.items()])


def uar(impi=IMPI, impu=IMPU, kind=None, visited='"ims.test"'):
    extra = {} if kind is None else {"User_Authorization_Type": kind}
    if isinstance(visited, str):
        visited = visited.encode("utf-8")
    return cx(CMD_UAR, ICSCF_HOST, User_Name=impi, Public_Identity=impu, Visited_Network_Identifier=visited,
              **extra)


def mar(impi=IMPI, impu=IMPU, scheme="Digest-AKAv1-MD5", count=1, authorization=None, server=SCSCF,
        origin=SCSCF_HOST):
    item = [("SIP-Authentication-Scheme", scheme)]
    if authorization is not None:
        item.append(("SIP-Authorization", authorization))
    return cx(CMD_MAR, origin, User_Name=impi, Public_Identity=impu, SIP_Auth_Data_Item=item,
              SIP_Number_Auth_Items=count, Server_Name=server)


def sar(kind, impi=IMPI, impu=IMPU, server=SCSCF, available=0, origin=SCSCF_HOST):
    avps = {"Public_Identity": impu, "Server_Name": server, "Server_Assignment_Type": kind,
            "User_Data_Already_Available": available}
    if impi is not None:
        avps["User_Name"] = impi
    if impu is None:
        del avps["Public_Identity"]
    return cx(CMD_SAR, origin, **avps)


def lir(impu=IMPU):
    return cx(CMD_LIR, ICSCF_HOST, Public_Identity=impu)


class CxFixture:
    """An HSS node serving S6a and Cx over one memory store: a subscriber
    and its IMS subscription (three identities, two implicit sets, iFC)."""

    policy = CxPolicy(visited_networks=("ims.test",), max_auth_items=4, mandatory_capabilities=(1,),
                      optional_capabilities=(5,), scscf_names=(SCSCF,),
                      charging={"Primary-Charging-Collection-Function-Name": "aaa://ccf.ims.test"})

    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(1000)
        self.node = DiameterNode("hss.ims.test", "ims.test", self.clock)
        self.store = MemoryStore()
        self.s6a = S6aApplication(self.node, self.store, "001", "01")
        self.s6a.register()
        self.app = CxApplication(self.node, self.store, self.policy)
        self.app.register()
        self.successResultOf(self.store.add_subscriber(Subscriber(IMSI, K, opc=OPC, sqn=32 * 10)))
        self.successResultOf(self.store.add_subscriber(Subscriber("001010000000002", K, opc=OPC)))
        self.successResultOf(self.store.add_ifc_template(IfcTemplate("voice", IFC)))
        self.successResultOf(self.store.add_ims_subscription(ImsSubscription(
            IMPI, IMSI, (PublicIdentity(IMPU), PublicIdentity(TEL), PublicIdentity(WORK, implicit_set=2)),
            ifc="voice")))
        self.successResultOf(self.store.add_ims_subscription(ImsSubscription(
            "bob@ims.test", "001010000000002", ("sip:bob@ims.test", PublicIdentity("sip:barred@ims.test", True, 2)),
            digest_ha1=digest_ha1("bob@ims.test", "ims.test", "secret"), digest_realm="ims.test")))

    def call(self, message, peer=None):
        handler = self.node.handlers[(message.application_id, message.command_code)]
        self.assertEqual(codec.validate(message), [])
        answer = self.successResultOf(handler(message, peer))
        decoded = codec.decode_message(answer.encode())
        self.assertEqual(decoded.get("Vendor-Specific-Application-Id/Auth-Application-Id"), APP_CX)
        self.assertEqual(decoded.hop_by_hop, message.hop_by_hop)
        return decoded

    def connect(self, host=SCSCF_HOST):
        connection = FakeConnection()
        self.node.peers[host.lower()] = Peer(host, "ims.test", frozenset([APP_CX]), frozenset([APP_CX]),
                                             connection, self.clock.seconds())
        return connection

    def register(self, impu=IMPU):
        self.call(mar(impu=impu))
        answer = self.call(sar(1, impu=impu))
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS)
        return answer


class UarTests(CxFixture, unittest.TestCase):

    def test_first_registration_offers_capabilities(self):
        answer = self.call(uar())
        self.assertEqual(answer.get(EXPERIMENTAL), results.DIAMETER_FIRST_REGISTRATION)
        self.assertIsNone(answer.get("Result-Code"))
        self.assertEqual(answer.get("Server-Capabilities/Mandatory-Capability"), 1)
        self.assertEqual(answer.get("Server-Capabilities/Optional-Capability"), 5)
        self.assertEqual(answer.get("Server-Capabilities/Server-Name"), SCSCF)
        self.assertIsNone(answer.find("Server-Name"))

    def test_subsequent_registration_names_the_scscf(self):
        self.call(mar())      # the S-CSCF that challenged the UE is stored at once
        answer = self.call(uar())
        self.assertEqual((answer.get(EXPERIMENTAL), answer.get("Server-Name")),
                         (results.DIAMETER_SUBSEQUENT_REGISTRATION, SCSCF))
        self.call(sar(1))
        self.assertEqual(self.call(uar(impu=TEL)).get("Server-Name"), SCSCF)

    def test_registration_and_capabilities(self):
        answer = self.call(uar(kind=2))
        self.assertEqual(answer.get(EXPERIMENTAL), results.DIAMETER_SERVER_SELECTION)
        self.assertEqual(answer.get("Server-Capabilities/Server-Name"), SCSCF)
        self.register()
        answer = self.call(uar(kind=2))
        self.assertEqual(answer.get(EXPERIMENTAL), results.DIAMETER_FIRST_REGISTRATION)
        self.assertIsNone(answer.find("Server-Name"))
        self.assertIsNotNone(answer.find("Server-Capabilities"))

    def test_de_registration(self):
        self.assertEqual(self.call(uar(kind=1)).get(EXPERIMENTAL), results.DIAMETER_ERROR_IDENTITY_NOT_REGISTERED)
        self.register()
        answer = self.call(uar(kind=1))
        self.assertEqual((answer.get("Result-Code"), answer.get("Server-Name")), (results.DIAMETER_SUCCESS, SCSCF))

    def test_unknown_and_mismatched_identities(self):
        self.assertEqual(self.call(uar(impi="zed@ims.test")).get(EXPERIMENTAL), results.DIAMETER_ERROR_USER_UNKNOWN)
        self.assertEqual(self.call(uar(impu="sip:zed@ims.test")).get(EXPERIMENTAL),
                         results.DIAMETER_ERROR_USER_UNKNOWN)
        self.assertEqual(self.call(uar(impu="sip:bob@ims.test")).get(EXPERIMENTAL),
                         results.DIAMETER_ERROR_IDENTITIES_DONT_MATCH)
        self.assertEqual(self.call(uar(impi="not an nai")).get(EXPERIMENTAL), results.DIAMETER_ERROR_USER_UNKNOWN)

    def test_roaming_not_allowed(self):
        self.assertEqual(self.call(uar(visited="other.test")).get(EXPERIMENTAL),
                         results.DIAMETER_ERROR_ROAMING_NOT_ALLOWED)
        self.assertEqual(self.call(uar(visited=b'"IMS.test"')).get(EXPERIMENTAL), results.DIAMETER_FIRST_REGISTRATION)

    def test_barred_identity_rejected(self):
        answer = self.call(uar("bob@ims.test", "sip:barred@ims.test"))
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_AUTHORIZATION_REJECTED)
        # Bob's other identity is in its own set, not barred.
        self.assertEqual(self.call(uar("bob@ims.test", "sip:bob@ims.test")).get(EXPERIMENTAL),
                         results.DIAMETER_FIRST_REGISTRATION)


class MarTests(CxFixture, unittest.TestCase):

    def test_aka_vectors_verify_on_a_usim(self):
        answer = self.call(mar(count=3))
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS)
        self.assertEqual((answer.get("User-Name"), answer.get("Public-Identity"), answer.get("SIP-Number-Auth-Items")),
                         (IMPI, IMPU, 3))
        items = answer.find_all("SIP-Auth-Data-Item")
        sqns = []
        for number, item in enumerate(items, 1):
            self.assertEqual(item.get("SIP-Item-Number"), number)
            self.assertEqual(item.get("SIP-Authentication-Scheme"), "Digest-AKAv1-MD5")
            authenticate = item.get("SIP-Authenticate")
            self.assertEqual(len(authenticate), 32)
            rand, autn = authenticate[:16], authenticate[16:]
            sqn, res, ck, ik = usim.usim_check(K, OPC, rand, autn)
            self.assertEqual((item.get("SIP-Authorization"), item.get("Confidentiality-Key"),
                              item.get("Integrity-Key")), (res, ck, ik))
            self.assertEqual(autn[6:8], b"\x80\x00")   # the stored AMF
            sqns.append(sqn)
        # The S6a counter, stepped as S6a steps it (SEQ + 1, IND + 1).
        self.assertEqual(sqns, [(11 << 5) | 1, (12 << 5) | 2, (13 << 5) | 3])
        self.assertEqual(self.successResultOf(self.store.get_subscriber(IMSI)).sqn, sqns[-1])

    def test_s6a_and_cx_never_repeat_an_sqn(self):
        seen = []
        for index in range(6):
            if index % 2:
                air = codec.Message.request(APP_S6A, CMD_AIR, [
                    ("Session-Id", "mme;%d" % index), ("Auth-Session-State", 1), ("Origin-Host", "mme.test"),
                    ("Origin-Realm", "test"), ("Destination-Realm", "test"), ("User-Name", IMSI),
                    ("Visited-PLMN-Id", encode_plmn_id("001", "01")),
                    ("Requested-EUTRAN-Authentication-Info", [("Number-Of-Requested-Vectors", 2)])])
                aia = codec.decode_message(self.successResultOf(self.s6a.authentication_information(air, None))
                                           .encode())
                for vector in aia.find("Authentication-Info").value:
                    seen.append(usim.usim_check(K, OPC, vector.get("RAND"), vector.get("AUTN"))[0])
            else:
                for item in self.call(mar(count=2)).find_all("SIP-Auth-Data-Item"):
                    value = item.get("SIP-Authenticate")
                    seen.append(usim.usim_check(K, OPC, value[:16], value[16:])[0])
        self.assertEqual(len(seen), 12)
        self.assertEqual(seen, sorted(set(seen)))

    def test_number_of_items_capped(self):
        self.assertEqual(len(self.call(mar(count=30)).find_all("SIP-Auth-Data-Item")), 4)
        self.assertEqual(len(self.call(mar(count=0)).find_all("SIP-Auth-Data-Item")), 1)

    def test_resynchronisation(self):
        rand = bytes(range(16))
        sqn_ms = (500 << 5) | 4
        answer = self.call(mar(authorization=rand + usim.auts(K, OPC, rand, sqn_ms)))
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS)
        value = answer.get("SIP-Auth-Data-Item/SIP-Authenticate")
        sqn = usim.usim_check(K, OPC, value[:16], value[16:])[0]
        self.assertEqual(sqn, (501 << 5) | 5)

    def test_forged_auts_refused_sqn_and_scscf_untouched(self):
        rand = bytes(range(16))
        forged = bytearray(usim.auts(K, OPC, rand, 500 << 5))
        forged[-1] ^= 1
        for authorization in (rand + bytes(forged), rand + b"short"):
            answer = self.call(mar(authorization=authorization, server=OTHER_SCSCF))
            self.assertEqual(answer.get("Result-Code"), results.DIAMETER_AUTHENTICATION_REJECTED)
            self.assertIsNone(answer.find("SIP-Auth-Data-Item"))
        self.assertEqual(self.successResultOf(self.store.get_subscriber(IMSI)).sqn, 32 * 10)
        self.assertIsNone(self.successResultOf(self.store.ims_lookup(IMPI))[1].server_name)

    def test_mar_names_the_scscf_pending(self):
        self.call(mar())
        registration = self.successResultOf(self.store.ims_lookup(IMPI))[1]
        self.assertEqual((registration.server_name, registration.scscf_host, registration.pending),
                         (SCSCF, SCSCF_HOST, True))

    def test_sip_digest(self):
        answer = self.call(mar("bob@ims.test", "sip:bob@ims.test", scheme="SIP Digest"))
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS)
        item = answer.find("SIP-Auth-Data-Item")
        self.assertEqual(item.get("SIP-Authentication-Scheme"), "SIP Digest")
        # RFC 2617 HA1 = MD5("bob@ims.test:ims.test:secret"), computed here apart from the code.
        self.assertEqual(item.get("SIP-Digest-Authenticate/Digest-HA1"),
                         hashlib.md5(b"bob@ims.test:ims.test:secret").hexdigest())
        self.assertEqual(item.get("SIP-Digest-Authenticate/Digest-Realm"), "ims.test")
        self.assertEqual(item.get("SIP-Digest-Authenticate/Digest-QoP"), "auth")
        self.assertIsNone(item.find("SIP-Authenticate"))
        self.assertEqual(self.successResultOf(self.store.get_subscriber("001010000000002")).sqn, 0)

    def test_scheme_the_user_cannot_use(self):
        self.assertEqual(self.call(mar(scheme="SIP Digest")).get(EXPERIMENTAL),
                         results.DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED)
        self.assertEqual(self.call(mar(scheme="NASS-Bundled")).get(EXPERIMENTAL),
                         results.DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED)
        self.assertIsNone(self.successResultOf(self.store.ims_lookup(IMPI))[1].server_name)

    def test_unknown_mismatched_and_disabled(self):
        self.assertEqual(self.call(mar(impi="zed@ims.test")).get(EXPERIMENTAL), results.DIAMETER_ERROR_USER_UNKNOWN)
        self.assertEqual(self.call(mar(impu="sip:bob@ims.test")).get(EXPERIMENTAL),
                         results.DIAMETER_ERROR_IDENTITIES_DONT_MATCH)
        self.assertEqual(self.call(mar(impu="sip:bob@ims.test", scheme="SIP Digest")).get(EXPERIMENTAL),
                         results.DIAMETER_ERROR_IDENTITIES_DONT_MATCH)
        self.successResultOf(self.store.update_subscriber(IMSI, enabled=False))
        self.assertEqual(self.call(mar()).get("Result-Code"), results.DIAMETER_AUTHORIZATION_REJECTED)
        self.assertEqual(self.successResultOf(self.store.get_subscriber(IMSI)).sqn, 32 * 10)

    def test_new_scscf_host_gets_the_old_one_cancelled(self):
        old = self.connect()
        self.register()
        self.call(mar(server=OTHER_SCSCF, origin="scscf2.ims.test"))
        (rtr,) = old.sent
        self.assertEqual((rtr.name, rtr.get("Destination-Host"), rtr.get("Deregistration-Reason/Reason-Code")),
                         ("RTR", SCSCF_HOST, 1))
        self.assertEqual(sorted(a.value for a in rtr.find_all("Public-Identity")), sorted([IMPU, TEL]))
        # The new S-CSCF's SAR is accepted (reassignment pending).
        self.assertEqual(self.call(sar(1, server=OTHER_SCSCF, origin="scscf2.ims.test")).get("Result-Code"),
                         results.DIAMETER_SUCCESS)


class SarTests(CxFixture, unittest.TestCase):

    def test_registration_downloads_the_profile(self):
        answer = self.register()
        self.assertEqual(answer.get("User-Name"), IMPI)
        document = ET.fromstring(answer.get("User-Data"))
        self.assertEqual(document.findtext("PrivateID"), IMPI)
        self.assertEqual([e.text for e in document.iter("Identity")], [IMPU, TEL])   # the implicit set
        self.assertEqual(document.findtext("ServiceProfile/InitialFilterCriteria/ApplicationServer/ServerName"),
                         "sip:voicemail.ims.test")
        self.assertEqual(answer.get("Charging-Information/Primary-Charging-Collection-Function-Name"),
                         "aaa://ccf.ims.test")
        registration = self.successResultOf(self.store.ims_lookup(IMPI))[1]
        self.assertEqual((registration.state(IMPU), registration.state(TEL), registration.state(WORK)),
                         ("registered", "registered", "not-registered"))

    def test_re_registration_with_data_available(self):
        self.register()
        answer = self.call(sar(2, available=1))
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS)
        self.assertIsNone(answer.find("User-Data"))
        self.assertIsNotNone(self.call(sar(2)).find("User-Data"))

    def test_other_scscf_refused(self):
        self.register()
        answer = self.call(sar(1, server=OTHER_SCSCF))
        self.assertEqual((answer.get(EXPERIMENTAL), answer.get("Server-Name")),
                         (results.DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED, SCSCF))
        answer = self.call(sar(3, impu=WORK, server=OTHER_SCSCF))
        self.assertEqual(answer.get(EXPERIMENTAL), results.DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED)
        self.assertEqual(self.call(sar(5, server=OTHER_SCSCF)).get("Result-Code"), results.DIAMETER_UNABLE_TO_COMPLY)
        self.assertEqual(self.call(sar(0, server=OTHER_SCSCF)).get("Result-Code"), results.DIAMETER_UNABLE_TO_COMPLY)
        self.assertEqual(self.successResultOf(self.store.ims_lookup(IMPI))[1].state(IMPU), "registered")

    def test_unregistered_user_and_no_assignment(self):
        answer = self.call(sar(3, impi=None, impu=WORK))
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS)
        self.assertEqual([e.text for e in ET.fromstring(answer.get("User-Data")).iter("Identity")], [WORK])
        self.assertEqual(self.successResultOf(self.store.ims_lookup(IMPI))[1].state(WORK), "unregistered")
        self.assertIsNotNone(self.call(sar(0, impu=WORK)).find("User-Data"))
        self.call(sar(1))
        self.assertEqual(self.call(sar(3)).get(EXPERIMENTAL), results.DIAMETER_ERROR_IN_ASSIGNMENT_TYPE)

    def test_every_deregistration_type(self):
        for kind in (4, 5, 8, 11):
            self.register()
            answer = self.call(sar(kind))
            self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS, kind)
            self.assertIsNone(answer.find("User-Data"))
            registration = self.successResultOf(self.store.ims_lookup(IMPI))[1]
            self.assertEqual((registration.states, registration.server_name), ((), None), kind)

    def test_store_server_name_types(self):
        for kind in (6, 7):
            self.register()
            self.assertEqual(self.call(sar(kind)).get("Result-Code"), results.DIAMETER_SUCCESS)
            registration = self.successResultOf(self.store.ims_lookup(IMPI))[1]
            self.assertEqual((registration.states, registration.server_name), ((), SCSCF))
        self.app.policy.keep_server_name = False
        self.addCleanup(setattr, self.app.policy, "keep_server_name", True)
        self.register()
        self.assertEqual(self.call(sar(7)).get(EXPERIMENTAL), results.DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED)
        self.assertIsNone(self.successResultOf(self.store.ims_lookup(IMPI))[1].server_name)

    def test_authentication_failure_and_timeout(self):
        for kind in (9, 10):
            self.call(mar())
            self.assertEqual(self.call(sar(kind)).get("Result-Code"), results.DIAMETER_SUCCESS)
            self.assertIsNone(self.successResultOf(self.store.ims_lookup(IMPI))[1].server_name)
        self.register()
        self.call(sar(9))
        self.assertEqual(self.successResultOf(self.store.ims_lookup(IMPI))[1].state(IMPU), "registered")

    def test_types_cx_does_not_have(self):
        for kind in (12, 13, 14, 99):
            self.assertEqual(self.call(sar(kind)).get(EXPERIMENTAL), results.DIAMETER_ERROR_IN_ASSIGNMENT_TYPE)

    def test_identity_errors(self):
        self.assertEqual(self.call(sar(1, impi="zed@ims.test")).get(EXPERIMENTAL), results.DIAMETER_ERROR_USER_UNKNOWN)
        self.assertEqual(self.call(sar(1, impi=None, impu="sip:zed@ims.test")).get(EXPERIMENTAL),
                         results.DIAMETER_ERROR_USER_UNKNOWN)
        self.assertEqual(self.call(sar(1, impu="sip:bob@ims.test")).get(EXPERIMENTAL),
                         results.DIAMETER_ERROR_IDENTITIES_DONT_MATCH)
        answer = self.call(sar(1, impi=None, impu=None))
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_MISSING_AVP)


class LirTests(CxFixture, unittest.TestCase):

    def test_registered(self):
        self.register()
        answer = self.call(lir(TEL))
        self.assertEqual((answer.get("Result-Code"), answer.get("Server-Name")), (results.DIAMETER_SUCCESS, SCSCF))

    def test_unregistered_with_services(self):
        answer = self.call(lir(WORK))   # an iFC for TERMINATING_UNREGISTERED
        self.assertEqual(answer.get(EXPERIMENTAL), results.DIAMETER_UNREGISTERED_SERVICE)
        self.assertEqual(answer.get("Server-Capabilities/Server-Name"), SCSCF)
        self.call(sar(3, impu=WORK))
        answer = self.call(lir(WORK))
        self.assertEqual((answer.get(EXPERIMENTAL), answer.get("Server-Name")),
                         (results.DIAMETER_UNREGISTERED_SERVICE, SCSCF))

    def test_not_registered_and_unknown(self):
        self.assertEqual(self.call(lir("sip:bob@ims.test")).get(EXPERIMENTAL),
                         results.DIAMETER_ERROR_IDENTITY_NOT_REGISTERED)
        self.assertEqual(self.call(lir("sip:zed@ims.test")).get(EXPERIMENTAL), results.DIAMETER_ERROR_USER_UNKNOWN)
        self.assertEqual(self.call(lir("junk")).get(EXPERIMENTAL), results.DIAMETER_ERROR_USER_UNKNOWN)
