"""Every error ss7tools raises, under one root: :class:`Ss7ToolsError`.

Each class also keeps the built-in base it had before the root existed
(``ValueError`` for bad input or values, ``RuntimeError`` for a failed
worker), so ``except ValueError`` around the tools still works.  The layer
modules re-export their own error (``tcap.TcapError`` is the one here).

Two exceptions are signals, not errors, and stay outside the tree:
``pcapio.SkipPacket`` (a frame with nothing for the parser) and
``decoder.Deferred`` (a segment a worker hands back to the parent).
"""


class Ss7ToolsError(Exception):
    """Root of the errors of ss7tools."""


class DecodeError(Ss7ToolsError, ValueError):
    """Input that does not decode, at the layer the subclass names."""


class CaptureError(DecodeError):
    """The file is not a capture this reader handles, or is corrupt."""


class SctpError(DecodeError):
    """An SCTP packet or chunk is malformed; the text is the skip reason."""


class M3uaError(DecodeError):
    """The M3UA message is malformed."""


class M2paError(DecodeError):
    """The M2PA message or its MTP3 payload is malformed."""


class SccpError(DecodeError):
    """The SCCP message or a party address is malformed."""


class TcapError(DecodeError):
    """The TCAP message is malformed."""


class BerError(DecodeError):
    """Base class of BER decoding errors (the MAP layer's errors)."""


class EncodeError(Ss7ToolsError, ValueError):
    """A value does not fit the message being built."""


class SccpEncodeError(EncodeError):
    """A value does not fit the SCCP message format."""


class TcapEncodeError(EncodeError):
    """A TCAP/MAP value pycrate cannot encode."""


class TemplateError(EncodeError):
    """A message template could not be located reliably (sentinels collided)."""


class WorldError(Ss7ToolsError, ValueError):
    """The simulator's world description is invalid; the text names the field."""


class RowFormatError(Ss7ToolsError, ValueError):
    """The file is not a rows file ss7tools wrote."""


class SplitError(Ss7ToolsError, ValueError):
    """``split`` cannot split by the key asked for."""


class SortError(Ss7ToolsError):
    """``sort`` cannot sort the input as asked."""


class ParallelError(Ss7ToolsError, RuntimeError):
    """A worker process failed or went away."""


class ReplayError(Ss7ToolsError):
    """Base of the replay tools' errors (``twistd ss7replay``, ``send``,
    the UDP load tools, ``rate``)."""


class FramingError(ReplayError, ValueError):
    """A byte stream (TCP) does not hold a SIGTRAN message where one must
    start: bad version, a length out of bounds."""


class ReplayInputError(ReplayError, ValueError):
    """A capture, directory or option the replay cannot use; the text is
    the one line shown to the user."""


class EndpointError(ReplayError, ValueError):
    """An endpoint string that cannot be used here (SCTP unavailable,
    syntax); the text is the one line shown to the user."""
class DetectError(Ss7ToolsError, ValueError):
    """Detection cannot run as asked: its input, rules, network or model."""


class NetworkFileError(DetectError):
    """The network description is invalid; the text names the file and key."""


class RuleError(DetectError):
    """A rule file is invalid; the text names the file, the line and the problem."""


class ModelFileError(DetectError):
    """A model file is not one this version of ss7tools made, or was altered."""
