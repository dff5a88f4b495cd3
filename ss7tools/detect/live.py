"""Live evaluation: the component the replay server (``twistd ss7replay``)
plugs in to judge every message as it arrives.

One call per arriving message, :meth:`LiveEvaluator.evaluate`, with the
decoded :class:`~ss7tools.model.Ss7Message` (projected to rows by
:func:`ss7tools.rows.messages_rows`, the parser's one projection) gives
its :class:`~ss7tools.detect.engine.Verdict`; the engine, feature pass and
state are those of ``ss7tools detect``.  The server then forwards the
message unless ``verdict.action == "drop"`` (a dropped message is neither
recorded nor counted as accepted).  Alerts and drops are written as JSON
lines to ``alert_log``; every call's evaluation time (by the injected
``clock``) goes into a bounded window whose percentiles :meth:`latency`
reports.  Nothing here blocks or sleeps: it runs on the reactor thread.
"""

import itertools
import json
import time
from collections import deque

from ..rows import messages_rows

LATENCY_WINDOW = 100_000


class LiveEvaluator:
    """``evaluate(message)`` -> verdict, for each message as it arrives."""

    def __init__(self, engine, alert_log=None, clock=time.perf_counter,
                 window=LATENCY_WINDOW):
        self.engine = engine
        self.alert_log = alert_log
        self.clock = clock
        self._latencies = deque(maxlen=window)
        self.evaluated = 0

    @classmethod
    def from_files(cls, rules_path=None, model_path=None, network_path=None, **kwargs):
        from .command import build_engine
        return cls(build_engine(rules_path, model_path, network_path), **kwargs)

    def evaluate(self, message):
        """The verdict of one decoded :class:`~ss7tools.model.Ss7Message`."""
        started = self.clock()
        verdict = self.engine.evaluate(messages_rows((message,)))
        self._done(started, verdict)
        return verdict

    def evaluate_rows(self, rows):
        """The verdict of one message given as its rows (one per component)."""
        started = self.clock()
        verdict = self.engine.evaluate(rows)
        self._done(started, verdict)
        return verdict

    def _done(self, started, verdict):
        self._latencies.append(self.clock() - started)
        self.evaluated += 1
        if verdict.action != "allow" and self.alert_log is not None:
            self.alert_log.write(json.dumps(alert_record(verdict), sort_keys=True) + "\n")

    def recent_latencies(self, count):
        """The last ``count`` evaluation times (at most the window's)."""
        window = self._latencies
        count = min(count, len(window))
        return list(itertools.islice(window, len(window) - count, len(window)))

    def latency(self):
        """``{count, p50, p99, max}`` of the recent evaluation times (seconds)."""
        values = sorted(self._latencies)
        if not values:
            return {"count": 0, "p50": 0.0, "p99": 0.0, "max": 0.0}

        def at(q):
            return values[min(len(values) - 1, int(q * len(values)))]
        return {"count": len(values), "p50": at(0.50), "p99": at(0.99), "max": values[-1]}


def alert_record(v):
    """The JSON line of an alert or drop."""
    return {"frame": v.frame, "chunk": v.chunk, "time": v.time, "action": v.action,
            "rule": v.rule, "family": v.family, "score": round(v.score, 4),
            "reason": v.reason, "op": v.op, "subscriber": v.subscriber,
            "calling_gt": v.calling_gt, "called_gt": v.called_gt,
            "attacker_gt": v.attacker_gt}
