"""``ss7tools simulate``: labelled SS7 (SIGTRAN/MAP) traffic with attacks.

The world (``world``), normal procedures (``procedures``), attacks
(``attacks``), the scheduler (``engine``) and the pcap/labels writer
(``output``) live in their modules; this one only wires the command line,
so that loading the ``ss7tools`` command stays cheap.
"""

from ss7tools.simulate.command import add_parser, parse_duration, run_simulate

__all__ = ["add_parser", "parse_duration", "run_simulate"]
