"""Typed exceptions of the Diameter codec.

Every decoding problem raises a subclass of :class:`DecodeError`.  Each carries
the RFC 6733 result code an answer should report (``None`` when the only sane
reaction is to close the connection, because the framing cannot be trusted)
and, where one AVP is to blame, the bytes of that AVP as received
(``failed_avp``) for the Failed-AVP of the answer.
"""


class DiameterError(Exception):
    """Base class of every error raised by the Diameter codec."""


class DecodeError(DiameterError):
    """Bytes that are not a well formed Diameter message."""

    default_result_code = None
    # decode_message sets this to the message header (a Message without
    # AVPs) once the header could be read, so an error answer can be built.
    header = None

    def __init__(self, reason, result_code=None, failed_avp=None):
        DiameterError.__init__(self, reason)
        self.reason = reason
        self.result_code = (self.default_result_code
                            if result_code is None else result_code)
        self.failed_avp = failed_avp

    def __repr__(self):
        return '%s(%r, result_code=%r, failed_avp=%r)' % (
            type(self).__name__, self.reason, self.result_code,
            self.failed_avp)


class TruncatedMessage(DecodeError):
    """Fewer bytes than the header or the message length announce."""


class InvalidHeader(DecodeError):
    """Version is not 1, reserved/inconsistent flag bits, or a length that
    cannot frame a message (DIAMETER_INVALID_HDR_BITS)."""

    default_result_code = 3008


class MessageTooLarge(DecodeError):
    """The message length exceeds the configured maximum; the connection
    should be closed because the rest of the stream cannot be framed."""


class InvalidMessageLength(DecodeError):
    """DIAMETER_INVALID_MESSAGE_LENGTH: header length and content disagree."""

    default_result_code = 5015


class InvalidAvpLength(DecodeError):
    """DIAMETER_INVALID_AVP_LENGTH: AVP shorter than its header, running past
    its container, or of the wrong size for its type."""

    default_result_code = 5014


class InvalidAvpValue(DecodeError):
    """DIAMETER_INVALID_AVP_VALUE: right size, impossible content
    (e.g. a UTF8String that is not UTF-8)."""

    default_result_code = 5004


class InvalidAvpBits(DecodeError):
    """DIAMETER_INVALID_AVP_BITS: AVP flags inconsistent with the AVP."""

    default_result_code = 3009


class NestingTooDeep(DecodeError):
    """Grouped AVPs nested deeper than the configured limit."""

    default_result_code = 5014


class InvalidPadding(DecodeError):
    """Padding after an AVP that is not zero, or padding that is missing."""

    default_result_code = 5014


class EncodeError(DiameterError):
    """A value that does not fit the type of its AVP."""
