"""New pysctp one-to-one sockets: the address family for a set of
addresses, the options, and binding to several local addresses (bindx)."""

import ipaddress
import socket

from pyhss.sctp.options import configure


def is_address(host):
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def family_of(addresses):
    """AF_INET6 when any of C{addresses} is IPv6 (an IPv6 socket takes
    IPv4 addresses too), else AF_INET."""
    if any(ipaddress.ip_address(address).version == 6 for address in addresses):
        return socket.AF_INET6
    return socket.AF_INET


def new_socket(family, options):
    """A pysctp one-to-one socket with C{options} set."""
    import sctp     # pysctp
    sock = sctp.sctpsocket_tcp(family)
    try:
        configure(sock, options)
    except BaseException:
        sock.close()
        raise
    return sock


def for_family(address, family):
    """C{address} as C{family} sockets take it: an IPv4 address on an IPv6
    socket is written IPv4-mapped."""
    if family == socket.AF_INET6 and ipaddress.ip_address(address).version == 4:
        return "::ffff:" + address
    return address


def bind_all(sock, addresses, port):
    """Bind to every one of C{addresses} on C{port} (0: the one the first
    bind gets), the first with bind, the others with bindx."""
    addresses = [for_family(address, sock.family) for address in addresses]
    first, others = addresses[0], addresses[1:]
    sock.bind((first, port))
    if others:
        port = sock.getsockname()[1]
        sock.bindx([(address, port) for address in others])
