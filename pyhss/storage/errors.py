"""Typed errors every store adapter raises (through its Deferreds)."""


class StoreError(Exception):
    """Base class: the store could not do what was asked."""


class DuplicateError(StoreError):
    """A record with this key already exists."""


class NotFoundError(StoreError):
    """No record with this key."""


class InUseError(StoreError):
    """The record is referenced by others and cannot be deleted."""


class ValidationError(StoreError, ValueError):
    """A record or a change has a bad value (wrong length, range, unknown APN...).

    ``field`` names the record's field when one is at fault (None for a
    problem of the whole record), ``problem`` says what is wrong with it;
    ``str()`` is the one-line message.
    """

    def __init__(self, message, field=None, problem=None):
        StoreError.__init__(self, message)
        self.field = field
        self.problem = problem if problem is not None else message


class StoreUnavailable(StoreError):
    """The store is not open (it failed to open, or is being reopened)."""
