"""
Whom a node talks to: the judgement of a CER (responder) or CEA (initiator).

RFC 6733 5.3: the peer must pass the allow-list and share an application
with us (a relay, 0xffffffff, shares every one).  An Origin-Host that
already has an open connection loses the election (4003) on the new one:
RFC 6733 5.6.4's election only decides between a connection we initiated
and one we accepted at the same time; an HSS answers connections, and
keeping the established one means a peer cannot hijack a live session by
reconnecting.  A stale connection is cleared by the watchdog (at most Tw +
watchdog_timeout), after which the peer's reconnection succeeds.

A CER without Host-IP-Address (required by RFC 6733 5.3.1) is accepted and
logged once per Origin-Host: Kamailio 5.6's cdp leaves it out of about one
CER in six, and refusing those costs its CSCFs a reconnection every time.
"""

from twisted.logger import Logger

from pyhss.node.peers import Peer
from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import APP_RELAY, DICTIONARY

_HOST_IP_ADDRESS = DICTIONARY.avp("Host-IP-Address")
# Origin-Hosts already logged for a CER without Host-IP-Address (bounded).
_MAX_LOGGED = 1024

_APPLICATION_AVPS = ("Auth-Application-Id", "Acct-Application-Id")


def announced_applications(message):
    """The application ids a CER or CEA announces, vendor-specific or not."""
    announced = set()
    for name in _APPLICATION_AVPS:
        for avp in message.find_all(name):
            announced.add(avp.value)
    for group in message.find_all("Vendor-Specific-Application-Id"):
        for child in group.value:
            if child.name in _APPLICATION_AVPS:
                announced.add(child.value)
    return announced


class CapabilitiesPolicy(object):
    """
    @param applications: the node's application id -> vendor id (read at
        each judgement: applications may register after this is built).
    @param peers: the node's L{PeerTable}.
    @param clock: for the peer's C{connected_at}.
    @param allowed_peers: C{None} for everyone, else a callable
        C{(origin_host, origin_realm, source_address) -> bool}.
    """

    log = Logger(namespace="pyhss.node")

    def __init__(self, applications, peers, clock, allowed_peers=None):
        self._no_host_ip_logged = set()
        self.applications = applications
        self.peers = peers
        self.clock = clock
        self.allowed_peers = allowed_peers

    def _tolerated(self, message, problems):
        """``problems`` without a missing Host-IP-Address (logged once)."""
        kept = [p for p in problems if not (p[0] == results.DIAMETER_MISSING_AVP and p[1] is not None
                                            and p[1].definition is _HOST_IP_ADDRESS)]
        if len(kept) < len(problems):
            host = message.get("Origin-Host")
            if host not in self._no_host_ip_logged and len(self._no_host_ip_logged) < _MAX_LOGGED:
                self._no_host_ip_logged.add(host)
                self.log.info("{name} from {host} has no Host-IP-Address; accepted (logged once per peer)",
                              name=message.name, host=host)
        return kept

    def check(self, connection, message):
        """
        Judge a CER or CEA received on C{connection}.

        @return: C{(result_code, peer or None, reason)}.
        """
        problems = codec.validate(message)
        if problems:
            problems = self._tolerated(message, problems)
        if problems:
            code, avp = problems[0]
            return code, None, "invalid %s: %s %s" % (
                message.name, code, getattr(avp, "name", ""))
        origin_host = message.get("Origin-Host")
        origin_realm = message.get("Origin-Realm")
        if self.allowed_peers is not None and not self.allowed_peers(
                origin_host, origin_realm, connection.remote_host):
            return (results.DIAMETER_UNKNOWN_PEER, None,
                    "peer %s (realm %s) is not allowed from %s" % (
                        origin_host, origin_realm, connection.remote_host))
        announced = announced_applications(message)
        ours = set(self.applications)
        relay = APP_RELAY in announced or APP_RELAY in ours
        if APP_RELAY in announced:
            common = ours - {APP_RELAY}
        elif APP_RELAY in ours:
            common = set(announced)
        else:
            common = ours & announced
        if not common and not relay:
            return (results.DIAMETER_NO_COMMON_APPLICATION, None,
                    "no common application (peer announced %s, we serve %s)"
                    % (sorted(announced), sorted(ours)))
        existing = self.peers.find(origin_host)
        if existing is not None and existing.connection is not connection:
            return (results.ELECTION_LOST, None,
                    "%s already has an open connection" % (origin_host,))
        peer = Peer(
            origin_host, origin_realm, frozenset(common), frozenset(announced),
            connection, self.clock.seconds(),
            tuple(avp.value for avp in message.find_all("Host-IP-Address")),
            message.get("Vendor-Id", 0), message.get("Product-Name"),
            message.get("Origin-State-Id"))
        return results.DIAMETER_SUCCESS, peer, None
