"""Attack detection on SS7 traffic, offline and live.

The parts: the network file (:mod:`.network`), the state and the one
streaming feature pass (:mod:`.state`, :mod:`.features`), YAML firewall
rules (:mod:`.rules`, the default FS.11 set in :mod:`.defaults`), the
engine giving one verdict per message (:mod:`.engine`), the learned model
and its safe file format (:mod:`.model`, trained by :mod:`.train`, mined
into rules by :mod:`.mine`), the per-subscriber summary, scoring against
labels and the HTML report (:mod:`.summary`, :mod:`.evaluate`,
:mod:`.report`), live evaluation for the replay server (:mod:`.live`) and
the commands (:mod:`.command`).  Detection reads the parser's rows
(:data:`ss7tools.rows.COLUMNS`), whatever produced them.
"""


def add_parser(subparsers):
    """The detection commands (see :mod:`.command`), for ``ss7tools``."""
    from .command import add_parser as add
    add(subparsers)
