"""Typed errors of pyhss.apps, under one root (:class:`ApplicationError`).

The errors of control-socket commands (:mod:`pyhss.apps.commands`) are
under it too, as :class:`~pyhss.apps.commands.ControlError`.
"""


class ApplicationError(Exception):
    """Base class of the errors of pyhss.apps."""


class ApplicationConfigError(ApplicationError, ValueError):
    """An application's option has a value it cannot work with, or two
    applications claim one application id or control command."""
