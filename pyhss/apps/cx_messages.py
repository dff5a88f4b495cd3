"""Cx requests read in one pass, and the MAA of Digest-AKAv1-MD5 written
as bytes.

An MAA is one per MAR under load, and building it from Avp objects (then
encoding them) cost a quarter of a MAR: as the AIA is
(:mod:`pyhss.apps.s6a_messages`), it is written with ``codec.AvpWriter``
and one precompiled pack per SIP-Auth-Data-Item.  The AVPs and their
order are those of ``CxApplication._maa``; tests/test_wire_bytes_cx.py
pins the bytes.
"""

import struct

from pyhss.apps.base import AUTH_SESSION_STATE
from pyhss.apps.cx_policy import AKA_SCHEME
from pyhss.apps.cx_push import VSAI
from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import DICTIONARY

# The top-level AVPs the handlers read, by definition.
_READ = {DICTIONARY.avp(name): name for name in (
    "User-Name", "Public-Identity", "Server-Name", "Origin-Host", "Origin-Realm", "Server-Assignment-Type",
    "User-Data-Already-Available", "User-Authorization-Type", "Visited-Network-Identifier",
    "SIP-Number-Auth-Items")}
_SESSION_ID = DICTIONARY.avp("Session-Id")
_PROXY_INFO = DICTIONARY.avp("Proxy-Info")
_W_SESSION_ID = codec.AvpWriter("Session-Id")
_W_USER_NAME = codec.AvpWriter("User-Name")
_W_PUBLIC_IDENTITY = codec.AvpWriter("Public-Identity")
_W_NUMBER_AUTH_ITEMS = codec.AvpWriter("SIP-Number-Auth-Items")
_W_ITEM = codec.AvpWriter("SIP-Auth-Data-Item")
_W_ITEM_NUMBER = codec.AvpWriter("SIP-Item-Number")
_W_SCHEME = codec.AvpWriter("SIP-Authentication-Scheme")
_W_AUTHENTICATE = codec.AvpWriter("SIP-Authenticate")
_W_AUTHORIZATION = codec.AvpWriter("SIP-Authorization")
_W_CK = codec.AvpWriter("Confidentiality-Key")
_W_IK = codec.AvpWriter("Integrity-Key")

_AKA_SCHEME_AVP = _W_SCHEME(AKA_SCHEME.encode("utf-8"))
_SUCCESS = codec.result_code_avp(results.DIAMETER_SUCCESS)
# The sizes pyhss.auc makes: RAND || AUTN 32, XRES 8, CK and IK 16 octets
# (no padding anywhere).
_SIZES = (32, 8, 16, 16)


def read_request(request):
    """{name: value} of the first of each AVP in _READ at the top level of
    ``request``: one pass, where a ``request.get`` per name searched the
    request again each time (a tenth of a SAR)."""
    values = {}
    for avp in request.avps:
        name = _READ.get(avp.definition)
        if name is not None and name not in values:
            values[name] = avp.value
    return values


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


def aka_answer(request, origin_avps, impi, impu, vectors):
    """The MAA (DIAMETER_SUCCESS) of ``request`` for private identity
    ``impi`` and public identity ``impu`` with ``vectors`` (UtranVectors):
    Session-Id, Result-Code, the request's Proxy-Info, ``origin_avps``,
    Auth-Session-State, Vendor-Specific-Application-Id, User-Name,
    Public-Identity, SIP-Number-Auth-Items, the items."""
    parts = []
    proxy_infos = []
    session_id = None
    for avp in request.avps:
        definition = avp.definition
        if definition is _SESSION_ID:
            if session_id is None:
                session_id = avp.value
        elif definition is _PROXY_INFO:
            proxy_infos.append(avp.encode())
    if session_id is not None:
        parts.append(_W_SESSION_ID(session_id.encode("utf-8")))
    parts.append(_SUCCESS.encode())
    parts.extend(proxy_infos)
    parts.extend(avp.encode() for avp in origin_avps)
    parts.append(AUTH_SESSION_STATE.encode())
    parts.append(VSAI.encode())
    parts.append(_W_USER_NAME(impi.encode("utf-8")))
    parts.append(_W_PUBLIC_IDENTITY(impu.encode("utf-8")))
    parts.append(_W_NUMBER_AUTH_ITEMS.unsigned32(len(vectors)))
    parts.extend(aka_item(number, vector) for number, vector in enumerate(vectors, 1))
    return codec.EncodedAnswer(request.flags & codec.FLAG_PROXIABLE, request.command_code,
                               request.application_id, request.hop_by_hop, request.end_to_end,
                               b"".join(parts), request.version, results.DIAMETER_SUCCESS)
