"""The event scheduler: simulated time, a heap of running procedures, and
the dialogue helper procedures send their messages through.

Procedures are generators that yield the delay until their next step; the
engine resumes them in time order (ties by start order), so a run depends
only on the world, the options and the seed.  Every random draw comes from
one ``random.Random(seed)``; nothing reads the wall clock.  Messages go to
the sink as they are made, so memory does not grow with the duration.
"""

import heapq
import random
import struct

from ss7tools.attack_families import ATTACK_TYPES, NORMAL_LABEL
from ss7tools.sccp_address import SccpAddress
from ss7tools.simulate.messages import MapCodec

NP_E164, NP_E214 = 1, 7


class Label:
    """What the labels file says about every message of one procedure (an
    attack step or a normal procedure: one or more TCAP dialogues)."""
    __slots__ = ("label", "procedure_id", "victim_imsi", "victim_msisdn", "attacker_gt")

    def __init__(self, label, procedure_id, victim=None, attacker_gt=None):
        self.label, self.procedure_id, self.attacker_gt = label, procedure_id, attacker_gt
        self.victim_imsi = victim.imsi if victim is not None else None
        self.victim_msisdn = victim.msisdn if victim is not None else None


class Dialogue:
    """One TCAP dialogue between an initiator and a responder node; keeps
    both transaction ids and whether the responder has answered yet (the
    first backward message carries the dialogue response)."""
    __slots__ = ("sim", "a", "b", "a_tid", "b_tid", "label", "answered",
                 "called_gt", "called_np", "sls", "id")

    def __init__(self, sim, initiator, responder, label, called_gt=None, called_np=NP_E164):
        self.sim, self.a, self.b, self.label = sim, initiator, responder, label
        self.a_tid = sim.new_tid(initiator)
        self.b_tid = None
        self.answered = False
        self.called_gt, self.called_np = called_gt or responder.gt, called_np
        sim.dialogues += 1
        self.id = sim.dialogues
        self.sls = self.id & 0x0F

    def begin(self, op, values, variant=None):
        values["otid"] = self.a_tid
        self.sim.emit(self.a, self.b, self.sim.codec.begin(op, values, variant), self,
                      op, "begin", forward=True)

    def _back_first(self):
        first = not self.answered
        self.answered = True
        return first

    def end_result(self, op, values, variant=None):
        values["dtid"] = self.a_tid
        first = self._back_first()
        self.sim.emit(self.b, self.a, self.sim.codec.end_result(
            op, values, variant, first=first), self, op, "end")

    def end_error(self, op, error):
        first = self._back_first()
        self.sim.emit(self.b, self.a, self.sim.codec.end_error(
            op, error, {"dtid": self.a_tid}, first=first), self, op, "end")

    def abort(self):
        self.sim.emit(self.b, self.a, self.sim.codec.abort({"dtid": self.a_tid}),
                      self, None, "abort")

    def continue_invoke(self, op, values, dialogue_of, variant=None):
        """Responder invokes ``op`` inside the dialogue (first backward)."""
        if self.b_tid is None:
            self.b_tid = self.sim.new_tid(self.b)
        values["otid"], values["dtid"] = self.b_tid, self.a_tid
        first = self._back_first()
        self.sim.emit(self.b, self.a, self.sim.codec.continue_invoke(
            op, values, variant, dialogue_of=dialogue_of if first else None),
            self, op, "continue")

    def continue_result(self, op, values, variant=None):
        """Initiator answers the responder's invoke."""
        values["otid"], values["dtid"] = self.a_tid, self.b_tid
        self.sim.emit(self.a, self.b, self.sim.codec.continue_result(op, values, variant),
                      self, op, "continue", forward=True)

    def end_result_after_continue(self, op, values):
        """Responder ends with the initiator's result (after a continue)."""
        values["dtid"] = self.a_tid
        self.sim.emit(self.b, self.a, self.sim.codec.end_result(
            op, values, first=False), self, op, "end")


class Simulation:
    """Runs a world for ``duration`` simulated seconds (or until
    ``max_messages``), handing each message to ``sink.message``."""

    def __init__(self, world, sink, seed=0, subscribers=1000, duration=3600.0,
                 attack_mix=None, max_messages=None, progress=None, stealth=None):
        self.world, self.sink = world, sink
        self.rng = random.Random(seed)
        self.codec = MapCodec()
        self.duration, self.max_messages = float(duration), max_messages
        self.progress = progress
        self.now = 0.0
        self.messages = 0
        self.dialogues = 0       # TCAP dialogues started
        self.procedures = 0      # labelled procedures started
        self._heap, self._seq = [], 0
        self._tids = {}
        self._addresses = {}
        self.behaviour = world.behaviour
        self.lat_low, self.lat_high = self.behaviour["latency_s"]
        self.subscribers = world.populate(subscribers, self.rng)
        self.attacks = {name: dict(spec) for name, spec in world.attacks.items()}
        for name, share in (attack_mix or {}).items():
            if name not in ATTACK_TYPES:
                raise ValueError("unknown attack type %r (known: %s)"
                                 % (name, ", ".join(ATTACK_TYPES)))
            self.attacks[name]["share"] = float(share)
        if stealth is not None:
            if not 0 <= stealth <= 1:
                raise ValueError("stealth: a share between 0 and 1, got %r" % (stealth,))
            for spec in self.attacks.values():
                spec["stealth"] = float(stealth)
        self.label_counts = {}

    # -- scheduling -------------------------------------------------------
    def start(self, procedure, delay=0.0):
        """Run generator ``procedure`` from ``now + delay``."""
        self._seq += 1
        heapq.heappush(self._heap, (self.now + delay, self._seq, procedure))

    def latency(self):
        return self.rng.uniform(self.lat_low, self.lat_high)

    def run(self, sources=True):
        """Run until ``duration``; ``sources`` False runs only what was
        started by hand (tests drive single procedures that way)."""
        from ss7tools.simulate import attacks, procedures
        if sources:
            procedures.start_sources(self)
            attacks.start_sources(self)
        heap, pop, push = self._heap, heapq.heappop, heapq.heappush
        last_progress = 0.0
        while heap:
            when, seq, procedure = pop(heap)
            if when > self.duration:
                break
            if self.max_messages is not None and self.messages >= self.max_messages:
                break
            self.now = when
            try:
                delay = next(procedure)
            except StopIteration:
                continue
            push(heap, (when + delay, seq, procedure))
            if self.progress is not None and when - last_progress >= 1.0:
                self.progress(when)
                last_progress = when
        return self.messages

    # -- dialogues and messages --------------------------------------------
    def label(self, name=NORMAL_LABEL, victim=None, attacker_gt=None):
        self.procedures += 1
        return Label(name, self.procedures, victim, attacker_gt)

    def dialogue(self, initiator, responder, label, called_gt=None, called_np=NP_E164):
        return Dialogue(self, initiator, responder, label, called_gt, called_np)

    def new_tid(self, node):
        """Transaction ids: each node counts from its own random start."""
        tid = self._tids.get(node.gt)
        if tid is None:
            tid = self.rng.randrange(1 << 32)
        tid = (tid + 1 + (tid & 3)) & 0xFFFFFFFF
        self._tids[node.gt] = tid
        return struct.pack("!I", tid)

    def address(self, gt, ssn, np=NP_E164):
        key = (gt, ssn, np)
        encoded = self._addresses.get(key)
        if encoded is None:
            if len(self._addresses) > 200000:
                self._addresses.clear()
            encoded = SccpAddress(ssn=ssn, digits=gt, gti=4, np=np).encode()
            self._addresses[key] = encoded
        return encoded

    def emit(self, src, dst, tcap_bytes, dialogue, op, tcap_type, forward=False):
        src_net, dst_net = src.network, dst.network
        if not ((src_net is not None and src_net.home)
                or (dst_net is not None and dst_net.home)):
            return          # between two foreign nodes: not on the captured links
        if forward and not dialogue.answered:
            called = self.address(dialogue.called_gt, dst.ssn, dialogue.called_np)
        else:
            called = self.address(dst.gt, dst.ssn)
        calling = self.address(src.gt, src.ssn)
        self.messages += 1
        label = dialogue.label
        self.label_counts[label.label] = self.label_counts.get(label.label, 0) + 1
        self.sink.message(self.world.start + self.now, src, dst, called, calling,
                          tcap_bytes, dialogue.sls, dialogue.id, label, op, tcap_type)

    # -- random helpers ----------------------------------------------------
    def fate(self):
        """'ok', 'timeout' (no answer) or 'abort' for one request."""
        r = self.rng.random()
        b = self.behaviour
        if r < b["timeout_share"]:
            return "timeout"
        if r < b["timeout_share"] + b["abort_share"]:
            return "abort"
        return "ok"

    def random_bytes(self, count):
        return self.rng.getrandbits(8 * count).to_bytes(count, "big")

    def msrn(self, vlr):
        prefix = vlr.network.msrn_prefix if vlr.network is not None else vlr.gt[:7]
        width = 12 - len(prefix)
        return prefix + "%0*d" % (width, self.rng.randrange(10 ** width))

    def cgi(self, vlr):
        """Cell global identity (TS 29.002 fixed length form) in ``vlr``'s area."""
        net = vlr.network
        mcc, mnc = net.mcc, net.mnc
        mnc3 = mnc[2] if len(mnc) == 3 else "f"
        plmn = bytes.fromhex(mcc[1] + mcc[0] + mnc3 + mcc[2] + mnc[1] + mnc[0])
        return plmn + struct.pack("!HH", 0x100 + (int(vlr.gt[-3:]) & 0xFF),
                                  self.rng.randrange(1, 0xFFFF))
