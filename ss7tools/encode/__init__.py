"""SIGTRAN traffic builder: GSM MAP over TCAP (pycrate ASN.1 BER), SCCP,
M3UA/M2PA, SCTP with CRC32c, IPv4/IPv6, link layers and pcap/pcapng
writers.  The capture tools and the simulator build on this API."""

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
