"""Counters kept while parsing a capture, and the end-of-run summary."""


class ParseStats:
    """Frames, messages, rows, and skipped / undecodable items by reason.

    ``skipped``: frames or chunks that carry no SS7 message for us (ARP,
    SACK chunks, other PPIDs, duplicate TSNs...).  ``undecodable``: SS7
    messages whose decoding stopped at some layer (they still give a row
    with ``error`` set).  ``chunks``: non-DATA SCTP chunks seen, by name.
    """

    def __init__(self):
        self.frames = 0
        self.messages = 0
        self.rows = 0
        self.skipped = {}
        self.undecodable = {}
        self.chunk_types = {}  # SCTP chunk type number -> count (named in `chunks`)
        self.counters = {}

    def skip(self, reason):
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def undecodable_message(self, reason):
        self.undecodable[reason] = self.undecodable.get(reason, 0) + 1

    @property
    def chunks(self):
        """Non-DATA SCTP chunks seen, by chunk name."""
        from .sctp import chunk_name
        return {chunk_name(ctype): count for ctype, count in self.chunk_types.items()}

    def count(self, name):
        self.counters[name] = self.counters.get(name, 0) + 1

    def as_dict(self):
        return {
            "frames": self.frames,
            "messages": self.messages,
            "rows": self.rows,
            "skipped": dict(self.skipped),
            "undecodable": dict(self.undecodable),
            "chunks": dict(self.chunks),
            "counters": dict(self.counters),
        }

    def summary(self):
        """Human-readable multi-line summary."""
        lines = ["frames: %d" % self.frames,
                 "messages: %d" % self.messages,
                 "rows: %d" % self.rows]
        for title, table in (("skipped", self.skipped),
                             ("undecodable", self.undecodable),
                             ("other SCTP chunks", self.chunks)):
            total = sum(table.values())
            lines.append("%s: %d" % (title, total))
            for reason in sorted(table, key=lambda r: (-table[r], r)):
                lines.append("  %-32s %d" % (reason, table[reason]))
        return "\n".join(lines)
