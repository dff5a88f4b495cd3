"""The ``simulate`` subcommand: argument parsing and the run."""

import argparse
import re
import sys

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text):
    """``90``, ``90s``, ``15m``, ``1h``, ``2d`` -> seconds."""
    match = _DURATION.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            "duration: expected a positive number with an optional s/m/h/d unit, got %r" % text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_attack_mix(text):
    """``type=share,...`` -> {type: share}."""
    from ss7tools.attack_families import ATTACK_TYPES
    mix = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in ATTACK_TYPES:
            raise argparse.ArgumentTypeError(
                "attack mix: expected type=share with type one of %s, got %r"
                % (", ".join(ATTACK_TYPES), item))
        try:
            share = float(value)
        except ValueError:
            share = -1.0
        if share < 0:
            raise argparse.ArgumentTypeError("attack mix: share of %s must be a number >= 0"
                                             % name)
        mix[name] = share
    return mix


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("expected a positive integer, got %r" % text)
    return value


def _share(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("expected a share between 0 and 1, got %r" % text)
    return value


def _write_network(world, path):
    import yaml
    with open(path, "w", encoding="utf-8") as out:
        out.write("# The home network of a simulated world, as ss7tools detect --network "
                  "reads it\n")
        yaml.safe_dump(world.network_description(), out, sort_keys=False,
                       default_flow_style=None, width=100)


def _progress_bar(duration, stream):
    if not (hasattr(stream, "isatty") and stream.isatty()):
        return None, None
    from tqdm import tqdm
    bar = tqdm(total=int(duration), unit=" sim-s", file=stream, mininterval=0.5)
    state = {"done": 0}

    def update(now):
        step = int(now) - state["done"]
        if step > 0:
            bar.update(step)
            state["done"] += step
    return update, bar


def simulate(output, labels=None, world=None, seed=0, duration=3600.0, subscribers=1000,
             attack_mix=None, max_messages=None, progress=None, stealth=None):
    """Run one simulation; returns the engine (counts in ``messages``,
    ``label_counts``).  ``stealth``, a share, overrides every attack
    family's."""
    from ss7tools.simulate.engine import Simulation
    from ss7tools.simulate.output import CaptureSink
    from ss7tools.simulate.world import World
    if not isinstance(world, World):
        world = World.load(world)
    behaviour = world.behaviour
    sink = CaptureSink(output, labels, streams=int(behaviour.get("streams", 4)),
                       bundle_window=float(behaviour.get("bundle_window_s", 0.002)),
                       sack_every=int(behaviour.get("sack_every", 2)))
    try:
        sim = Simulation(world, sink, seed=seed, subscribers=subscribers, duration=duration,
                         attack_mix=attack_mix, max_messages=max_messages, progress=progress,
                         stealth=stealth)
        sim.run()
    finally:
        sink.close()
    sim.frames = sink.frames
    return sim


def run_simulate(args, stderr=None):
    from ss7tools.simulate.world import WorldError
    stderr = stderr if stderr is not None else sys.stderr
    update, bar = _progress_bar(args.duration, stderr)
    try:
        sim = simulate(args.output, args.labels, args.world, args.seed, args.duration,
                       args.subscribers, args.attack_mix, progress=update,
                       stealth=args.stealth)
        if args.network_out:
            _write_network(sim.world, args.network_out)
    except (OSError, WorldError, ValueError) as exc:
        stderr.write("ss7tools simulate: %s\n" % (exc,))
        return 2
    finally:
        if bar is not None:
            bar.close()
    if not args.quiet:
        counts = ", ".join("%s %d" % item for item in sorted(sim.label_counts.items()))
        stderr.write("%d messages in %d frames (%s)\n" % (sim.messages, sim.frames,
                                                          counts or "none"))
    return 0


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "simulate", help="generate labelled SIGTRAN/MAP traffic with attacks",
        description="Simulate a home network with roaming partners and write its "
                    "SIGTRAN traffic (normal procedures and attacks) as a pcap, with "
                    "a labels CSV naming each message's attack type.")
    parser.add_argument("-o", "--output", required=True, help="pcap file to write")
    parser.add_argument("--labels", help="labels CSV (default: OUTPUT with .labels.csv)")
    parser.add_argument("--world", help="world YAML (default: the shipped default_world.yaml)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--duration", type=parse_duration, default=3600.0,
                        help="simulated time: seconds or 30m/1h/2d (default 1h)")
    parser.add_argument("--subscribers", type=_positive_int, default=1000,
                        help="subscribers in the world (default 1000)")
    parser.add_argument("--attack-mix", type=parse_attack_mix, default=None,
                        help="attack shares overriding the world's, e.g. "
                             "location_tracking=0.01,dos=0.002")
    parser.add_argument("--stealth", type=_share, default=None,
                        help="share of attack campaigns run stealthily (overrides the "
                             "world's per family): wider spacing, and attackers that "
                             "act like the node they pretend to be")
    parser.add_argument("--network-out", metavar="NET.yaml",
                        help="also write the home network as a firewall knows it (the "
                             "network file of ss7tools detect --network)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    parser.set_defaults(func=_run_with_default_labels)
    return parser


def _run_with_default_labels(args):
    if args.labels is None:
        base = args.output[:-5] if args.output.endswith(".pcap") else args.output
        args.labels = base + ".labels.csv"
    return run_simulate(args)
