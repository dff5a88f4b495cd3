"""
The request kinds of bench/diameter_load.py, as a table: REQUEST_KINDS maps
the --request name to a L{RequestKind}.  A kind builds its request with the
codec once per variant; L{RequestTemplate} then patches the identifiers (and
a Session-Id counter) of the encoded bytes per send.
"""

import collections
import os
import struct

from pyhss.protocols import dictionary
from pyhss.protocols.codec import Message

APP_BASE = dictionary.APP_BASE
CMD_DWR = dictionary.CMD_DWR

_IDS = struct.Struct("!II")              # hop-by-hop, end-to-end at 12


class RequestKind(object):
    """
    A kind of request the load client can send.

    C{build(sequence)} returns a codec L{Message} (its hop-by-hop and
    end-to-end identifiers are overwritten per send).  C{variants} distinct
    sequence numbers are built up front and cycled through.  A kind that
    carries a Session-Id must include L{RequestKind.session_id} so the client
    can make each send's Session-Id unique by patching its counter digits.
    """

    name = None
    application_id = APP_BASE
    variants = 1
    # Applications announced in our CER, as (vendor_id, auth_application_id);
    # vendor_id 0 announces a plain Auth-Application-Id.
    cer_applications = ()

    # Width of the counter that is patched into Session-Ids.
    SESSION_COUNTER_DIGITS = 12

    def __init__(self, options, origin_host, origin_realm):
        self.options = options
        self.origin_host = origin_host
        self.origin_realm = origin_realm

    def session_id(self, sequence):
        return "%s;%d;%0*d" % (self.origin_host, os.getpid() & 0xFFFFFFFF,
                               self.SESSION_COUNTER_DIGITS, sequence)

    def build(self, sequence):
        raise NotImplementedError()


class DeviceWatchdogKind(RequestKind):
    """DWR: the cheapest request, answered by the base protocol layer."""

    name = "dwr"
    application_id = APP_BASE
    cer_applications = (
        (dictionary.VENDOR_3GPP, dictionary.APP_S6A),
        (dictionary.VENDOR_3GPP, dictionary.APP_CX),
        (dictionary.VENDOR_3GPP, dictionary.APP_S13),
        # Relay (RFC 6733 5.3) shares every application, so a server that
        # serves none of the above yet still accepts the CER.
        (0, dictionary.APP_RELAY),
    )

    def build(self, sequence):
        return Message.request(APP_BASE, CMD_DWR, proxiable=False).add(
            "Origin-Host", self.origin_host).add(
            "Origin-Realm", self.origin_realm)


# Issue 3 adds "air" and "ulr" here (random IMSIs from a provisioned range).
REQUEST_KINDS = collections.OrderedDict(
    (kind.name, kind) for kind in (DeviceWatchdogKind,))


class RequestTemplate(object):
    """
    One encoded request with the places that change per send: the
    hop-by-hop/end-to-end identifiers, and optionally the Session-Id counter.
    """

    __slots__ = ("buffer", "session_offset", "session_digits")

    def __init__(self, encoded, session_id=None, digits=0):
        self.buffer = bytearray(encoded)
        self.session_offset = None
        self.session_digits = digits
        if session_id is not None:
            marker = session_id.encode("utf-8")
            start = bytes(self.buffer).find(marker)
            if start < 0:
                raise ValueError("Session-Id not found in encoded request")
            self.session_offset = start + len(marker) - digits

    def render(self, hop_by_hop, end_to_end, session_counter):
        buffer = self.buffer
        _IDS.pack_into(buffer, 12, hop_by_hop, end_to_end)
        if self.session_offset is not None:
            digits = self.session_digits
            buffer[self.session_offset:self.session_offset + digits] = (
                b"%0*d" % (digits, session_counter % (10 ** digits)))
        return bytes(buffer)


def build_templates(kind):
    templates = []
    for sequence in range(kind.variants):
        message = kind.build(sequence)
        session = message.get("Session-Id")
        templates.append(RequestTemplate(
            message.encode(), session,
            kind.SESSION_COUNTER_DIGITS if session is not None else 0))
    return templates
