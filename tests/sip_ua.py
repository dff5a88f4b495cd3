"""A SIP user agent for the IMS tests: REGISTER over UDP, answering the
IMS AKA challenge (RFC 3310, TS 33.203) as a UE with a USIM would, with
the MILENAGE of tests.milenage_reference.

Only what registration needs: one transaction at a time, responses
matched by Via branch, 1xx ignored, no retransmission (the peers are on
127.0.0.1; a lost datagram fails the test with its timeout).
"""

import base64
import hashlib
import os
import re

from twisted.internet import defer, protocol

from tests import milenage_reference as usim

_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*("([^"]*)"|[^,\s]+)')


class SipResponse:
    def __init__(self, data):
        text = data.decode("utf-8", "replace")
        head, _, self.body = text.partition("\r\n\r\n")
        lines = head.split("\r\n")
        version, code, self.reason = (lines[0].split(" ", 2) + [""])[:3]
        self.code = int(code)
        self.headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers.append((name.strip().lower(), value.strip()))

    def header(self, name):
        values = self.all(name)
        return values[0] if values else None

    def all(self, name):
        return [value for key, value in self.headers if key == name.lower()]

    def __repr__(self):
        return "<SIP %d %s>" % (self.code, self.reason)


def digest_params(value):
    """The parameters of a Digest challenge, e.g. WWW-Authenticate's."""
    scheme, _, rest = value.partition(" ")
    return {name.lower(): quoted if quoted is not None and raw.startswith('"') else raw
            for name, raw, quoted in _PARAM.findall(rest)}


def _md5(text):
    return hashlib.md5(text if isinstance(text, bytes) else text.encode("utf-8")).hexdigest()


class ImsUserAgent(protocol.DatagramProtocol):
    """A UE with IMPI ``impi``, IMPU ``impu`` and a USIM holding ``k``/``opc``,
    sending to the I-CSCF at ``proxy`` (host, port)."""

    def __init__(self, impi, impu, k, opc, proxy, realm):
        self.impi, self.impu, self.k, self.opc = impi, impu, k, opc
        self.proxy = proxy
        self.realm = realm
        self.call_id = "%s@127.0.0.1" % os.urandom(8).hex()
        self.tag = os.urandom(4).hex()
        self.cseq = 0
        self.waiting = {}
        self.sent = []
        self.received = []

    @property
    def port(self):
        return self.transport.getHost().port

    def datagramReceived(self, data, address):
        response = SipResponse(data)
        self.received.append(response)
        via = response.header("via") or ""
        branch = dict(digest_params("x " + via.replace(";", ","))).get("branch")
        waiter = self.waiting.get(branch)
        if waiter is not None and response.code >= 200:
            del self.waiting[branch]
            waiter.callback(response)

    def _register(self, expires, authorization):
        self.cseq += 1
        branch = "z9hG4bK" + os.urandom(6).hex()
        lines = [
            "REGISTER sip:%s SIP/2.0" % self.realm,
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport" % (self.port, branch),
            "Max-Forwards: 70",
            "From: <%s>;tag=%s" % (self.impu, self.tag),
            "To: <%s>" % self.impu,
            "Call-ID: %s" % self.call_id,
            "CSeq: %d REGISTER" % self.cseq,
            "Contact: <sip:ue@127.0.0.1:%d>;expires=%d" % (self.port, expires),
            "Expires: %d" % expires,
            "Authorization: %s" % authorization,
            # What a P-CSCF adds (TS 24.229 5.2.2.1); the I-CSCF's UAR sends it on.
            'P-Visited-Network-ID: "%s"' % self.realm,
            "Content-Length: 0",
            "", ""]
        waiter = self.waiting[branch] = defer.Deferred()
        data = "\r\n".join(lines).encode("utf-8")
        self.sent.append(data)
        self.transport.write(data, self.proxy)
        return waiter

    def _empty_authorization(self):
        return ('Digest username="%s", realm="%s", nonce="", uri="sip:%s", response=""'
                % (self.impi, self.realm, self.realm))

    def aka_response(self, challenge, uri):
        """The Authorization answering a Digest-AKAv1-MD5 challenge: RES as
        the password (RFC 3310 3.3), qop=auth."""
        params = digest_params(challenge)
        nonce = params["nonce"]
        raw = base64.b64decode(nonce)
        rand, autn = raw[:16], raw[16:32]
        self.last_sqn, res, self.last_ck, self.last_ik = usim.usim_check(self.k, self.opc, rand, autn)
        ha1 = _md5(b"%s:%s:" % (self.impi.encode(), params["realm"].encode()) + res)
        ha2 = _md5("REGISTER:%s" % uri)
        cnonce, nc = os.urandom(4).hex(), "00000001"
        response = _md5("%s:%s:%s:%s:auth:%s" % (ha1, nonce, nc, cnonce, ha2))
        return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=AKAv1-MD5, '
                'qop=auth, cnonce="%s", nc=%s' % (self.impi, params["realm"], nonce, uri, response, cnonce, nc))

    @defer.inlineCallbacks
    def register(self, expires=600):
        """REGISTER, answer the 401 challenge, fire (challenge, final response)."""
        first = yield self._register(expires, self._empty_authorization())
        if first.code != 401:
            return first, first
        challenge = first.header("www-authenticate")
        final = yield self._register(expires, self.aka_response(challenge, "sip:%s" % self.realm))
        return first, final
