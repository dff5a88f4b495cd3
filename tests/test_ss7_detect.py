"""ss7tools.detect end to end: simulate -> detect on a small capture, the
feature pass offline and live, the model file, training and mining, the
report, bounded state and the network file."""

import io
import json
import os
import pickle
import shutil
import tempfile

from twisted.trial import unittest

from ss7tools import cli
from ss7tools.decoder import decoded_batches
from ss7tools.detect.command import build_engine
from ss7tools.detect.defaults import default_rules
from ss7tools.detect.engine import Engine
from ss7tools.detect.features import FEATURES, FeaturePass
from ss7tools.detect.live import LiveEvaluator
from ss7tools.detect.model import load_model
from ss7tools.detect.network import Network
from ss7tools.detect.rules import load_rules
from ss7tools.detect.source import iter_file_rows, messages, read_labels
from ss7tools.detect.state import Limits
from ss7tools.detect.train import collect, train
from ss7tools.errors import ModelFileError, NetworkFileError
from ss7tools.stats import ParseStats

from .detect_helpers import simulate_labelled


class _Captured(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.sim, self.pcap, self.labels = simulate_labelled(self.dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def cli(self, *argv):
        import contextlib
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = cli.main(list(argv))
        return status, err.getvalue()


class EndToEndTests(_Captured):
    def test_simulate_then_detect(self):
        status, err = self.cli("detect", self.pcap, "-o", self.path("v.csv"),
                               "--labels", self.labels)
        self.assertEqual(status, 0, err)
        import csv
        with open(self.path("v.csv"), newline="") as f:
            verdicts = list(csv.DictReader(f))
        labels = read_labels(self.labels)
        self.assertEqual(len(verdicts), self.sim.messages)
        self.assertEqual({(int(v["frame"]), int(v["chunk"])) for v in verdicts}, set(labels))
        attacks = [v for v in verdicts
                   if labels[(int(v["frame"]), int(v["chunk"]))]["label"] != "normal"]
        flagged = [v for v in attacks if v["verdict"] != "allow"]
        self.assertGreater(len(flagged), 0.8 * len(attacks))
        normal_flagged = [v for v in verdicts if v["verdict"] != "allow"
                          and labels[(int(v["frame"]), int(v["chunk"]))]["label"] == "normal"]
        self.assertLess(len(normal_flagged), 0.01 * len(verdicts))
        for v in flagged:
            self.assertTrue(v["rule"] and v["reason"] and v["family"], v)
        with open(self.path("v.summary.csv"), newline="") as f:
            summary = list(csv.DictReader(f))
        victims = {l["victim_imsi"] for l in labels.values() if l["label"] != "normal"}
        found = {s["imsi"] for s in summary if s["imsi"]}
        self.assertGreater(len(found & victims), 0.8 * len(victims))
        self.assertTrue(all(s["attacker_gts"] and s["families"] for s in summary))
        self.assertIn("per subscriber", err)

    def test_rows_files_give_the_same_verdicts(self):
        outputs = []
        for fmt in ("csv", "msgpack"):
            rows = self.path("rows." + fmt)
            self.assertEqual(self.cli("parse", self.pcap, "-o", rows, "-q")[0], 0)
            out = self.path("v-%s.csv" % fmt)
            self.assertEqual(self.cli("detect", rows, "-o", out, "-q")[0], 0)
            outputs.append(out)
        self.assertEqual(self.cli("detect", self.pcap, "-o", self.path("v.csv"), "-q")[0], 0)
        texts = []
        for out in outputs + [self.path("v.csv")]:
            with open(out) as f:
                texts.append(f.read())
        self.assertEqual(texts[0], texts[1])
        self.assertEqual(texts[0], texts[2])

    def test_refusals_are_one_line(self):
        bad = self.path("bad.yaml")
        with open(bad, "w") as f:
            f.write("rules:\n  - name: a\n    action: maybe\n")
        for argv, fragment in (
                (["detect", self.pcap, "-o", self.path("v.csv"), "--rules", bad],
                 "bad.yaml:3: rule a: action"),
                (["detect", self.path("none.pcap"), "-o", self.path("v.csv")], "cannot read"),
                (["detect", self.pcap, "-o", self.path("v.csv"), "--model", bad],
                 "not an ss7tools model"),
                (["rules", "--check", bad], "bad.yaml:3:")):
            status, err = self.cli(*argv)
            self.assertEqual(status, 2, err)
            self.assertIn(fragment, err)
            self.assertEqual(err.count("\n"), 1, err)

    def test_rules_command_prints_a_loadable_default(self):
        import contextlib
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(cli.main(["rules"]), 0)
        path = self.path("default.yaml")
        with open(path, "w") as f:
            f.write(out.getvalue())
        self.assertEqual(len(load_rules(path)), len(default_rules()))

    def test_report(self):
        self.cli("detect", self.pcap, "-o", self.path("v.csv"), "-q")
        status, err = self.cli("report", self.path("v.csv"), "--labels", self.labels,
                               "-o", self.path("r.html"))
        self.assertEqual(status, 0, err)
        with open(self.path("r.html")) as f:
            text = f.read()
        self.assertGreaterEqual(text.count("src='data:image/png;base64,"), 5)
        self.assertNotIn("http://", text.replace("http://www.w3.org", ""))
        self.assertNotIn("https://", text)
        self.assertIn("Confusion matrix", text)


class OfflineLiveTests(_Captured):
    def test_same_features_and_verdicts_offline_and_live(self):
        network = Network.load()
        offline = FeaturePass(network)
        offline_vectors = [list(offline.observe(rows).vector)
                           for rows in messages(iter_file_rows(self.pcap))]
        live_engine = Engine(default_rules(), network)
        live = LiveEvaluator(live_engine, alert_log=io.StringIO())
        live_vectors = []
        original = live_engine.features.observe

        def observe(rows):
            ctx = original(rows)
            live_vectors.append(list(ctx.vector))
            return ctx
        live_engine.features.observe = observe
        live_verdicts = []
        for batch in decoded_batches(self.pcap, ParseStats(), 64):
            for message in batch:
                live_verdicts.append(live.evaluate(message))
        self.assertEqual(len(live_vectors), self.sim.messages)
        self.assertEqual(offline_vectors, live_vectors)
        batch_engine = Engine(default_rules(), network)
        offline_verdicts = [batch_engine.evaluate(rows)
                            for rows in messages(iter_file_rows(self.pcap))]
        self.assertEqual([(v.action, v.rule, v.family) for v in offline_verdicts],
                         [(v.action, v.rule, v.family) for v in live_verdicts])
        alerts = [json.loads(line) for line in live.alert_log.getvalue().splitlines()]
        self.assertEqual(len(alerts), sum(1 for v in live_verdicts if v.action != "allow"))
        self.assertTrue(alerts and all(a["rule"] for a in alerts))
        latency = live.latency()
        self.assertEqual(latency["count"], self.sim.messages)
        self.assertLessEqual(latency["p50"], latency["p99"])

    def test_latency_uses_the_injected_clock(self):
        ticks = iter(range(1000))
        live = LiveEvaluator(Engine(default_rules(), Network.load()),
                             clock=lambda: next(ticks))
        for rows in list(messages(iter_file_rows(self.pcap)))[:10]:
            live.evaluate_rows(rows)
        self.assertEqual(live.latency(), {"count": 10, "p50": 1, "p99": 1, "max": 1})

    def test_state_stays_bounded(self):
        limits = Limits(subscribers=50, gts=10, dialogues=20, msisdns=30, sweep_every=16)
        engine = Engine(default_rules(), Network.load(), limits=limits)
        state = engine.features.state
        peak = {}
        for rows in messages(iter_file_rows(self.pcap)):
            engine.evaluate(rows)
            for name, size in state.sizes().items():
                peak[name] = max(peak.get(name, 0), size)
        self.assertLessEqual(peak["subscribers"], 50 + 16)
        self.assertLessEqual(peak["gts"], 10 + 16)
        self.assertLessEqual(peak["dialogues"], 20)
        self.assertLessEqual(peak["msisdns"], 30 + 16)
        last = state.subscribers[next(reversed(state.subscribers))].touched
        state.limits.subscriber_ttl = 0.0
        state.limits.gt_ttl = 0.0
        state.sweep(last + 1.0)
        self.assertEqual((len(state.subscribers), len(state.gts)), (0, 0))


class ModelTests(_Captured):
    def trained(self):
        model_path = self.path("model.json")
        train([(self.pcap, self.labels)], Network.load(), model_path,
              names=("decision_tree", "logistic_regression"))
        return model_path

    def test_model_round_trip_and_matches_scikit_learn(self):
        import numpy as np
        from sklearn.tree import DecisionTreeClassifier

        from ss7tools.detect.model import export_sklearn, save_model
        X, y, _, _ = collect([(self.pcap, self.labels)], Network.load())
        estimator = DecisionTreeClassifier(max_depth=6, random_state=0).fit(X, y)
        path = self.path("tree.json")
        save_model(path, export_sklearn(estimator), 0.5, {"note": "test"})
        model = load_model(path)
        self.assertEqual(model.features, FEATURES)
        expected = estimator.predict_proba(np.asarray(X))
        for x, probabilities in zip(X[:200], expected[:200]):
            got = model.probabilities(x)
            for cls, p in zip(estimator.classes_, probabilities):
                self.assertAlmostEqual(got[cls], p, places=5)

    def test_train_chooses_and_records(self):
        path = self.trained()
        model = load_model(path)
        training = model.training
        self.assertIn(training["chosen"], ("decision_tree", "logistic_regression"))
        self.assertEqual(set(training["candidates"]), {"decision_tree", "logistic_regression"})
        self.assertGreater(training["rows"], 50)
        self.assertTrue(0 < model.threshold < 1)
        with open(path) as f:
            document = json.load(f)
        self.assertEqual(document["features"], list(FEATURES))
        self.assertTrue(document["ss7tools_version"])
        engine = build_engine(model_path=path)
        verdicts = [engine.evaluate(rows) for rows in messages(iter_file_rows(self.pcap))]
        self.assertTrue(any(v.rule == "model" for v in verdicts)
                        or any(0 < v.score < 1 for v in verdicts))

    def test_batches_give_the_verdicts_of_one_message_at_a_time(self):
        """ss7tools detect's loop (batches, the model scoring a batch at
        once, merges and sweeps inside batches) decides exactly as the
        engine does one message at a time."""
        from ss7tools.detect import command
        from ss7tools.detect.command import detect_messages, verdict_row
        from ss7tools.detect.rules import parse_rules
        model_path = self.path("forest.json")
        train([(self.pcap, self.labels)], Network.load(), model_path,
              names=("random_forest",))
        model = load_model(model_path)
        self.assertTrue(model.batches)
        X, _, _, _ = collect([(self.pcap, self.labels)], Network.load())
        self.assertEqual(model.predict_many(X), [model.predict(x) for x in X])
        # the default rules with rate and flag conditions that fire often
        text = _busy_rules()
        groups = list(messages(iter_file_rows(self.pcap)))
        for rules in (default_rules(), parse_rules(text, "busy.yaml")):
            limits = Limits(subscribers=300, gts=40, dialogues=200, sweep_every=97)
            one = Engine(rules, Network.load(), model, limits=Limits(
                subscribers=300, gts=40, dialogues=200, sweep_every=97))
            expected = [verdict_row(one.evaluate(rows)) for rows in groups]
            batched = Engine(rules, Network.load(), model, limits=limits)
            self.patch(command, "BATCH", 100)
            out = io.StringIO()
            self.assertEqual(detect_messages(batched, iter(groups), out), len(groups))
            got = out.getvalue().splitlines()[1:]
            buffer = io.StringIO()
            import csv
            csv.writer(buffer, lineterminator="\n").writerows(expected)
            self.assertEqual(got, buffer.getvalue().splitlines())
            self.assertEqual(one.counts, batched.counts)
            self.assertTrue(batched.counts["alert"])

    def test_a_batch_reads_a_gt_history_as_it_was(self):
        """A new outside GT's first request flags it, although the batch's
        feature pass has counted its later requests already."""
        from ss7tools.detect.model import CLASSES, save_model

        from .detect_helpers import HOME_HLR, HOME_VLR, HOSTILE, row
        path = self.path("leaf.json")
        leaf = {"feature": [-1], "threshold": [0.0], "left": [-1], "right": [-1],
                "value": [[1.0] + [0.0] * (len(CLASSES) - 1)]}
        save_model(path, {"kind": "trees", "trees": [leaf]}, 0.5, {})
        model = load_model(path)
        groups = [[row(i, i, HOSTILE, HOME_HLR, "sendRoutingInfoForSM", otid="%02x" % i,
                       msisdn="49172%07d" % i)] for i in range(1, 31)]
        groups.append([row(40, 40, HOME_VLR, HOSTILE, "mt-forwardSM", otid="77",
                           imsi="262420000000001")])
        one = Engine(default_rules(), Network.load(), model)
        expected = [(v.action, v.rule) for v in map(one.evaluate, groups)]
        self.assertEqual(expected[-1], ("alert", "attacker-gt-contacted"))
        batched = Engine(default_rules(), Network.load(), model)
        self.assertEqual([(v.action, v.rule) for v in batched.evaluate_many(groups)], expected)

    def refused(self, text=None, data=None):
        path = self.path("m.json")
        with open(path, "wb") as f:
            f.write(data if data is not None else text.encode())
        with self.assertRaises(ModelFileError) as caught:
            load_model(path)
        message = str(caught.exception)
        self.assertNotIn("\n", message)
        self.assertTrue(message.startswith(path + ": "), message)
        return message

    def test_tampered_and_foreign_files_refused(self):
        with open(self.trained()) as f:
            document = json.load(f)
        tampered = dict(document, threshold=0.01)
        self.assertIn("checksum", self.refused(json.dumps(tampered)))
        trees = json.loads(json.dumps(document))
        if trees["estimator"]["kind"] == "trees":
            trees["estimator"]["trees"][0]["left"][0] = 0
        else:
            trees["estimator"]["coef"][0][0] += 1
        self.assertIn("checksum", self.refused(json.dumps(trees)))
        older = dict(document, format_version=0)
        self.assertIn("format version 0", self.refused(json.dumps(older)))
        other = dict(document, features=document["features"][:-1])
        self.assertIn("other features", self.refused(json.dumps(other)))
        self.assertIn("not an ss7tools model file", self.refused('{"format": "onnx"}'))
        self.assertIn("not an ss7tools model", self.refused(data=b"\x00\x01garbage"))

    def test_a_pickle_is_never_run(self):
        marker = self.path("ran")

        class Payload:
            def __reduce__(self):
                return (open, (marker, "w"))
        message = self.refused(data=pickle.dumps(Payload()))
        self.assertIn("never loaded", message)
        self.assertFalse(os.path.exists(marker))

    def test_a_cyclic_tree_is_refused(self):
        from ss7tools.detect.model import _digest
        with open(self.trained()) as f:
            document = json.load(f)
        tree = {"feature": [0, 0], "threshold": [1.0, 1.0], "left": [1, 0], "right": [1, 0],
                "value": [[1.0] + [0.0] * 6] * 2}
        document["estimator"] = {"kind": "trees", "trees": [tree]}
        document["sha256"] = _digest(document)
        self.assertIn("children must follow", self.refused(json.dumps(document)))

    def test_mine(self):
        status, err = self.cli("mine", self.pcap, "-o", self.path("mined.yaml"), "-q",
                               "--max-rules", "8")
        self.assertEqual(status, 0, err)
        rules = load_rules(self.path("mined.yaml"))
        mined = [r for r in rules.rules if r.name.startswith("mined-")]
        self.assertTrue(0 < len(mined) <= 8)
        with open(self.path("mined.yaml")) as f:
            self.assertIn("# support", f.read())
        status, err = self.cli("detect", self.pcap, "--rules", self.path("mined.yaml"),
                               "-o", self.path("v.csv"), "--labels", self.labels)
        self.assertEqual(status, 0, err)


def _busy_rules():
    """Rules whose conditions read what deciding changes (flags) and what
    the feature pass moves on (request rates), ahead of the defaults."""
    from ss7tools.detect.defaults import default_rules_text
    head = """\
version: 1
rules:
  - name: busy-gt
    action: alert
    family: dos
    when: {calling: [partner, other], request: true, rate: {window: 30, above: 3}}
  - name: after-flag
    action: drop
    family: inherit
    when: {request: true, subscriber_flagged_within: 120}
  - name: gt-after-flag
    action: alert
    family: inherit
    when: {gt_flagged_within: 600}
"""
    defaults = default_rules_text().split("rules:\n", 1)[1]
    return head + defaults


class NetworkFileTests(unittest.TestCase):
    def test_default_network_is_the_simulators_default_world(self):
        from ss7tools.simulate.world import World
        network = Network.load()
        world = World.load()
        self.assertEqual(network.home.mcc + network.home.mnc, world.home.mcc + world.home.mnc)
        self.assertEqual([p.name for p in network.partners], [p.name for p in world.partners])
        for partner in world.partners:
            self.assertEqual(network.gt(partner.hlr.gt).network, partner.name)
        for prefix in world.hostile_prefixes:
            self.assertEqual(network.gt(prefix + "12345").origin, 2)

    def test_errors_name_file_and_key(self):
        for data, fragment in (([], "(top)"), ({"home": {"country": "DE"}}, "home: missing"),
                               ({"home": {"name": "h", "country": "Germany"}}, "home.country"),
                               ({"home": dict(name="h", country="DE", mcc="26", mnc="01",
                                              cc="49", ndc="1", gt_prefixes=["49"])},
                                "home.mcc")):
            with self.assertRaises(NetworkFileError) as caught:
                Network(data, "net.yaml")
            self.assertIn("net.yaml: ", str(caught.exception))
            self.assertIn(fragment, str(caught.exception))
