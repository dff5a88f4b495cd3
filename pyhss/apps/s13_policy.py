"""What an ECR asks and what the EIR answers (TS 29.272 6.2.1), without I/O.

:class:`EcrPlan` reads an ME-Identity-Check-Request once: the IMEI (14
digits, see :mod:`pyhss.storage.records_eir`), the software version, the
IMSI, and, when the request cannot be evaluated, the error to answer:

- a second Terminal-Information, User-Name, IMEI or Software-Version:
  DIAMETER_AVP_OCCURS_TOO_MANY_TIMES (5009), the ABNF allowing one;
- a Terminal-Information without IMEI (a 3GPP2-MEID alone: on S13 "only
  the IMEI and the Software-Version AVPs shall be used", 6.2.1.1):
  DIAMETER_MISSING_AVP (5005);
- an IMEI that is not 14 digits or 15 ending in its check digit or the
  spare digit 0, a Software-Version that is not 2 digits, a User-Name that
  is not an IMSI: DIAMETER_INVALID_AVP_VALUE (5004).

Each with Failed-AVP holding the offending AVP, inside the
Terminal-Information it came in (RFC 6733 7.5), and an Error-Message.

:class:`EirPolicy` turns the rules the store matched into the answer: an
exact IMEI rule first (its IMSI binding checked), then the TAC's rule,
then the configured default.
"""

from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import DICTIONARY
from pyhss.storage.errors import ValidationError
from pyhss.storage.records_eir import (
    BY_DEFAULT, BY_IMEI, BY_TAC, EQUIPMENT_STATUSES, IMSI_MISMATCH, check_software_version, check_user_imsi,
    imei_from_wire, printable,
)

# The configuration's name for "answer DIAMETER_ERROR_EQUIPMENT_UNKNOWN".
UNKNOWN = "unknown"

_SESSION_ID, _ORIGIN_HOST, _USER_NAME, _TERMINAL_INFORMATION, _PROXY_INFO = range(5)
_ECR_FIELDS = {DICTIONARY.avp(name): field for field, name in enumerate((
    "Session-Id", "Origin-Host", "User-Name", "Terminal-Information", "Proxy-Info"))}
_IMEI = DICTIONARY.avp("IMEI")
_SOFTWARE_VERSION = DICTIONARY.avp("Software-Version")


def equipment_answer(name):
    """The Equipment-Status value a configured answer name stands for, or
    None for 'unknown' (DIAMETER_ERROR_EQUIPMENT_UNKNOWN)."""
    return None if name == UNKNOWN else EQUIPMENT_STATUSES[name]


class EirPolicy:
    """The EIR's answer for what the store matched.

    @param unknown_status: the Equipment-Status for an IMEI no rule
        matches, or None to answer DIAMETER_ERROR_EQUIPMENT_UNKNOWN.
    @param imsi_mismatch_status: the same for an IMEI bound to an IMSI
        when the ECR names another one or none.
    """

    def __init__(self, unknown_status=None, imsi_mismatch_status=1):
        self.unknown_status = unknown_status
        self.imsi_mismatch_status = imsi_mismatch_status

    @classmethod
    def from_names(cls, unknown_status, imsi_mismatch_status):
        """From the configuration's names (s13.unknown_status, ...)."""
        return cls(equipment_answer(unknown_status), equipment_answer(imsi_mismatch_status))

    def decide(self, imei_rule, tac_rule, imsi):
        """(Equipment-Status or None for 5422, reason) for the rules of the
        IMEI and of its TAC (either None) and the ECR's IMSI (None when it
        named none)."""
        if imei_rule is not None:
            if imei_rule.imsi is not None and imei_rule.imsi != imsi:
                return self.imsi_mismatch_status, IMSI_MISMATCH
            return imei_rule.status, BY_IMEI
        if tac_rule is not None:
            return tac_rule.status, BY_TAC
        return self.unknown_status, BY_DEFAULT


class Refusal:
    """An ECR answered with an error: Result-Code, Failed-AVP (an Avp) and
    Error-Message."""

    __slots__ = ("result_code", "failed_avp", "message")

    def __init__(self, result_code, failed_avp, message):
        self.result_code = result_code
        self.failed_avp = failed_avp
        self.message = message


def _in_terminal_information(child):
    """Terminal-Information holding ``child`` alone (RFC 6733 7.5)."""
    return codec.Avp.new("Terminal-Information", [child])


def _too_many(failed_avp, name):
    return Refusal(results.DIAMETER_AVP_OCCURS_TOO_MANY_TIMES, failed_avp, f"{name} given more than once")


class EcrPlan:
    """One ECR: Session-Id, Origin-Host, Proxy-Infos, and either the IMEI
    (14 digits), Software-Version and IMSI (``refusal`` None), or the
    :class:`Refusal` to answer, with what came made printable for the
    history (``imei``, ``software_version``, ``imsi``)."""

    __slots__ = ("request", "session_id", "origin_host", "proxy_infos", "imei", "software_version", "imsi",
                 "refusal")

    def __init__(self, request):
        self.request = request
        self.session_id = self.origin_host = self.imei = self.software_version = self.imsi = None
        self.refusal = None
        self.proxy_infos = []
        terminal = user_name = None
        field_of = _ECR_FIELDS.get
        for avp in request.avps:
            field = field_of(avp.definition)
            if field is None:
                continue
            if field == _SESSION_ID:
                if self.session_id is None:
                    self.session_id = avp.value
            elif field == _ORIGIN_HOST:
                if self.origin_host is None:
                    self.origin_host = avp.value
            elif field == _TERMINAL_INFORMATION:
                if terminal is not None:
                    self._refuse(_too_many(avp, "Terminal-Information"))
                terminal = avp
            elif field == _USER_NAME:
                if user_name is not None:
                    self._refuse(_too_many(avp, "User-Name"))
                user_name = avp
            else:
                self.proxy_infos.append(avp)
        if self.refusal is not None:
            return      # nothing more is read of a message that breaks the ABNF
        # The node's validation ran: Terminal-Information is there, grouped.
        imei, version = self._terminal_information(terminal)
        if self.refusal is None:
            self._read(imei, version, user_name)
        if self.refusal is not None:
            # What came, for the history (it reaches terminals and logs).
            self.imei = None if imei is None else printable(imei.value)
            self.software_version = None if version is None else printable(version.value)
            self.imsi = None if user_name is None else printable(user_name.value)

    def _read(self, imei, version, user_name):
        """The identities, or the refusal of the first that is wrong."""
        if imei is None:
            self.refusal = Refusal(results.DIAMETER_MISSING_AVP, _in_terminal_information(codec.Avp.new("IMEI", "")),
                                   "Terminal-Information has no IMEI (on S13 only IMEI and Software-Version are "
                                   "used, TS 29.272 6.2.1.1)")
            return
        try:
            self.imei = imei_from_wire(imei.value)
        except ValidationError as e:
            self.refusal = Refusal(results.DIAMETER_INVALID_AVP_VALUE, _in_terminal_information(imei), str(e))
            return
        if version is not None:
            try:
                self.software_version = check_software_version(version.value)
            except ValidationError as e:
                self.refusal = Refusal(results.DIAMETER_INVALID_AVP_VALUE, _in_terminal_information(version),
                                       str(e))
                return
        if user_name is not None:
            try:
                self.imsi = check_user_imsi(user_name.value)
            except ValidationError as e:
                self.refusal = Refusal(results.DIAMETER_INVALID_AVP_VALUE, user_name, str(e))

    def _refuse(self, refusal):
        if self.refusal is None:
            self.refusal = refusal

    def _terminal_information(self, terminal):
        imei = version = None
        for child in terminal.value:
            definition = child.definition
            if definition is _IMEI:
                if imei is not None:
                    self._refuse(_too_many(_in_terminal_information(child), "IMEI"))
                imei = child
            elif definition is _SOFTWARE_VERSION:
                if version is not None:
                    self._refuse(_too_many(_in_terminal_information(child), "Software-Version"))
                version = child
        return imei, version
