"""
SCTP support on this system, for every user of SCTP (Diameter's listeners
and, later, the SS7 replay tools): nothing here knows Diameter.

L{unavailable_reason} says why SCTP cannot be used here, or C{None}.  The
reactor transport built on pysctp will live in this package.
"""

import socket

IPPROTO_SCTP = getattr(socket, "IPPROTO_SCTP", 132)


def unavailable_reason():
    """Why SCTP cannot be used here (no kernel support, no pysctp), or
    C{None} when both are there."""
    try:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_SCTP)
    except OSError as e:
        return ("the kernel has no SCTP support (%s); load the sctp module"
                " or use transports: [tcp]" % (e.strerror or e,))
    probe.close()
    try:
        import sctp  # noqa: F401  (pysctp)
    except ImportError:
        return "pysctp is not installed (pip install pysctp)"
    return None
