"""
Shared pieces of the peer/node tests: a node on a L{task.Clock}, a
responder connection on a L{StringTransport}, messages a peer would send,
and a reader for what we wrote.
"""

from twisted.internet import task
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from pyhss.node import DiameterNode, Timers
from pyhss.protocols import codec
from pyhss.protocols.dictionary import (
    APP_BASE, APP_S6A, CMD_CER, CMD_DPR, CMD_DWR, VENDOR_3GPP)
from pyhss.protocols.peer import DiameterProtocol, ROLE_RESPONDER

OUR_HOST = "hss.test.realm"
OUR_REALM = "test.realm"
PEER_HOST = "mme.test.realm"
PEER_REALM = "test.realm"

TIMERS = dict(watchdog=30.0, watchdog_timeout=10.0, cer_timeout=10.0,
              dpa_timeout=5.0, request_timeout=10.0)


def make_node(clock=None, applications=((APP_S6A, VENDOR_3GPP),), **kwargs):
    timers = dict(TIMERS)
    for name in list(kwargs):
        if name in timers:
            timers[name] = kwargs.pop(name)
    node = DiameterNode(OUR_HOST, OUR_REALM, clock or task.Clock(),
                        timers=Timers(**timers), origin_state_id=7,
                        watchdog_jitter=0, **kwargs)
    for application_id, vendor_id in applications:
        node.register_application(application_id, vendor_id)
    return node


def connect(node, role=ROLE_RESPONDER, peer=None):
    """A connection on a StringTransport; ``peer``: the (host, port) it
    comes from."""
    connection = DiameterProtocol(node, role)
    if peer is None:
        transport = StringTransport()
    else:
        transport = StringTransport(peerAddress=IPv4Address("TCP", *peer))
    connection.makeConnection(transport)
    return connection, transport


def cer(origin_host=PEER_HOST, origin_realm=PEER_REALM,
        vendor_specific=((VENDOR_3GPP, APP_S6A),), auth=(), hop_by_hop=1):
    message = codec.Message.request(APP_BASE, CMD_CER, hop_by_hop=hop_by_hop,
                                    end_to_end=11, proxiable=False)
    message.add("Origin-Host", origin_host).add("Origin-Realm", origin_realm)
    message.add("Host-IP-Address", "192.0.2.1").add("Vendor-Id", 0)
    message.add("Product-Name", "test-peer")
    for vendor_id, application_id in vendor_specific:
        message.add("Vendor-Specific-Application-Id", [
            ("Vendor-Id", vendor_id), ("Auth-Application-Id", application_id)])
    for application_id in auth:
        message.add("Auth-Application-Id", application_id)
    return message


def dwr(hop_by_hop=2, origin_host=PEER_HOST):
    message = codec.Message.request(APP_BASE, CMD_DWR, hop_by_hop=hop_by_hop,
                                    end_to_end=22, proxiable=False)
    if origin_host is not None:
        message.add("Origin-Host", origin_host)
    message.add("Origin-Realm", PEER_REALM)
    return message


def dpr(hop_by_hop=3, cause=0):
    return codec.Message.request(
        APP_BASE, CMD_DPR, hop_by_hop=hop_by_hop, end_to_end=33,
        proxiable=False).add("Origin-Host", PEER_HOST).add(
        "Origin-Realm", PEER_REALM).add("Disconnect-Cause", cause)


def read_messages(transport):
    """Decode and clear everything written to C{transport}."""
    data = transport.value()
    transport.clear()
    messages = []
    offset = 0
    while offset < len(data):
        length = codec.peek_message_length(data, offset)
        messages.append(codec.decode_message(data[offset:offset + length]))
        offset += length
    return messages


def open_connection(node, **cer_arguments):
    """A responder connection past a successful CER/CEA."""
    connection, transport = connect(node)
    connection.dataReceived(cer(**cer_arguments).encode())
    (cea,) = read_messages(transport)
    assert cea.get("Result-Code") == 2001, cea
    return connection, transport
