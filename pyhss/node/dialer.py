"""
The peers a node connects to itself (the config's C{hss.connect_peers}):
RFC 6733 section 5.2 has a node keep a connection to each statically
configured peer.  Each has a L{PeerDialer} that connects when the peer is
not connected by any means (the peer's own connection counts: the
election keeps one connection per Origin-Host), and after a failed attempt
or a lost connection connects again after a delay: C{reconnect_min}
seconds, doubled after each failure up to C{reconnect_max} (RFC 6733's
Tc), each with +-25% jitter so that peers restarted together do not
reconnect together.

A request for such a peer while it is not connected waits for the
connection (at most the request timeout) and starts an attempt at once
if one was waiting out its delay: the CLR or IDR that must go out now.
"""

from twisted.internet import defer
from twisted.logger import Logger

STOPPED = "stopped"
WAITING = "waiting"          # for the next attempt's time
CONNECTING = "connecting"
OPEN = "open"

# Jitter of each delay: from 75% to 125% of it.
JITTER = 0.25

log = Logger(namespace="pyhss.dialer")


class PeerNotConnected(Exception):
    """A request waited for a peer of connect_peers that did not connect."""


class PeerDialer(object):
    """
    Keeps one configured peer connected.

    @param connect: C{() -> Deferred} firing with the open
        L{pyhss.node.Peer} once an outgoing connection exchanged
        capabilities (L{pyhss.protocols.transport.connect_peer}).
    @ivar state: L{STOPPED}, L{WAITING}, L{CONNECTING} or L{OPEN}.
    @ivar failures: attempts failed since the last success.
    """

    def __init__(self, node, origin_host, connect, clock, reconnect_min, reconnect_max, rng,
                 describe=""):
        self.node = node
        self.origin_host = origin_host
        self.connect = connect
        self.clock = clock
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.rng = rng
        self.describe = describe        # "over sctp to 10.0.0.1:3868", for logs
        self.state = STOPPED
        self.failures = 0
        self._attempt = None            # the Deferred of the attempt under way
        self._retry = None
        self._waiters = []              # (Deferred, timeout call)
        self._last_cause = None

    def start(self):
        if self.state == STOPPED:
            self.state = WAITING
            self._try()

    def stop(self):
        self.state = STOPPED
        self._cancel_retry()
        attempt, self._attempt = self._attempt, None
        if attempt is not None:
            attempt.cancel()
        for waiter, call in self._waiters:
            call.cancel()
            waiter.errback(PeerNotConnected("%s: stopping" % (self.origin_host,)))
        self._waiters = []

    # --- attempts -------------------------------------------------------------------

    def _try(self):
        self._retry = None
        if self.state != WAITING:
            return
        if self.node.peer(self.origin_host) is not None:
            self.state = OPEN
            return
        self.state = CONNECTING
        log.info("connecting to {host} {how}", host=self.origin_host, how=self.describe)
        self._attempt = attempt = self.connect()
        attempt.addCallbacks(self._connected, self._failed)

    def _connected(self, peer):
        self._attempt = None
        if peer.origin_host.lower() != self.origin_host.lower():
            self._failed_because("it answered as %s" % (peer.origin_host,))
            peer.connection.disconnect()
            return
        self.failures = 0
        self._last_cause = None
        self.opened(peer)

    def _failed(self, reason):
        self._attempt = None
        if self.state == STOPPED:
            return None
        self._failed_because(reason.getErrorMessage())
        return None

    def _failed_because(self, cause):
        peer = self.node.peer(self.origin_host)
        if peer is not None:
            # Its own connection won the election meanwhile.
            self.opened(peer)
            return
        self.failures += 1
        delay = self._delay()
        if cause != self._last_cause:
            self._last_cause = cause        # one line per cause, not per attempt
            log.warn("connection to {host} {how} failed: {cause}; trying again in {delay:.1f} s"
                          " and then less often (up to every {most:g} s)", host=self.origin_host,
                          how=self.describe, cause=cause, delay=delay, most=self.reconnect_max)
        self._wait(delay)

    def _delay(self):
        base = min(self.reconnect_max,
                   self.reconnect_min * 2 ** min(max(self.failures - 1, 0), 32))
        return base * (1 - JITTER + 2 * JITTER * self.rng.random())

    def _wait(self, delay):
        self.state = WAITING
        self._cancel_retry()
        self._retry = self.clock.callLater(delay, self._try)

    def _cancel_retry(self):
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None

    # --- what the node tells -------------------------------------------------------------

    def opened(self, peer):
        """The peer is open (over our connection or its own)."""
        if self.state == STOPPED:
            return
        self._cancel_retry()
        self.state = OPEN
        waiters, self._waiters = self._waiters, []
        for waiter, call in waiters:
            call.cancel()
            waiter.callback(peer)

    def lost(self):
        """The peer's connection closed: connect again after a while."""
        if self.state in (STOPPED, CONNECTING):
            return
        self._wait(self._delay())

    def when_open(self, timeout):
        """A Deferred firing with the open peer, or failing with
        L{PeerNotConnected} after C{timeout} seconds."""
        peer = self.node.peer(self.origin_host)
        if peer is not None:
            return defer.succeed(peer)
        if self.state == STOPPED:
            return defer.fail(PeerNotConnected("%s is not connected" % (self.origin_host,)))
        waiter = defer.Deferred()
        call = self.clock.callLater(timeout, self._waited_too_long, waiter, timeout)
        self._waiters.append((waiter, call))
        if self.state == WAITING:
            self._cancel_retry()
            self._try()         # a request must go out: do not wait for the delay
        return waiter

    def _waited_too_long(self, waiter, timeout):
        self._waiters = [(d, call) for d, call in self._waiters if d is not waiter]
        cause = " (%s)" % (self._last_cause,) if self._last_cause else ""
        waiter.errback(PeerNotConnected("%s did not connect within %g s%s" % (
            self.origin_host, timeout, cause)))


class Dialers(dict):
    """Lower-cased Origin-Host -> L{PeerDialer}, and what the node tells
    them."""

    def add(self, dialer):
        self[dialer.origin_host.lower()] = dialer

    def start(self):
        for dialer in self.values():
            dialer.start()

    def stop(self):
        for dialer in self.values():
            dialer.stop()

    def opened(self, peer):
        dialer = self.get(peer.origin_host.lower())
        if dialer is not None:
            dialer.opened(peer)

    def lost(self, peer):
        dialer = self.get(peer.origin_host.lower())
        if dialer is not None:
            dialer.lost()
