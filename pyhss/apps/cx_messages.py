"""Cx requests read in one pass, and Cx answers written as bytes.

Every Cx answer is one per request under load, and building it from Avp
objects (then encoding them) cost a quarter of a MAR and a fifth of a UAR:
as the AIA is (:mod:`pyhss.apps.s6a_messages`), it is written from
encodings kept (:class:`CxAnswers`: the origin AVPs, Auth-Session-State,
Vendor-Specific-Application-Id and the Experimental-Result of each code,
once per code), ``codec.AvpWriter`` and one precompiled pack per
SIP-Auth-Data-Item.  The AVPs and their order are those the node's
``answer`` gives; tests/test_wire_bytes_cx.py pins the bytes.
"""

import struct

from pyhss.apps.base import AUTH_SESSION_STATE
from pyhss.apps.cx_policy import AKA_SCHEME
from pyhss.apps.cx_push import VSAI
from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import DICTIONARY, VENDOR_3GPP

# The top-level AVPs the handlers read, by definition (Proxy-Info: all of
# them, as a list, for the answer; SIP-Auth-Data-Item: its children).
_READ = {DICTIONARY.avp(name): name for name in (
    "Session-Id", "User-Name", "Public-Identity", "Server-Name", "Origin-Host", "Origin-Realm",
    "Server-Assignment-Type", "User-Data-Already-Available", "User-Authorization-Type",
    "Visited-Network-Identifier", "SIP-Number-Auth-Items", "SIP-Auth-Data-Item", "Proxy-Info")}
_PROXY_INFO = DICTIONARY.avp("Proxy-Info")
_SCHEME = DICTIONARY.avp("SIP-Authentication-Scheme")
_AUTHORIZATION = DICTIONARY.avp("SIP-Authorization")
_W_SESSION_ID = codec.AvpWriter("Session-Id")
_W_USER_NAME = codec.AvpWriter("User-Name")
_W_PUBLIC_IDENTITY = codec.AvpWriter("Public-Identity")
_W_SERVER_NAME = codec.AvpWriter("Server-Name")
_W_ERROR_MESSAGE = codec.AvpWriter("Error-Message")
_W_USER_DATA = codec.AvpWriter("User-Data")
_W_NUMBER_AUTH_ITEMS = codec.AvpWriter("SIP-Number-Auth-Items")
_W_ITEM = codec.AvpWriter("SIP-Auth-Data-Item")
_W_ITEM_NUMBER = codec.AvpWriter("SIP-Item-Number")
_W_SCHEME = codec.AvpWriter("SIP-Authentication-Scheme")
_W_AUTHENTICATE = codec.AvpWriter("SIP-Authenticate")
_W_AUTHORIZATION = codec.AvpWriter("SIP-Authorization")
_W_CK = codec.AvpWriter("Confidentiality-Key")
_W_IK = codec.AvpWriter("Integrity-Key")

_AKA_SCHEME_AVP = _W_SCHEME(AKA_SCHEME.encode("utf-8"))
# The sizes pyhss.auc makes: RAND || AUTN 32, XRES 8, CK and IK 16 octets
# (no padding anywhere).
_SIZES = (32, 8, 16, 16)
_MAX_MIDDLES = 64


def read_request(request):
    """{name: value} of the first of each AVP in _READ at the top level of
    ``request``, and "Proxy-Info": the list of its Proxy-Info AVPs when it
    has any: one pass, where a ``request.get`` per name searched the
    request again each time (a tenth of a SAR)."""
    values = {}
    read = _READ.get
    for avp in request.avps:
        name = read(avp.definition)
        if name is not None and name not in values:
            values[name] = avp.value
    if "Proxy-Info" in values:
        values["Proxy-Info"] = [avp for avp in request.avps if avp.definition is _PROXY_INFO]
    return values


def item_scheme(children):
    """(SIP-Authentication-Scheme, SIP-Authorization) of a
    SIP-Auth-Data-Item's children (None: absent)."""
    scheme = authorization = None
    for avp in children:
        definition = avp.definition
        if definition is _SCHEME and scheme is None:
            scheme = avp.value
        elif definition is _AUTHORIZATION and authorization is None:
            authorization = avp.value
    return scheme, authorization


def server_name(name):
    return _W_SERVER_NAME(name.encode("utf-8"))


def user_name(impi):
    return _W_USER_NAME(impi.encode("utf-8"))


def error_message(message):
    """Error-Message, cut at 200 characters."""
    return _W_ERROR_MESSAGE(message[:200].encode("utf-8"))


def user_data(document):
    return _W_USER_DATA(document)


class CxAnswers:
    """Cx answers, written as bytes in the order of ``node.answer`` and
    CxApplication's additions: Session-Id, Result-Code (not in an answer
    with Experimental-Result), the request's Proxy-Infos, Origin-Host,
    Origin-Realm, Auth-Session-State, Vendor-Specific-Application-Id,
    Experimental-Result (its answers), then the AVPs given encoded.

    @param origin_avps: the node's ``origin_avps`` (its Origin-Host and
        Origin-Realm, encoded once; the part after the Proxy-Infos is
        written again when they change).
    """

    def __init__(self, origin_avps):
        self._origin_avps = origin_avps
        self._middles = {}

    def _middle(self, code, experimental):
        origin_host, origin_realm = self._origin_avps()
        cached = self._middles.get((code, experimental))
        if cached is None or cached[0] is not origin_host or cached[1] is not origin_realm:
            parts = [origin_host.encode(), origin_realm.encode(), AUTH_SESSION_STATE.encode(), VSAI.encode()]
            if experimental:
                parts.append(codec.Avp.new("Experimental-Result", [
                    ("Vendor-Id", VENDOR_3GPP), ("Experimental-Result-Code", code)]).encode())
            if len(self._middles) >= _MAX_MIDDLES:
                self._middles.clear()
            cached = self._middles[(code, experimental)] = (origin_host, origin_realm, b"".join(parts))
        return cached[2]

    def __call__(self, request, code, extra=(), experimental=False, values=None):
        """The answer to ``request`` with Result-Code ``code`` (or
        Experimental-Result, 3GPP's, when ``experimental``) and ``extra``
        (encoded AVPs).  ``values``: ``read_request(request)`` when the
        caller has it."""
        if values is None:
            values = read_request(request)
        parts = []
        session_id = values.get("Session-Id")
        if session_id is not None:
            parts.append(_W_SESSION_ID(session_id.encode("utf-8")))
        flags = request.flags & codec.FLAG_PROXIABLE
        if not experimental:
            parts.append(codec.result_code_avp(code).encode())
            if 3000 <= code < 4000:
                flags |= codec.FLAG_ERROR
        proxy_infos = values.get("Proxy-Info")
        if proxy_infos:
            parts.extend([avp.encode() for avp in proxy_infos])
        parts.append(self._middle(code, experimental))
        parts.extend(extra)
        return codec.EncodedAnswer(flags, request.command_code, request.application_id, request.hop_by_hop,
                                   request.end_to_end, b"".join(parts), request.version, code)


def _aka_item_packer():
    """(headers, Struct) writing a SIP-Auth-Data-Item of _SIZES in one pack."""
    children = tuple(zip((_W_AUTHENTICATE, _W_AUTHORIZATION, _W_CK, _W_IK), _SIZES))
    number = _W_ITEM_NUMBER.header(4)
    headers = [writer.header(size) for writer, size in children]
    payload = len(number) + 4 + len(_AKA_SCHEME_AVP) + sum(
        len(header) + size for header, (_, size) in zip(headers, children))
    item = _W_ITEM.header(payload)
    layout = "!%ds%dsI%ds" % (len(item), len(number), len(_AKA_SCHEME_AVP)) + "".join(
        "%ds%ds" % (len(header), size) for header, (_, size) in zip(headers, children))
    return (item, number, *headers), struct.Struct(layout)


_ITEM_HEADERS, _AKA_ITEM = _aka_item_packer()


def aka_item(number, vector):
    """One SIP-Auth-Data-Item (TS 29.229 6.3.13) of a UtranVector."""
    authenticate = vector.rand + vector.autn
    xres, ck, ik = vector.xres, vector.ck, vector.ik
    if (len(authenticate), len(xres), len(ck), len(ik)) == _SIZES:
        h_item, h_number, h_authenticate, h_authorization, h_ck, h_ik = _ITEM_HEADERS
        return _AKA_ITEM.pack(h_item, h_number, number, _AKA_SCHEME_AVP, h_authenticate, authenticate,
                              h_authorization, xres, h_ck, ck, h_ik, ik)
    return _W_ITEM(_W_ITEM_NUMBER.unsigned32(number) + _AKA_SCHEME_AVP + _W_AUTHENTICATE(authenticate)
                   + _W_AUTHORIZATION(xres) + _W_CK(ck) + _W_IK(ik))


def aka_answer(answers, request, values, impi, impu, vectors):
    """The MAA (DIAMETER_SUCCESS) of ``request`` (read into ``values``) for
    private identity ``impi`` and public identity ``impu`` with
    ``vectors`` (UtranVectors): User-Name, Public-Identity,
    SIP-Number-Auth-Items and the items after what ``answers`` writes."""
    extra = [_W_USER_NAME(impi.encode("utf-8")), _W_PUBLIC_IDENTITY(impu.encode("utf-8")),
             _W_NUMBER_AUTH_ITEMS.unsigned32(len(vectors))]
    extra.extend([aka_item(number, vector) for number, vector in enumerate(vectors, 1)])
    return answers(request, results.DIAMETER_SUCCESS, extra, values=values)
