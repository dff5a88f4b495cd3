"""The Cx User-Data document and iFC templates against TS 29.228 Annex E.

The structure is checked against the schema itself: the CxDataType XSD
that Kamailio's package ships (TS 29.228's Annex E as XML Schema), read
here with ElementTree; each element's children must follow its complex
type's sequence (names, order, minOccurs/maxOccurs) and simple values
their type (integers, 0/1 booleans, enumerations).
"""

import os
import xml.etree.ElementTree as ET

from twisted.trial import unittest

from pyhss.apps.cx_userdata import UserData, build_user_data, canonical_template, parse_ifc_template
from pyhss.storage.errors import ValidationError
from pyhss.storage.ims_records import IfcTemplate, ImsSubscription, PublicIdentity
from tests.kamailio_ims import CX_XSD
from tests.test_cx import IFC

XS = "{http://www.w3.org/2001/XMLSchema}"


class AnnexESchema:
    """The complex types' sequences and the simple types of an XSD."""

    def __init__(self, path):
        root = ET.parse(path).getroot()
        self.roots = {e.get("name"): e.get("type") for e in root.findall(XS + "element")}
        self.complex = {}
        for complex_type in root.findall(XS + "complexType"):
            sequence = complex_type.find(XS + "sequence")
            children = []
            for item in (sequence if sequence is not None else ()):
                if item.tag == XS + "element":
                    children.append((item.get("name"), item.get("type"), int(item.get("minOccurs", "1")),
                                     item.get("maxOccurs", "1")))
                elif item.tag == XS + "choice":
                    names = [(c.get("name"), c.get("type")) for c in item.findall(XS + "element")]
                    children.append((names, None, int(item.get("minOccurs", "1")), item.get("maxOccurs", "1")))
            self.complex[complex_type.get("name")] = children
        self.simple = {}
        for simple_type in root.findall(XS + "simpleType"):
            restriction = simple_type.find(XS + "restriction")
            if restriction is None:    # a list or union: not checked further
                self.simple[simple_type.get("name")] = (None, [])
                continue
            values = [e.get("value") for e in restriction.findall(XS + "enumeration")]
            self.simple[simple_type.get("name")] = (restriction.get("base"), values)

    def check(self, element, type_name, path=""):
        where = f"{path}/{element.tag}"
        if type_name in self.complex:
            children = list(element)
            index = 0
            for name, child_type, least, most in self.complex[type_name]:
                choices = name if isinstance(name, list) else [(name, child_type)]
                allowed = dict(choices)
                count = 0
                while index < len(children) and children[index].tag in allowed:
                    self.check(children[index], allowed[children[index].tag], where)
                    index += 1
                    count += 1
                assert count >= least, f"{where}: needs {least} of {sorted(allowed)}, has {count}"
                assert most == "unbounded" or count <= int(most), f"{where}: more than {most} {sorted(allowed)}"
            assert index == len(children), f"{where}: {children[index].tag} not allowed there"
            return
        assert len(element) == 0, f"{where}: a simple value holds elements"
        text = (element.text or "").strip()
        base, values = self.simple.get(type_name, (type_name, []))
        if values:
            assert text in values, f"{where}: {text!r} not one of {values}"
        if base in ("xs:int", "xs:unsignedByte", "xs:integer"):
            assert text.isdigit(), f"{where}: {text!r} is not a number"


SCHEMA = AnnexESchema(CX_XSD) if os.path.exists(CX_XSD) else None
NO_SCHEMA = None if SCHEMA else f"{CX_XSD} not installed (the kamailio package ships it)"

SUBSCRIPTION = ImsSubscription("alice@ims.test", "001010000000001", (
    PublicIdentity("sip:alice@ims.test"), PublicIdentity("tel:+15551230001", barred=True),
    PublicIdentity("sip:alice.work@ims.test", implicit_set=2)), ifc="voice")


class UserDataSchemaTests(unittest.TestCase):
    skip = NO_SCHEMA

    def document(self, identities, criteria):
        data = build_user_data(SUBSCRIPTION.impi, identities, criteria)
        self.assertTrue(data.startswith(b"<?xml version='1.0' encoding='utf-8'?>"))
        return ET.fromstring(data)

    def test_profile_with_criteria_follows_the_schema(self):
        document = self.document(SUBSCRIPTION.implicit_set("sip:alice@ims.test"), parse_ifc_template(IFC))
        self.assertEqual(document.tag, "IMSSubscription")
        SCHEMA.check(document, SCHEMA.roots["IMSSubscription"])
        identities = document.findall("ServiceProfile/PublicIdentity")
        self.assertEqual([(i.findtext("BarringIndication"), i.findtext("Identity")) for i in identities],
                         [(None, "sip:alice@ims.test"), ("1", "tel:+15551230001")])

    def test_profile_without_criteria_follows_the_schema(self):
        SCHEMA.check(self.document(SUBSCRIPTION.impus, ()), SCHEMA.roots["IMSSubscription"])

    def test_the_checker_catches_a_wrong_order(self):
        document = self.document(SUBSCRIPTION.impus[:1], parse_ifc_template(IFC))
        profile = document.find("ServiceProfile")
        identity = profile.find("PublicIdentity")
        profile.remove(identity)
        profile.append(identity)          # after the InitialFilterCriteria
        self.assertRaises(AssertionError, SCHEMA.check, document, SCHEMA.roots["IMSSubscription"])

    def test_cached_criteria_give_elementtrees_whole_document(self):
        """UserData puts the template's criteria, serialised once, into each
        user's document: the bytes are those of the whole tree serialised
        (whitespace between elements and escaped values included)."""
        user_data = UserData()
        for text in (IFC, IFC.replace("voicemail", "a&amp;b&lt;x&gt;"), canonical_template(IFC)):
            template = IfcTemplate("voice", text)
            for identities in (SUBSCRIPTION.implicit_set("sip:alice@ims.test"), SUBSCRIPTION.impus[:1], ()):
                data = user_data(SUBSCRIPTION, identities, template)
                self.assertEqual(data, build_user_data(SUBSCRIPTION.impi, identities, parse_ifc_template(text)))
                if identities:      # the schema wants one at least
                    SCHEMA.check(ET.fromstring(data), SCHEMA.roots["IMSSubscription"])

    def test_values_are_escaped_by_the_library(self):
        odd = ImsSubscription("a&b@ims.test", "001010000000001", ("sip:a&b@ims.test",))
        data = build_user_data(odd.impi, odd.impus, ())
        self.assertIn(b"a&amp;b@ims.test", data)
        document = ET.fromstring(data)
        self.assertEqual((document.findtext("PrivateID"), document.findtext("ServiceProfile/PublicIdentity/Identity")),
                         ("a&b@ims.test", "sip:a&b@ims.test"))


class TemplateTests(unittest.TestCase):

    def test_criteria_in_priority_order(self):
        text = ("<x>" + IFC.replace("<Priority>10", "<Priority>20").split("<InitialFilterCriteriaSet>")[1]
                .split("</InitialFilterCriteriaSet>")[0]
                + "<InitialFilterCriteria><Priority>5</Priority><ApplicationServer><ServerName>sip:a</ServerName>"
                  "</ApplicationServer></InitialFilterCriteria></x>")
        self.assertEqual([c.findtext("Priority") for c in parse_ifc_template(text)], ["5", "20"])
        stored = canonical_template(text)
        self.assertEqual([c.findtext("Priority") for c in parse_ifc_template(stored)], ["5", "20"])

    def test_refusals_name_the_element(self):
        for text, word in [
            ("<InitialFilterCriteria><ApplicationServer><ServerName>s</ServerName></ApplicationServer>"
             "</InitialFilterCriteria>", "needs Priority"),
            ("<InitialFilterCriteria><Priority>1</Priority><TriggerPoint><SPT><Group>0</Group><Method>INVITE"
             "</Method></SPT></TriggerPoint><ApplicationServer><ServerName>s</ServerName></ApplicationServer>"
             "</InitialFilterCriteria>", "ConditionTypeCNF"),
            ("<InitialFilterCriteria><Priority>1</Priority><ApplicationServer><ServerName>s</ServerName>"
             "<DefaultHandling>7</DefaultHandling></ApplicationServer></InitialFilterCriteria>", "0 or 1"),
            ("<x><InitialFilterCriteria><Priority>1</Priority><ApplicationServer><ServerName>s</ServerName>"
             "</ApplicationServer></InitialFilterCriteria><InitialFilterCriteria><Priority>1</Priority>"
             "<ApplicationServer><ServerName>t</ServerName></ApplicationServer></InitialFilterCriteria></x>",
             "two InitialFilterCriteria with Priority 1"),
            ("<x/>", "no InitialFilterCriteria"),
            ('<InitialFilterCriteria xmlns="urn:x"><Priority>1</Priority></InitialFilterCriteria>', "namespace"),
        ]:
            with self.assertRaises(ValidationError) as caught:
                parse_ifc_template(text)
            self.assertIn(word, str(caught.exception))

    def test_documents_cached_per_subscription_and_template(self):
        user_data = UserData()
        template = IfcTemplate("voice", canonical_template(IFC))
        first = user_data(SUBSCRIPTION, SUBSCRIPTION.impus[:2], template)
        self.assertIs(user_data(SUBSCRIPTION, SUBSCRIPTION.impus[:2], template), first)
        changed = IfcTemplate("voice", canonical_template(IFC.replace("voicemail", "mailbox")))
        self.assertIn(b"mailbox", user_data(SUBSCRIPTION, SUBSCRIPTION.impus[:2], changed))
