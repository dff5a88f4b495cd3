"""SIGTRAN traffic builder: GSM MAP over TCAP (pycrate ASN.1 BER), SCCP,
M3UA/M2PA, SCTP with CRC32c, IPv4/IPv6, link layers and pcap/pcapng
writers.  The capture tools and the simulator build on this API.

One updateLocation dialogue, layer by layer::

    from ss7tools.encode import (MapBuilder, PcapWriter, SccpAddress,
                                 SigtranLink, m3ua_data, sccp_udt)
    builder = MapBuilder()                       # default Subscriber()
    hlr = SccpAddress(ssn=6, digits="491720000003")          # GTI 4
    vlr = SccpAddress(ssn=7, digits="491720000002", gti=1, pc=200)
    begin = builder.begin("updateLocation", otid=1)          # TCAP bytes
    end = builder.end_result("updateLocation", dtid=1, invoke_id=1)
    a = SigtranLink("10.0.0.1", "10.0.0.2", vtag=1)          # M3UA, Ethernet
    b = SigtranLink("10.0.0.2", "10.0.0.1", vtag=2)
    with PcapWriter("ul.pcap") as out:
        for frame in a.frames([m3ua_data(100, 200, 3, 0, 0,
                                         sccp_udt(hlr, vlr, begin), rc=1)]):
            out.write(frame, 1700000000.0)
        for frame in b.frames([m3ua_data(200, 100, 3, 0, 0,
                                         sccp_udt(vlr, hlr, end), rc=1)]):
            out.write(frame, 1700000000.1)

Lower layers stand alone: ``tcap_begin``/``invoke``/``dialogue_request``,
``sccp_xudt_segments``, ``m3ua_message``, ``m2pa_user_data``/``mtp3_msu``,
``SctpAssociation``/``data_chunk``/``sctp_packet``, ``ip_packet``,
``frame_ip``, ``PcapngWriter``.
"""

from ss7tools.encode.crc32c import crc32c, sctp_checksum, with_sctp_checksum
from ss7tools.encode.gsmmap import (APPLICATION_CONTEXTS, ERRORS, OPERATIONS,
                                    MapBuilder, Subscriber,
                                    application_context, isdn, tbcd)
from ss7tools.encode.link import (LINKTYPE_ETHERNET, LINKTYPE_IPV4,
                                  LINKTYPE_IPV6, LINKTYPE_LINUX_SLL,
                                  LINKTYPE_LINUX_SLL2, LINKTYPE_RAW,
                                  ethernet_frame, frame_ip, ip_packet,
                                  ipv4_packet, ipv6_packet)
from ss7tools.encode.pcap import PcapngWriter, PcapWriter
from ss7tools.encode.sccp import (SccpAddress, SccpEncodeError, sccp_ludt,
                                  sccp_udt, sccp_udts, sccp_xudt,
                                  sccp_xudt_segments, sccp_xudts)
from ss7tools.encode.sctp import (PPID_M2PA, PPID_M3UA, SctpAssociation,
                                  data_chunk, sctp_chunk, sctp_packet)
from ss7tools.encode.sigtran import (m2pa_link_status, m2pa_user_data,
                                     m3ua_aspac, m3ua_aspup, m3ua_beat,
                                     m3ua_data, m3ua_err, m3ua_message,
                                     m3ua_ntfy, m3ua_reg_req, m3ua_reg_rsp,
                                     m3ua_ssnm, mtp3_msu, mtp3_routing_label)
from ss7tools.encode.tcap import (TcapEncodeError, dialogue_abort,
                                  dialogue_request, dialogue_response,
                                  invoke, reject, return_error,
                                  return_result_last, return_result_not_last,
                                  tcap_abort, tcap_begin, tcap_continue,
                                  tcap_end, tcap_unidirectional)
from ss7tools.encode.traffic import (SigtranLink, write_bench_capture,
                                     write_sample_capture)
