"""What S6a puts in its messages: the AIA written as bytes, and
Subscription-Data (ULA, IDR).

The AIA is one per AIR under load, and Avp objects cost more than the
vectors: it is written with ``codec.AvpWriter`` and precompiled packs.
"""

import struct

from pyhss.protocols import codec, results

NO_STATE_MAINTAINED = 1
# 7.3.29 Subscriber-Status, 7.3.30 Operator-Determined-Barring bit 0
SERVICE_GRANTED = 0
OPERATOR_DETERMINED_BARRING = 1
ODB_ALL_PACKET_ORIENTED_SERVICES = 1 << 0

# AVPs every answer of a kind carries unchanged, encoded once.
AUTH_SESSION_STATE = codec.constant_avp("Auth-Session-State", NO_STATE_MAINTAINED)
_SERVICE_GRANTED = codec.constant_avp("Subscriber-Status", SERVICE_GRANTED)
_W_SESSION_ID = codec.AvpWriter("Session-Id")
_W_AUTHENTICATION_INFO = codec.AvpWriter("Authentication-Info")
_W_EUTRAN_VECTOR = codec.AvpWriter("E-UTRAN-Vector")
_W_UTRAN_VECTOR = codec.AvpWriter("UTRAN-Vector")
_W_GERAN_VECTOR = codec.AvpWriter("GERAN-Vector")
_W_ITEM_NUMBER = codec.AvpWriter("Item-Number")
_W_RAND = codec.AvpWriter("RAND")
_W_XRES = codec.AvpWriter("XRES")
_W_AUTN = codec.AvpWriter("AUTN")
_W_KASME = codec.AvpWriter("KASME")
_W_CK = codec.AvpWriter("Confidentiality-Key")
_W_IK = codec.AvpWriter("Integrity-Key")
_W_SRES = codec.AvpWriter("SRES")
_W_KC = codec.AvpWriter("Kc")


def _eutran_vector_packer():
    """(headers, Struct) that write an E-UTRAN-Vector of the sizes pyhss.auc
    makes (RAND 16, XRES 8, AUTN 16, KASME 32 octets: no padding anywhere)
    in one precompiled pack: Item-Number and the four children as the
    writers would, their headers packed once."""
    children = ((_W_RAND, 16), (_W_XRES, 8), (_W_AUTN, 16), (_W_KASME, 32))
    item = _W_ITEM_NUMBER.header(4)
    headers = [writer.header(size) for writer, size in children]
    payload = len(item) + 4 + sum(len(header) + size for header, (_, size) in zip(headers, children))
    vector = _W_EUTRAN_VECTOR.header(payload)
    layout = "!%ds%dsI" % (len(vector), len(item)) + "".join(
        "%ds%ds" % (len(header), size) for header, (_, size) in zip(headers, children))
    return (vector, item, *headers), struct.Struct(layout)


_EUTRAN_HEADERS, _EUTRAN_VECTOR = _eutran_vector_packer()


def authentication_information_answer(plan, vectors, origin_avps):
    """The AIA of ``plan`` (an AirPlan) carrying ``vectors`` (a VectorSet):
    Session-Id, Result-Code, the request's Proxy-Info, ``origin_avps``
    (Origin-Host, Origin-Realm: the order node.answer gives),
    Auth-Session-State, Authentication-Info."""
    request = plan.request
    parts = []
    if plan.session_id is not None:
        parts.append(_W_SESSION_ID(plan.session_id.encode("utf-8")))
    parts.append(codec.result_code_avp(results.DIAMETER_SUCCESS).encode())
    parts.extend(avp.encode() for avp in plan.proxy_infos)
    parts.extend(avp.encode() for avp in origin_avps)
    parts.append(AUTH_SESSION_STATE.encode())
    items = []
    number = 1
    h_vector, h_item, h_rand, h_xres, h_autn, h_kasme = _EUTRAN_HEADERS
    for v in vectors.eutran:
        rand, xres, autn, kasme = v.rand, v.xres, v.autn, v.kasme
        if len(rand) == 16 and len(xres) == 8 and len(autn) == 16 and len(kasme) == 32:
            items.append(_EUTRAN_VECTOR.pack(h_vector, h_item, number, h_rand, rand, h_xres, xres,
                                             h_autn, autn, h_kasme, kasme))
        else:
            items.append(_W_EUTRAN_VECTOR(_W_ITEM_NUMBER.unsigned32(number) + _W_RAND(rand) + _W_XRES(xres)
                                          + _W_AUTN(autn) + _W_KASME(kasme)))
        number += 1
    for v in vectors.utran:
        items.append(_W_UTRAN_VECTOR(_W_ITEM_NUMBER.unsigned32(number) + _W_RAND(v.rand) + _W_XRES(v.xres)
                                     + _W_AUTN(v.autn) + _W_CK(v.ck) + _W_IK(v.ik)))
        number += 1
    for v in vectors.geran:
        items.append(_W_GERAN_VECTOR(_W_ITEM_NUMBER.unsigned32(number) + _W_RAND(v.rand) + _W_SRES(v.sres)
                                     + _W_KC(v.kc)))
        number += 1
    if items:
        parts.append(_W_AUTHENTICATION_INFO(b"".join(items)))
    return codec.EncodedAnswer(request.flags & codec.FLAG_PROXIABLE, request.command_code,
                               request.application_id, request.hop_by_hop, request.end_to_end,
                               b"".join(parts), request.version, results.DIAMETER_SUCCESS)


# Swaps the two nibbles of an octet: TBCD puts the first digit in the low one.
_SWAP_NIBBLES = bytes(((i & 0x0F) << 4) | (i >> 4) for i in range(256))


def encode_msisdn(digits):
    """MSISDN AVP value: TBCD digits, filler 0xF (TS 29.329 6.3.2, TS 23.003)."""
    # Runs for every ULA: two C calls instead of a generator per octet.
    return bytes.fromhex(digits + "f" * (len(digits) % 2)).translate(_SWAP_NIBBLES)


class SubscriptionData:
    """Subscription-Data (TS 29.272 7.3.2) for a subscriber and its APN
    profiles, the APN-Configuration-Profile of each tuple of profiles
    encoded once (the records are frozen dataclasses, so a changed profile
    is another key and a stale entry is never used; emptied when full)."""

    CACHE_SIZE = 1024

    def __init__(self):
        self._apn_configurations = {}

    def __call__(self, subscriber, profiles):
        """Subscription-Data's grouped value as (name, value) pairs."""
        data = []
        if subscriber.msisdn:
            data.append(("MSISDN", encode_msisdn(subscriber.msisdn)))
        if subscriber.enabled:
            data.append(_SERVICE_GRANTED)
        else:
            # Only an IDR carries a disabled profile (a ULR is refused with
            # 5420): bar all packet services so the MME drops the UE.
            data.append(("Subscriber-Status", OPERATOR_DETERMINED_BARRING))
            data.append(("Operator-Determined-Barring", ODB_ALL_PACKET_ORIENTED_SERVICES))
        data.append(("Network-Access-Mode", subscriber.network_access_mode))
        if subscriber.access_restriction_data:
            data.append(("Access-Restriction-Data", subscriber.access_restriction_data))
        if subscriber.ue_ambr_ul is not None and subscriber.ue_ambr_dl is not None:
            data.append(("AMBR", [("Max-Requested-Bandwidth-UL", subscriber.ue_ambr_ul),
                                  ("Max-Requested-Bandwidth-DL", subscriber.ue_ambr_dl)]))
        profiles = [p for p in profiles or () if p is not None]
        if profiles:
            data.append(self.apn_configuration_profile(profiles))
        if subscriber.periodic_rau_tau_timer is not None:
            data.append(("Subscribed-Periodic-RAU-TAU-Timer", subscriber.periodic_rau_tau_timer))
        return data

    def apn_configuration_profile(self, profiles):
        """The APN-Configuration-Profile AVP for ``profiles``, encoded once."""
        key = tuple(profiles)
        avp = self._apn_configurations.get(key)
        if avp is None:
            configurations = []
            for p in profiles:
                apn = [
                    ("Context-Identifier", p.context_id),
                    ("PDN-Type", p.pdn_type_value),
                    ("Service-Selection", p.name),
                    ("EPS-Subscribed-QoS-Profile", [
                        ("QoS-Class-Identifier", p.qci),
                        ("Allocation-Retention-Priority", [
                            ("Priority-Level", p.arp_priority),
                            ("Pre-emption-Capability", p.arp_preemption_capability),
                            ("Pre-emption-Vulnerability", p.arp_preemption_vulnerability)])]),
                ]
                if p.ambr_ul is not None and p.ambr_dl is not None:
                    apn.append(("AMBR", [("Max-Requested-Bandwidth-UL", p.ambr_ul),
                                         ("Max-Requested-Bandwidth-DL", p.ambr_dl)]))
                configurations.append(("APN-Configuration", apn))
            avp = codec.constant_avp("APN-Configuration-Profile", [
                ("Context-Identifier", profiles[0].context_id),  # the default APN
                ("All-APN-Configurations-Included-Indicator", 0),
            ] + configurations)
            if len(self._apn_configurations) >= self.CACHE_SIZE:
                self._apn_configurations.clear()
            self._apn_configurations[key] = avp
        return avp
