"""
The peers a node has exchanged capabilities with: L{Peer} and the table of
them by Origin-Host (case-insensitive).
"""


class Peer(object):
    """
    A peer whose capabilities exchange succeeded.

    @ivar origin_host: its Origin-Host as announced.
    @ivar origin_realm: its Origin-Realm.
    @ivar applications: frozenset of application ids shared with us.
    @ivar announced: frozenset of application ids the peer announced
        (0xffffffff for a relay).
    @ivar connection: the L{DiameterProtocol} carrying it.
    @ivar connected_at: clock time of the capabilities exchange.
    """

    def __init__(self, origin_host, origin_realm, applications, announced,
                 connection, connected_at, host_ip_addresses=(), vendor_id=0,
                 product_name=None, origin_state_id=None):
        self.origin_host = origin_host
        self.origin_realm = origin_realm
        self.applications = applications
        self.announced = announced
        self.connection = connection
        self.connected_at = connected_at
        self.host_ip_addresses = host_ip_addresses
        self.vendor_id = vendor_id
        self.product_name = product_name
        self.origin_state_id = origin_state_id

    @property
    def state(self):
        return self.connection.state

    @property
    def counters(self):
        return self.connection.counters

    def __repr__(self):
        return "<Peer %s (%s) %s>" % (self.origin_host, self.origin_realm,
                                      self.state)


class PeerTable(dict):
    """Lower-cased Origin-Host -> L{Peer}, for the open connections."""

    def find(self, origin_host):
        """The open L{Peer} for C{origin_host} (any case), or C{None}."""
        return self.get(origin_host.lower())

    def opened(self, peer):
        self[peer.origin_host.lower()] = peer

    def lost(self, peer):
        """Forget C{peer}, unless another connection holds its name now."""
        key = peer.origin_host.lower()
        if self.get(key) is peer:
            del self[key]
