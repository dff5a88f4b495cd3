"""ss7tools simulate: determinism, parse-ability, labels, attacks, mobility."""

import csv
import hashlib
import io
import os
import random
import shutil
import subprocess
import tempfile

from twisted.trial import unittest

from ss7tools import cli
from ss7tools.encode import tcap
from ss7tools.encode.gsmmap import isdn, tbcd
from ss7tools.rows import COLUMN_INDEX, iter_rows
from ss7tools.simulate import procedures
from ss7tools.simulate.command import parse_attack_mix, parse_duration, simulate
from ss7tools.simulate.engine import Simulation
from ss7tools.simulate.messages import MapCodec, context
from ss7tools.simulate.world import ATTACK_TYPES, World, WorldError
from ss7tools.stats import ParseStats

ALL_ATTACKS = ",".join("%s=0.03" % name for name in ATTACK_TYPES)


def _digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _labels(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


class _Recorder:
    """A sink keeping (src, dst, op, tcap_type, label) per message."""

    def __init__(self):
        self.sent = []

    def message(self, ts, src, dst, called, calling, tcap_bytes, sls, dialogue_id, label,
                op, tcap_type):
        self.sent.append((src, dst, op, tcap_type, label.label))


class _Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def run_sim(self, name="sim", **kwargs):
        pcap = os.path.join(self.dir, name + ".pcap")
        labels = os.path.join(self.dir, name + ".labels.csv")
        options = dict(seed=7, duration=900.0, subscribers=600)
        options.update(kwargs)
        sim = simulate(pcap, labels, **options)
        return sim, pcap, labels


class DeterminismTests(_Base):
    def test_same_seed_same_bytes(self):
        _, pcap1, labels1 = self.run_sim("a", attack_mix=parse_attack_mix(ALL_ATTACKS))
        _, pcap2, labels2 = self.run_sim("b", attack_mix=parse_attack_mix(ALL_ATTACKS))
        self.assertEqual(_digest(pcap1), _digest(pcap2))
        self.assertEqual(_digest(labels1), _digest(labels2))

    def test_other_seed_other_traffic(self):
        _, pcap1, _ = self.run_sim("a")
        _, pcap2, _ = self.run_sim("b", seed=8)
        self.assertNotEqual(_digest(pcap1), _digest(pcap2))

    def test_same_output_across_processes(self):
        """Nothing depends on string hashing or other per-process state."""
        import sys
        outputs = []
        for hash_seed in ("1", "2"):
            out = os.path.join(self.dir, "h%s.pcap" % hash_seed)
            env = dict(os.environ, PYTHONHASHSEED=hash_seed)
            subprocess.run([sys.executable, "-m", "ss7tools", "simulate", "-o", out,
                            "--duration", "5m", "--subscribers", "400", "--seed", "4",
                            "--attack-mix", "dos=0.05,location_tracking=0.05", "-q"],
                           check=True, env=env, timeout=120,
                           cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            outputs.append((_digest(out), _digest(out[:-5] + ".labels.csv")))
        self.assertEqual(outputs[0], outputs[1])

    def test_global_random_untouched(self):
        random.seed(1)
        expected = random.random()
        random.seed(1)
        self.run_sim()
        self.assertEqual(random.random(), expected)


class ParseTests(_Base):
    def test_every_message_parses_and_labels_line_up(self):
        sim, pcap, labels_path = self.run_sim(attack_mix=parse_attack_mix(ALL_ATTACKS))
        stats = ParseStats()
        rows = list(iter_rows(pcap, stats))
        labels = _labels(labels_path)
        self.assertGreater(len(rows), 500)
        self.assertEqual(len(rows), sim.messages)
        self.assertEqual(len(rows), len(labels))
        self.assertEqual(stats.frames, sim.frames)
        errors = [r for r in rows if r[COLUMN_INDEX["error"]]]
        self.assertEqual(errors, [])
        col = COLUMN_INDEX
        for row, label in zip(rows, labels):
            self.assertEqual((row[col["frame"]], row[col["chunk"]]),
                             (int(label["frame"]), int(label["chunk"])))
            self.assertEqual(row[col["tcap_type"]], label["tcap_type"])
            self.assertAlmostEqual(row[col["time_stamp"]], float(label["time_stamp"]), places=5)
            if row[col["component"]] in ("invoke", "returnResultLast"):
                self.assertEqual(row[col["op_name"]], label["op_name"])
            else:   # returnError / abort: the parser cannot know the operation
                self.assertIsNone(row[col["op_name"]])
            if label["label"] != "normal":
                self.assertTrue(label["attacker_gt"])
                self.assertTrue(label["victim_imsi"] or label["victim_msisdn"])
        self.assertGreater(len({l["label"] for l in labels}), 3)

    def test_bundled_frames_have_several_chunks(self):
        sim, pcap, labels_path = self.run_sim(subscribers=20000, duration=120.0)
        labels = _labels(labels_path)
        self.assertGreater(max(int(l["chunk"]) for l in labels), 0)
        self.assertLess(len({l["frame"] for l in labels}), sim.messages)

    def test_sack_only_frames_between_data(self):
        world = World.load()
        sim, pcap, labels_path = self.run_sim(world=world)
        data_frames = {int(l["frame"]) for l in _labels(labels_path)}
        stats = ParseStats()
        self.assertEqual(len(list(iter_rows(pcap, stats))), sim.messages)
        sacks = sim.frames - len(data_frames)
        # one SACK per two DATA packets on each association direction
        self.assertTrue(0.3 * len(data_frames) < sacks <= 0.5 * len(data_frames), sacks)
        self.assertIn("SACK", stats.summary())
        world.behaviour["sack_every"] = 0
        sim, _, labels_path = self.run_sim("nosack", world=world)
        self.assertEqual(sim.frames, len({l["frame"] for l in _labels(labels_path)}))

    def test_transaction_ids_match_within_dialogues(self):
        _, pcap, labels_path = self.run_sim()
        col = COLUMN_INDEX
        begins = {}
        for row, label in zip(iter_rows(pcap), _labels(labels_path)):
            dialogue = label["dialogue_id"]
            if row[col["tcap_type"]] == "begin":
                begins[(dialogue, row[col["otid"]])] = row
            elif row[col["tcap_type"]] in ("end", "abort"):
                self.assertIn((dialogue, row[col["dtid"]]), begins)
        # one TCAP dialogue per id: a single begin each
        ids = [d for d, _ in begins]
        self.assertEqual(len(ids), len(set(ids)))


class AttackTests(_Base):
    # operations that must show up for each attack type forced on its own
    EXPECTED = {
        "location_tracking": {"sendRoutingInfo", "sendRoutingInfoForSM",
                              "provideSubscriberInfo", "anyTimeInterrogation",
                              "sendRoutingInfoForGprs"},
        "interception": {"updateLocation", "insertSubscriberData", "cancelLocation"},
        "fraud": {"registerSS", "activateSS", "anyTimeModification"},
        "dos": {"purgeMS", "cancelLocation"},
        "info_theft": {"sendIMSI", "sendAuthenticationInfo"},
        "sms_spoofing": {"sendRoutingInfoForSM", "mt-forwardSM"},
    }

    def test_each_attack_type_when_forced(self):
        for name in ATTACK_TYPES:
            mix = {other: 0.0 for other in ATTACK_TYPES}
            mix[name] = 0.2
            _, _, labels_path = self.run_sim(name, attack_mix=mix, duration=1800.0)
            labels = _labels(labels_path)
            found = {l["label"] for l in labels}
            self.assertEqual(found, {"normal", name}, name)
            ops = {l["op_name"] for l in labels if l["label"] == name}
            self.assertTrue(self.EXPECTED[name] <= ops, (name, ops))

    def test_no_attacks_when_shares_zero(self):
        mix = {name: 0.0 for name in ATTACK_TYPES}
        _, _, labels_path = self.run_sim(attack_mix=mix)
        self.assertEqual({l["label"] for l in _labels(labels_path)}, {"normal"})

    def test_attackers_come_from_foreign_ranges(self):
        _, _, labels_path = self.run_sim(attack_mix=parse_attack_mix(ALL_ATTACKS))
        world = World.load()
        for label in _labels(labels_path):
            if label["label"] != "normal":
                self.assertFalse(label["attacker_gt"].startswith(world.home.cc + world.home.ndc))


class MobilityTests(unittest.TestCase):
    def setUp(self):
        self.world = World.load()
        self.recorder = _Recorder()
        self.sim = Simulation(self.world, self.recorder, seed=3, subscribers=50,
                              duration=3600.0)

    def home_subscriber(self):
        sub = next(s for s in self.sim.subscribers
                   if s.network.home and s.vlr in self.world.home.vlrs)
        sub.on = True
        self.sim.behaviour = dict(self.sim.behaviour, timeout_share=0.0, abort_share=0.0,
                                  unknown_subscriber_share=0.0)
        return sub

    def test_vlr_change_cancels_old_vlr(self):
        sub = self.home_subscriber()
        old = sub.vlr
        new = next(v for v in self.world.home.vlrs if v is not old)
        sub.last_move = -1e9
        sub.vlr = new
        self.sim.start(procedures.location_update(self.sim, sub, new))
        self.sim.run(sources=False)
        ops = [(src.gt, dst.gt, op, kind) for src, dst, op, kind, _ in self.recorder.sent]
        self.assertIn((new.gt, self.world.home.hlr.gt, "updateLocation", "begin"), ops)
        self.assertIn((self.world.home.hlr.gt, old.gt, "cancelLocation", "begin"), ops)
        self.assertIn((old.gt, self.world.home.hlr.gt, "cancelLocation", "end"), ops)
        self.assertIs(sub.hlr_vlr, new)

    def test_outbound_roamer_move_cancels_foreign_vlr(self):
        sub = self.home_subscriber()
        partner = self.world.partners[0]
        sub.vlr = sub.hlr_vlr = partner.vlrs[0]
        sub.vlr = partner.vlrs[1]
        self.sim.start(procedures.location_update(self.sim, sub, sub.vlr))
        self.sim.run(sources=False)
        cancels = [(dst.gt, kind) for src, dst, op, kind, _ in self.recorder.sent
                   if op == "cancelLocation"]
        self.assertEqual(cancels[0], (partner.vlrs[0].gt, "begin"))

    def test_no_faster_than_travel_allows(self):
        sub = self.home_subscriber()
        sub.last_move = self.sim.now = 0.0
        before = sub.vlr
        for _ in range(20):
            self.sim.start(procedures.move(self.sim, sub, True))
        self.sim.run(sources=False)
        self.assertIs(sub.vlr, before)       # a flight takes hours
        self.assertEqual(self.recorder.sent, [])

    def test_simulated_roamers_move(self):
        sim = Simulation(self.world, self.recorder, seed=4, subscribers=3000,
                         duration=3 * 3600.0, attack_mix={n: 0.0 for n in ATTACK_TYPES})
        sim.run()
        kinds = [(op, kind) for _, _, op, kind, _ in self.recorder.sent]
        self.assertGreater(kinds.count(("cancelLocation", "begin")), 10)
        foreign = [dst for src, dst, op, kind, _ in self.recorder.sent
                   if op == "cancelLocation" and kind == "begin" and not dst.network.home]
        self.assertTrue(foreign)    # outbound roamers moving abroad


class CodecTests(unittest.TestCase):
    def test_templates_equal_pycrate(self):
        codec = MapCodec()
        rng = random.Random(5)
        for _ in range(30):
            imsi = "".join(rng.choice("0123456789") for _ in range(15))
            msc = "".join(rng.choice("0123456789") for _ in range(rng.choice((11, 12))))
            otid = bytes(rng.randrange(256) for _ in range(4))
            values = {"otid": otid, "imsi": imsi, "msc": msc, "vlr": msc}
            direct = tcap.tcap_begin(otid, [tcap.invoke(1, 2, ("UpdateLocationArg", {
                "imsi": tbcd(imsi), "msc-Number": isdn(msc), "vlr-Number": isdn(msc),
                "vlr-Capability": {"supportedCamelPhases": (0xE0, 3)}}))],
                tcap.dialogue_request(context("updateLocation")))
            self.assertEqual(codec.begin("updateLocation", values), direct)


class WorldTests(unittest.TestCase):
    def test_default_world(self):
        world = World.load()
        self.assertGreaterEqual(len(world.home.vlrs), 2)
        self.assertGreaterEqual(len(world.partners), 2)
        subs = world.populate(1000, random.Random(1))
        self.assertEqual(len({s.imsi for s in subs if s.network.home}),
                         sum(1 for s in subs if s.network.home))
        self.assertTrue(any(s.roaming for s in subs))
        self.assertTrue(all(len(s.imsi) == 15 for s in subs))

    def test_bad_world_names_the_field(self):
        import yaml
        from ss7tools.simulate.world import DEFAULT_WORLD
        with open(DEFAULT_WORLD) as f:
            text = f.read()
        data = yaml.safe_load(text)
        del data["home"]["hlr"]["pc"]
        error = self.assertRaises(WorldError, World, data)
        self.assertIn("home.hlr", str(error))
        data = yaml.safe_load(text)
        data["attacks"]["teleport"] = {"share": 1}
        self.assertRaises(WorldError, World, data)

    def test_durations(self):
        self.assertEqual(parse_duration("1h"), 3600.0)
        self.assertEqual(parse_duration("90"), 90.0)
        self.assertEqual(parse_duration("15m"), 900.0)
        self.assertRaises(Exception, parse_duration, "soon")
        self.assertRaises(Exception, parse_attack_mix, "teleport=1")
        self.assertRaises(Exception, parse_attack_mix, "dos=-1")


class CommandLineTests(_Base):
    def test_simulate_command(self):
        out = os.path.join(self.dir, "cli.pcap")
        status = cli.main(["simulate", "-o", out, "--duration", "5m", "--subscribers", "300",
                           "--seed", "2", "--attack-mix", "dos=0.1", "-q"])
        self.assertEqual(status, 0)
        labels = _labels(os.path.join(self.dir, "cli.labels.csv"))
        self.assertTrue(labels)
        self.assertEqual(len(list(iter_rows(out))), len(labels))

    def test_bad_world_file_exits_2(self):
        bad = os.path.join(self.dir, "bad.yaml")
        with open(bad, "w") as f:
            f.write("home: [unclosed\n")
        stderr = io.StringIO()
        parser = cli.build_parser()
        args = parser.parse_args(["simulate", "-o", os.path.join(self.dir, "x.pcap"),
                                  "--world", bad])
        from ss7tools.simulate.command import run_simulate
        args.labels = None
        self.assertEqual(run_simulate(args, stderr), 2)
        self.assertIn("ss7tools simulate:", stderr.getvalue())


class TsharkTests(_Base):
    def test_tshark_decodes_without_warnings(self):
        tshark = shutil.which("tshark")
        if tshark is None:
            raise unittest.SkipTest("tshark is not installed")
        sim, pcap, _ = self.run_sim(attack_mix=parse_attack_mix(ALL_ATTACKS), duration=600.0)
        result = subprocess.run(
            [tshark, "-n", "-r", pcap, "-T", "fields", "-E", "separator=|",
             "-e", "frame.number", "-e", "_ws.malformed", "-e", "_ws.expert.severity",
             "-e", "_ws.expert.message", "-e", "gsm_old.localValue"],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.splitlines()
        self.assertEqual(len(lines), sim.frames)
        problems = [line for line in lines if line.split("|")[1] or line.split("|")[2]]
        self.assertEqual(problems, [])
        opcodes = sum(len(line.split("|")[4].split(",")) for line in lines
                      if line.split("|")[4])
        # every invoke / result carries an opcode tshark read as MAP
        self.assertGreater(opcodes, sim.messages * 0.8)


class VocabularyTests(unittest.TestCase):
    """The attack families are declared once; the simulator reads them."""

    def test_every_family_is_simulated_in_order(self):
        from ss7tools.attack_families import ATTACK_FAMILIES
        from ss7tools.map_catalogue import MAP_BY_NAME
        from ss7tools.simulate.attacks import ATTACKS
        self.assertEqual(tuple(ATTACKS), ATTACK_TYPES)
        self.assertEqual(ATTACK_TYPES, tuple(f.name for f in ATTACK_FAMILIES))
        for family in ATTACK_FAMILIES:
            self.assertTrue(family.description and family.operations, family)
            for op in family.operations:
                self.assertIn(op, MAP_BY_NAME, family)
            for method in ATTACKS[family.name][1]:
                if method in MAP_BY_NAME:
                    self.assertIn(method, family.operations, family)
        self.assertEqual(set(World.load().attacks), set(ATTACK_TYPES))

    def test_simulated_operations_are_catalogued(self):
        from ss7tools.map_catalogue import MAP_BY_NAME
        from ss7tools.simulate.messages import ARGUMENTS, RESULTS
        for op in set(ARGUMENTS) | set(RESULTS):
            spec = MAP_BY_NAME[op]
            self.assertTrue(spec.context and spec.version, op)
            self.assertTrue(spec.argument_type if op in ARGUMENTS else spec.result_type, op)


class WorldValidationTests(unittest.TestCase):
    def mutated(self, change):
        import yaml
        from ss7tools.simulate.world import DEFAULT_WORLD
        with open(DEFAULT_WORLD) as f:
            data = yaml.safe_load(f)
        change(data)
        return data

    def test_out_of_range_values_name_the_field(self):
        cases = [
            (lambda d: d["behaviour"].update(timeout_share=1.5), "behaviour.timeout_share"),
            (lambda d: d["behaviour"].pop("latency_s"), "latency_s"),
            (lambda d: d["rates"].update(mt_sms=-1), "rates.mt_sms"),
            (lambda d: d["attacks"]["dos"].update(spoof=2), "attacks.dos.spoof"),
            (lambda d: d["population"].pop("home"), "population"),
            (lambda d: d["partners"][0].update(carrier="nowhere"), "partners[0].carrier"),
            (lambda d: d["home"]["hlr"].update(pc=1 << 14), "home.hlr.pc"),
            (lambda d: d.update(daily_profile=[1] * 23), "daily_profile"),
            (lambda d: d["home"].update(mcc="26x"), "home.mcc"),
        ]
        for change, field in cases:
            error = self.assertRaises(WorldError, World, self.mutated(change))
            self.assertIn(field, str(error))


class RhythmAndStealthTests(_Base):
    def test_daily_rhythm(self):
        world = World.load()
        recorder = _Recorder()
        times = []
        recorder.message = lambda ts, *rest: times.append(ts)
        Simulation(world, recorder, seed=1, subscribers=120, duration=86400.0).run()
        per_hour = [0] * 24
        for ts in times:
            per_hour[int((ts - world.start) // 3600) % 24] += 1
        night = sum(per_hour[2:5])      # profile 0.1-0.15
        noon = sum(per_hour[11:14])     # profile 1.45-1.5
        self.assertGreater(noon, 4 * night)

    def test_spoofed_attackers_inside_partner_ranges(self):
        import yaml
        from ss7tools.simulate.world import DEFAULT_WORLD
        with open(DEFAULT_WORLD) as f:
            data = yaml.safe_load(f)
        for spec in data["attacks"].values():
            spec.update(share=0.05, spoof=1.0)
        world = World(data)
        _, _, labels_path = self.run_sim(world=world)
        prefixes = tuple(p["gt_prefix"] for p in data["partners"])
        attackers = {l["attacker_gt"] for l in _labels(labels_path) if l["label"] != "normal"}
        self.assertTrue(attackers)
        self.assertTrue(all(gt.startswith(prefixes) for gt in attackers), attackers)
        for spec in data["attacks"].values():
            spec.update(spoof=0.0)
        _, _, labels_path = self.run_sim("hostile", world=World(data))
        attackers = {l["attacker_gt"] for l in _labels(labels_path) if l["label"] != "normal"}
        self.assertTrue(attackers)
        self.assertTrue(all(gt.startswith(tuple(data["hostile_gt_prefixes"]))
                            for gt in attackers), attackers)

    def test_timeouts_and_aborts(self):
        world = World.load()
        world.behaviour.update(timeout_share=0.05, abort_share=0.05)
        _, pcap, labels_path = self.run_sim(world=world, subscribers=3000)
        labels = _labels(labels_path)
        by_dialogue = {}
        for label in labels:
            by_dialogue.setdefault(label["dialogue_id"], []).append(label["tcap_type"])
        unanswered = [d for d, kinds in by_dialogue.items() if kinds == ["begin"]]
        aborted = [d for d, kinds in by_dialogue.items() if kinds[-1] == "abort"]
        self.assertGreater(len(unanswered), 5)
        self.assertGreater(len(aborted), 5)
        self.assertFalse([r for r in iter_rows(pcap) if r[COLUMN_INDEX["error"]]])


class ProgressTests(_Base):
    def test_progress_bar_only_on_a_terminal(self):
        from ss7tools.simulate.command import _progress_bar

        class Tty(io.StringIO):
            def isatty(self):
                return True
        self.assertEqual(_progress_bar(60.0, io.StringIO()), (None, None))
        stream = Tty()
        update, bar = _progress_bar(60.0, stream)
        update(30.5)
        update(60.0)
        bar.close()
        self.assertIn("60/60", stream.getvalue())


class StressTests(unittest.TestCase):
    def test_busy_world_with_every_attack_runs_through(self):
        """Fast moves, power cycles, purges, timeouts and all attacks at once:
        procedures meet subscribers whose state changed under them."""
        world = World.load()
        world.behaviour.update(timeout_share=0.05, abort_share=0.05)
        world.mobility.update(vlr_changes_per_day=20, trips_per_day=5, airport_overhead_s=600)
        world.mobility["purge_after_s"] = [60, 600]
        world.rates.update(switch_off=0.5, switch_on=2)
        recorder = _Recorder()
        sim = Simulation(world, recorder, seed=11, subscribers=150, duration=4 * 3600.0,
                         attack_mix={name: 0.1 for name in ATTACK_TYPES})
        sim.run()
        self.assertEqual(len(recorder.sent), sim.messages)
        self.assertEqual(set(sim.label_counts), set(ATTACK_TYPES) | {"normal"})
        ops = {op for _, _, op, _, _ in recorder.sent}
        self.assertIn("purgeMS", ops)
