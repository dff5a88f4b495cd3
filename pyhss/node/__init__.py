"""
The Diameter node: the controller behind every peer connection.

A connection (L{pyhss.protocols.peer.DiameterProtocol}) frames bytes and
runs the peer state machine; it reaches its node through a few calls (the
twisted.names way: protocols frame bytes, the controller decides):
C{connection_made}, C{check_capabilities}, C{peer_opened},
C{peer_closing}, C{dispatch}, C{answer_received} and C{connection_lost},
and reads the node's C{settings} and C{messages}.

The node is built from small parts, each its own module here:

 - L{messages}: our identity and the base-protocol messages built from it
   (CER/CEA, DWR/DWA, DPR, answers and error answers);
 - L{capabilities}: whom we talk to (allow-list, common applications, the
   election of a second connection from an open Origin-Host);
 - L{peers}: the peer table, lower-cased Origin-Host -> L{Peer};
 - L{dispatch}: requests to the applications' handlers, and their answers;
 - L{pending}: the requests we sent, matched to their answers by
   hop-by-hop identifier with a timeout (the only source of identifiers);
 - L{admission}: which accepted connections are kept before their CER;
 - L{stats}: what is counted for metrics (when the node has C{stats}).
 - L{dialer}: the peers we connect to ourselves, kept connected.

The node itself holds them together, sends requests to named peers and
disconnects every peer with DPR on L{DiameterNode.stop}.
"""

import random
import time

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python import failure

from pyhss import logsetup
from pyhss.node.admission import Admission
from pyhss.node.capabilities import CapabilitiesPolicy
from pyhss.node.dialer import Dialers, PeerDialer, PeerNotConnected
from pyhss.node.dispatch import Dispatcher
from pyhss.node.messages import BaseMessages, Identity
from pyhss.node.peers import Peer, PeerTable
from pyhss.node.pending import PeerDisconnected, PendingRequests, RequestTimeout
from pyhss.node.stats import NO_ANSWER_DISCONNECTED, NO_ANSWER_NOT_SENT, NO_ANSWER_TIMEOUT, NodeStats
from pyhss.protocols.peer import CLOSING, OPEN, ROLE_RESPONDER

__all__ = ["DiameterNode", "Peer", "PeerDialer", "PeerDisconnected", "PeerNotConnected",
           "RequestTimeout", "Settings", "Timers", "UnknownPeer"]

_DEFAULT_WATCHDOG_JITTER = 2.0


class UnknownPeer(Exception):
    """send_request to an Origin-Host that has no open connection."""


class Timers(object):
    """Timer values in seconds (the C{timers} section of the config)."""

    def __init__(self, watchdog=30.0, watchdog_timeout=10.0, cer_timeout=10.0,
                 dpa_timeout=5.0, request_timeout=10.0):
        self.watchdog = watchdog
        self.watchdog_timeout = watchdog_timeout
        self.cer_timeout = cer_timeout
        self.dpa_timeout = dpa_timeout
        self.request_timeout = request_timeout


class Settings(object):
    """
    What every connection of a node reads: clock, timers and limits.

    @param watchdog_jitter: RFC 3539 jitter amplitude in seconds, capped at
        a tenth of Tw (0 makes the watchdog exact, for tests).
    """

    def __init__(self, clock, timers, rng, max_message_size=65536,
                 max_avp_depth=16, max_write_buffer=65536,
                 write_stall_timeout=30.0,
                 watchdog_jitter=_DEFAULT_WATCHDOG_JITTER, debug=False):
        self.clock = clock
        self.timers = timers
        self.max_message_size = max_message_size
        self.max_avp_depth = max_avp_depth
        self.max_write_buffer = max_write_buffer
        self.write_stall_timeout = write_stall_timeout
        self.debug = debug
        self._random = rng
        self.jitter = min(watchdog_jitter, timers.watchdog / 10.0)

    def watchdog_interval(self):
        """Tw with RFC 3539 jitter."""
        if self.jitter:
            return self.timers.watchdog + self._random.uniform(
                -self.jitter, self.jitter)
        return self.timers.watchdog


class DiameterNode(object):
    """
    Our Diameter identity and the controller of every connection.

    @param clock: an L{IReactorTime} (the reactor, or L{task.Clock} in tests).
    @param allowed_peers: C{None}/empty for everyone, else a callable
        C{(origin_host, origin_realm, source_address) -> bool}.
    @param watchdog_jitter: see L{Settings}.
    @param stats: a L{NodeStats} counting requests, answers and latency for
        metrics, or None (nothing counted).
    """

    log = Logger(namespace="pyhss.node")

    def __init__(self, origin_host, origin_realm, clock, product_name="pyhss",
                 vendor_id=0, timers=None, max_message_size=65536,
                 max_avp_depth=16, max_pending_requests=1024,
                 max_connections=1024, max_unopened_connections=256,
                 max_unopened_per_address=64, max_write_buffer=65536,
                 write_stall_timeout=30.0, allowed_peers=None,
                 origin_state_id=None, watchdog_jitter=_DEFAULT_WATCHDOG_JITTER,
                 debug=False, rng=None, stats=None):
        rng = rng if rng is not None else random.Random()
        self.stats = stats
        self.clock = clock
        self.rng = rng                  # jitter of timers (watchdog, reconnection)
        self.settings = Settings(
            clock, timers if timers is not None else Timers(), rng,
            max_message_size, max_avp_depth, max_write_buffer,
            write_stall_timeout, watchdog_jitter, debug)
        self.identity = Identity(
            origin_host, origin_realm, product_name, vendor_id,
            int(time.time()) if origin_state_id is None else origin_state_id)
        self.applications = {}          # application id -> vendor id
        self.connections = set()
        self.peers = PeerTable()
        self.pending = PendingRequests(clock, rng)
        self.messages = BaseMessages(self.identity, self.applications, self.pending)
        self.capabilities = CapabilitiesPolicy(
            self.applications, self.peers, clock, allowed_peers)
        self.dispatcher = Dispatcher(self.messages, self.applications,
                                     max_pending_requests, self.log_summary, self.settings, stats)
        self.admission = Admission(max_connections, max_unopened_connections,
                                   max_unopened_per_address)
        self.dialers = Dialers()        # peers we connect to, by lower-cased name
        self._summaries = {}            # log namespace -> LogSummariser
        self._stopping = False

    @classmethod
    def from_config(cls, config, clock, **overrides):
        """A node for a L{pyhss.config.Config}."""
        hss, limits = config.hss, config.limits
        timers = Timers(**{name: getattr(config.timers, name) for name in (
            "watchdog", "watchdog_timeout", "cer_timeout", "dpa_timeout",
            "request_timeout")})
        arguments = dict(
            origin_host=hss.origin_host, origin_realm=hss.origin_realm,
            clock=clock, product_name=hss.product_name,
            vendor_id=hss.vendor_id, timers=timers,
            max_message_size=limits.max_message_size,
            max_avp_depth=limits.max_avp_depth,
            max_pending_requests=limits.max_pending_requests,
            max_connections=limits.max_connections,
            max_unopened_connections=limits.max_unopened_connections,
            max_unopened_per_address=limits.max_unopened_per_address,
            max_write_buffer=limits.max_write_buffer,
            write_stall_timeout=limits.write_stall_timeout,
            allowed_peers=(hss.peer_allowed if hss.allowed_peers else None),
            debug=config.logging.level == "debug",
            stats=NodeStats() if config.metrics.enabled else None)
        arguments.update(overrides)
        return cls(**arguments)

    # --- identity, settings and parts, by their old names ----------------------------

    @property
    def origin_host(self):
        return self.identity.origin_host

    @property
    def origin_realm(self):
        return self.identity.origin_realm

    @property
    def origin_state_id(self):
        return self.identity.origin_state_id

    @property
    def timers(self):
        return self.settings.timers

    @property
    def debug(self):
        return self.settings.debug

    @property
    def handlers(self):
        return self.dispatcher.handlers

    @property
    def allowed_peers(self):
        return self.capabilities.allowed_peers

    @allowed_peers.setter
    def allowed_peers(self, allowed):
        self.capabilities.allowed_peers = allowed

    def answer(self, request, result_code=None):
        """The answer to C{request} with our Origin-Host and Origin-Realm."""
        return self.messages.answer(request, result_code)

    def origin_avps(self):
        return self.messages.origin_avps()

    def error_answer(self, request, result_code, failed_avps=(), error_message=None):
        return self.messages.error_answer(request, result_code, failed_avps, error_message)

    def peer(self, origin_host):
        """The open L{Peer} for C{origin_host} (case-insensitive) or None."""
        return self.peers.find(origin_host)

    def register_application(self, application_id, vendor_id=0, handlers=None):
        """
        Serve an application: advertise it in CER/CEA (as
        Vendor-Specific-Application-Id when C{vendor_id} is set) and dispatch
        its requests, C{handlers} mapping command code -> C{fn(message, peer)}
        returning an answer Message or a Deferred of one.
        """
        self.dispatcher.register(application_id, vendor_id, handlers)

    def log_summary(self, log):
        """
        The L{logsetup.LogSummariser} for C{log} (by namespace) on this
        node's clock: a flood of one warning or failure, from this node or
        its connections, is counted, not logged each time.
        """
        summary = self._summaries.get(log.namespace)
        if summary is None:
            summary = self._summaries[log.namespace] = \
                logsetup.LogSummariser(log, self.clock)
        return summary

    # --- what connections call ---------------------------------------------------------

    def connection_made(self, connection):
        self.connections.add(connection)
        if connection.role == ROLE_RESPONDER:
            self.admission.added(connection, connection.remote_host)
        if self._stopping:
            connection.close()

    def check_capabilities(self, connection, message):
        """Judge a CER or CEA: C{(result_code, peer or None, reason)}."""
        return self.capabilities.check(connection, message)

    def peer_opened(self, connection, peer):
        self.peers.opened(peer)
        self.admission.opened(connection)
        self.dialers.opened(peer)
        self.log.info("peer {host} ({realm}) open on {remote} over {transport},"
                      " applications {apps}", host=peer.origin_host,
                      realm=peer.origin_realm, remote=connection.remote,
                      transport=connection.transport_name,
                      apps=sorted(peer.applications))

    def peer_closing(self, connection):
        pass

    def dispatch(self, connection, request):
        self.dispatcher.dispatch(connection, request)

    def answer_received(self, connection, answer):
        """An answer that is not CEA/DWA/DPA: match it to our request."""
        if not self.pending.answered(connection, answer):
            name = connection.name
            self.log_summary(self.log).warn(
                ("unknown hop-by-hop", name),
                "{peer}: dropping {name} with unknown hop-by-hop {hbh:#x}",
                peer=name, name=answer.name, hbh=answer.hop_by_hop)
        elif self.settings.debug:
            self.log.debug("{peer} -> {name} hbh={hbh:#x} (answer)",
                           peer=connection.name, name=answer.name,
                           hbh=answer.hop_by_hop)

    def connection_lost(self, connection, reason):
        self.connections.discard(connection)
        if connection.role == ROLE_RESPONDER:
            self.admission.removed(connection)
        self.dispatcher.connection_lost(connection)
        peer = connection.peer
        if self.stats is not None and connection.counters["watchdog_failures"]:
            self.stats.watchdog_failed(connection.name)
        if peer is not None:
            self.peers.lost(peer)
            self.log.info("peer {host} disconnected ({why})",
                          host=peer.origin_host, why=reason.getErrorMessage())
            if self.peers.find(peer.origin_host) is None and not self._stopping:
                self.dialers.lost(peer)
        self.pending.connection_lost(connection)

    # --- requests we send -----------------------------------------------------------

    def send_request(self, peer_origin_host, message, timeout=None):
        """
        Send C{message} (a request) to the named peer.

        Hop-by-hop and end-to-end identifiers are assigned here (an
        end-to-end id already set is kept).

        A peer of C{hss.connect_peers} that is not connected is waited for
        (L{PeerDialer.when_open}, at most the request timeout).

        @return: L{Deferred} firing with the answer Message, or failing with
            L{UnknownPeer}, L{PeerNotConnected}, L{RequestTimeout} or
            L{PeerDisconnected}.
        """
        peer = self.peers.find(peer_origin_host)
        if peer is None or peer.connection.state != OPEN:
            dialer = self.dialers.get(peer_origin_host.lower())
            if dialer is None or self._stopping:
                return self._not_sent(message, UnknownPeer(
                    "no open connection to %s" % (peer_origin_host,)))
            waited = dialer.when_open(self.timers.request_timeout if timeout is None else timeout)
            return waited.addCallbacks(lambda opened: self._send_request(opened, message, timeout),
                                       lambda reason: self._not_sent(message, reason))
        return self._send_request(peer, message, timeout)

    def _not_sent(self, message, reason):
        """A failed Deferred of C{reason} (an exception or a Failure), counted as not sent."""
        if self.stats is not None:
            self.stats.request_sent(message.application_id, message.command_code, NO_ANSWER_NOT_SENT)
        return defer.fail(reason)

    def _send_request(self, peer, message, timeout):
        if peer.connection.state != OPEN:
            return self._not_sent(message, UnknownPeer("no open connection to %s" % (peer.origin_host,)))
        connection = peer.connection
        d = self.pending.expect(
            connection, message,
            self.timers.request_timeout if timeout is None else timeout)
        if self.settings.debug:
            self.log.debug("{peer} <- {name} hbh={hbh:#x} (request)",
                           peer=peer.origin_host, name=message.name,
                           hbh=message.hop_by_hop)
        try:
            connection.send_request(message)
        except Exception:
            self.pending.forget(message.hop_by_hop)
            return defer.fail()
        if self.stats is not None:
            d.addBoth(self._count_sent, message.application_id, message.command_code)
        return d

    def _count_sent(self, result, application_id, command_code):
        if isinstance(result, failure.Failure):
            why = NO_ANSWER_TIMEOUT if result.check(RequestTimeout) else NO_ANSWER_DISCONNECTED
        else:
            why = result.result_code
        self.stats.request_sent(application_id, command_code, why)
        return result

    def metrics_snapshot(self):
        """The counters (L{NodeStats.snapshot}) and the connections now, as
        JSON-able data; None when the node counts nothing."""
        if self.stats is None:
            return None
        snapshot = self.stats.snapshot()
        snapshot["connections"] = [
            {"peer": connection.peer.origin_host if connection.peer is not None else None,
             "realm": connection.peer.origin_realm if connection.peer is not None else None,
             "remote": connection.remote, "state": connection.state, "role": connection.role}
            for connection in self.connections]
        snapshot["origin_host"] = self.origin_host
        return snapshot

    # --- shutdown -----------------------------------------------------------------------

    def stop(self, cause=0):
        """
        Send DPR (Disconnect-Cause REBOOTING by default) to every open peer,
        close connections still in the capabilities exchange.

        @return: L{Deferred} firing once every connection is closed (each
            waits at most dpa_timeout for the DPA, then the close).
        """
        self._stopping = True
        self.dialers.stop()
        for summary in self._summaries.values():
            summary.flush()
        waits = []
        for connection in list(self.connections):
            if connection.state == CLOSING:
                waits.append(connection.when_closed())
            else:
                waits.append(connection.disconnect(cause))
        return defer.DeferredList(waits, consumeErrors=True).addCallback(
            lambda _: None)
