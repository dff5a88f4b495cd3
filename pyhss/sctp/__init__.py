"""
SCTP for every user of it (Diameter's listeners and dialler, the SS7
replay tools): a reactor transport on pysctp one-to-one sockets that
knows nothing of Diameter.

 - L{unavailable_reason}: why SCTP cannot be used here, or C{None};
 - L{SctpOptions} (L{pyhss.sctp.options}): streams, RTO, heartbeat,
   retransmissions, default PPID and stream policy;
 - L{pyhss.sctp.port}: the listening port (L{listen_sctp});
 - L{pyhss.sctp.client}: outgoing associations (L{connect_sctp});
 - L{pyhss.sctp.endpoints}: Twisted endpoints and their string forms
   (C{sctp:3868:interface=127.0.0.1}, C{sctp:host=127.0.0.1:port=3868});
 - L{pyhss.sctp.connection} (with L{pyhss.sctp.sending} and
   L{pyhss.sctp.receiving}): the transport a protocol gets: Twisted's TCP
   transport plus C{write_message(data, stream, ppid)},
   C{outbound_streams} and C{inbound_streams}.  Each write is one SCTP
   message; a protocol providing L{ISCTPMessageReceiver} gets each whole
   incoming message with its stream and PPID, any other protocol gets
   C{dataReceived};
 - L{pyhss.sctp.wire}: the kernel's structures (send/receive information,
   notifications), L{pyhss.sctp.events} what is done with each
   notification, L{pyhss.sctp.mmsg} many messages per system call.

Tested against a real kernel stack inside user-mode Linux where the
machine's kernel has none (tests/uml.py, tests/test_sctp_uml.py).
"""

import socket

from zope.interface import Interface

from pyhss.sctp.options import SctpOptions  # noqa: F401 (re-exported)

IPPROTO_SCTP = getattr(socket, "IPPROTO_SCTP", 132)


class ISCTPMessageReceiver(Interface):
    """A protocol that wants whole SCTP messages with their stream and
    PPID instead of C{dataReceived}."""

    def message_received(data, stream, ppid):
        """One complete incoming message (bytes) on C{stream}, with
        Payload Protocol Identifier C{ppid}."""


def unavailable_reason():
    """Why SCTP cannot be used here (no kernel support, no pysctp), or
    C{None} when both are there: one line for any user of the package, who
    adds its own remedy (pyhss: C{transports: [tcp]})."""
    try:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_SCTP)
    except OSError as e:
        return "the kernel has no SCTP support (%s); load the sctp module" % (e.strerror or e,)
    probe.close()
    try:
        import sctp  # noqa: F401  (pysctp)
    except ImportError:
        return "pysctp is not installed (pip install pysctp)"
    return None
