"""M3UA (RFC 4666) and M2PA (RFC 4165) messages, MTP3 routing labels.

Message classes, types and parameter tags are declared once here; the
builders below read them.
"""

import struct

M3UA_CLASSES = {"MGMT": 0, "TRANSFER": 1, "SSNM": 2, "ASPSM": 3, "ASPTM": 4,
                "RKM": 9}
M3UA_TYPES = {
    "MGMT": {"ERR": 0, "NTFY": 1},
    "TRANSFER": {"DATA": 1},
    "SSNM": {"DUNA": 1, "DAVA": 2, "DAUD": 3, "SCON": 4, "DUPU": 5,
             "DRST": 6},
    "ASPSM": {"ASPUP": 1, "ASPDN": 2, "BEAT": 3, "ASPUP_ACK": 4,
              "ASPDN_ACK": 5, "BEAT_ACK": 6},
    "ASPTM": {"ASPAC": 1, "ASPIA": 2, "ASPAC_ACK": 3, "ASPIA_ACK": 4},
    "RKM": {"REG_REQ": 1, "REG_RSP": 2, "DEREG_REQ": 3, "DEREG_RSP": 4},
}
M3UA_TAGS = {
    "info_string": 0x0004, "routing_context": 0x0006,
    "diagnostic_info": 0x0007, "heartbeat_data": 0x0009,
    "traffic_mode": 0x000B, "error_code": 0x000C, "status": 0x000D,
    "asp_identifier": 0x0011, "affected_point_code": 0x0012,
    "correlation_id": 0x0013, "network_appearance": 0x0200,
    "user_cause": 0x0204, "congestion_indication": 0x0205,
    "concerned_destination": 0x0206, "routing_key": 0x0207,
    "registration_result": 0x0208, "deregistration_result": 0x0209,
    "local_rk_id": 0x020A, "destination_point_code": 0x020B,
    "service_indicators": 0x020C, "originating_pc_list": 0x020E,
    "protocol_data": 0x0210, "registration_status": 0x0212,
    "deregistration_status": 0x0213,
}

M2PA_USER_DATA = 1
M2PA_LINK_STATUS = 2

SI_SCCP = 3
SI_ISUP = 5
NI_INTERNATIONAL = 0
NI_NATIONAL = 2


def m3ua_param(tag, value):
    if isinstance(tag, str):
        tag = M3UA_TAGS[tag]
    return (struct.pack("!HH", tag, 4 + len(value)) + value
            + b"\x00" * (-len(value) % 4))


def m3ua_message(msg_class, msg_type, params=()):
    """``params``: sequence of (tag name or number, value bytes)."""
    if isinstance(msg_class, str):
        msg_type = M3UA_TYPES[msg_class][msg_type] \
            if isinstance(msg_type, str) else msg_type
        msg_class = M3UA_CLASSES[msg_class]
    body = b"".join(m3ua_param(tag, value) for tag, value in params)
    return struct.pack("!BBBBI", 1, 0, msg_class, msg_type, 8 + len(body)) + body


def _u32(value):
    return struct.pack("!I", value)


def m3ua_data(opc, dpc, si, ni, sls, payload, rc=None, na=None, mp=0,
              correlation_id=None):
    """M3UA DATA: Network Appearance, Routing Context, Protocol Data,
    Correlation Id in RFC 4666 order."""
    params = []
    if na is not None:
        params.append(("network_appearance", _u32(na)))
    if rc is not None:
        params.append(("routing_context", _u32(rc)))
    params.append(("protocol_data", struct.pack("!IIBBBB", opc, dpc, si, ni,
                                                mp, sls) + payload))
    if correlation_id is not None:
        params.append(("correlation_id", _u32(correlation_id)))
    return m3ua_message("TRANSFER", "DATA", params)


def affected_point_codes(pcs, mask=0):
    return b"".join(struct.pack("!I", (mask << 24) | (pc & 0xFFFFFF))
                    for pc in pcs)


def m3ua_ssnm(msg_type, pcs, rc=None, na=None, info=None):
    params = []
    if na is not None:
        params.append(("network_appearance", _u32(na)))
    if rc is not None:
        params.append(("routing_context", _u32(rc)))
    params.append(("affected_point_code", affected_point_codes(pcs)))
    if info:
        params.append(("info_string", info.encode()))
    return m3ua_message("SSNM", msg_type, params)


def m3ua_aspup(asp_id=None):
    params = [("asp_identifier", _u32(asp_id))] if asp_id is not None else []
    return m3ua_message("ASPSM", "ASPUP", params)


def m3ua_beat(data=b"", ack=False):
    return m3ua_message("ASPSM", "BEAT_ACK" if ack else "BEAT",
                        [("heartbeat_data", data)] if data else [])


def m3ua_aspac(traffic_mode=2, rc=None, ack=False):
    params = [("traffic_mode", _u32(traffic_mode))]
    if rc is not None:
        params.append(("routing_context", _u32(rc)))
    return m3ua_message("ASPTM", "ASPAC_ACK" if ack else "ASPAC", params)


def m3ua_ntfy(status_type, status_info, rc=None):
    params = [("status", struct.pack("!HH", status_type, status_info))]
    if rc is not None:
        params.append(("routing_context", _u32(rc)))
    return m3ua_message("MGMT", "NTFY", params)


def m3ua_err(error_code, diagnostic=b""):
    params = [("error_code", _u32(error_code))]
    if diagnostic:
        params.append(("diagnostic_info", diagnostic))
    return m3ua_message("MGMT", "ERR", params)


def m3ua_reg_req(local_rk_id, dpc, si=(SI_SCCP,)):
    key = (m3ua_param("local_rk_id", _u32(local_rk_id))
           + m3ua_param("destination_point_code", _u32(dpc))
           + m3ua_param("service_indicators", bytes(si)))
    return m3ua_message("RKM", "REG_REQ", [("routing_key", key)])


def m3ua_reg_rsp(local_rk_id, status, rc):
    result = (m3ua_param("local_rk_id", _u32(local_rk_id))
              + m3ua_param("registration_status", _u32(status))
              + m3ua_param("routing_context", _u32(rc)))
    return m3ua_message("RKM", "REG_RSP", [("registration_result", result)])


def mtp3_routing_label(opc, dpc, sls):
    """ITU 14-bit point codes: DPC, OPC, SLS packed little endian."""
    return struct.pack("<I", (dpc & 0x3FFF) | ((opc & 0x3FFF) << 14)
                       | ((sls & 0xF) << 28))


def mtp3_msu(opc, dpc, si, ni, sls, payload, priority=0):
    sio = ((ni & 3) << 6) | ((priority & 3) << 4) | (si & 0xF)
    return bytes([sio]) + mtp3_routing_label(opc, dpc, sls) + payload


def m2pa_user_data(bsn, fsn, msu, priority=0):
    """M2PA User Data (RFC 4165 2.3.2): BSN, FSN, priority octet, MSU."""
    body = struct.pack("!II", bsn & 0xFFFFFF, fsn & 0xFFFFFF) \
        + bytes([(priority & 3) << 6]) + msu
    return struct.pack("!BBBBI", 1, 0, 11, M2PA_USER_DATA, 8 + len(body)) + body


def m2pa_link_status(bsn, fsn, state=1):
    body = struct.pack("!III", bsn & 0xFFFFFF, fsn & 0xFFFFFF, state)
    return struct.pack("!BBBBI", 1, 0, 11, M2PA_LINK_STATUS, 8 + len(body)) + body
