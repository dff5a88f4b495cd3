"""What an application's control-socket commands are made of.

An application declares its commands (``IApplication.control_commands``)
as ``amp.Command`` subclasses built from these pieces: the typed errors
every command may fail with (:data:`COMMAND_ERRORS`, under
:class:`ControlError`) and a text argument whose absence is one of them
(:class:`TextArgument`).  :mod:`pyhss.control` serves the commands on the
socket; nothing here knows of the socket.
"""

from twisted.protocols import amp

from pyhss.apps.errors import ApplicationError


class ControlError(ApplicationError):
    """Base class of what a control command can fail with."""


class UnknownSubscriber(ControlError):
    """No subscriber with this IMSI in the store."""


class InvalidImsi(ControlError):
    """The IMSI is missing, not UTF-8 text or not 14-15 digits."""


class NotServed(ControlError):
    """The server does not run the application the command needs."""


class StoreFailed(ControlError):
    """The server could not read the store."""


class DuplicateCommand(ControlError, ValueError):
    """Two applications declare the same control command (at start-up)."""


# The errors of every command: an application's commands take this as
# their ``errors`` (and may add their own).
COMMAND_ERRORS = {
    UnknownSubscriber: b"UNKNOWN_SUBSCRIBER",
    InvalidImsi: b"INVALID_IMSI",
    NotServed: b"NOT_SERVED",
    StoreFailed: b"STORE_FAILED",
}


class TextArgument(amp.Unicode):
    """amp.Unicode whose missing or undecodable value is answered with the
    typed error ``error``.

    amp.Unicode raises KeyError or UnicodeDecodeError while the arguments
    are parsed, before the command's errors apply: AMP logs a traceback,
    answers "Unknown Error" and drops the connection.  A RemoteAmpError
    raised there is sent as it is.
    """

    def __init__(self, error, optional=False):
        amp.Unicode.__init__(self, optional)
        self.error = error

    def fromBox(self, name, strings, objects, proto):
        label = name.decode("ascii", "replace")
        if not self.optional and strings.get(name) is None:
            raise self._refuse(f"no {label} given")
        try:
            amp.Unicode.fromBox(self, name, strings, objects, proto)
        except UnicodeDecodeError as e:
            raise self._refuse(f"{label} is not UTF-8 text ({e.reason} at byte {e.start})") from None

    def _refuse(self, problem):
        return amp.RemoteAmpError(COMMAND_ERRORS[self.error], problem)
