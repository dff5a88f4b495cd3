"""
Requests a node sent and waits answers for: hop-by-hop identifier ->
Deferred, with a timeout.  The one place hop-by-hop and end-to-end
identifiers are made (RFC 6733 3: hop-by-hop unique among our requests in
flight, end-to-end with the low bits of the start time in its high bits).
"""

import itertools
import time

from twisted.internet import defer
from twisted.python import failure


class RequestTimeout(Exception):
    """No answer to a request we sent within request_timeout."""


class PeerDisconnected(Exception):
    """The connection closed before the answer to our request arrived."""


class PendingRequests(object):
    """
    @param clock: an C{IReactorTime}.
    @param rng: a C{random.Random} for the first identifiers.
    """

    def __init__(self, clock, rng):
        self.clock = clock
        self._entries = {}          # hop-by-hop -> (Deferred, connection, call)
        self._hop_by_hop = itertools.count(rng.getrandbits(32))
        self._end_to_end = itertools.count(
            ((int(time.time()) & 0xFFF) << 20) | rng.getrandbits(20))

    def __len__(self):
        return len(self._entries)

    def next_hop_by_hop(self):
        return next(self._hop_by_hop) & 0xFFFFFFFF

    def next_end_to_end(self):
        return next(self._end_to_end) & 0xFFFFFFFF

    def expect(self, connection, message, timeout):
        """
        Give C{message} (a request about to be sent on C{connection}) a
        free hop-by-hop identifier (and an end-to-end one unless set).

        @return: a Deferred firing with the answer, or failing with
            L{RequestTimeout} after C{timeout} seconds or
            L{PeerDisconnected}.
        """
        hop_by_hop = self.next_hop_by_hop()
        while hop_by_hop in self._entries:
            hop_by_hop = self.next_hop_by_hop()
        message.hop_by_hop = hop_by_hop
        if not message.end_to_end:
            message.end_to_end = self.next_end_to_end()
        d = defer.Deferred()
        call = self.clock.callLater(timeout, self._timed_out, hop_by_hop, timeout)
        self._entries[hop_by_hop] = (d, connection, call)
        return d

    def forget(self, hop_by_hop):
        """The request could not be sent: no answer to wait for."""
        d, _, call = self._entries.pop(hop_by_hop)
        call.cancel()

    def answered(self, connection, answer):
        """
        Hand C{answer} to the request it answers.

        @return: C{False} when no request on C{connection} has its
            hop-by-hop identifier.
        """
        entry = self._entries.get(answer.hop_by_hop)
        if entry is None or entry[1] is not connection:
            return False
        del self._entries[answer.hop_by_hop]
        d, _, call = entry
        if call.active():
            call.cancel()
        d.callback(answer)
        return True

    def connection_lost(self, connection):
        """Fail every request waiting on C{connection}."""
        if not self._entries:
            return
        for hop_by_hop, (d, owner, call) in list(self._entries.items()):
            if owner is connection:
                del self._entries[hop_by_hop]
                if call.active():
                    call.cancel()
                d.errback(failure.Failure(PeerDisconnected(
                    "connection to %s closed before the answer" % (
                        connection.name,))))

    def _timed_out(self, hop_by_hop, timeout):
        d, connection, _ = self._entries.pop(hop_by_hop)
        d.errback(failure.Failure(RequestTimeout(
            "no answer from %s within %ss (hop-by-hop %#x)" % (
                connection.name, timeout, hop_by_hop))))
