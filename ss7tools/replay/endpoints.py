"""Endpoints from strings, through Twisted's endpoint parser: ``tcp:2905``,
``tcp:2905:interface=127.0.0.1``, ``sctp:2905:interface=127.0.0.1``
(servers); ``tcp:host=127.0.0.1:port=2905`` or the short
``tcp:127.0.0.1:2905`` / ``sctp:[::1]:2905`` (clients).

SCTP endpoints come from the shared SCTP transport's parser plugins
(``pyhss.sctp``); asking for SCTP on a host whose kernel has none, or in a
build without that transport, is one :class:`EndpointError` line.
"""

import re

from twisted.internet.endpoints import clientFromString, serverFromString

from pyhss.sctp import unavailable_reason
from ss7tools.errors import EndpointError

_SHORT_CLIENT = re.compile(r"^(?P<kind>[A-Za-z0-9]+):(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:=\[\]]+))"
                           r":(?P<port>\d+)$")


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
    return "%s:host=%s:port=%s" % (match.group("kind"), host, match.group("port"))


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
    return _parse(serverFromString, reactor, description, description)


def client_endpoint(reactor, description):
    return _parse(clientFromString, reactor, client_description(description), description)
