"""An SCTP endpoint's address: a host and port like TCP's, plus every
address of a multi-homed endpoint."""

import attr
from zope.interface import implementer
from twisted.internet.interfaces import IAddress


@implementer(IAddress)
@attr.s(frozen=True, slots=True)
class SCTPAddress(object):
    """
    @ivar host: the primary address (the one TCP-minded code reads).
    @ivar port: the SCTP port.
    @ivar addresses: every address of the endpoint, the primary first.
    @ivar type: C{"SCTP"}, as Twisted's addresses name their transport.
    """

    host = attr.ib()
    port = attr.ib()
    addresses = attr.ib(default=(), converter=tuple)
    type = "SCTP"

    @classmethod
    def of(cls, primary, pairs=()):
        """From a C{(host, port)} pair and the C{(host, port)} pairs of
        every address (getladdrs/getpaddrs)."""
        host, port = primary[0], primary[1]
        others = [pair[0] for pair in pairs if pair[0] != host]
        return cls(host, port, [host] + others)

    @classmethod
    def read(cls, primary, every):
        """From a socket's calls: C{primary()} (getsockname, getpeername)
        and C{every()} (getladdrs, getpaddrs; its failure leaves the
        primary alone)."""
        first = primary()
        try:
            pairs = every()
        except OSError:
            pairs = ()
        return cls.of((_plain(first[0]), first[1]), [(_plain(pair[0]),) + tuple(pair[1:]) for pair in pairs])


def _plain(host):
    """An IPv4-mapped IPv6 address as plain IPv4."""
    return host[7:] if host.startswith("::ffff:") else host
