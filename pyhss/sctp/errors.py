"""The one root of this package's errors."""

from twisted.internet import error


class SCTPError(Exception):
    """Something about SCTP went wrong."""


class MalformedNotification(SCTPError):
    """A notification from the kernel whose bytes do not fit its type."""


class AssociationLost(SCTPError, error.ConnectionLost):
    """The association ended other than by our close: the reason a
    protocol's C{connectionLost} gets (a subclass, so that the reactor
    passes it on with its message instead of a bare ConnectionLost)."""
