"""Detection on held-out traffic: category rules, mined rules, rules + model.

Trains the model and mines rules on simulated traffic of the default world
(``--train-seeds``), then evaluates on traffic of other seeds of the
holdout world (``ss7tools/simulate/holdout_world.yaml``: another home
network, other partners and GT ranges, another attack mix, 30% stealthy
campaigns), each with its own network file.  Prints per attack family
precision, recall, F1 (family attribution must be right), ``detected``
(flagged at all, any family) and support, per message and per subscriber,
with the share of normal subscribers flagged, for: the default FS.11
category rules alone, the mined rules, and the default rules plus the
model.  Targets (held out, per subscriber): recall >= 0.98 per family with
< 0.5% of normal subscribers flagged; per message F1 >= 0.95.  Then
leave-one-family-out: each family withheld from training in turn, what
the mined rules and rules + model still catch of it.

    .venv/bin/python bench/detect_eval.py            # 3 x 1 h training, 2 x 1 h test, 20k subscribers
    .venv/bin/python bench/detect_eval.py --quick    # smaller, for a look
"""

import argparse
import io
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from ss7tools.attack_families import ATTACK_TYPES  # noqa: E402
from ss7tools.detect.defaults import default_rules  # noqa: E402
from ss7tools.detect.engine import Engine  # noqa: E402
from ss7tools.detect.evaluate import Scorer, format_table  # noqa: E402
from ss7tools.detect.mine import mine_collected  # noqa: E402
from ss7tools.detect.model import load_model  # noqa: E402
from ss7tools.detect.network import Network  # noqa: E402
from ss7tools.detect.rules import parse_rules  # noqa: E402
from ss7tools.detect.source import iter_file_rows, messages, read_labels  # noqa: E402
from ss7tools.detect.summary import Summary  # noqa: E402
from ss7tools.detect.train import CLASS_INDEX, collect, train_collected  # noqa: E402
from ss7tools.simulate.command import simulate  # noqa: E402
from ss7tools.simulate.world import HOLDOUT_WORLD, World  # noqa: E402


def make(directory, world_path, seed, duration, subscribers, boost, stealth):
    world = World.load(world_path)
    name = "%s-%d" % (os.path.basename(world_path or "default").split("_")[0], seed)
    pcap = os.path.join(directory, name + ".pcap")
    labels = os.path.join(directory, name + ".labels.csv")
    mix = {family: spec["share"] * boost for family, spec in world.attacks.items()}
    sim = simulate(pcap, labels, world=world, seed=seed, duration=duration,
                   subscribers=subscribers, attack_mix=mix, stealth=stealth)
    network = Network(world.network_description(), name)
    return pcap, labels, network, sim


def run(engine, pcap, labels):
    summary, scorer = Summary(), Scorer()
    for rows in messages(iter_file_rows(pcap)):
        v = engine.evaluate(rows)
        summary.add(v)
        scorer.add(v, labels.get((v.frame, v.chunk)))
    return scorer, summary, dict(engine.features.state.msisdns)


def merged_scores(tests, make_engine):
    """Message and subscriber scores over all test captures (pooled)."""
    total = Scorer()
    summaries = Summary()
    mapping = {}
    for pcap, labels_path, network, _ in tests:
        scorer, summary, msisdns = run(make_engine(network), pcap, read_labels(labels_path))
        for key, n in scorer.pairs.items():
            total.pairs[key] = total.pairs.get(key, 0) + n
        for family, victims in scorer.victims.items():
            total.victims[family] |= {(pcap, v) for v in victims}
        total.victim_msisdn.update({(pcap, k): (pcap, v)
                                    for k, v in scorer.victim_msisdn.items()})
        total.seen |= {(pcap, k) for k in scorer.seen}
        for key, entry in summary.entries.items():
            summaries.entries[(pcap, key)] = entry
            if entry.imsi:
                entry.imsi = (pcap, entry.imsi)
        mapping.update({(pcap, k): (pcap, v) for k, v in msisdns.items()})
    return total.message_scores(), total.subscriber_scores(summaries, mapping)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-seeds", default="1,2,3")
    parser.add_argument("--test-seeds", default="11,12")
    parser.add_argument("--duration", type=float, default=3600.0)
    parser.add_argument("--subscribers", type=int, default=20000)
    parser.add_argument("--boost", type=float, default=3.0,
                        help="attack shares times this (more victims to count)")
    parser.add_argument("--train-stealth", type=float, default=0.1)
    parser.add_argument("--quick", action="store_true", help="30 min, 8,000 subscribers")
    parser.add_argument("--no-lofo", action="store_true", help="skip leave-one-family-out")
    parser.add_argument("--keep", help="directory to keep captures, model and rules in")
    parser.add_argument("--lofo-families", default=",".join(ATTACK_TYPES),
                        help="the families to withhold in turn (comma-separated)")
    args = parser.parse_args(argv)
    families = [f for f in args.lofo_families.split(",") if f]
    unknown = [f for f in families if f not in ATTACK_TYPES]
    if unknown:
        parser.error("--lofo-families: unknown family %r" % unknown[0])
    if args.quick:
        args.duration, args.subscribers = 1800.0, 8000
    directory = args.keep or tempfile.mkdtemp(prefix="detect_eval")
    out = sys.stdout
    try:
        started = time.time()
        trains = [make(directory, None, int(s), args.duration, args.subscribers, args.boost,
                       args.train_stealth) for s in args.train_seeds.split(",")]
        tests = [make(directory, HOLDOUT_WORLD, int(s), args.duration, args.subscribers,
                      args.boost, None) for s in args.test_seeds.split(",")]
        out.write("simulated %d training messages (default world, stealth %.2f) and %d test "
                  "messages (holdout world) in %.0f s\n" % (
                      sum(t[3].messages for t in trains), args.train_stealth,
                      sum(t[3].messages for t in tests), time.time() - started))
        collected = collect([(p, l) for p, l, _, _ in trains], trains[0][2])
        model_path = os.path.join(directory, "model.json")
        log = lambda line: out.write("  " + line + "\n")  # noqa: E731
        train_collected(collected, model_path, log=log, inputs=len(trains))
        model = load_model(model_path)
        out.write("  chose %s, threshold %.3f\n" % (model.training["chosen"], model.threshold))
        mined_text, _ = mine_collected(collected, log=log, inputs=len(trains))
        with open(os.path.join(directory, "mined.yaml"), "w") as f:
            f.write(mined_text)
        mined = parse_rules(mined_text, "mined.yaml")
        approaches = (
            ("category rules", lambda net: Engine(default_rules(), net)),
            ("mined rules", lambda net: Engine(mined, net)),
            ("rules + model", lambda net: Engine(default_rules(), net, model)),
        )
        results = {}
        for name, make_engine in approaches:
            t = time.time()
            per_message, per_subscriber = merged_scores(tests, make_engine)
            results[name] = (per_message, per_subscriber)
            out.write("\n== %s (held out: holdout world, seeds %s; %.0f s)\n"
                      % (name, args.test_seeds, time.time() - t))
            format_table("per message", per_message, out)
            format_table("per subscriber", per_subscriber, out, subscriber=True)
            worst = min(per_subscriber[f]["detected"] for f in ATTACK_TYPES)
            out.write("  targets: per-subscriber detected >= 0.98 in every family: %s "
                      "(lowest %.3f); normal subscribers flagged < 0.5%%: %s; per-message "
                      "F1 >= 0.95: %s (%.3f)\n" % (
                          "met" if worst >= 0.98 else "NOT met", worst,
                          "met" if per_subscriber["normal_flagged"] < 0.005 else "NOT met",
                          "met" if per_message["any"]["f1"] >= 0.95 else "NOT met",
                          per_message["any"]["f1"]))
        if not args.no_lofo:
            lofo(collected, tests, directory, out, families)
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)


def lofo(collected, tests, directory, out, families=ATTACK_TYPES):
    X, y, groups, counts = collected
    out.write("\n== leave one family out: each family withheld from training; what is "
              "caught of it (detected, any family) on the held-out traffic\n")
    out.write("  %-18s %28s %28s %28s\n" % ("withheld family", "category rules msg/sub",
                                           "mined rules msg/sub", "rules+model msg/sub"))
    base_message, base_subscriber = merged_scores(
        tests, lambda net: Engine(default_rules(), net))
    for family in families:
        keep = [i for i, c in enumerate(y) if c != CLASS_INDEX[family]]
        part = ([X[i] for i in keep], [y[i] for i in keep], [groups[i] for i in keep], counts)
        path = os.path.join(directory, "model-without-%s.json" % family)
        train_collected(part, path, log=None)
        model = load_model(path)
        text, _ = mine_collected(part, log=None)
        mined = parse_rules(text, "mined-without-%s.yaml" % family)
        m_message, m_subscriber = merged_scores(tests, lambda net: Engine(mined, net))
        r_message, r_subscriber = merged_scores(
            tests, lambda net: Engine(default_rules(), net, model))
        out.write("  %-18s %13.3f / %-12.3f %13.3f / %-12.3f %13.3f / %-12.3f\n" % (
            family, base_message[family]["detected"], base_subscriber[family]["detected"],
            m_message[family]["detected"], m_subscriber[family]["detected"],
            r_message[family]["detected"], r_subscriber[family]["detected"]))


if __name__ == "__main__":
    main()
