"""
Which accepted connections a node keeps while they have not sent a CER.

A connection that never sends its CER holds a slot for cer_timeout seconds;
enough of them would lock every new MME out.  So connections that are not
open yet are counted apart, with their own limit and a limit per source
address, and when a limit is reached the oldest of them is closed to make
room (a real peer sends its CER within milliseconds of connecting, so the
oldest unopened connection is the one least likely to be a peer).  A new
connection is refused only when every slot holds an open peer.

Sans-IO: it decides and keeps counts; the transport closes what it names.
"""

import collections


class Admission(object):
    """
    @param max_connections: connections at once, open or not.
    @param max_unopened: connections at once that have not completed the
        capabilities exchange.
    @param max_unopened_per_address: the same, per source address.
    """

    def __init__(self, max_connections, max_unopened, max_unopened_per_address):
        self.max_connections = max_connections
        self.max_unopened = max_unopened
        self.max_unopened_per_address = max_unopened_per_address
        self.total = 0
        self._unopened = collections.OrderedDict()   # connection -> address
        self._per_address = collections.Counter()
        self._evicted = set()

    @property
    def unopened(self):
        return len(self._unopened)

    def unopened_from(self, address):
        return self._per_address[address]

    def admit(self, address):
        """
        Judge a new connection from C{address}.

        @return: C{(accept, evict)}: whether to accept it, and the unopened
            connections to close now to make room for it (already forgotten
            here).
        """
        evict = []
        if self._per_address[address] >= self.max_unopened_per_address:
            evict.append(self._oldest(address))
        elif len(self._unopened) >= self.max_unopened:
            evict.append(self._oldest())
        if self.total - len(evict) >= self.max_connections:
            if len(self._unopened) > len(evict):
                evict.append(self._oldest(exclude=evict))
            else:
                return False, self._forget(evict)
        return True, self._forget(evict)

    def added(self, connection, address):
        """An accepted connection, not open yet."""
        self.total += 1
        self._unopened[connection] = address
        self._per_address[address] += 1

    def opened(self, connection):
        """Its capabilities exchange succeeded."""
        address = self._unopened.pop(connection, None)
        if address is not None:
            self._drop_address(address)

    def removed(self, connection):
        """The connection is gone."""
        if connection in self._evicted:
            self._evicted.discard(connection)
            return
        self.opened(connection)
        self.total -= 1

    def _oldest(self, address=None, exclude=()):
        for connection, where in self._unopened.items():
            if (address is None or where == address) and connection not in exclude:
                return connection
        raise LookupError(address)

    def _forget(self, connections):
        for connection in connections:
            self.opened(connection)
            self.total -= 1
            self._evicted.add(connection)
        return connections

    def _drop_address(self, address):
        count = self._per_address[address] - 1
        if count:
            self._per_address[address] = count
        else:
            del self._per_address[address]
