"""Live detection in the replay server (``--rules``, ``--model``,
``--network``): every SS7 message judged as it arrives.

:class:`ServerDetection` holds one
:class:`~ss7tools.detect.live.LiveEvaluator` (the engine, feature pass and
state of ``ss7tools detect``) for the whole server: an attack is followed
across associations as it would be across one capture.  The server asks
it about each decoded message that carries SCCP (ASP management is not
SS7 traffic) before recording or counting it; an alert or drop becomes a
JSON line (:func:`alert_line`) for the event log and the console.  Its
counters feed the server's per-second line and its shutdown summary.
"""

from ss7tools.detect.live import LiveEvaluator, alert_record

ALERT, DROP = "alert", "drop"


def alert_line(association, verdict):
    """The JSON object of an alert or drop (event ``alert`` or ``drop``)."""
    line = {"event": verdict.action, "association": association}
    line.update(alert_record(verdict))
    return line


class ServerDetection:
    """``judge(association, message)`` -> the verdict of one decoded
    message (None if it was not judged); counts and latencies."""

    def __init__(self, evaluator):
        self.evaluator = evaluator
        self.alerts = 0
        self.drops = 0
        self.errors = 0
        self._interval_from = 0     # evaluations before the current interval

    @classmethod
    def from_files(cls, rules_path=None, model_path=None, network_path=None):
        """Loads the files; :class:`~ss7tools.errors.Ss7ToolsError` (one
        line naming the file) or OSError if one cannot be used."""
        return cls(LiveEvaluator.from_files(rules_path, model_path, network_path))

    def judge(self, message):
        if getattr(message, "sccp", None) is None:
            return None     # ASP management, or what the decoder could not read
        verdict = self.evaluator.evaluate(message)
        if verdict.action == DROP:
            self.drops += 1
        elif verdict.action == ALERT:
            self.alerts += 1
        return verdict

    def interval_text(self):
        """``N alerts, M dropped, evaluation p50/p99/max`` over the messages
        judged since the last call (empty when none were)."""
        evaluator = self.evaluator
        fresh = evaluator.evaluated - self._interval_from
        self._interval_from = evaluator.evaluated
        values = sorted(evaluator.recent_latencies(fresh))
        if not values:
            return ""
        return "; judged %d, %d alerts, %d dropped (total), evaluation p50 %.3f ms, p99 %.3f " \
               "ms, max %.3f ms" % (len(values), self.alerts, self.drops,
                                    _at(values, 0.50) * 1e3, _at(values, 0.99) * 1e3,
                                    values[-1] * 1e3)

    def summary(self):
        """The shutdown figures: messages judged, alerts, drops, evaluation
        errors and the latency percentiles (ms) of the recent window."""
        latency = self.evaluator.latency()
        return {"event": "detection", "judged": self.evaluator.evaluated,
                "alerts": self.alerts, "drops": self.drops, "errors": self.errors,
                "latency_window": latency["count"],
                "latency_p50_ms": round(latency["p50"] * 1e3, 4),
                "latency_p99_ms": round(latency["p99"] * 1e3, 4),
                "latency_max_ms": round(latency["max"] * 1e3, 4),
                "verdicts": dict(self.evaluator.engine.counts)}


def _at(values, q):
    return values[min(len(values) - 1, int(q * len(values)))]
