"""
The base-protocol messages a node builds from its identity: CER/CEA,
DWR/DWA, DPR, answers with our Origin-Host/Origin-Realm, and error answers
(RFC 6733 7.2), including those built from a header alone when a request's
body did not decode.
"""

from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import APP_BASE, CMD_CER, CMD_DPR, CMD_DWR, VENDOR_3GPP

_HEADER = codec.HEADER


class Identity(object):
    """Who we are in CER/CEA and every answer."""

    def __init__(self, origin_host, origin_realm, product_name="pyhss",
                 vendor_id=0, origin_state_id=0):
        self.origin_host = origin_host
        self.origin_realm = origin_realm
        self.product_name = product_name
        self.vendor_id = vendor_id
        self.origin_state_id = origin_state_id


class BaseMessages(object):
    """
    @param identity: an L{Identity}.
    @param applications: application id -> vendor id, as advertised (read
        each time: applications register after this is built).
    @param ids: a L{pyhss.node.pending.PendingRequests}, the source of
        identifiers for our requests.
    """

    def __init__(self, identity, applications, ids):
        self.identity = identity
        self.applications = applications
        self.ids = ids
        self._origin_avps = (None, None)
        self._dwa_body = b"".join(avp.encode() for avp in (
            codec.Avp.new("Result-Code", results.DIAMETER_SUCCESS),
            codec.Avp.new("Origin-Host", identity.origin_host),
            codec.Avp.new("Origin-Realm", identity.origin_realm),
            codec.Avp.new("Origin-State-Id", identity.origin_state_id)))

    def _request(self, application_id, command_code, proxiable=False):
        ids = self.ids
        return codec.Message.request(
            application_id, command_code, hop_by_hop=ids.next_hop_by_hop(),
            end_to_end=ids.next_end_to_end(), proxiable=proxiable)

    def _add_capabilities(self, message, local_address):
        identity = self.identity
        message.add("Origin-Host", identity.origin_host)
        message.add("Origin-Realm", identity.origin_realm)
        if local_address:
            message.add("Host-IP-Address", local_address)
        message.add("Vendor-Id", identity.vendor_id)
        message.add("Product-Name", identity.product_name)
        message.add("Origin-State-Id", identity.origin_state_id)
        message.add("Supported-Vendor-Id", VENDOR_3GPP)
        for application_id, vendor_id in sorted(self.applications.items()):
            if vendor_id:
                message.add("Vendor-Specific-Application-Id", [
                    ("Vendor-Id", vendor_id),
                    ("Auth-Application-Id", application_id)])
            else:
                message.add("Auth-Application-Id", application_id)
        return message

    def capabilities_request(self, local_address):
        """Our CER, from C{local_address} (Host-IP-Address)."""
        return self._add_capabilities(
            self._request(APP_BASE, CMD_CER), local_address)

    def capabilities_answer(self, cer, result_code, reason, local_address):
        """Our CEA to C{cer}; RFC 6733 5.3.2 wants our capabilities in
        failures too."""
        answer = cer.answer(result_code)
        self._add_capabilities(answer, local_address)
        if reason and result_code != results.DIAMETER_SUCCESS:
            answer.add("Error-Message", reason[:200])
        return answer

    def watchdog_request(self):
        identity = self.identity
        return self._request(APP_BASE, CMD_DWR).add(
            "Origin-Host", identity.origin_host).add(
            "Origin-Realm", identity.origin_realm).add(
            "Origin-State-Id", identity.origin_state_id)

    def watchdog_answer_bytes(self, dwr):
        """The DWA to C{dwr}, encoded: a constant body and packed ids."""
        body = self._dwa_body
        return _HEADER.pack(
            0x01000000 | (20 + len(body)),
            ((dwr.flags & codec.FLAG_PROXIABLE) << 24) | CMD_DWR, APP_BASE,
            dwr.hop_by_hop, dwr.end_to_end) + body

    def disconnect_request(self, cause):
        identity = self.identity
        return self._request(APP_BASE, CMD_DPR).add(
            "Origin-Host", identity.origin_host).add(
            "Origin-Realm", identity.origin_realm).add("Disconnect-Cause", cause)

    def answer(self, request, result_code=None):
        """
        The answer to C{request} with our Origin-Host and Origin-Realm (and
        Result-Code when given); handlers add the rest.
        """
        answer = request.answer(result_code)
        answer.avps += self.origin_avps()
        return answer

    def origin_avps(self):
        """Our Origin-Host and Origin-Realm AVPs, encoded once: every
        answer carries the same two."""
        origin = self._origin_avps
        identity = self.identity
        if origin[0] != identity.origin_host or origin[1] != identity.origin_realm:
            origin = self._origin_avps = (
                identity.origin_host, identity.origin_realm,
                codec.constant_avp("Origin-Host", identity.origin_host),
                codec.constant_avp("Origin-Realm", identity.origin_realm))
        return origin[2:]

    def error_answer(self, request, result_code, failed_avps=(),
                     error_message=None):
        """An RFC 6733 7.2 error answer (E bit set by the codec for 3xxx)."""
        answer = self.answer(request, result_code)
        if error_message:
            answer.add("Error-Message", error_message[:200])
        if failed_avps:
            answer.append(codec.Avp.new("Failed-AVP", list(failed_avps)))
        return answer

    def validation_answer(self, request, problems):
        """The error answer for C{codec.validate()}'s list of problems: the
        first problem's result code, every AVP with that code in Failed-AVP."""
        code = problems[0][0]
        failed = [avp for problem_code, avp in problems
                  if problem_code == code and avp is not None]
        return self.error_answer(request, code, failed)

    def error_answer_for_header(self, header, result_code, failed_avp=None,
                                session_id=None, error_message=None):
        """
        The encoded error answer to a request whose body did not decode,
        built from its header fields; C{failed_avp} and C{session_id} are
        raw AVP bytes as received.
        """
        _, flags_command, application_id, hop_by_hop, end_to_end = header
        flags = (flags_command >> 24) & codec.FLAG_PROXIABLE
        if 3000 <= result_code < 4000:
            flags |= codec.FLAG_ERROR
        identity = self.identity
        parts = []
        if session_id:
            parts.append(session_id)
        parts.append(codec.Avp.new("Origin-Host", identity.origin_host).encode())
        parts.append(codec.Avp.new("Origin-Realm", identity.origin_realm).encode())
        parts.append(codec.Avp.new("Result-Code", result_code).encode())
        if error_message:
            parts.append(codec.Avp.new(
                "Error-Message", error_message[:200]).encode())
        if failed_avp:
            parts.append(codec.Avp.new(
                "Failed-AVP", [codec.failed_avp(failed_avp)]).encode())
        body = b"".join(parts)
        return _HEADER.pack(
            0x01000000 | (20 + len(body)),
            (flags << 24) | (flags_command & 0xFFFFFF), application_id,
            hop_by_hop, end_to_end) + body
