"""The IMS subscription document of the Cx User-Data AVP (TS 29.228 Annex
E, TS 29.229 6.3.11), built with ElementTree, and the iFC templates it
carries (checked against Annex E's tInitialFilterCriteria when added).

    IMSSubscription
      PrivateID
      ServiceProfile
        PublicIdentity (BarringIndication?, Identity)+
        InitialFilterCriteria*   (from the subscription's template)
"""

import xml.etree.ElementTree as ET
from collections import namedtuple
from xml.sax.saxutils import escape

from pyhss.storage.errors import ValidationError

IFC = "InitialFilterCriteria"
MAX_TEMPLATE_CACHE = 256
MAX_DOCUMENT_CACHE = 4096

# Annex E's complex types for what a template may hold: each element's
# children in schema order as (name, least, most (None: unbounded), type);
# a type is another entry of this table, "int", "bool" (0/1), "text" or
# "any" (an Extension: kept as given).
_SCHEMA = {
    IFC: [("Priority", 1, 1, "int"), ("TriggerPoint", 0, 1, "TriggerPoint"),
          ("ApplicationServer", 1, 1, "ApplicationServer"), ("ProfilePartIndicator", 0, 1, "bool"),
          ("Extension", 0, 1, "any")],
    "TriggerPoint": [("ConditionTypeCNF", 1, 1, "bool"), ("SPT", 1, None, "SPT"), ("Extension", 0, 1, "any")],
    "SPT": [("ConditionNegated", 0, 1, "bool"), ("Group", 1, None, "int"),
            ("RequestURI|Method|SIPHeader|SessionCase|SessionDescription", 1, 1, "choice"),
            ("RegistrationType", 0, None, "int"), ("Extension", 0, 1, "any")],
    "SIPHeader": [("Header", 1, 1, "text"), ("Content", 0, 1, "text"), ("Extension", 0, 1, "any")],
    "SessionDescription": [("Line", 1, 1, "text"), ("Content", 0, 1, "text"), ("Extension", 0, 1, "any")],
    "ApplicationServer": [("ServerName", 1, 1, "text"), ("DefaultHandling", 0, 1, "bool"),
                          ("ServiceInfo", 0, 1, "text"), ("IncludeRegisterRequest", 0, 1, "any"),
                          ("IncludeRegisterResponse", 0, 1, "any"), ("Extension", 0, 1, "any")],
}
_CHOICE_TYPES = {"RequestURI": "text", "Method": "text", "SIPHeader": "SIPHeader", "SessionCase": "int",
                 "SessionDescription": "SessionDescription"}


def _check(element, type_name, path):
    where = f"{path}/{element.tag}"
    if type_name == "any":
        return
    if type_name in ("int", "bool", "text"):
        if len(element):
            raise ValidationError(f"{where} must hold text, not elements")
        value = (element.text or "").strip()
        if type_name == "text" and not value:
            raise ValidationError(f"{where} must not be empty")
        if type_name == "int" and not (value.isascii() and value.isdigit()):
            raise ValidationError(f"{where} must be a non-negative integer, got {value!r}")
        if type_name == "bool" and value not in ("0", "1", "true", "false"):
            raise ValidationError(f"{where} must be 0 or 1, got {value!r}")
        return
    children = list(element)
    index = 0
    for names, least, most, child_type in _SCHEMA[type_name]:
        allowed = names.split("|")
        count = 0
        while index < len(children) and children[index].tag in allowed:
            child = children[index]
            _check(child, _CHOICE_TYPES[child.tag] if child_type == "choice" else child_type, where)
            index += 1
            count += 1
        if count < least:
            raise ValidationError(f"{where} needs {' or '.join(allowed)}")
        if most is not None and count > most:
            raise ValidationError(f"{where} has more than {most} {names}")
    if index < len(children):
        raise ValidationError(f"{where}: unexpected element {children[index].tag} "
                              f"(Annex E order: {', '.join(n for n, *_ in _SCHEMA[type_name])})")


def parse_ifc_template(text):
    """The InitialFilterCriteria elements of an iFC template: a document
    whose root is one InitialFilterCriteria or holds them (any root name).
    Raises ValidationError naming the element and what is wrong."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise ValidationError(f"not well-formed XML: {e}") from None
    if any(isinstance(node.tag, str) and "}" in node.tag for node in root.iter()):
        raise ValidationError("iFC elements take no XML namespace (TS 29.228 Annex E)")
    criteria = [root] if root.tag == IFC else list(root)
    if not criteria:
        raise ValidationError(f"no {IFC} in the template")
    priorities = set()
    for element in criteria:
        if element.tag != IFC:
            raise ValidationError(f"{root.tag}: unexpected element {element.tag}, expected {IFC}")
        _check(element, IFC, "")
        priority = int(element.findtext("Priority").strip())
        if priority in priorities:
            raise ValidationError(f"two {IFC} with Priority {priority}")
        priorities.add(priority)
    return sorted(criteria, key=lambda e: int(e.findtext("Priority").strip()))


def canonical_template(text):
    """A checked template as stored: the criteria in Priority order under
    one root, serialised again (what was parsed is what is sent)."""
    root = ET.Element("InitialFilterCriteriaSet")
    root.extend(parse_ifc_template(text))
    return ET.tostring(root, encoding="unicode")


class UserData:
    """User-Data documents, the parsed templates and the documents of
    unchanged subscriptions kept (bounded: emptied when full).

    A document is written from its *form*, kept per template and per
    identities' barring flags: the whole document built and serialised by
    ElementTree once, with a marker in place of each value (the private
    identity, each public identity), then cut at the markers.  A user's
    document is the form's pieces with its values between them, escaped
    by the XML library as ElementTree escapes text: the same bytes as
    :func:`build_user_data` gives, at a small part of the cost
    (serialising some 17 elements anew for every user was half of a SAR).
    """

    def __init__(self):
        self._templates = {}
        self._forms = {}
        self._documents = {}

    def criteria(self, template):
        """The InitialFilterCriteria of an IfcTemplate (or None: none)."""
        if template is None:
            return ()
        key = (template.name, template.xml)
        parsed = self._templates.get(key)
        if parsed is None:
            parsed = tuple(parse_ifc_template(template.xml))
            if len(self._templates) >= MAX_TEMPLATE_CACHE:
                self._templates.clear()
            self._templates[key] = parsed
        return parsed

    def form(self, barring, template):
        """The pieces of the documents whose identities have the barring
        flags ``barring`` (a tuple) and whose criteria are ``template``'s."""
        key = (barring, None if template is None else (template.name, template.xml))
        pieces = self._forms.get(key)
        if pieces is None:
            identities = tuple(_FormIdentity(_MARKER, barred) for barred in barring)
            pieces = tuple(build_user_data(_MARKER, identities, self.criteria(template))
                           .decode("utf-8").split(_MARKER))
            if len(pieces) != len(barring) + 2:
                raise ValueError("a User-Data form must hold one marker per value")
            if len(self._forms) >= MAX_TEMPLATE_CACHE:
                self._forms.clear()
            self._forms[key] = pieces
        return pieces

    def __call__(self, subscription, identities, template):
        """The User-Data (UTF-8 bytes) for ``subscription``'s
        ``identities`` (PublicIdentity records: the implicit registration
        set of SAR's Public-Identity) with ``template``'s criteria."""
        key = (subscription.impi, identities, template)
        document = self._documents.get(key)
        if document is None:
            pieces = self.form(tuple(identity.barred for identity in identities), template)
            parts = [pieces[0], escape(subscription.impi)]
            for identity, piece in zip(identities, pieces[1:]):
                parts.append(piece)
                parts.append(escape(identity.uri))
            parts.append(pieces[-1])
            document = "".join(parts).encode("utf-8")
            if len(self._documents) >= MAX_DOCUMENT_CACHE:
                self._documents.clear()
            self._documents[key] = document
        return document


# Stands for a value in a form: no XML text can hold it (XML 1.0 2.2).
_MARKER = "\x00"
_FormIdentity = namedtuple("_FormIdentity", "uri barred")


def build_user_data(impi, identities, criteria):
    """IMSSubscription (Annex E) for private identity ``impi``, one
    ServiceProfile with ``identities`` and the ``criteria`` elements."""
    root = ET.Element("IMSSubscription")
    ET.SubElement(root, "PrivateID").text = impi
    profile = ET.SubElement(root, "ServiceProfile")
    for identity in identities:
        public = ET.SubElement(profile, "PublicIdentity")
        if identity.barred:
            ET.SubElement(public, "BarringIndication").text = "1"
        ET.SubElement(public, "Identity").text = identity.uri
    profile.extend(criteria)
    # Serialised to text, then encoded once: ElementTree's byte output
    # goes through a text wrapper that resets its codec on every one of
    # the ~60 writes.  The declaration it writes names UTF-8 either way.
    return ET.tostring(root, encoding="unicode", xml_declaration=True).encode("utf-8")
