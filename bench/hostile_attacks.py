"""bench/hostile.py's pieces: the attacks, one function per item of the
reliability issue, each running its scenarios on an Item."""

import argparse
import collections
import os
import random
import sys
import time

from twisted.internet import defer, error, protocol, task

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
for _path in (_ROOT, _HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from hostile_wire import (  # noqa: E402
    APP_S6A,
    CMD_AIR,
    FLAG_PROXIABLE,
    FloodGroups,
    MARK_ID,
    REALM,
    UNKNOWN_AVP,
    IDS,
    avp,
    dwr_bytes,
    file_size,
    identity_avps,
    message,
    percentiles,
    sleep,
    u32)
from hostile_peers import (  # noqa: E402
    Client,
    Stream,
    connect,
    open_peer,
    windowed)
from hostile_report import (  # noqa: E402
    log_bytes,
    wal_bound)


# --- the attacks -------------------------------------------------------------


def attacker_address(index=0):
    return "127.0.0.%d" % (2 + index,)


@defer.inlineCallbacks
def item_1(item):
    options = item.options
    reactor = item.reactor
    port = item.port

    @defer.inlineCallbacks
    def before_cer():
        flood = FloodGroups("flood.bench.test", options.flood_group_bytes)
        state = {"next": 0, "closed_by_server": 0, "aborted": 0,
                 "connect_failures": 0, "bytes": 0}
        deadline = time.monotonic() + options.flood_seconds

        @defer.inlineCallbacks
        def worker():
            while state["next"] < options.flood_dwrs \
                    and time.monotonic() < deadline:
                index = state["next"]
                state["next"] += 1
                try:
                    client = yield connect(
                        reactor, port, attacker_address(),
                        lambda: Client(reactor, "flood.bench.test",
                                       send_cer=False), 5)
                except error.ConnectError:
                    state["connect_failures"] += 1
                    continue
                data = flood.render(index, index + 1)
                state["bytes"] += len(data)
                client.transport.write(data)
                timer = reactor.callLater(15, client.transport.abortConnection)
                yield client.closed
                if timer.active():
                    timer.cancel()
                    state["closed_by_server"] += 1
                else:
                    state["aborted"] += 1
        yield defer.gatherResults([worker() for _ in range(8)])
        return collections.OrderedDict([
            ("dwrs", state["next"]), ("group_bytes", flood.group_size),
            ("unknown_avps_per_group", flood.avps),
            ("bytes_sent", state["bytes"]),
            ("closed_by_server", state["closed_by_server"]),
            ("left_open_aborted_by_us", state["aborted"]),
            ("connect_failures", state["connect_failures"])])

    @defer.inlineCallbacks
    def after_cer(count, group_bytes, window, origin_host):
        client = yield open_peer(reactor, port, attacker_address(),
                                 origin_host)
        if client is None:
            return {"error": "the attacker's CER was refused"}
        flood = FloodGroups(origin_host, group_bytes)
        sent, answered = yield windowed(
            reactor, client, flood.render, count, window,
            options.flood_seconds)
        lost = client.lost
        client.transport.loseConnection()
        return collections.OrderedDict([
            ("dwrs_sent", sent), ("answered", answered),
            ("group_bytes", flood.group_size),
            ("unknown_avps_per_group", flood.avps),
            ("bytes_sent", sent * len(flood.template)),
            ("connection_dropped_by_server", lost)])

    yield item.scenario(
        "1a", "%d DWRs, each with a distinct %d-byte group, each on a new"
        " connection before CER" % (options.flood_dwrs,
                                    options.flood_group_bytes),
        before_cer)
    yield item.scenario(
        "1b", "%d DWRs, each with a distinct %d-byte group, on one open"
        " connection (window 10)" % (options.flood_dwrs,
                                     options.flood_group_bytes),
        lambda: after_cer(options.flood_dwrs, options.flood_group_bytes, 10,
                          "flood.bench.test"))
    yield item.scenario(
        "1c", "%d DWRs, each with a distinct 248-byte group (cacheable size),"
        " on one open connection (window 50)" % (options.small_groups,),
        lambda: after_cer(options.small_groups, 248, 50,
                          "groups.bench.test"))


@defer.inlineCallbacks
def never_reads(item, name, title, batch, limit, limit_bytes):
    """A peer that sends C{batch()} as fast as it can and never reads."""
    reactor = item.reactor
    options = item.options
    stall = options.stall_timeout

    @defer.inlineCallbacks
    def attack():
        client = yield open_peer(reactor, item.port, attacker_address(),
                                 "deaf.bench.test")
        if client is None:
            return {"error": "the attacker's CER was refused"}
        client.transport.pauseProducing()      # never read again
        stream = Stream(reactor, client, batch, limit, limit_bytes,
                        stall + options.stall_margin)
        yield stream.done
        if not client.lost:
            # Everything we meant to send is out (or the time is up): wait
            # for the server to drop us, within the same bound.
            timer = reactor.callLater(
                max(0.0, stall + options.stall_margin
                    - (time.monotonic() - stream.started)),
                client.transport.abortConnection)
            yield client.closed
            dropped = timer.active()
            if dropped:
                timer.cancel()
        else:
            dropped = True
        ended = time.monotonic()
        stalled = stream.paused_at
        return collections.OrderedDict([
            ("messages_sent", stream.sent), ("bytes_sent", stream.bytes),
            ("sending_s", round((stalled or stream.finished)
                                - stream.started, 2)),
            ("dropped_by_server", dropped),
            ("dropped_after_our_writes_stalled_s",
             round(ended - stalled, 2) if dropped and stalled else None),
            ("write_stall_timeout_s", stall)])
    yield item.scenario(name, title, attack)


@defer.inlineCallbacks
def item_2(item):
    import diameter_load as load
    options = item.options
    air_options = argparse.Namespace(
        imsi_first="001010000000000", subscribers=options.subscribers,
        seed=7, variants=min(options.subscribers, 1000),
        vectors=options.air_vectors, mcc=None, mnc=None,
        destination_realm=None, config=options.config)
    load.server_identity(air_options)
    kind = load.AuthenticationInformationKind(
        air_options, "deaf.bench.test", REALM)
    templates = load.build_templates(kind)
    per_batch = 64

    def airs(sent):
        return b"".join(
            templates[(sent + i) % len(templates)].render(
                sent + i + 1, sent + i + 1, sent + i)
            for i in range(per_batch)), per_batch

    air_size = len(templates[0].buffer)
    yield never_reads(
        item, "2a", "AIRs asking for %d vectors (%d bytes each), never"
        " reading the answers (up to %d AIRs)" % (
            options.air_vectors, air_size, options.airs),
        airs, options.airs, float("inf"))

    dwr = dwr_bytes("deaf.bench.test", 7)
    dwr_batch = dwr * 1024

    def dwrs(sent):
        return dwr_batch, 1024

    yield never_reads(
        item, "2b", "DWRs (%d bytes each), never reading the answers"
        " (up to %d MB)" % (len(dwr), options.dwr_bytes // 1000000),
        dwrs, float("inf"), options.dwr_bytes)


class IdleFlood(object):
    """
    C{count} connections from C{sources} that never send anything; each one
    the server closes is opened again, until L{stop} or C{max_attempts}.
    """

    def __init__(self, reactor, port, sources, count, max_attempts):
        self.reactor = reactor
        self.port = port
        self.sources = sources
        self.count = count
        self.max_attempts = max_attempts
        self.stopping = False
        self.open = set()
        self.attempts = 0
        self.made = 0
        self.closed_by_server = 0
        self.connect_failures = 0

    def start(self):
        for index in range(self.count):
            self._open(index)

    def _open(self, index):
        if self.stopping or self.attempts >= self.max_attempts:
            return
        self.attempts += 1
        flood = self

        class Idle(protocol.Protocol):
            def connectionMade(self):
                flood.made += 1
                if flood.stopping:
                    self.transport.abortConnection()
                else:
                    flood.open.add(self)

            def connectionLost(self, reason):
                flood.open.discard(self)
                if not flood.stopping:
                    flood.closed_by_server += 1
                    flood.reactor.callLater(0, flood._open, index)

        d = protocol.ClientCreator(self.reactor, Idle).connectTCP(
            "127.0.0.1", self.port, timeout=10,
            bindAddress=(self.sources[index % len(self.sources)], 0))
        d.addErrback(self._failed, index)

    def _failed(self, reason, index):
        self.connect_failures += 1
        if not self.stopping:
            self.reactor.callLater(0.05, self._open, index)

    def stop(self):
        self.stopping = True
        for connection in list(self.open):
            connection.transport.abortConnection()


@defer.inlineCallbacks
def good_peer(reactor, port, source, origin_host, attempts, deadline):
    """Connect, CER, until a 2001 CEA (at most C{attempts} connections)."""
    started = time.monotonic()
    tries = 0
    while tries < attempts and time.monotonic() < deadline:
        tries += 1
        client = yield open_peer(reactor, port, source, origin_host,
                                 timeout=max(1.0, deadline - time.monotonic()))
        if client is not None:
            return client, tries, time.monotonic() - started
    return None, tries, time.monotonic() - started


@defer.inlineCallbacks
def item_3(item):
    options = item.options
    reactor = item.reactor

    def attack(attackers, peers_from):
        @defer.inlineCallbacks
        def run():
            flood = IdleFlood(reactor, item.port, attackers, options.idle,
                              options.idle * 50)
            started = time.monotonic()
            stop_at = started + options.idle_seconds
            flood.start()
            # Let the first wave land (every connection made or refused).
            while flood.made + flood.connect_failures < options.idle \
                    and time.monotonic() < started + options.idle_seconds / 2:
                yield sleep(reactor, 0.05)
            wave_s = time.monotonic() - started
            peers = yield defer.gatherResults([
                good_peer(reactor, item.port, peers_from,
                          "good%d.bench.test" % (i,), 3,
                          time.monotonic() + 20)
                for i in range(options.good_peers)])
            yield sleep(reactor, stop_at - time.monotonic())
            open_at_end = len(flood.open)
            flood.stop()
            admitted = [p for p in peers if p[0] is not None]
            times = [p[2] * 1000.0 for p in admitted]
            for client, _, _ in admitted:
                client.transport.loseConnection()
            spread = percentiles(times)
            return collections.OrderedDict([
                ("attackers_from", "%s (%d address%s)" % (
                    attackers[0] if len(attackers) == 1 else
                    "%s-%s" % (attackers[0], attackers[-1]),
                    len(attackers), "" if len(attackers) == 1 else "es")),
                ("good_peers_from", peers_from),
                ("first_wave_s", round(wave_s, 2)),
                ("attacker_connections_made", flood.made),
                ("attacker_attempts", flood.attempts),
                ("attacker_closed_by_server", flood.closed_by_server),
                ("attacker_connect_failures", flood.connect_failures),
                ("attacker_open_at_end", open_at_end),
                ("good_peers", options.good_peers),
                ("good_peers_admitted", len(admitted)),
                ("good_peers_admitted_first_try",
                 sum(1 for p in admitted if p[1] == 1)),
                ("good_peer_connections", sum(p[1] for p in peers)),
                ("time_to_cea_ms", spread)])
        return run

    spread = ["127.0.0.%d" % (2 + i,) for i in range(options.idle_addresses)]
    yield item.scenario(
        "3a", "%d connections that never send CER (from %d addresses),"
        " %d good peers from 127.0.0.200" % (
            options.idle, options.idle_addresses, options.good_peers),
        attack(spread, "127.0.0.200"))
    yield item.scenario(
        "3b", "%d connections that never send CER and %d good peers, all"
        " from 127.0.0.1" % (options.idle, options.good_peers),
        attack(["127.0.0.1"], "127.0.0.1"))


@defer.inlineCallbacks
def item_4(item):
    options = item.options
    reactor = item.reactor
    size = options.partial_bytes

    @defer.inlineCallbacks
    def attack():
        clients = yield defer.gatherResults([
            open_peer(reactor, item.port, attacker_address(i % 8),
                      "slow%d.bench.test" % (i,))
            for i in range(options.partial_connections)])
        clients = [c for c in clients if c is not None]
        # A DWR of --partial-bytes (rounded to 4) with one unknown AVP
        # making up the size.
        pad = max(0, size - len(dwr_bytes("slow.bench.test")) - 8)
        body = dwr_bytes("slow.bench.test", 9,
                         [avp(UNKNOWN_AVP, b"\x5a" * (pad & ~3), flags=0)])
        held_target = len(body) - 1        # never the last byte
        ticks = max(1, int(options.partial_seconds / options.partial_tick))
        chunk = max(1, -(-held_target // ticks))
        sent = [0] * len(clients)
        started = time.monotonic()
        deadline = started + options.partial_seconds * 3 + 10

        def tick():
            for i, client in enumerate(clients):
                if client.lost or sent[i] >= held_target:
                    continue
                end = min(held_target, sent[i] + chunk)
                client.transport.write(body[sent[i]:end])
                sent[i] = end
            if all(s >= held_target or c.lost
                   for s, c in zip(sent, clients)) \
                    or time.monotonic() > deadline:
                loop.stop()
        loop = task.LoopingCall(tick)
        loop.clock = reactor
        yield loop.start(options.partial_tick, now=True)
        filled_s = time.monotonic() - started
        yield sleep(reactor, options.partial_hold)
        item.sampler.sample()
        peak = item.sampler.peak.get("rss")
        held = sum(s for s, c in zip(sent, clients) if not c.lost)
        dropped = sum(1 for c in clients if c.lost)
        for client in clients:
            client.transport.abortConnection()
        growth = (peak - item.sampler_before) * 1024.0
        return collections.OrderedDict([
            ("connections", len(clients)),
            ("message_bytes", len(body)),
            ("chunk_bytes", chunk),
            ("tick_s", options.partial_tick),
            ("filled_s", round(filled_s, 2)),
            ("bytes_held", held),
            ("dropped_by_server_while_held", dropped),
            ("rss_growth_per_byte_held",
             round(growth / held, 2) if held else None)])

    def run():
        item.sampler_before = item.sampler.last.get("rss")
        return attack()
    yield item.scenario(
        "4", "%d connections each trickling a %d-byte message (after CER),"
        " never the last byte" % (options.partial_connections, size), run)


@defer.inlineCallbacks
def item_11(item):
    options = item.options
    reactor = item.reactor
    wal_path = item.server.database_path + "-wal"
    bound, source = wal_bound(item.server_config)

    @defer.inlineCallbacks
    def attack():
        item.sampler.probes["wal"] = lambda: file_size(wal_path)
        item.sampler.reset()
        yield sleep(reactor, options.wal_seconds)
        item.sampler.sample()
        return collections.OrderedDict([
            ("load", "AIRs, 1 vector, window %d, %g s" % (
                options.wal_window, options.wal_seconds)),
            ("wal_max_bytes", item.sampler.peak.get("wal", 0)),
            ("wal_final_bytes", item.sampler.last.get("wal", 0)),
            ("wal_bound_bytes", bound),
            ("wal_bound_from", source)])
    yield item.scenario(
        "11", "SQLite WAL under AIR load for %g s" % (options.wal_seconds,),
        attack)


@defer.inlineCallbacks
def item_12(item):
    options = item.options
    reactor = item.reactor
    count = options.unknown_answers
    summary_wait = options.log_summary_wait

    @defer.inlineCallbacks
    def attack():
        client = yield open_peer(reactor, item.port, attacker_address(),
                                 "noisy.bench.test")
        if client is None:
            return {"error": "the attacker's CER was refused"}
        answer = bytearray(message(
            FLAG_PROXIABLE, CMD_AIR, APP_S6A,
            [avp(263, b"noisy.bench.test;1;1"), avp(277, u32(1)),
             avp(268, u32(2001))] + identity_avps("noisy.bench.test")))
        draw = random.Random(12).getrandbits
        per_batch = 500

        def answers(sent):
            parts = []
            for _ in range(min(per_batch, count - sent)):
                IDS.pack_into(answer, 12, draw(32), draw(32))
                parts.append(bytes(answer))
            return b"".join(parts), len(parts)

        started = time.monotonic()
        stream = Stream(reactor, client, answers, count, float("inf"),
                        options.flood_seconds)
        yield stream.done
        # A DWR after the answers: its DWA means the server has read them all.
        marked = defer.Deferred()

        def on_answer(hop_by_hop):
            if hop_by_hop == MARK_ID and not marked.called:
                marked.callback(True)
        client.on_answer = on_answer
        client.closed.addCallback(
            lambda _: marked.called or marked.callback(False))
        timer = reactor.callLater(30, lambda: marked.called
                                  or marked.callback(False))
        client.transport.write(dwr_bytes("noisy.bench.test", MARK_ID))
        handled = yield marked
        if timer.active():
            timer.cancel()
        handled_s = time.monotonic() - started
        client.transport.loseConnection()
        item.log_at_attack_end = log_bytes(item.server)
        return collections.OrderedDict([
            ("answers_sent", stream.sent), ("bytes_sent", stream.bytes),
            ("all_read_by_server", handled),
            ("handled_s", round(handled_s, 2))])

    @defer.inlineCallbacks
    def after(figures):
        # The summariser writes its count at the end of its interval.
        waited = max(0.0, summary_wait - options.after)
        yield sleep(reactor, waited)
        figures["log_bytes_until_summary"] = (
            log_bytes(item.server) - item.log_before_12)
        figures["summary_wait_s"] = summary_wait

    def run():
        item.log_before_12 = log_bytes(item.server)
        return attack()
    result = yield item.scenario(
        "12", "%d answers with unknown hop-by-hop identifiers" % (count,),
        run, after)
    item.log_scenario = result


ITEM_RUNNERS = {1: item_1, 2: item_2, 3: item_3, 4: item_4, 11: item_11,
                12: item_12}
