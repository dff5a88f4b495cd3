"""
Flow control of a peer connection: when we stop reading its peer.

The connection is registered with its transport as a streaming producer:
the transport pauses it while more than C{max_write_buffer} bytes of our
answers wait for the peer to read them, and resumes it once they are
written.  The node pauses it too while as many of its requests as it allows
are in handlers.  Reading stops while either holds; a peer whose writes
stay stuck for C{write_stall_timeout} seconds is dropped.
"""

from pyhss.protocols.peer_machine import CLOSED

# Why the connection is not reading its peer.
WRITES_STUCK = "writes"
HANDLERS_BUSY = "busy"


class FlowControl(object):
    """IPushProducer for the transport, and the node's pause; the
    connection provides C{settings}, C{transport}, C{state}, C{name},
    C{remote}, C{log}, C{abort} and C{_not_reading}, a set."""

    @property
    def reading(self):
        """False while flow control keeps us from reading the peer."""
        return not self._not_reading

    def pauseProducing(self):
        if WRITES_STUCK in self._not_reading or self.state == CLOSED:
            return
        self._stop_reading(WRITES_STUCK)
        self._stall_call = self.settings.clock.callLater(
            self.settings.write_stall_timeout, self._write_stalled)

    def resumeProducing(self):
        if WRITES_STUCK not in self._not_reading:
            return
        self._cancel("_stall_call")
        self._resume_reading(WRITES_STUCK)

    def stopProducing(self):
        pass

    def pause_reading(self):
        """The node has as many of our requests in hand as it allows."""
        self._stop_reading(HANDLERS_BUSY)

    def resume_reading(self):
        self._resume_reading(HANDLERS_BUSY)

    def _stop_reading(self, why):
        if not self._not_reading and self.state != CLOSED:
            self.transport.pauseProducing()
        self._not_reading.add(why)

    def _resume_reading(self, why):
        if why not in self._not_reading:
            return
        self._not_reading.discard(why)
        if not self._not_reading and self.state != CLOSED:
            self.transport.resumeProducing()

    def _write_stalled(self):
        self._stall_call = None
        self.log.warn(
            "dropping {peer} ({remote}): it read none of our last {n} bytes"
            " of answers in {t}s (limits.write_stall_timeout)",
            peer=self.name, remote=self.remote,
            n=self.settings.max_write_buffer, t=self.settings.write_stall_timeout)
        self.abort()
