"""
Framers: from what a transport delivers to whole Diameter messages.

A framer has one method, C{messages(data)}, an iterator over the complete
messages that C{data} finishes, and raises L{FramingError} when the input
can no longer be framed (the connection must then be closed).  A consumer
that stops iterating early (it is closing) drops the rest.

L{StreamFramer} is for byte streams (TCP): messages are found by the
length in their header and may arrive split or several to a read.  A
transport that keeps message boundaries (SCTP) gets a framer of its own
beside it, with the same method.
"""

from pyhss.protocols import codec
from pyhss.protocols.errors import DecodeError, DiameterError


class FramingError(DiameterError):
    """The input cannot be framed into Diameter messages any more."""


class StreamFramer(object):
    """
    Messages out of a byte stream, each at most C{max_size} bytes.

    A partial message is kept in one buffer (a list of reads costs about 19
    bytes of objects per byte when a peer sends one byte at a time), never
    longer than C{max_size} plus one read.  A read holding only whole
    messages is framed without a copy.
    """

    def __init__(self, max_size):
        self.max_size = max_size
        self._partial = bytearray()
        self._needed = 0

    @property
    def buffered(self):
        """Bytes of a partial message held."""
        return len(self._partial)

    def partial_header(self):
        """The header of the message still arriving, once all of it is in."""
        partial = self._partial
        return bytes(partial[:20]) if len(partial) >= 20 else None

    def clear(self):
        self._partial = bytearray()
        self._needed = 0

    def messages(self, data):
        partial = self._partial
        if partial:
            partial += data
            if len(partial) < self._needed:
                return
            data = bytes(partial)
            del partial[:]
        end = len(data)
        offset = 0
        max_size = self.max_size
        peek = codec.peek_message_length
        while True:
            available = end - offset
            if available < 4:
                needed = 4
                break
            try:
                length = peek(data, offset)
            except DecodeError as e:
                raise FramingError("bad message header (%s)" % (e,)) from None
            if length > max_size:
                raise FramingError("message of %d bytes exceeds the limit of %d"
                                   % (length, max_size))
            if available < length:
                needed = length
                break
            if offset == 0 and length == end:
                message = data
            else:
                message = data[offset:offset + length]
            offset += length
            yield message
        if offset < end:
            self._partial += memoryview(data)[offset:]
            self._needed = needed
