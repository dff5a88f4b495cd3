"""
The Cx answers we put on the wire, pinned (as tests/test_wire_bytes.py pins
the S6a answers): UAA, MAA (AKA with several items, with Proxy-Info, a
resynchronisation, SIP Digest), SAA (User-Data with a barred identity,
re-registration, another S-CSCF, de-registration), LIA and the error
answers, for fixed requests through a whole node (connection, node, Cx, AuC,
memory store) with a deterministic RAND.

A deliberate change of what we send updates the digests here, in the same
commit, saying why.
"""

from twisted.trial import unittest

from pyhss.apps.cx import CxApplication
from pyhss.apps.cx_policy import CxPolicy
from pyhss.auc.centre import AuthenticationCentre
from pyhss.protocols.dictionary import APP_BASE, APP_CX, CMD_CER, CMD_LIR, CMD_MAR, CMD_SAR, CMD_UAR, VENDOR_3GPP
from pyhss.storage.ims_records import IfcTemplate, ImsSubscription, PublicIdentity, digest_ha1
from pyhss.storage.memory import MemoryStore
from pyhss.storage.records import Subscriber
from tests import milenage_reference as usim
from tests.test_wire_bytes import PinnedAnswers, K, OPC, counting_random, request

IMSI = "001010000000001"
IMPI = "alice@ims.wire.test"
IMPU = "sip:alice@ims.wire.test"
TEL = "tel:+15551230001"
SCSCF = "sip:scscf.ims.wire.test:6060"
OTHER_SCSCF = "sip:scscf2.ims.wire.test:6060"
CSCF = "cscf.ims.wire.test"
REALM = "ims.wire.test"
IFC = ("<InitialFilterCriteriaSet><InitialFilterCriteria><Priority>1</Priority><TriggerPoint>"
       "<ConditionTypeCNF>0</ConditionTypeCNF><SPT><Group>0</Group><Method>INVITE</Method></SPT>"
       "<SPT><Group>0</Group><SessionCase>2</SessionCase></SPT></TriggerPoint>"
       "<ApplicationServer><ServerName>sip:as.ims.wire.test</ServerName><DefaultHandling>0</DefaultHandling>"
       "</ApplicationServer></InitialFilterCriteria></InitialFilterCriteriaSet>")
PROXY_INFO = ("Proxy-Info", [("Proxy-Host", "dra.ims.wire.test"), ("Proxy-State", b"\x01\x02\x03")])

PINNED = {
    "uaa_first_registration": ("52ee4d7120210ee0e481a63e161517fb0d9d0e2d08bb1e40d811d487021cd2ed", 264),
    "maa_aka": ("dfd56b7d5067e40b45ff1369a222c00c1444dd3b494cb12bbdb190b23dfd3d51", 416),
    "maa_aka_items_proxy_info": ("231d4f5f4c39b63e1591297dd01739de71a30dbf7c72a8e7d04e005a90b9b81c", 816),
    "maa_resynchronised": ("094778e22bb2f6a0863c2920c80a65bc4600b63dd7ee8d87ce5262bfbc4fa7ab", 416),
    "maa_forged_auts": ("2f241a9f40182579a9558dfcd986a69fbcf6dbaa3368e68cb002a7bc8a3c7e88", 196),
    "maa_digest": ("2cc3e79a67e076e70d03e1adf81ea51589274af43f981157c00ccaa6d37ab42d", 392),
    "maa_unknown_scheme": ("34c5ff52c3a2041e0494bfa122f04d549ccf085a687796adfce375ec09f445de", 216),
    "maa_user_unknown": ("0473121c7073ba545e488009d991fa83f5ad477710f36beb888d133f204c50f3", 180),
    "maa_identities_dont_match": ("dfc254336d17420b05e8cfbed0bec79d4b9e7551094affd9aa8e5c2cc1123ff0", 180),
    "saa_registration": ("e7886cc08acf04494b069913cffb0c27a159308ed7eadfe69e1d982fe1aa195d", 1024),
    "saa_re_registration_available": ("b50e3c1378b63c36bb59d60f6f1ba3f43e890a7bcd4f79a395ea346f396c3978", 236),
    "saa_re_registration_tel": ("6759da7e705ff022f1e3948ff243d4ad94906a1d627609b5a32c2da6bc499c62", 1024),
    "saa_other_scscf": ("393511799ab7a0ef8749d8cb7ebda8e60a7c3e05567815d94e639609d19ad0f0", 220),
    "uaa_subsequent_registration": ("53a6d31d3da12a1c770170a252b4c54e43f1c8323335b07e618f11da39493ae6", 220),
    "lia_registered": ("441d1f04ad89f129ac8feea900cd9d3f14c0aead60b89c143c4d696a7330f24b", 200),
    "saa_user_deregistration": ("549a877ee3c51d614d50ef17ce4fe3267bc7e44d3ade76e2b0118db1dc7a5d3c", 188),
    "saa_unknown_user": ("cb698daefae614b1abe6e0b819ecce0f04a7c32795b6f7288452c4b25f1a1395", 180),
}


def cx(command, hop_by_hop, avps):
    return request(APP_CX, command, [
        ("Session-Id", "%s;1;%d" % (CSCF, hop_by_hop)),
        ("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR_3GPP), ("Auth-Application-Id", APP_CX)]),
        ("Auth-Session-State", 1), ("Origin-Host", CSCF), ("Origin-Realm", REALM),
        ("Destination-Realm", REALM)] + avps, hop_by_hop)


def mar(hop_by_hop, impi=IMPI, impu=IMPU, scheme="Digest-AKAv1-MD5", count=1, authorization=None, extra=()):
    item = [("SIP-Authentication-Scheme", scheme)]
    if authorization is not None:
        item.append(("SIP-Authorization", authorization))
    return cx(CMD_MAR, hop_by_hop, [("User-Name", impi), ("Public-Identity", impu), ("SIP-Auth-Data-Item", item),
                                    ("SIP-Number-Auth-Items", count), ("Server-Name", SCSCF)] + list(extra))


def sar(hop_by_hop, kind, impi=IMPI, impu=IMPU, server=SCSCF, available=0):
    return cx(CMD_SAR, hop_by_hop, [("User-Name", impi), ("Public-Identity", impu), ("Server-Name", server),
                                    ("Server-Assignment-Type", kind), ("User-Data-Already-Available", available)])


def uar(hop_by_hop, impi=IMPI, impu=IMPU, kind=0):
    return cx(CMD_UAR, hop_by_hop, [("User-Name", impi), ("Public-Identity", impu),
                                    ("Visited-Network-Identifier", b'"ims.wire.test"'),
                                    ("User-Authorization-Type", kind)])


class CxWireBytesTests(PinnedAnswers, unittest.TestCase):

    pinned = PINNED

    def setUp(self):
        self.start_node("hss.ims.wire.test", REALM)
        self.store = MemoryStore()
        auc = AuthenticationCentre(self.store, ind_bits=5, random=counting_random())
        policy = CxPolicy(visited_networks=(REALM,), max_auth_items=4, mandatory_capabilities=(1,),
                          optional_capabilities=(5,), scscf_names=(SCSCF,),
                          charging={"Primary-Charging-Collection-Function-Name": "aaa://ccf.ims.wire.test"})
        self.app = CxApplication(self.node, self.store, policy, auc=auc)
        self.app.register()
        self.successResultOf(self.store.add_subscriber(Subscriber(IMSI, K, opc=OPC, amf=b"\x80\x00", sqn=32 * 10)))
        self.successResultOf(self.store.add_subscriber(Subscriber("001010000000002", K, opc=OPC)))
        self.successResultOf(self.store.add_ifc_template(IfcTemplate("voice", IFC)))
        self.successResultOf(self.store.add_ims_subscription(ImsSubscription(
            IMPI, IMSI, (PublicIdentity(IMPU), PublicIdentity("sip:barred@ims.wire.test", True),
                         PublicIdentity(TEL), PublicIdentity("sip:work@ims.wire.test", implicit_set=2)),
            ifc="voice")))
        self.successResultOf(self.store.add_ims_subscription(ImsSubscription(
            "bob@ims.wire.test", "001010000000002", ("sip:bob@ims.wire.test",),
            digest_ha1=digest_ha1("bob@ims.wire.test", REALM, "secret"), digest_realm=REALM)))
        self.connect()
        self.exchange(request(APP_BASE, CMD_CER, [
            ("Origin-Host", CSCF), ("Origin-Realm", REALM), ("Host-IP-Address", "192.0.2.2"),
            ("Vendor-Id", 0), ("Product-Name", "wire"),
            ("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR_3GPP), ("Auth-Application-Id", APP_CX)])], 1))

    def all_answers(self):
        rand = bytes(range(16))
        auts = usim.auts(K, OPC, rand, (500 << 5) | 4)
        forged = auts[:-1] + bytes([auts[-1] ^ 1])
        return {
            "uaa_first_registration": self.exchange(uar(2)),
            "maa_aka": self.exchange(mar(3)),
            "maa_aka_items_proxy_info": self.exchange(mar(4, count=3, extra=(PROXY_INFO,))),
            "maa_resynchronised": self.exchange(mar(5, authorization=rand + auts)),
            "maa_forged_auts": self.exchange(mar(6, authorization=rand + forged)),
            "maa_digest": self.exchange(mar(7, "bob@ims.wire.test", "sip:bob@ims.wire.test", "SIP Digest")),
            "maa_unknown_scheme": self.exchange(mar(8, scheme="NASS-Bundled")),
            "maa_user_unknown": self.exchange(mar(9, "eve@ims.wire.test", "sip:eve@ims.wire.test")),
            "maa_identities_dont_match": self.exchange(mar(10, impu="sip:bob@ims.wire.test")),
            "saa_registration": self.exchange(sar(11, 1)),
            "saa_re_registration_available": self.exchange(sar(12, 2, available=1)),
            "saa_re_registration_tel": self.exchange(sar(13, 2, impu=TEL)),
            "saa_other_scscf": self.exchange(sar(14, 1, server=OTHER_SCSCF)),
            "uaa_subsequent_registration": self.exchange(uar(15)),
            "lia_registered": self.exchange(cx(CMD_LIR, 16, [("Public-Identity", IMPU)])),
            "saa_user_deregistration": self.exchange(sar(17, 5)),
            "saa_unknown_user": self.exchange(sar(18, 1, "eve@ims.wire.test", "sip:eve@ims.wire.test")),
        }

