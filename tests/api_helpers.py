"""Helpers for the HTTP side: the site in memory, and requests over a real socket.

In memory: the API's twisted.web Site gets raw HTTP bytes over a
StringTransport (twisted's parser and our resources, no socket), on a
task.Clock; the answer is parsed with http.client.  Over a socket:
twisted.web's Agent with a connection pool (keep-alive), closed by the test.
"""

import http.client
import io
import json

from twisted.internet import defer, task
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.web.client import Agent, HTTPConnectionPool, readBody
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer
from zope.interface import implementer

from pyhss.api import link, tokens
from pyhss.api.site import build_site
from pyhss.apps.s6a import S6aApplication
from pyhss.config import Config
from pyhss.control import ControlLocator
from pyhss.node.stats import NodeStats, TimedOperations
from pyhss.tap import STORE_OPERATIONS
from pyhss.provisioning import Provisioning
from pyhss.storage.memory import MemoryStore
from tests.peer_helpers import make_node

K_HEX = "465B5CE8B199B49FAA5F0A2EE238A6BC"
OPC_HEX = "CD63CB71954A9F4E48A5994E37A02BAF"
OP_HEX = "CDC202D5123E20F62B6D676AC72CB318"
SECRETS = (K_HEX, OPC_HEX, OP_HEX)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:300]!r}>"


class _Socket:
    def __init__(self, data):
        self.file = io.BytesIO(data)

    def makefile(self, mode):
        return self.file


def parse_response(data):
    response = http.client.HTTPResponse(_Socket(data))
    response.begin()
    return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())


class InMemoryApi:
    """The site over a memory store, an S6a application on a node with
    stats, HTTP on the reactor (LocalServer); requests as raw bytes."""

    def __init__(self, test, token_path=None, loopback=True, config=None, store=None):
        self.clock = task.Clock()
        self.node = make_node(self.clock, applications=())
        self.node.stats = self.node.dispatcher.stats = NodeStats()
        self.store = TimedOperations(store or MemoryStore(), STORE_OPERATIONS, self.node.stats)
        self.app = S6aApplication(self.node, self.store, "001", "01")
        self.app.register()
        self.locator = ControlLocator([self.app], count=self.node.stats.control_request)
        self.server = link.LocalServer(self.locator, self.node)
        token_path = token_path or test.mktemp()
        self.token_file = tokens.TokenFile(token_path)
        self.authenticator = tokens.Authenticator(self.token_file, loopback, clock=self.clock.seconds)
        self.config = config or Config.default(api={"listen": "tcp:8080:interface=127.0.0.1", "process": "reactor",
                                                    "max_body": 4096})
        self.site = build_site(self.config, Provisioning(self.store, self.server), self.server.snapshot,
                               self.authenticator)
        self.site.reactor = self.clock

    def open(self):
        """A connection: (protocol, transport)."""
        protocol = self.site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
        transport = StringTransport(hostAddress=IPv4Address("TCP", "127.0.0.1", 8080),
                                    peerAddress=IPv4Address("TCP", "127.0.0.1", 40000))
        protocol.makeConnection(transport)
        return protocol, transport

    def send(self, method, path, body=None, token=None, headers=None, raw=None):
        """Send one request on a new connection; returns its transport."""
        protocol, transport = self.open()
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1:8080", "Connection: close"]
        data = b""
        if raw is not None:
            data = raw
            lines.append("Content-Type: application/json")
        elif body is not None:
            data = json.dumps(body).encode()
            lines.append("Content-Type: application/json")
        if token is not None:
            lines.append(f"Authorization: Bearer {token}")
        for name, value in (headers or {}).items():
            lines = [line for line in lines if not line.lower().startswith(name.lower() + ":")]
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(data)}")
        protocol.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        transport.protocol = protocol
        return transport

    def ask(self, method, path, body=None, token=None, headers=None, raw=None):
        """One request to a store that answers later (a database server):
        a Deferred of the Response, fired when the site closes the
        connection after answering ("Connection: close")."""
        transport = self.send(method, path, body, token, headers, raw)
        done = defer.Deferred()

        def check():
            if transport.disconnecting:
                done.callback(self.response(transport))
            else:
                transport.closed_later.append(check)
        transport.closed_later = []
        real_lose = transport.loseConnection

        def lose():
            real_lose()
            waiting, transport.closed_later = transport.closed_later, []
            for call in waiting:
                call()
        transport.loseConnection = lose
        check()
        return done

    def request(self, method, path, body=None, token=None, headers=None, raw=None):
        """One request answered at once (the memory store fires at once)."""
        transport = self.send(method, path, body, token, headers, raw)
        return self.response(transport)

    @staticmethod
    def response(transport):
        data = transport.value()
        if not data:
            raise AssertionError("no response yet")
        response = parse_response(data)
        transport.protocol.connectionLost(None)
        return response


@implementer(IBodyProducer)
class JsonBody:
    def __init__(self, value):
        self.data = json.dumps(value).encode()
        self.length = len(self.data)

    def startProducing(self, consumer):
        consumer.write(self.data)
        return defer.succeed(None)

    def pauseProducing(self):
        pass

    def stopProducing(self):
        pass


class HttpClient:
    """Requests over real sockets (keep-alive pool), JSON in and out."""

    def __init__(self, reactor, base, token=None, context_factory=None):
        self.pool = HTTPConnectionPool(reactor, persistent=True)
        if context_factory is not None:
            self.agent = Agent(reactor, contextFactory=context_factory, pool=self.pool)
        else:
            self.agent = Agent(reactor, pool=self.pool)
        self.base = base
        self.token = token

    @defer.inlineCallbacks
    def request(self, method, path, body=None, token=None):
        headers = Headers()
        token = token if token is not None else self.token
        if token:
            headers.addRawHeader(b"authorization", f"Bearer {token}".encode())
        if body is not None:
            headers.addRawHeader(b"content-type", b"application/json")
        response = yield self.agent.request(method.encode(), (self.base + path).encode(), headers,
                                            JsonBody(body) if body is not None else None)
        data = yield readBody(response)
        return Response(response.code, {k.decode().lower(): v[0].decode()
                                        for k, v in response.headers.getAllRawHeaders()}, data)

    def close(self):
        return self.pool.closeCachedConnections()
