"""
Shared helpers for the interoperability tests: reactor-driven waiting,
free ports, a minimal pcap writer with synthetic Ethernet/IPv4/TCP framing,
a tshark runner and a freeDiameter configuration writer.
"""

import os
import shutil
import socket
import struct
import subprocess
import tempfile

from twisted.internet import defer, protocol, task

# --- waiting without blocking the reactor ----------------------------------


class ConditionTimeout(AssertionError):
    """A condition polled by L{wait_until} did not hold in time."""


@defer.inlineCallbacks
def wait_until(predicate, timeout, description, clock=None, interval=0.05):
    """
    Poll C{predicate()} every C{interval} seconds on the reactor until it
    returns a true value, and fire with that value.  Fails with
    L{ConditionTimeout} naming C{description} after C{timeout} seconds.
    """
    if clock is None:
        from twisted.internet import reactor as clock
    deadline = clock.seconds() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if clock.seconds() >= deadline:
            raise ConditionTimeout(
                "timed out after %ss waiting for %s" % (timeout, description))
        yield task.deferLater(clock, interval, lambda: None)


@defer.inlineCallbacks
def wait_or_fail(testcase, predicate, timeout, description, explain):
    """L{wait_until}, failing C{testcase} on a timeout with what
    C{explain()} tells (the peer's output) after the reason."""
    try:
        value = yield wait_until(predicate, timeout, description)
    except ConditionTimeout as failure:
        testcase.fail("%s\n%s" % (failure, explain()))
    return value


def free_tcp_port(host="127.0.0.1"):
    """
    A TCP port nothing listens on right now.  Only for programs we cannot
    hand a socket or port 0 to (freeDiameterd, twistd); there is a short
    race until they bind it.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


# --- pcap ------------------------------------------------------------------

_PCAP_GLOBAL_HEADER = struct.Struct("<IHHiIII")
_PCAP_RECORD_HEADER = struct.Struct("<IIII")
_ETHERNET = struct.Struct("!6s6sH")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIBBHHH")
_PSEUDO = struct.Struct("!4s4sBBH")

PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
ETHERTYPE_IPV4 = 0x0800
IPPROTO_TCP = 6

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_PSH = 0x08
TCP_ACK = 0x10


def internet_checksum(data):
    """RFC 1071 one's complement sum over C{data}."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class TcpPcapWriter(object):
    """
    Write one TCP connection as a classic pcap file: a three-way handshake,
    then data segments with consistent sequence and acknowledgement numbers
    in both directions (so tshark's TCP analysis has nothing to warn about),
    then a FIN exchange on L{close}.

    The "client" side is the peer that connected; the "server" side is the
    Diameter node under test on C{server_port}.
    """

    CLIENT_MAC = b"\x02\x00\x00\x00\x00\x01"
    SERVER_MAC = b"\x02\x00\x00\x00\x00\x02"

    def __init__(self, path, client=("10.0.0.1", 40000),
                 server=("10.0.0.2", 3868), start_time=1700000000.0):
        self._file = open(path, "wb")
        self._file.write(_PCAP_GLOBAL_HEADER.pack(
            PCAP_MAGIC, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        self._endpoints = {
            "client": (socket.inet_aton(client[0]), client[1],
                       self.CLIENT_MAC),
            "server": (socket.inet_aton(server[0]), server[1],
                       self.SERVER_MAC),
        }
        self._next_seq = {"client": 1000, "server": 500000}
        self._time = start_time
        self._ip_id = 1
        self.packets = 0
        self._handshake()

    def _other(self, side):
        return "server" if side == "client" else "client"

    def _segment(self, side, flags, payload=b""):
        other = self._other(side)
        src_ip, src_port, src_mac = self._endpoints[side]
        dst_ip, dst_port, dst_mac = self._endpoints[other]
        seq = self._next_seq[side]
        ack = self._next_seq[other] if flags & TCP_ACK else 0
        header = _TCP.pack(src_port, dst_port, seq, ack, 5 << 4, flags,
                           65535, 0, 0)
        checksum = internet_checksum(
            _PSEUDO.pack(src_ip, dst_ip, 0, IPPROTO_TCP,
                         len(header) + len(payload)) + header + payload)
        header = header[:16] + struct.pack("!H", checksum) + header[18:]
        total_length = _IPV4.size + len(header) + len(payload)
        ip = _IPV4.pack(0x45, 0, total_length, self._ip_id & 0xFFFF, 0x4000,
                        64, IPPROTO_TCP, 0, src_ip, dst_ip)
        ip = ip[:10] + struct.pack("!H", internet_checksum(ip)) + ip[12:]
        self._ip_id += 1
        frame = _ETHERNET.pack(dst_mac, src_mac, ETHERTYPE_IPV4) + ip \
            + header + payload
        self._time += 0.001
        seconds = int(self._time)
        micros = int(round((self._time - seconds) * 1e6)) % 1000000
        self._file.write(_PCAP_RECORD_HEADER.pack(
            seconds, micros, len(frame), len(frame)))
        self._file.write(frame)
        self.packets += 1
        advance = len(payload) + (1 if flags & (TCP_SYN | TCP_FIN) else 0)
        self._next_seq[side] = (seq + advance) & 0xFFFFFFFF

    def _handshake(self):
        self._segment("client", TCP_SYN)
        self._segment("server", TCP_SYN | TCP_ACK)
        self._segment("client", TCP_ACK)

    def send(self, side, payload):
        """One data segment from C{side} ("client" or "server")."""
        if side not in self._endpoints:
            raise ValueError("side must be 'client' or 'server': %r" % (side,))
        if not payload:
            return
        self._segment(side, TCP_PSH | TCP_ACK, payload)
        # Acknowledge it at once so every byte is seen as acknowledged.
        self._segment(self._other(side), TCP_ACK)

    def close(self):
        self._segment("client", TCP_FIN | TCP_ACK)
        self._segment("server", TCP_FIN | TCP_ACK)
        self._segment("client", TCP_ACK)
        self._file.close()


def split_diameter_messages(data):
    """
    Split a byte stream into whole Diameter messages by their 24-bit length
    field; trailing bytes of an incomplete message are returned separately.
    """
    messages = []
    offset = 0
    while len(data) - offset >= 4:
        length = struct.unpack_from("!I", data, offset)[0] & 0xFFFFFF
        if length < 20 or len(data) - offset < length:
            break
        messages.append(data[offset:offset + length])
        offset += length
    return messages, data[offset:]


# --- tshark ----------------------------------------------------------------

TSHARK = shutil.which("tshark")
FREEDIAMETERD = shutil.which("freeDiameterd")

# Fields, in this order, printed per frame by tshark_fields.  Multiple
# occurrences within one frame are separated by "|".
TSHARK_FIELDS = (
    "frame.number",
    "tcp.srcport",
    "diameter.cmd.code",
    "diameter.flags.request",
    "diameter.flags.error",
    "diameter.applicationId",
    "diameter.hopbyhopid",
    "diameter.avp.code",
    "diameter.Result-Code",
    "_ws.malformed",
    "_ws.expert.severity",
    "_ws.expert.message",
)


def _run_tshark(command, check):
    """Run tshark with an empty configuration directory of its own (kept
    away from a user profile that might change dissection), removed when
    tshark is done: nothing is left in the system temporary directory."""
    with tempfile.TemporaryDirectory(prefix="pyhss-tshark-profile-") as empty:
        env = dict(os.environ, WIRESHARK_CONFIG_DIR=empty)
        return subprocess.run(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, timeout=60, check=check)


def tshark_fields(pcap_path, display_filter=None, decode_port=3868,
                  check_checksums=True):
    """
    Run tshark over C{pcap_path} and return one dict per frame, mapping each
    of L{TSHARK_FIELDS} to a list of strings.  Checksums are verified for
    synthetic captures; live loopback captures carry offloaded (unfilled)
    checksums, so pass C{check_checksums=False} for those.
    """
    checksums = "TRUE" if check_checksums else "FALSE"
    command = [
        TSHARK, "-n", "-r", pcap_path,
        "-o", "tcp.desegment_tcp_streams:TRUE",
        "-o", "tcp.check_checksum:" + checksums,
        "-o", "ip.check_checksum:" + checksums,
        "-d", "tcp.port==%d,diameter" % (decode_port,),
        "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
        "-E", "aggregator=|",
    ]
    for field in TSHARK_FIELDS:
        command += ["-e", field]
    if display_filter:
        command += ["-Y", display_filter]
    output = _run_tshark(command, check=True).stdout
    frames = []
    for line in output.decode("utf-8", "replace").splitlines():
        columns = line.split("\t")
        columns += [""] * (len(TSHARK_FIELDS) - len(columns))
        frames.append({
            name: (value.split("|") if value else [])
            for name, value in zip(TSHARK_FIELDS, columns)})
    return frames


def tshark_verbose(pcap_path, decode_port=3868, frames=None):
    """The C{tshark -V} dissection (of C{frames} only, when given: a list
    of frame numbers), for failure messages."""
    command = [TSHARK, "-n", "-r", pcap_path, "-V",
               "-d", "tcp.port==%d,diameter" % (decode_port,)]
    if frames:
        command += ["-Y", "frame.number in {%s}" % (
            " ".join(str(number) for number in frames),)]
    return _run_tshark(command, check=False).stdout.decode("utf-8", "replace")


# --- freeDiameter ------------------------------------------------------------

FREEDIAMETER_CONFIG = """\
# Written by pyhss's interop tests: a {transport} client, no TLS, no listener.
Identity = "{identity}";
Realm = "{realm}";
Port = 0;          # no listener
SecPort = 0;       # no TLS listener either
{only}
No_IPv6;
ListenOn = "127.0.0.1";
TcTimer = {tc_timer};
TwTimer = {tw_timer};
"""

FREEDIAMETER_PEER = (
    'ConnectPeer = "{host}" {{ ConnectTo = "{address}"; Port = {port};'
    ' No_TLS; {only} }};\n')
# What keeps freeDiameterd to one transport, globally and per peer.
_ONLY = {"tcp": "No_SCTP;", "sctp": "No_TCP;"}


def freediameter_config(identity, realm, peers, tw_timer=6, tc_timer=1,
                        relay=True, transport="tcp"):
    """
    A freeDiameterd configuration for a client that connects over plain
    TCP (or SCTP, C{transport="sctp"}) to each of C{peers}, a list of
    (Diameter identity, address, port).
    freeDiameter's Relay function stays on, so its CER announces
    Auth-Application-Id 0xffffffff (Relay): the one way a dictionary-less
    freeDiameterd shares an application with us.  TwTimer below 6 is
    refused by freeDiameter (RFC 3539 minimum).  With C{relay=False} its
    CER announces no application at all.
    """
    text = FREEDIAMETER_CONFIG.format(
        identity=identity, realm=realm, tw_timer=tw_timer, tc_timer=tc_timer,
        transport=transport.upper(), only=_ONLY[transport])
    if not relay:
        text += "NoRelay;\n"
    for host, address, port in peers:
        text += FREEDIAMETER_PEER.format(host=host, address=address,
                                         port=port, only=_ONLY[transport])
    return text


# --- a recording Diameter client ------------------------------------------------


class RecordingDiameterClient(protocol.Protocol):
    """
    A Diameter peer for tests that records every byte both ways, in order,
    as C{transcript}: a list of ("client" | "server", message bytes), one
    entry per whole Diameter message.

    C{request(message)} sends a codec message and fires with the decoded
    answer.  Requests from the server are answered automatically: DWR with
    DWA, DPR with DPA (both 2001); they are kept in C{server_requests}.
    """

    def __init__(self, origin_host, origin_realm):
        self.origin_host = origin_host
        self.origin_realm = origin_realm
        self.transcript = []
        self.server_requests = []
        self.waiting = {}
        self.made = defer.Deferred()
        self.lost = defer.Deferred()
        self._buffer = b""
        self._next_id = 0x10000000

    def connectionMade(self):
        self.made.callback(self)

    def next_id(self):
        self._next_id += 1
        return self._next_id

    def send_raw(self, data):
        """Write bytes as they are (they must be whole messages)."""
        messages, rest = split_diameter_messages(data)
        if rest:
            raise ValueError("send_raw wants whole Diameter messages")
        for message in messages:
            self.transcript.append(("client", message))
        self.transport.write(data)

    def request(self, message):
        """Send C{message} (ids assigned here); fire with the answer."""
        message.hop_by_hop = message.end_to_end = self.next_id()
        return self.request_raw(message.encode(), message.hop_by_hop)

    def request_raw(self, data, hop_by_hop):
        waiter = self.waiting[hop_by_hop] = defer.Deferred()
        self.send_raw(data)
        return waiter

    def dataReceived(self, data):
        from pyhss.protocols.codec import decode_message
        messages, self._buffer = split_diameter_messages(self._buffer + data)
        for raw in messages:
            self.transcript.append(("server", raw))
            message = decode_message(raw)
            if message.is_request:
                self.server_requests.append(message)
                answer = message.answer(2001)
                answer.add("Origin-Host", self.origin_host)
                answer.add("Origin-Realm", self.origin_realm)
                self.send_raw(answer.encode())
                continue
            waiter = self.waiting.pop(message.hop_by_hop, None)
            if waiter is not None:
                waiter.callback(message)

    def connectionLost(self, reason):
        for waiter in self.waiting.values():
            waiter.errback(reason)
        self.waiting.clear()
        self.lost.callback(None)


def write_transcript_pcap(path, transcript, server_port=3868):
    """Write a transcript as one synthetic TCP connection to server_port."""
    writer = TcpPcapWriter(path, server=("10.0.0.2", server_port))
    for side, message in transcript:
        writer.send(side, message)
    writer.close()
    return writer.packets


# freeDiameter logs this (at -dd) once a peer's state machine moved to
# STATE_WAITCEA: after it wrote its CER *and* pointed the connection's
# receiver at the peer's event queue (p_ce.c to_waitcea: set_peer_cnx, then
# fd_psm_change_state, which logs).
FREEDIAMETER_WAITCEA = "-> 'STATE_WAITCEA'"


class StoppableProcess(protocol.ProcessProtocol):
    """A peer process (freeDiameterd, Kamailio) stopped the same way: its
    subclass sets C{ended} (a Deferred fired by processEnded) and
    C{running}."""

    @defer.inlineCallbacks
    def stop(self, reactor, timeout=5.0):
        """SIGTERM, then SIGKILL after C{timeout}; fires when it is gone."""
        if not self.running:
            return
        try:
            self.transport.signalProcess("TERM")
        except Exception:
            pass
        killer = reactor.callLater(timeout, self._kill)
        yield self.ended
        if killer.active():
            killer.cancel()

    def _kill(self):
        if self.running:
            try:
                self.transport.signalProcess("KILL")
            except Exception:
                pass


class FreeDiameterProcess(StoppableProcess):
    """
    freeDiameterd run by the reactor, with its (merged) output kept for
    assertions and failure messages.  Start with L{FreeDiameterProcess.spawn}.
    """

    def __init__(self):
        self.output = bytearray()
        self.ended = defer.Deferred()
        self._waiters = []

    @classmethod
    def spawn(cls, reactor, config_path, executable=None):
        process = cls()
        executable = executable or FREEDIAMETERD
        reactor.spawnProcess(
            process, executable, [executable, "-c", config_path, "-dd"],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            childFDs={0: "w", 1: "r", 2: 1})
        return process

    def childDataReceived(self, fd, data):
        self.output.extend(data)
        if self._waiters:
            for waiter in list(self._waiters):
                predicate, d = waiter
                if predicate():
                    self._waiters.remove(waiter)
                    d.callback(True)

    def processEnded(self, reason):
        waiters, self._waiters = self._waiters, []
        for _, d in waiters:
            d.callback(False)
        self.ended.callback(reason.value.exitCode)

    def when_output(self, predicate):
        """
        A Deferred that fires with True once C{predicate()} holds, tested
        now and after each piece of output (no polling, no timer), or with
        False if freeDiameterd ends first.  Cancelling it forgets it.
        """
        if predicate():
            return defer.succeed(True)
        if not self.running:
            return defer.succeed(False)

        def forget(d):
            self._waiters[:] = [w for w in self._waiters if w[1] is not d]

        d = defer.Deferred(forget)
        self._waiters.append((predicate, d))
        return d

    def cea_gate(self, host):
        """
        For L{tests.interop_nodes.start_node}'s C{hold_cer}: the CER on the
        n-th connection freeDiameterd opens to our node C{host} is handled
        (and answered) only once freeDiameterd has logged its n-th move to
        STATE_WAITCEA for C{host}.

        freeDiameter 1.2.1 can lose a CEA that arrives before that move:
        its receiver thread picks the queue to post the CEA to
        (cnxctx.c fd_cnx_target_queue: the connection's own incoming queue
        while no alternate queue is set) and posts it a moment later; if the
        state machine thread runs set_peer_cnx in between (fd_fifo_move of
        that queue into the peer's event queue, then cc_alt set), the CEA
        lands in a queue nobody reads any more.  The peer then sits in
        STATE_WAITCEA until "Timeout while waiting for remote peer" (10 s)
        although we answered at once.  A node on the same host answers
        within a millisecond or two of the CER, so a loaded machine that
        delays freeDiameter's state machine thread that long opens the
        window; waiting for the log line closes it.
        """
        fragment = "'%s'" % (host,)

        def gate(index):
            return self.when_output(
                lambda: self.count(FREEDIAMETER_WAITCEA, fragment) >= index)
        return gate

    @property
    def running(self):
        return not self.ended.called

    def text(self):
        return self.output.decode("utf-8", "replace")

    def lines(self, containing):
        return [line for line in self.text().splitlines()
                if containing in line]

    def count(self, *fragments):
        """Output lines that contain every one of C{fragments}."""
        return sum(1 for line in self.text().splitlines()
                   if all(fragment in line for fragment in fragments))

