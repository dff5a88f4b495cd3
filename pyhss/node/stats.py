"""
What the node counts for metrics, kept cheap enough for the request path.

Counting a request is two clock reads, a few dictionary updates and a
bisection into fixed latency buckets (about a microsecond and a half):
plain integers keyed by numbers, with no locks, label objects or names.
Turning them into Prometheus series (names, labels, exposition) happens
only when someone asks (L{snapshot}, then C{pyhss.api.metrics}).

Everything here runs on the reactor thread; L{snapshot} is plain data
(JSON-able), so it can cross a process boundary.
"""

import bisect
import time

# Request latency buckets, seconds (Prometheus histogram upper bounds).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# What a request we sent ended with when no answer came.
NO_ANSWER_TIMEOUT = "timeout"
NO_ANSWER_DISCONNECTED = "disconnected"
NO_ANSWER_NOT_SENT = "not-sent"


class Histogram(object):
    """Counts per bucket of L{LATENCY_BUCKETS} (the last is +Inf) and the sum."""

    __slots__ = ("counts", "total")

    def __init__(self, buckets=LATENCY_BUCKETS):
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0

    def observe(self, value, _bounds=LATENCY_BUCKETS, _index=bisect.bisect_left):
        self.counts[_index(_bounds, value)] += 1
        self.total += value

    def snapshot(self):
        return {"counts": list(self.counts), "sum": self.total}


class NodeStats(object):
    """
    The node's counters.

    @ivar answered: (application id, command code, result code) -> the
        requests received and answered with that result, as one list: their
        count per latency bucket (seconds from dispatch to answer; the last
        is +Inf), then the sum of their latencies.  One lookup per request;
        the counter and the histogram are sums of these at export.
    @ivar sent: (application id, command code, result) -> requests we sent,
        by the answer's result code or why none came.
    @ivar watchdog_failures: peer name -> peers dropped for a DWA that did not come.
    @ivar counters: name -> count of other events (SQN resynchronisations...).
    @ivar control: (control command, outcome) -> control-socket requests.
    @ivar store: operation -> [L{Histogram} of seconds, failures].
    """

    now = staticmethod(time.perf_counter)

    def __init__(self):
        self.answered = {}
        self.sent = {}
        self.watchdog_failures = {}
        self.counters = {}
        self.control = {}
        self.store = {}
        self.store_calls = {}

    def request_answered(self, application_id, command_code, result, started,
                         _bounds=LATENCY_BUCKETS, _index=bisect.bisect_left, _size=len(LATENCY_BUCKETS) + 1):
        """A request dispatched at C{started} (L{now}) answered with C{result}."""
        elapsed = self.now() - started
        key = (application_id, command_code, result)
        entry = self.answered.get(key)
        if entry is None:
            entry = self.answered[key] = [0] * _size + [0.0]
        entry[_index(_bounds, elapsed)] += 1
        entry[-1] += elapsed

    def request_sent(self, application_id, command_code, result):
        key = (application_id, command_code, result)
        self.sent[key] = self.sent.get(key, 0) + 1

    def watchdog_failed(self, peer_name):
        self.watchdog_failures[peer_name] = self.watchdog_failures.get(peer_name, 0) + 1

    def count(self, name, amount=1):
        self.counters[name] = self.counters.get(name, 0) + amount

    def control_request(self, command, outcome):
        key = (command, outcome)
        self.control[key] = self.control.get(key, 0) + 1

    def store_operation(self, name, started, failed=False):
        """A sampled store call (of L{TimedOperations}) done."""
        entry = self.store.get(name)
        if entry is None:
            entry = self.store[name] = [Histogram(), 0]
        entry[0].observe(self.now() - started)
        if failed:
            entry[1] += 1

    def store_failed(self, name):
        entry = self.store.get(name)
        if entry is None:
            entry = self.store[name] = [Histogram(), 0]
        entry[1] += 1

    def snapshot(self):
        """The counters as JSON-able data (lists, not tuple keys)."""
        latency = {}
        for (app, command, result), entry in self.answered.items():
            merged = latency.get((app, command))
            if merged is None:
                latency[(app, command)] = list(entry)
            else:
                for index, value in enumerate(entry):
                    merged[index] += value
        return {
            "answered": [[app, command, result, sum(entry[:-1])]
                         for (app, command, result), entry in self.answered.items()],
            "latency": [[app, command, {"counts": entry[:-1], "sum": entry[-1]}]
                        for (app, command), entry in latency.items()],
            "latency_buckets": list(LATENCY_BUCKETS),
            "sent": [[app, command, result, count] for (app, command, result), count in self.sent.items()],
            "watchdog_failures": dict(self.watchdog_failures),
            "counters": dict(self.counters),
            "control": [[command, outcome, count] for (command, outcome), count in self.control.items()],
            "store": [[name, histogram.snapshot(), failures] for name, (histogram, failures) in self.store.items()],
            "store_calls": dict(self.store_calls),
            "store_sample": STORE_SAMPLE,
        }


# One store call in this many is timed: a callback on every call cost more
# than the 5% of AIR throughput metrics may take (bench/README.md).
STORE_SAMPLE = 8


class TimedOperations(object):
    """
    An object whose named methods (returning Deferreds) are counted into
    C{stats} (L{NodeStats.store_operation}): every call and every failure,
    and the latency of one call in L{STORE_SAMPLE}; every other attribute
    is the target's.  The service wraps its store in one, so that store
    latency and errors are counted per operation without the store knowing.
    """

    def __init__(self, target, names, stats):
        self._target = target
        for name in names:
            setattr(self, name, _timed(getattr(target, name), name, stats))

    def __getattr__(self, name):
        return getattr(self._target, name)


def _timed(method, name, stats):
    now = stats.now
    record = stats.store_operation
    calls = stats.store_calls
    calls[name] = 0

    def timed(*args, **kwargs):
        count = calls[name] = calls[name] + 1
        if count % STORE_SAMPLE:
            d = method(*args, **kwargs)
            d.addErrback(_failed, stats.store_failed, name)
            return d
        started = now()
        d = method(*args, **kwargs)
        d.addCallbacks(_timed_done, _timed_failed, (record, name, started), None, (record, name, started), None)
        return d
    timed.__name__ = name
    return timed


def _failed(reason, failed, name):
    failed(name)
    return reason


def _timed_done(result, record, name, started):
    record(name, started)
    return result


def _timed_failed(reason, record, name, started):
    record(name, started, failed=True)
    return reason
