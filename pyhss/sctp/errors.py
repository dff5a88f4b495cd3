"""The one root of this package's errors."""


class SCTPError(Exception):
    """Something about SCTP went wrong."""


class MalformedNotification(SCTPError):
    """A notification from the kernel whose bytes do not fit its type."""
