"""
Diameter applications served by pyhss.

Each application module exposes C{register(node, store, config)}, which calls
C{node.register_application(application_id, vendor_id, handlers={command:
handler})}; a handler is C{handler(request, peer)} returning an answer
Message or a Deferred of one (C{node.answer(request, result_code)} builds the
answer with our Origin-Host/Origin-Realm).  The node validates requests
against the dictionary before calling a handler and turns exceptions into
DIAMETER_UNABLE_TO_COMPLY, so handlers only implement their procedure.

L{APP_MODULES} lists the modules C{twistd pyhss} loads, in order (Cx and
S13 join S6a here when they are built).
"""

import importlib

APP_MODULES = ("pyhss.apps.s6a",)


def load_applications(node, store, config, modules=None, registered=None):
    """Import every application module and let it register with C{node}.

    @param registered: a dict to fill with what each module's C{register}
        returned (the application object), by module name; the control
        socket reaches the S6a application through it.
    @return: the imported modules.
    """
    loaded = []
    for name in APP_MODULES if modules is None else modules:
        module = importlib.import_module(name)
        application = module.register(node, store, config)
        if registered is not None:
            registered[name] = application
        loaded.append(module)
    return loaded
