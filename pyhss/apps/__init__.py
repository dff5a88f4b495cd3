"""
Diameter applications served by pyhss.

L{APPLICATIONS} lists the application classes C{twistd pyhss} loads, in
order, by dotted name (importing this package imports none of them).
Each provides L{pyhss.apps.base.IApplication}, usually as a subclass of
L{pyhss.apps.base.DiameterApplication}, and builds itself with
C{from_config(node, store, config)} (None when configured off).  Serving S13 is one more line
here; L{pyhss.tap} and L{pyhss.control} need no change.

The node validates requests against the dictionary before calling a
handler and turns exceptions into DIAMETER_UNABLE_TO_COMPLY, so handlers
only implement their procedure.
"""

import importlib

from pyhss.apps.errors import ApplicationConfigError

APPLICATIONS = (
    "pyhss.apps.s6a.S6aApplication",
    "pyhss.apps.cx.CxApplication",
    "pyhss.apps.s13.S13Application",
)


def application_class(dotted_name):
    """The class named ``module.Class``."""
    module, _, name = dotted_name.rpartition(".")
    return getattr(importlib.import_module(module), name)


def load_applications(node, store, config, names=APPLICATIONS):
    """Build every application of ``names`` from ``config`` and register it
    with ``node``.

    @return: the applications, by Auth-Application-Id, in order (one
        whose ``from_config`` returned None, turned off, is left out).
    """
    applications = {}
    for dotted_name in names:
        application = application_class(dotted_name).from_config(node, store, config)
        if application is None:
            continue
        if application.application_id in applications:
            raise ApplicationConfigError(f"{dotted_name}: application {application.application_id} "
                                         f"is loaded twice")
        application.register()
        applications[application.application_id] = application
    return applications
