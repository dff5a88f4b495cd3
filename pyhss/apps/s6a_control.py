"""S6a on the control socket: ``pyhss-admin`` asks the server for IDR and CLR.

- :class:`ProfileChanged` ``(imsi)``: the subscriber's profile changed in
  the store; send Insert-Subscriber-Data-Request with the new
  Subscription-Data to its serving MME.
- :class:`CancelSubscription` ``(imsi)``: send Cancel-Location-Request with
  Cancellation-Type SUBSCRIPTION_WITHDRAWAL to its serving MME.

Both answer ``sent`` (a request went out), ``mme`` (the serving MME),
``result_code`` (the answer's Result-Code or Experimental-Result-Code; none
when nothing or no answer came back) and ``reason`` when nothing was sent
(:data:`NO_SERVING_MME`, :data:`PURGED`, :data:`NOT_CONNECTED`) or no answer
came (:data:`NO_ANSWER`).  Errors are :data:`pyhss.apps.commands.COMMAND_ERRORS`.

The commands and their answers are the wire vocabulary pyhss-admin shares
with the server: importing this module imports neither the node nor the
Diameter codec.  The checks and the sending are the S6a
application's (``S6aApplication.push_to_mme``); :class:`S6aControl` only
turns them into answers.
"""

from twisted.internet import defer
from twisted.logger import Logger
from twisted.protocols import amp

from pyhss.apps.commands import COMMAND_ERRORS, InvalidImsi, StoreFailed, TextArgument, UnknownSubscriber
from pyhss.storage.errors import StoreError, ValidationError
from pyhss.storage.records import check_imsi

# Why nothing was sent, or why no result code came back.
NO_SERVING_MME = "no-serving-mme"
PURGED = "purged"
NOT_CONNECTED = "not-connected"
NO_ANSWER = "no-answer"

# What each command asks of the S6a application.
IDR = "IDR"
CLR = "CLR"

_OUTCOME = [
    (b"sent", amp.Boolean()),
    (b"mme", amp.Unicode(optional=True)),
    (b"result_code", amp.Integer(optional=True)),
    (b"reason", amp.Unicode(optional=True)),
]


class ProfileChanged(amp.Command):
    """IDR with the subscriber's new Subscription-Data to its serving MME."""
    arguments = [(b"imsi", TextArgument(InvalidImsi))]
    response = _OUTCOME
    errors = COMMAND_ERRORS


class CancelSubscription(amp.Command):
    """CLR (Cancellation-Type SUBSCRIPTION_WITHDRAWAL) to the serving MME."""
    arguments = [(b"imsi", TextArgument(InvalidImsi))]
    response = _OUTCOME
    errors = COMMAND_ERRORS


def outcome(sent, mme=None, result_code=None, reason=None):
    return {"sent": sent, "mme": mme, "result_code": result_code, "reason": reason}


def describe(what, result):
    """One line for a command's outcome, e.g. ``IDR sent to mme1.example.net: 2001``."""
    mme, reason = result.get("mme"), result.get("reason")
    if result.get("sent"):
        if result.get("result_code") is not None:
            return f"{what} sent to {mme}: {result['result_code']}"
        return f"{what} sent to {mme}: no answer (timeout or disconnect)"
    if reason == PURGED:
        return f"no {what} sent: the UE was purged from {mme}"
    if reason == NOT_CONNECTED:
        return f"no {what} sent: serving MME {mme} is not connected"
    return f"no {what} sent: no serving MME registered"


class S6aControl:
    """The responders of the two commands, over an S6aApplication."""

    log = Logger(namespace="pyhss.control")

    def __init__(self, application):
        self.application = application

    def commands(self):
        return {ProfileChanged: self.profile_changed, CancelSubscription: self.cancel_subscription}

    def profile_changed(self, imsi):
        return self._push(IDR, imsi)

    def cancel_subscription(self, imsi):
        return self._push(CLR, imsi)

    @defer.inlineCallbacks
    def _push(self, what, imsi):
        try:
            check_imsi(imsi)
        except ValidationError as e:
            raise InvalidImsi(str(e)) from None
        try:
            result = yield self.application.push_to_mme(imsi, what)
        except StoreError as e:
            raise StoreFailed(f"store: {e}") from None
        if result is None:
            raise UnknownSubscriber(f"no subscriber {imsi}")
        self.log.info("control: {what} for {imsi}: {text}", what=what, imsi=imsi, text=describe(what, result))
        return result
