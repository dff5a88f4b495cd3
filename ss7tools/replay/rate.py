"""``ss7tools rate IFACE``: packets and bytes per second received and sent
on an interface, from the kernel's counters
(``/sys/class/net/IFACE/statistics``, else ``/proc/net/dev``).

Sans-IO where it counts: :func:`read_counters` reads one sample,
:class:`RateMeter` turns successive samples into rates (a counter that
went down, an interface reset, restarts from the new value).
"""

import os

from ss7tools.errors import ReplayInputError

SYS_NET = "/sys/class/net"
PROC_NET_DEV = "/proc/net/dev"
FIELDS = ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes")


def interfaces(sys_net=SYS_NET, proc_net_dev=PROC_NET_DEV):
    try:
        return sorted(os.listdir(sys_net))
    except OSError:
        return sorted(_proc_table(proc_net_dev))


def _proc_table(path):
    """{interface: {field: value}} from /proc/net/dev."""
    table = {}
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()[2:]
    except OSError:
        return table
    for line in lines:
        if ":" not in line:
            continue
        name, values = line.split(":", 1)
        numbers = values.split()
        if len(numbers) < 16:
            continue
        table[name.strip()] = {"rx_bytes": int(numbers[0]), "rx_packets": int(numbers[1]),
                               "tx_bytes": int(numbers[8]), "tx_packets": int(numbers[9])}
    return table


def read_counters(interface, sys_net=SYS_NET, proc_net_dev=PROC_NET_DEV):
    """``{rx_packets, rx_bytes, tx_packets, tx_bytes}`` of ``interface``;
    a :class:`ReplayInputError` line when there is no such interface."""
    if not interface or "/" in interface or interface in (".", ".."):
        raise ReplayInputError("%r is not an interface name" % (interface,))
    statistics = os.path.join(sys_net, interface, "statistics")
    if os.path.isdir(statistics):
        counters = {}
        try:
            for field in FIELDS:
                with open(os.path.join(statistics, field)) as handle:
                    counters[field] = int(handle.read().strip())
            return counters
        except (OSError, ValueError):
            pass
    table = _proc_table(proc_net_dev)
    if interface in table:
        return table[interface]
    known = interfaces(sys_net, proc_net_dev)
    raise ReplayInputError("no interface %s here (interfaces: %s)"
                           % (interface, ", ".join(known) or "none found"))


class RateMeter:
    """Rates between successive samples ``(time, counters)``."""

    def __init__(self):
        self._last = None

    def sample(self, when, counters):
        """The rates since the previous sample (per second), or None for
        the first sample."""
        last, self._last = self._last, (when, counters)
        if last is None:
            return None
        elapsed = when - last[0]
        if elapsed <= 0:
            return None
        rates = {}
        for field in FIELDS:
            delta = counters[field] - last[1][field]
            if delta < 0:       # counters reset (interface re-created)
                delta = counters[field]
            rates[field + "_per_s"] = delta / elapsed
        return rates


def format_rates(interface, rates):
    return ("%s  rx %10.1f pkt/s %12.1f B/s   tx %10.1f pkt/s %12.1f B/s" % (
        interface, rates["rx_packets_per_s"], rates["rx_bytes_per_s"],
        rates["tx_packets_per_s"], rates["tx_bytes_per_s"]))
