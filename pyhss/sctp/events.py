"""
What a connection does with each notification of its association: log it
(communication up, restart, peer address changes, shutdown, send
failures, errors from the peer) and keep its own state in step (streams
after a restart, the peer's addresses, a partial message the kernel will
not complete).
"""

from twisted.logger import Logger

from pyhss.sctp import wire

log = Logger(namespace="pyhss.sctp")


def _remote(connection):
    peer = connection.getPeer()
    return "?" if peer is None else "%s:%s" % (peer.host, peer.port)


def _association_change(connection, event):
    change = wire.AssociationChange
    if event.state == change.RESTART:
        # The peer restarted: its streams may differ now.
        connection.streams_changed(event.inbound_streams, event.outbound_streams)
        log.warn("SCTP association with {remote}: the peer restarted it ({streams})",
                 remote=_remote(connection), streams=event.describe())
    elif event.state in (change.COMMUNICATION_UP, change.SHUTDOWN_COMPLETE):
        log.info("SCTP association with {remote}: {what}",
                 remote=_remote(connection), what=event.describe())
    else:
        log.warn("SCTP association with {remote}: {what}",
                 remote=_remote(connection), what=event.describe())


def _peer_address_change(connection, event):
    connection.refresh_peer()
    log.info("SCTP association with {remote}: {what}",
             remote=_remote(connection), what=event.describe())


def _partial_delivery(connection, event):
    connection.drop_partial()
    log.warn("SCTP association with {remote}: {what}; the part received is dropped",
             remote=_remote(connection), what=event.describe())


def _shutdown(connection, event):
    log.info("SCTP association with {remote}: {what}",
             remote=_remote(connection), what=event.describe())


def _trouble(connection, event):
    log.warn("SCTP association with {remote}: {what}",
             remote=_remote(connection), what=event.describe())


def _other(connection, event):
    log.debug("SCTP association with {remote}: notification {event!r}",
              remote=_remote(connection), event=event)


HANDLERS = {
    wire.AssociationChange: _association_change,
    wire.PeerAddressChange: _peer_address_change,
    wire.PartialDelivery: _partial_delivery,
    wire.ShutdownEvent: _shutdown,
    wire.SendFailed: _trouble,
    wire.RemoteError: _trouble,
}


def handle(connection, notification):
    HANDLERS.get(type(notification), _other)(connection, notification)
