"""Cx on the control socket: ``pyhss-admin ims`` asks the server for RTR
and PPR.

- :class:`ImsDeregister` ``(identity, reason)``: send
  Registration-Termination-Request (Reason-Code PERMANENT_TERMINATION,
  Reason-Info ``reason``) for a public identity's implicit registration
  set, or every public identity of a private identity, to the assigned
  S-CSCF; the HSS forgets the registration once the S-CSCF answers 2001.
- :class:`ImsProfileChanged` ``(impi)``: send Push-Profile-Request with
  the new User-Data to the assigned S-CSCF of a registered subscription.

Both answer ``sent``, ``scscf`` (the S-CSCF's Diameter host),
``result_code`` (the answer's Result-Code or Experimental-Result-Code),
``reason`` when nothing was sent (:data:`NOT_REGISTERED`,
:data:`NOT_CONNECTED`) or no answer came (:data:`NO_ANSWER`), and the
public identities concerned.  Like :mod:`pyhss.apps.s6a_control`,
importing this module imports neither the node nor the codec.
"""

from twisted.internet import defer
from twisted.logger import Logger
from twisted.protocols import amp

from pyhss.apps.commands import COMMAND_ERRORS, ControlError, StoreFailed, TextArgument
from pyhss.storage.errors import StoreError, ValidationError
from pyhss.storage.ims_records import check_impi, normalise_impu

NOT_REGISTERED = "not-registered"
NOT_CONNECTED = "not-connected"
NO_ANSWER = "no-answer"

RTR = "RTR"
PPR = "PPR"


class UnknownIdentity(ControlError):
    """No IMS subscription has this private or public identity."""


class InvalidIdentity(ControlError):
    """Neither a private identity (user@realm) nor a sip:/tel: URI."""


CX_ERRORS = {**COMMAND_ERRORS, UnknownIdentity: b"UNKNOWN_IDENTITY", InvalidIdentity: b"INVALID_IDENTITY"}

_OUTCOME = [
    (b"sent", amp.Boolean()),
    (b"scscf", amp.Unicode(optional=True)),
    (b"result_code", amp.Integer(optional=True)),
    (b"reason", amp.Unicode(optional=True)),
    (b"identities", amp.ListOf(amp.Unicode())),
]


class ImsDeregister(amp.Command):
    """RTR to the S-CSCF of a public identity (its implicit set) or a private identity."""
    arguments = [(b"identity", TextArgument(InvalidIdentity)), (b"reason", amp.Unicode(optional=True))]
    response = _OUTCOME
    errors = CX_ERRORS


class ImsProfileChanged(amp.Command):
    """PPR with the subscription's new User-Data to its S-CSCF."""
    arguments = [(b"impi", TextArgument(InvalidIdentity))]
    response = _OUTCOME
    errors = CX_ERRORS


def outcome(sent, scscf=None, result_code=None, reason=None, identities=()):
    return {"sent": sent, "scscf": scscf, "result_code": result_code, "reason": reason,
            "identities": list(identities)}


def parse_identity(identity):
    """("impi", IMPI) or ("impu", IMPU); InvalidIdentity otherwise."""
    try:
        if ":" in identity.split("@", 1)[0]:
            return "impu", normalise_impu(identity)
        return "impi", check_impi(identity)
    except ValidationError as e:
        raise InvalidIdentity(str(e)) from None


def describe(what, result):
    """One line for an outcome, e.g. ``RTR sent to scscf.ims.test: 2001``."""
    scscf, reason = result.get("scscf"), result.get("reason")
    if result.get("sent"):
        if result.get("result_code") is not None:
            return f"{what} sent to {scscf}: {result['result_code']}"
        return f"{what} sent to {scscf}: no answer (timeout or disconnect)"
    if reason == NOT_CONNECTED:
        return f"no {what} sent: S-CSCF {scscf} is not connected"
    return f"no {what} sent: not registered (no S-CSCF assigned)"


class CxControl:
    """The responders of the two commands, over a CxApplication."""

    log = Logger(namespace="pyhss.control")

    def __init__(self, application):
        self.application = application

    def commands(self):
        return {ImsDeregister: self.deregister, ImsProfileChanged: self.profile_changed}

    def deregister(self, identity, reason=None):
        return self._run(RTR, identity, self.application.deregister, reason)

    def profile_changed(self, impi):
        kind, value = parse_identity(impi)
        if kind != "impi":
            return defer.fail(InvalidIdentity(f"a private identity (user@realm) is needed, got {impi!r}"))
        return self._run(PPR, impi, self.application.push_profile)

    @defer.inlineCallbacks
    def _run(self, what, identity, action, *arguments):
        kind, value = parse_identity(identity)
        try:
            result = yield action(kind, value, *arguments)
        except StoreError as e:
            raise StoreFailed(f"store: {e}") from None
        if result is None:
            raise UnknownIdentity(f"no IMS subscription has {identity}")
        self.log.info("control: {what} for {identity}: {text}", what=what, identity=identity,
                      text=describe(what, result))
        return result
