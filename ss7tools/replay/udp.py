"""The UDP load tools: ``ss7tools udp-load`` (a generator of many numbered
clients) and ``ss7tools udp-server`` (a sink that counts per client).

Every datagram carries :data:`MAGIC`, a 16-octet client id (8 random
octets of the generator's run, then the client's number), the datagram's
number in its client (from 0) and its send time.  A client's last datagram
has the FIN flag and, as its number, how many it sent.  A client lives
until the run ends, or, with ``--churn P``, for a random time (exponential,
P ends per client-second) after which it sends its FIN and a new client
with a new id takes its place, so that N are always alive.  The sink
counts per client the datagrams received, lost (sent by the FIN's count,
or up to the highest number seen when the FIN is missing, and not
received) and reordered (arrived after a higher number).  Everything runs
on one reactor; the generator paces its clients with one timer
(:class:`~ss7tools.replay.schedule.Pacer`).
"""

import os
import random
import socket
import struct
from collections import OrderedDict

from twisted.internet import defer
from twisted.internet.protocol import DatagramProtocol

from .schedule import Pacer

MAGIC = b"S7UL"
VERSION = 1
FLAG_FIN = 1
_HEADER = struct.Struct("!4sBB16sQd")
HEADER_SIZE = _HEADER.size
DEFAULT_SIZE = 64
MAX_SIZE = 65507
#: Clients the sink keeps apart; datagrams of more are counted, not kept.
MAX_TRACKED_CLIENTS = 100000


#: The receive buffer a sink asks for (the kernel caps it at net.core.rmem_max):
#: a burst must wait in it while the reactor is busy elsewhere.
RECEIVE_BUFFER = 4 * 1024 * 1024


def enlarge_receive_buffer(port, size=RECEIVE_BUFFER):
    """Ask for a receive buffer of ``size`` octets on a listening UDP port;
    the size granted (the kernel doubles and caps what is asked)."""
    sock = port.socket
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    except OSError:
        pass
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


def datagram(client_id, number, sent_at, fin=False, size=DEFAULT_SIZE):
    head = _HEADER.pack(MAGIC, VERSION, FLAG_FIN if fin else 0, client_id, number, sent_at)
    return head + b"\0" * max(0, size - len(head))


def parse(data):
    """``(client_id, number, sent_at, fin)`` or None for a foreign datagram."""
    if len(data) < HEADER_SIZE:
        return None
    magic, version, flags, client_id, number, sent_at = _HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        return None
    return client_id, number, sent_at, bool(flags & FLAG_FIN)


def client_name(client_id):
    return client_id.hex()


class ClientCount:
    """What the sink knows of one client."""

    __slots__ = ("received", "highest", "reordered", "fin_total")

    def __init__(self):
        self.received = 0
        self.highest = -1
        self.reordered = 0
        self.fin_total = None

    @property
    def expected(self):
        return self.fin_total if self.fin_total is not None else self.highest + 1

    @property
    def lost(self):
        return max(0, self.expected - self.received)

    def as_dict(self):
        return {"received": self.received, "lost": self.lost, "reordered": self.reordered,
                "finished": self.fin_total is not None}


class UdpSink(DatagramProtocol):
    """``ss7tools udp-server``: counts datagrams per client id.

    ``on_fin(client_id)`` (optional) is called at each client's FIN.
    """

    def __init__(self, on_fin=None, max_clients=MAX_TRACKED_CLIENTS):
        self.clients = OrderedDict()
        self.foreign = 0
        self.untracked = 0
        self.on_fin = on_fin
        self.max_clients = max_clients

    def datagramReceived(self, data, addr):
        parsed = parse(data)
        if parsed is None:
            self.foreign += 1
            return
        client_id, number, _sent_at, fin = parsed
        count = self.clients.get(client_id)
        if count is None:
            if len(self.clients) >= self.max_clients:
                self.untracked += 1
                return
            count = self.clients[client_id] = ClientCount()
        if fin:
            count.fin_total = number
            if self.on_fin is not None:
                self.on_fin(client_id)
            return
        count.received += 1
        if number < count.highest:
            count.reordered += 1
        else:
            count.highest = number

    def report(self):
        clients = {client_name(cid): count.as_dict() for cid, count in self.clients.items()}
        totals = {"clients": len(clients),
                  "finished": sum(1 for c in clients.values() if c["finished"]),
                  "received": sum(c["received"] for c in clients.values()),
                  "lost": sum(c["lost"] for c in clients.values()),
                  "reordered": sum(c["reordered"] for c in clients.values()),
                  "foreign": self.foreign, "untracked": self.untracked}
        return {"clients": clients, "total": totals}


def format_sink_report(report, per_client=True):
    lines = []
    if per_client:
        for name, count in report["clients"].items():
            lines.append("%s received %d lost %d reordered %d%s" % (
                name, count["received"], count["lost"], count["reordered"],
                "" if count["finished"] else " (no FIN yet)"))
    total = report["total"]
    lines.append("total: %d clients (%d finished), received %d, lost %d, reordered %d,"
                 " foreign %d" % (total["clients"], total["finished"], total["received"],
                                  total["lost"], total["reordered"], total["foreign"]))
    return lines


class LoadClient:
    """One generated client: its id, schedule and count (a Pacer sender)."""

    def __init__(self, load, client_id, start, end):
        self.load = load
        self.client_id = client_id
        self.start = start
        self.end = end          # when it leaves (churn or the run's end)
        self.sent = 0

    def fire(self, now):
        load = self.load
        interval = 1.0 / load.rate
        while True:
            due = self.start + self.sent * interval
            if due > now:
                return due
            if due >= self.end:
                load.client_ended(self, due)
                return None
            load.send(datagram(self.client_id, self.sent, due, size=load.size))
            self.sent += 1


class UdpLoad(DatagramProtocol):
    """``ss7tools udp-load``: ``clients`` clients of ``rate`` datagrams/s
    each for ``duration`` seconds to ``address`` (host, port).

    ``run()`` returns a Deferred that fires with the generator's report once
    every client has sent its FIN.
    """

    def __init__(self, clock, address, clients, rate, duration, churn=0.0, size=DEFAULT_SIZE,
                 seed=None):
        if clients < 1 or rate <= 0 or duration <= 0 or churn < 0:
            raise ValueError("clients, rate and duration must be positive, churn not negative")
        self.clock = clock
        self.address = address
        self.clients = clients
        self.rate = rate
        self.duration = duration
        self.churn = churn
        self.size = max(HEADER_SIZE, min(size, MAX_SIZE))
        self.random = random.Random(seed)
        self.run_id = os.urandom(8) if seed is None else self.random.getrandbits(64).to_bytes(8, "big")
        self.pacer = Pacer(clock)
        self.numbers = 0
        self.alive = 0
        self.finished = []
        self.send_errors = 0
        self._done = defer.Deferred()
        self._end = None

    def run(self):
        now = self.clock.seconds()
        self._end = now + self.duration
        for _ in range(self.clients):
            self._new_client(now)
        return self._done

    def _new_client(self, start):
        self.numbers += 1
        client_id = self.run_id + self.numbers.to_bytes(8, "big")
        end = self._end
        if self.churn > 0:
            end = min(end, start + self.random.expovariate(self.churn))
        client = LoadClient(self, client_id, start, end)
        self.alive += 1
        self.pacer.add(client, start)

    def send(self, data):
        try:
            self.transport.write(data, self.address)
        except OSError:
            # a full socket buffer: the datagram is lost, and counted so
            self.send_errors += 1

    def client_ended(self, client, when):
        self.send(datagram(client.client_id, client.sent, when, fin=True, size=self.size))
        self.alive -= 1
        self.finished.append(client)
        if when < self._end:
            self._new_client(when)
        elif self.alive == 0 and not self._done.called:
            self.pacer.close()
            self._done.callback(self.report())

    def report(self):
        clients = {client_name(c.client_id): {"sent": c.sent} for c in self.finished}
        return {"clients": clients,
                "total": {"clients": len(clients), "sent": sum(c.sent for c in self.finished),
                          "send_errors": self.send_errors}}
