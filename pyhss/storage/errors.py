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
    """A record or a change has a bad value (wrong length, range, unknown APN...)."""


class StoreUnavailable(StoreError):
    """The store is not open (it failed to open, or is being reopened)."""
