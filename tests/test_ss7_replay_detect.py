"""Live detection in ``twistd ss7replay server`` (--rules, --model,
--network): a simulated capture with attacks replayed over TCP loopback
through the server process, and the one-line refusals of bad files."""

import json
import os
import shutil
import tempfile

from twisted.internet import defer, reactor
from twisted.trial import unittest

from ss7tools.decoder import decoded_batches
from ss7tools.detect.command import build_engine
from ss7tools.detect.live import LiveEvaluator
from ss7tools.detect.defaults import default_rules_text
from ss7tools.detect.network import OTHER, Network
from ss7tools.detect.source import iter_file_messages
from ss7tools.replay.detection import ServerDetection
from ss7tools.rows import COLUMN_INDEX, iter_rows
from ss7tools.stats import ParseStats

from .detect_helpers import simulate_labelled
from .test_ss7_replay_tcp import ROOT, TWISTD, ServerProcess, read_events

#: the default rules behind one that drops what networks without an
#: agreement ask (and, by the dialogue, its answers)
DROP_RULE = """\
  - name: drop-no-agreement
    action: drop
    description: a request from a network that is neither home nor a partner
    when: {calling: [other], request: true}

"""


def rules_with_drop():
    head, rules = default_rules_text().split("rules:\n", 1)
    return head + "rules:\n" + DROP_RULE + rules


class LiveDetectionTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def run_twistd(self, *args):
        from twisted.internet import utils
        env = dict(os.environ, PYTHONPATH=ROOT)
        return utils.getProcessOutputAndValue(
            TWISTD, ("-n", "--pidfile=", "ss7replay") + args, env=env, path=self.dir)

    @defer.inlineCallbacks
    def test_replayed_attacks_are_alerted_and_dropped(self):
        captures = self.path("captures")
        os.mkdir(captures)
        sim, pcap, _labels = simulate_labelled(captures, duration=600.0, subscribers=500)
        os.remove(_labels)
        with open(self.path("rules.yaml"), "w") as f:
            f.write(rules_with_drop())
        # what the same rules decide offline on the capture
        offline = build_engine(self.path("rules.yaml"))
        verdicts = [offline.evaluate(rows) for rows in iter_file_messages(pcap)]
        dropped_offline = sum(1 for v in verdicts if v.action == "drop")
        self.assertTrue(dropped_offline and offline.counts["alert"])

        server = ServerProcess()
        env = dict(os.environ, PYTHONPATH=ROOT)
        transport = reactor.spawnProcess(
            server, TWISTD, [TWISTD, "-n", "--pidfile=", "ss7replay", "server", "--listen",
                             "tcp:0:interface=127.0.0.1", "--record", "received.pcap", "--log",
                             "events.jsonl", "--rules", "rules.yaml"], env=env, path=self.dir)
        self.addCleanup(server.stop, transport)
        port = yield server.listening
        out, err, code = yield self.run_twistd(
            "client", "--connect", "tcp:127.0.0.1:%d" % port, "--pcap-dir", captures,
            "--max-gap", "0.001")
        self.assertEqual(code, 0, (out, err))
        yield server.stop(transport)

        events = read_events(self.path("events.jsonl"))
        alerts = [e for e in events if e["event"] == "alert"]
        drops = [e for e in events if e["event"] == "drop"]
        (closed,) = [e for e in events if e["event"] == "association_closed"]
        (summary,) = [e for e in events if e["event"] == "detection"]
        # every SS7 message judged, the same decisions as offline
        self.assertEqual(summary["judged"], sim.messages)
        self.assertEqual(len(drops), dropped_offline)
        self.assertEqual({d["rule"] for d in drops}, {"drop-no-agreement"})
        self.assertEqual(len(alerts), offline.counts["alert"])
        self.assertTrue({a["rule"] for a in alerts} <= {r for r in _rule_names()})
        self.assertTrue(all(a["family"] for a in alerts))
        self.assertEqual((summary["alerts"], summary["drops"], summary["errors"]),
                         (len(alerts), len(drops), 0))
        self.assertEqual(summary["verdicts"]["allow"], sim.messages - len(alerts) - len(drops))
        self.assertGreater(summary["latency_p99_ms"], 0)
        # a dropped message is neither recorded, logged nor counted as accepted
        self.assertEqual(closed["dropped"], len(drops))
        recorded = list(iter_rows(self.path("received.pcap")))
        accepted = closed["messages"] - len(drops)
        self.assertEqual(len({(r[0], r[1]) for r in recorded}), accepted)
        self.assertEqual(sum(1 for e in events if e["event"] == "message"), accepted)
        network = Network.load()
        calling, tcap = COLUMN_INDEX["calling_gt"], COLUMN_INDEX["tcap_type"]
        self.assertFalse([r for r in recorded if r[calling] and r[tcap] == "begin"
                          and network.gt(r[calling]).origin == OTHER])
        self.assertIn(b'"event":"alert"', server.output)
        self.assertIn(b'"event":"detection"', server.output)

    def test_counter_line_and_summary(self):
        """The per-second line's detection part covers the messages judged
        in that interval; the summary the totals."""
        sim, pcap, _ = simulate_labelled(self.dir, duration=300.0, subscribers=300)
        messages = [m for batch in decoded_batches(pcap, ParseStats(), 64) for m in batch]
        ticks = iter(range(10 ** 6))
        detection = ServerDetection(LiveEvaluator(build_engine(), clock=lambda: next(ticks)))
        self.assertEqual(detection.interval_text(), "")
        for message in messages[:50]:
            detection.judge(message)
        first = detection.interval_text()
        self.assertTrue(first.startswith("; judged 50, "), first)
        self.assertIn("evaluation p50 1000.000 ms, p99 1000.000 ms, max 1000.000 ms", first)
        for message in messages[50:]:
            detection.judge(message)
        self.assertTrue(detection.interval_text().startswith("; judged %d, "
                                                             % (len(messages) - 50)))
        self.assertEqual(detection.interval_text(), "")
        summary = detection.summary()
        self.assertEqual(summary["judged"], sim.messages)
        self.assertEqual(summary["alerts"], detection.evaluator.engine.counts["alert"])
        self.assertTrue(summary["alerts"])
        self.assertIsNone(detection.judge(None))
        self.assertIsNone(detection.judge(ValueError("decoder fault")))

    @defer.inlineCallbacks
    def test_bad_files_are_one_line_refusals(self):
        with open(self.path("broken.yaml"), "w") as f:
            f.write("version: 1\nrules:\n  - name: x\n    action: explode\n")
        with open(self.path("model.json"), "wb") as f:
            f.write(b"\x80\x04not a model")
        with open(self.path("net.yaml"), "w") as f:
            f.write("home: {name: h}\n")
        cases = (("--rules", "broken.yaml", "broken.yaml:4: rule x: action must be one of"),
                 ("--rules", "absent.yaml", "absent.yaml:1: cannot read"),
                 ("--model", "model.json", "model.json: not an ss7tools model"),
                 ("--network", "net.yaml", "net.yaml: home"))
        for option, name, text in cases:
            out, err, code = yield self.run_twistd("server", "--listen",
                                                   "tcp:0:interface=127.0.0.1", option, name)
            lines = err.decode().strip().splitlines()
            self.assertEqual(code, 2, (option, out, err))
            self.assertEqual(len(lines), 1, (option, err))
            self.assertIn(text, lines[0])


def _rule_names():
    from ss7tools.detect.rules import parse_rules
    return [r.name for r in parse_rules(rules_with_drop()).rules]
