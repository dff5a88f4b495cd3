"""Timed replay of SS7 captures and the lab's load tools, on one Twisted
reactor: ``twistd ss7replay server`` / ``client`` (:mod:`.tap`),
``ss7tools send`` / ``udp-server`` / ``udp-load`` / ``rate``
(:mod:`.commands`).

Transports come from endpoint strings (:mod:`.endpoints`): SCTP through
the shared SCTP transport (:mod:`pyhss.sctp`, which keeps message
boundaries, streams and PPIDs), or TCP, where messages are framed by the
SIGTRAN common header's length (:mod:`.framing`; not a standard M3UA
transport, and it carries no stream or PPID).  State machines and
schedules are sans-IO: :mod:`.asp` (M3UA ASP management), :mod:`.schedule`.
"""
