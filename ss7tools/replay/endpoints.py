"""Endpoints from strings, through Twisted's endpoint parser: ``tcp:2905``,
``tcp:2905:interface=127.0.0.1``, ``sctp:2905:interface=127.0.0.1``
(servers); ``tcp:host=127.0.0.1:port=2905`` or the short
``tcp:127.0.0.1:2905`` / ``sctp:[::1]:2905`` (clients), which may be
followed by keywords (``sctp:127.0.0.1:2905:streams=17``).

SCTP endpoints come from the shared SCTP transport's parser plugins
(``pyhss.sctp``: every :class:`~pyhss.sctp.SctpOptions` field is a
keyword).  Without ``streams=`` the replay's SCTP endpoints ask for
:data:`DEFAULT_SCTP_STREAMS` (the transport's default is 10, fewer than
M3UA's usual stream per SLS value: a capture replayed on them would lose
its streams).  Asking for SCTP on a host whose kernel has none is one
:class:`EndpointError` line.
"""

import re

from twisted.internet.endpoints import clientFromString, serverFromString

from pyhss.sctp import unavailable_reason
from ss7tools.errors import EndpointError

_SHORT_CLIENT = re.compile(r"^(?P<kind>[A-Za-z0-9]+):(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:=\[\]]+))"
                           r":(?P<port>\d+)(?P<keywords>:[A-Za-z_][A-Za-z0-9_]*=.*)?$")
_STREAMS_KEYWORD = re.compile(r"(^|[^\\]):streams=")

#: Streams asked for (outbound) and accepted (inbound) by the replay's SCTP
#: endpoints unless the string says ``streams=``: stream 0 for management
#: and one per SLS value (8 bits in ANSI, 4 in ITU: M3UA stacks commonly
#: put each SLS on its own stream).  The association gets the smaller of
#: what both ends ask and accept.
DEFAULT_SCTP_STREAMS = 257


def kind(description):
    return description.split(":", 1)[0].lower()


def sctp_refusal(description):
    """The line refusing an ``sctp:`` endpoint here, or None."""
    if kind(description) != "sctp":
        return None
    reason = unavailable_reason()
    if reason is not None:
        return "%s: SCTP cannot be used on this host: %s" % (description, reason)
    return None


def client_description(description):
    """Twisted's client syntax for the short ``KIND:HOST:PORT`` form."""
    match = _SHORT_CLIENT.match(description)
    if match is None:
        return description
    host = match.group("v6")
    if host is not None:
        host = host.replace(":", "\\:")
    else:
        host = match.group("host")
    return "%s:host=%s:port=%s%s" % (match.group("kind"), host, match.group("port"),
                                     match.group("keywords") or "")


def with_default_streams(description):
    """An ``sctp:`` description with ``streams=`` added when it has none."""
    if kind(description) != "sctp" or _STREAMS_KEYWORD.search(description):
        return description
    return "%s:streams=%d" % (description, DEFAULT_SCTP_STREAMS)


def _parse(parse, reactor, description, original):
    refusal = sctp_refusal(description)
    if refusal is not None:
        raise EndpointError(refusal)
    try:
        return parse(reactor, description)
    except (ValueError, TypeError, KeyError) as exc:
        text = str(exc)
        if kind(description) == "sctp" and "Unknown endpoint type" in text:
            text = ("no SCTP endpoint parser in this build (the SCTP transport of"
                    " pyhss.sctp is not installed)")
        raise EndpointError("%s: %s" % (original, text)) from None


def server_endpoint(reactor, description):
    return _parse(serverFromString, reactor, with_default_streams(description), description)


def client_endpoint(reactor, description):
    return _parse(clientFromString, reactor,
                  with_default_streams(client_description(description)), description)
