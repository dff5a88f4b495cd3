"""Whole SIGTRAN packets and generated captures.

``SigtranLink`` is one SCTP association direction between two IP
endpoints; it turns M3UA/M2PA messages into link-layer frames (bundling
several messages into one SCTP packet, fragmenting large ones).
``write_sample_capture`` writes traffic covering every message kind the
parser handles; ``write_bench_capture`` writes a large capture quickly by
reusing a pool of encoded dialogues.
"""

import itertools
import random

from ss7tools.encode import link, sccp, sigtran, tcap
from ss7tools.encode.gsmmap import OPERATIONS, MapBuilder, Subscriber
from ss7tools.encode.pcap import PcapngWriter, PcapWriter
from ss7tools.sccp_address import SccpAddress
from ss7tools.encode.sctp import (PPID_M2PA, PPID_M3UA, SctpAssociation,
                                  sack_chunk)


class SigtranLink:
    """One direction of an SCTP association carrying M3UA or M2PA."""

    def __init__(self, src_ip, dst_ip, src_port=2905, dst_port=2905,
                 vtag=0x1234, ppid=PPID_M3UA, linktype=link.LINKTYPE_ETHERNET,
                 vlans=(), max_fragment=1200, initial_tsn=1000):
        self.src_ip, self.dst_ip = src_ip, dst_ip
        self.ppid = ppid
        self.linktype = linktype
        self.vlans = vlans
        self.sctp = SctpAssociation(src_port, dst_port, vtag, initial_tsn,
                                    max_fragment)
        self._ident = 0

    def frames(self, messages, stream=1, control=(), ppid=None):
        """Frames for ``messages`` (bytes, or (bytes, stream)) bundled into
        one packet after the ``control`` chunks (e.g. a SACK); a message
        needing fragments gets packets of its own."""
        bundle, out = list(control), []
        for message in messages:
            data, sid = message if isinstance(message, tuple) else (message, stream)
            chunks = self.sctp.data_chunks(data, ppid or self.ppid, sid)
            if len(chunks) == 1:
                bundle.extend(chunks)
            else:
                out.extend(self._frame([chunk]) for chunk in chunks)
        if bundle:
            out.insert(0, self._frame(bundle))
        return out

    def _frame(self, chunks):
        self._ident += 1
        packet = self.sctp.packet(chunks)
        ip_kwargs = {"ident": self._ident} if ":" not in self.src_ip else {}
        ip = link.ip_packet(self.src_ip, self.dst_ip, packet, **ip_kwargs)
        kwargs = {"vlans": self.vlans} if self.linktype == link.LINKTYPE_ETHERNET else {}
        return link.frame_ip(ip, self.linktype, **kwargs)


def gt(digits, ssn, gti=4, pc=None):
    return SccpAddress(ssn=ssn, digits=digits, gti=gti, pc=pc)


class Clock:
    def __init__(self, start=1700000000.0, step=0.00125):
        self.now, self.step = start, step

    def __call__(self):
        self.now += self.step
        return round(self.now, 6)


def _m3ua_udt(opc, dpc, called, calling, data, sls=0, rc=None, na=None):
    return sigtran.m3ua_data(opc, dpc, sigtran.SI_SCCP, sigtran.NI_INTERNATIONAL,
                             sls, sccp.sccp_udt(called, calling, data,
                                                protocol_class=1), rc=rc, na=na)


def sample_dialogues(builder=None, subscriber=None):
    """(tcap request, tcap response, op) for every operation in the table,
    ending in result, error, reject, continue and abort in turn."""
    builder = builder or MapBuilder(subscriber)
    out = []
    for index, op in enumerate(OPERATIONS.values()):
        otid, dtid = 0x10000 + index, 0x20000 + index
        request = builder.begin(op.name, otid, invoke_id=1)
        kind = index % 5
        if kind == 0 or op.res_type is None:
            response = builder.end_result(op.name, otid, 1)
        elif kind == 1:
            response = builder.end_error(otid, 1, "unknownSubscriber")
        elif kind == 2:
            response = builder.end_reject(otid, 1, "invoke", 1)
        elif kind == 3:
            response = builder.continue_result(op.name, dtid, otid, 1)
        else:
            response = builder.end_result(op.name, otid, 1, dialogue=False)
        out.append((request, response, op))
    return out


def write_sample_capture(path, linktype=link.LINKTYPE_ETHERNET, pcapng=False,
                         ipv6=False, vlans=()):
    """A capture with every message kind the pipeline handles."""
    writer_cls = PcapngWriter if pcapng else PcapWriter
    src, dst = ("2001:db8::1", "2001:db8::2") if ipv6 else ("10.0.0.1", "10.0.0.2")
    clock = Clock()
    sub = Subscriber()
    hlr = gt(sub.hlr, sccp.SSN_HLR)
    vlr = gt(sub.vlr, sccp.SSN_VLR)
    a = SigtranLink(src, dst, 2905, 2905, 0x11111111, linktype=linktype,
                    vlans=vlans)
    b = SigtranLink(dst, src, 2905, 2905, 0x22222222, linktype=linktype,
                    vlans=vlans)
    m2pa = SigtranLink(src, dst, 3565, 3565, 0x33333333, ppid=PPID_M2PA,
                       linktype=linktype, vlans=vlans)
    with writer_cls(path, linktype=linktype) as writer:
        def emit(frames):
            for frame in frames:
                writer.write(frame, clock())

        # ASP management, traffic maintenance, RKM, SSNM, MGMT
        emit(a.frames([sigtran.m3ua_aspup(7)], stream=0))
        emit(b.frames([sigtran.m3ua_message("ASPSM", "ASPUP_ACK")], stream=0))
        emit(a.frames([sigtran.m3ua_aspac(2, rc=10)], stream=0))
        emit(b.frames([sigtran.m3ua_aspac(2, rc=10, ack=True),
                       sigtran.m3ua_ntfy(1, 3, rc=10)], stream=0))
        emit(a.frames([sigtran.m3ua_beat(b"ping"),
                       sigtran.m3ua_reg_req(1, 200)], stream=0))
        emit(b.frames([sigtran.m3ua_beat(b"ping", ack=True),
                       sigtran.m3ua_reg_rsp(1, 0, 10)], stream=0))
        emit(b.frames([sigtran.m3ua_ssnm("DUNA", [300], rc=10),
                       sigtran.m3ua_ssnm("DAVA", [300], rc=10),
                       sigtran.m3ua_err(7)], stream=0))
        rc = sigtran.m3ua_param("routing_context", (10).to_bytes(4, "big"))
        emit(a.frames([sigtran.m3ua_ssnm("DAUD", [300], rc=10),
                       sigtran.m3ua_message("SSNM", "SCON", [
                           ("affected_point_code", sigtran.affected_point_codes([300])),
                           ("congestion_indication", (1).to_bytes(4, "big"))]),
                       sigtran.m3ua_message("SSNM", "DUPU", [
                           ("affected_point_code", sigtran.affected_point_codes([300])),
                           ("user_cause", (2 << 16 | 3).to_bytes(4, "big"))]),
                       sigtran.m3ua_ssnm("DRST", [300])], stream=0))
        emit(a.frames([sigtran.m3ua_message("RKM", "DEREG_REQ", [
            ("routing_context", (10).to_bytes(4, "big"))])], stream=0))
        emit(b.frames([sigtran.m3ua_message("RKM", "DEREG_RSP", [
            ("deregistration_result", rc + sigtran.m3ua_param(
                "deregistration_status", bytes(4)))])], stream=0))
        # every MAP operation, UDT over M3UA with GTI 4; responses bundled
        gtis = itertools.cycle([4, 3, 2, 1])
        for index, (req, resp, op) in enumerate(sample_dialogues(subscriber=sub)):
            g = next(gtis)
            called, calling = gt(sub.hlr, sccp.SSN_HLR, g), gt(sub.vlr, sccp.SSN_VLR, g)
            emit(a.frames([_m3ua_udt(100, 200, called, calling, req,
                                     sls=index % 16, rc=10, na=index % 3 or None)],
                          stream=1 + index % 4))
            emit(b.frames([_m3ua_udt(200, 100, calling, called, resp,
                                     sls=index % 16, rc=10)],
                          stream=1 + index % 4))
        builder = MapBuilder(sub)
        # bundling: three dialogues in one SCTP packet
        emit(a.frames([_m3ua_udt(100, 200, hlr, vlr,
                                 builder.begin(name, 0x300 + i), sls=i)
                       for i, name in enumerate(
                           ["sendAuthenticationInfo", "updateLocation", "purgeMS"])]))
        # a message too large for one DATA chunk (SCTP fragmentation), LUDT
        big = Subscriber(imsi="001019876543210")
        isd = builder.begin("insertSubscriberData", 0x400, big)
        padded = tcap.tcap_begin(0x401, [builder.invoke("mt-forwardSM", big)]
                                 + [builder.invoke("sendRoutingInfoForSM", big)
                                    for _ in range(60)])
        emit(a.frames([sigtran.m3ua_data(100, 200, 3, 0, 1, sccp.sccp_ludt(
            hlr, vlr, padded))]))
        emit(a.frames([sigtran.m3ua_data(100, 200, 3, 0, 1, sccp.sccp_xudt(
            hlr, vlr, isd))]))
        # segmented XUDT
        medium = tcap.tcap_begin(0x402, [builder.invoke("sendRoutingInfoForSM", big)
                                         for _ in range(25)])
        for segment in sccp.sccp_xudt_segments(hlr, vlr, medium, 0x1234,
                                               segment_size=200):
            emit(a.frames([sigtran.m3ua_data(100, 200, 3, 0, 2, segment)]))
        # UDTS / XUDTS returning a message
        emit(b.frames([sigtran.m3ua_data(200, 100, 3, 0, 3, sccp.sccp_udts(
            vlr, hlr, builder.begin("cancelLocation", 0x500), return_cause=1))]))
        emit(b.frames([sigtran.m3ua_data(200, 100, 3, 0, 3, sccp.sccp_xudts(
            vlr, hlr, builder.begin("purgeMS", 0x501), return_cause=5))]))
        # address with point code, correlation id, linked invoke,
        # returnResultNotLast, a SACK bundled before DATA
        with_pc = SccpAddress(ssn=sccp.SSN_MSC, digits=sub.msc, gti=4, pc=321)
        emit(a.frames([sigtran.m3ua_data(
            100, 200, 3, 0, 4, sccp.sccp_udt(with_pc, vlr, builder.begin(
                "sendRoutingInfo", 0x700)), rc=10, correlation_id=77)],
            control=[sack_chunk(99)]))
        sri = builder.operation("sendRoutingInfo")
        emit(b.frames([_m3ua_udt(200, 100, vlr, with_pc, tcap.tcap_continue(
            0x701, 0x700, [tcap.return_result_not_last(
                1, sri.code, builder.result(sri)),
                tcap.invoke(2, 71, builder.argument(
                    builder.operation("anyTimeInterrogation")), linked_id=1)]))]))
        emit(a.frames([_m3ua_udt(100, 200, with_pc, vlr, tcap.tcap_end(
            0x701, [tcap.return_result_last(1, sri.code, builder.result(sri))]))]))
        # a retransmission (same TSN again) and a non-SS7 PPID
        retransmitted = a.frames([_m3ua_udt(100, 200, hlr, vlr, builder.begin(
            "purgeMS", 0x702))])
        emit(retransmitted)
        emit(retransmitted)
        other = SigtranLink(src, dst, 9999, 9999, 0x44444444, ppid=0,
                            linktype=linktype, vlans=vlans)
        emit(other.frames([b"not SS7"], control=[sack_chunk(5)]))
        # TCAP abort forms and unidirectional
        emit(b.frames([_m3ua_udt(200, 100, vlr, hlr, tcap.tcap_abort(
            0x600, p_abort_cause=1)),
            _m3ua_udt(200, 100, vlr, hlr, tcap.tcap_abort(
                0x601, dialogue=tcap.dialogue_abort(1))),
            _m3ua_udt(200, 100, vlr, hlr, tcap.tcap_unidirectional(
                [builder.invoke("alertServiceCentre")]))]))
        # M2PA with MTP3 routing label
        for index, (req, _resp, op) in enumerate(
                sample_dialogues(subscriber=sub)[:6]):
            msu = sigtran.mtp3_msu(1000 + index, 2000, sigtran.SI_SCCP,
                                   sigtran.NI_NATIONAL, index,
                                   sccp.sccp_udt(hlr, vlr, req))
            emit(m2pa.frames([sigtran.m2pa_user_data(index, index + 1, msu)]))
        emit(m2pa.frames([sigtran.m2pa_link_status(0, 0, 4)]))
        emit(a.frames([sigtran.m3ua_message("ASPTM", "ASPIA")], stream=0))
        emit(b.frames([sigtran.m3ua_message("ASPTM", "ASPIA_ACK")], stream=0))
        emit(a.frames([sigtran.m3ua_message("ASPSM", "ASPDN")], stream=0))
        emit(b.frames([sigtran.m3ua_message("ASPSM", "ASPDN_ACK")], stream=0))
        return writer.count


def bench_pool(size=2000, seed=1):
    """M3UA DATA messages of ``size`` distinct dialogues (request and
    response), encoded once."""
    rng = random.Random(seed)
    ops = list(OPERATIONS.values())
    pool = []
    for index in range(size):
        sub = Subscriber(imsi="00101%010d" % rng.randrange(10 ** 10),
                         msisdn="4917%08d" % rng.randrange(10 ** 8),
                         vlr="4917200%05d" % rng.randrange(64),
                         msc="4917201%05d" % rng.randrange(64),
                         hlr="4917202%05d" % rng.randrange(8))
        builder = MapBuilder(sub)
        op = ops[index % len(ops)]
        hlr, vlr = gt(sub.hlr, sccp.SSN_HLR), gt(sub.vlr, sccp.SSN_VLR)
        req = builder.begin(op.name, 0x10000 + index, invoke_id=1)
        resp = builder.end_result(op.name, 0x10000 + index, 1)
        pool.append(_m3ua_udt(100, 200, hlr, vlr, req, sls=index % 16))
        pool.append(_m3ua_udt(200, 100, vlr, hlr, resp, sls=index % 16))
    return pool


def write_bench_capture(path, messages=200000, bundle=2, pool_size=2000):
    """At least ``messages`` M3UA messages, ``bundle`` per SCTP packet."""
    pool = bench_pool(pool_size)
    clock = Clock(step=0.0001)
    links = [SigtranLink("10.0.0.%d" % (1 + i), "10.0.1.1", 2905 + i, 2905,
                         0x1000 + i) for i in range(4)]
    written = 0
    with PcapWriter(path) as writer:
        cycle = itertools.cycle(pool)
        while written < messages:
            sctp_link = links[written // bundle % len(links)]
            for frame in sctp_link.frames([next(cycle) for _ in range(bundle)]):
                writer.write(frame, clock())
            written += bundle
    return written
