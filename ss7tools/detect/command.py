"""The commands: ``detect``, ``train``, ``mine``, ``report`` and ``rules``.

Refusals (a bad rule, network or model file, an unreadable input) are one
line on stderr and exit status 2.  scikit-learn (train, mine) and
matplotlib (report) are imported only by the commands that need them.
"""

import csv
import io
import re
import sys

from ..errors import DetectError, Ss7ToolsError

VERDICT_COLUMNS = ("frame", "chunk", "time_stamp", "verdict", "score", "rule", "family",
                   "reason", "op_name", "subscriber", "calling_gt", "called_gt", "attacker_gt")


#: scores as the verdicts file writes them (most are 0 or 1)
_SCORE_TEXT = {0.0: "0.0000", 1.0: "1.0000"}
BATCH = 1024


def verdict_row(v):
    """The verdicts file's row of a :class:`~ss7tools.detect.engine.Verdict`
    (None is written as an empty field)."""
    score = v.score
    return (v.frame, v.chunk, v.time, v.action, _SCORE_TEXT.get(score) or "%.4f" % score,
            v.rule, v.family, v.reason, v.op, v.subscriber, v.calling_gt, v.called_gt,
            v.attacker_gt)


#: a field csv.writer (QUOTE_MINIMAL, "," and "\n") would quote
_NEEDS_QUOTES = re.compile(r'[,"\r\n]').search
_LINE = "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n"
_TEXT_FIELDS = "%s%s%s%s%s%s%s%s"


def verdict_text(verdicts):
    """The verdicts file's lines of ``verdicts``, exactly as csv.writer
    writes :func:`verdict_row` (str() of each field, None empty, a field
    with a comma, quote or line break quoted), formatted at once where no
    field needs quoting (nearly all: the text fields are checked together)."""
    lines = []
    append = lines.append
    scores = _SCORE_TEXT
    for v in verdicts:
        family, op, subscriber = v.family, v.op, v.subscriber
        calling, called, attacker = v.calling_gt, v.called_gt, v.attacker_gt
        if family is None:
            family = ""
        if op is None:
            op = ""
        if subscriber is None:
            subscriber = ""
        if calling is None:
            calling = ""
        if called is None:
            called = ""
        if attacker is None:
            attacker = ""
        if _NEEDS_QUOTES(_TEXT_FIELDS % (v.rule, family, v.reason, op, subscriber, calling,
                                         called, attacker)) is not None \
                or v.frame is None or v.chunk is None:
            append(_csv_line(verdict_row(v)))
            continue
        score = v.score
        append(_LINE % (v.frame, v.chunk, v.time, v.action,
                        scores.get(score) or "%.4f" % score, v.rule, family, v.reason, op,
                        subscriber, calling, called, attacker))
    return "".join(lines)


def _csv_line(row):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(row)
    return buffer.getvalue()


def detect_messages(engine, groups, out, each=None):
    """Evaluate ``groups`` (lists of rows, one per message) in order and
    write the verdicts CSV to ``out``; ``each(verdict)`` sees every verdict.
    The loop of ``ss7tools detect`` (and of bench/detect_rate.py): messages
    are evaluated and written in batches of :data:`BATCH` (the model scores
    a batch at once).  Returns the number of messages."""
    out.write(_csv_line(VERDICT_COLUMNS))
    write = out.write
    evaluate_many = engine.evaluate_many
    count = 0
    batch = []
    append = batch.append

    def decide():
        verdicts = evaluate_many(batch)
        write(verdict_text(verdicts))
        if each is not None:
            for v in verdicts:
                each(v)
        batch.clear()
        return len(verdicts)

    for rows in groups:
        append(rows)
        if len(batch) >= BATCH:
            count += decide()
    return count + decide()


def _refuse(command, exc, stderr):
    stderr.write("ss7tools %s: %s\n" % (command, exc))
    return 2


def build_engine(rules_path=None, model_path=None, network_path=None, limits=None):
    """An :class:`~ss7tools.detect.engine.Engine` from files (default rules
    and the default network where none is given)."""
    from .defaults import default_rules
    from .engine import Engine
    from .model import load_model
    from .network import Network
    from .rules import load_rules
    network = Network.load(network_path)
    rules = load_rules(rules_path) if rules_path else default_rules()
    model = load_model(model_path) if model_path else None
    return Engine(rules, network, model, limits)


def summary_path_for(output):
    base = output[:-4] if output.endswith(".csv") else output
    return base + ".summary.csv"


def run_detect(args, stderr=None):
    from .source import iter_file_messages, read_labels
    from .summary import SUMMARY_COLUMNS, Summary
    stderr = stderr if stderr is not None else sys.stderr
    try:
        engine = build_engine(args.rules, args.model, args.network)
        labels = read_labels(args.labels) if args.labels else None
        summary = Summary()
        scorer = None
        if labels is not None:
            from .evaluate import Scorer
            scorer = Scorer()
        add = summary.add
        if scorer is None:
            def each(v):
                if v.action != "allow":
                    add(v)
        else:
            def each(v):
                if v.action != "allow":
                    add(v)
                scorer.add(v, labels.get((v.frame, v.chunk)))
        with open(args.output, "w", newline="", encoding="utf-8") as out:
            detect_messages(engine, iter_file_messages(args.input), out, each)
        summary_out = args.summary or summary_path_for(args.output)
        mapping = dict(engine.features.state.msisdns)
        with open(summary_out, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(SUMMARY_COLUMNS)
            writer.writerows(summary.rows(mapping))
    except (OSError, Ss7ToolsError) as exc:
        return _refuse("detect", exc, stderr)
    if not args.quiet:
        counts = engine.counts
        stderr.write("%d messages: %d alerts, %d drops, %d allowed; %d subscribers attacked "
                     "(summary in %s)\n" % (sum(counts.values()), counts["alert"],
                                            counts["drop"], counts["allow"],
                                            len(summary.merged(mapping)), summary_out))
        if scorer is not None:
            from .evaluate import format_table
            format_table("per message, against the labels:", scorer.message_scores(), stderr)
            format_table("per subscriber:", scorer.subscriber_scores(summary, mapping), stderr,
                         subscriber=True)
    return 0


def run_train(args, stderr=None):
    from .network import Network
    from .train import labelled_inputs, train
    stderr = stderr if stderr is not None else sys.stderr
    log = (lambda line: None) if args.quiet else (lambda line: stderr.write(line + "\n"))
    try:
        _need("sklearn", "scikit-learn")
        document = train(labelled_inputs(args.inputs, args.labels), Network.load(args.network),
                         args.output, log=log)
    except (OSError, Ss7ToolsError) as exc:
        return _refuse("train", exc, stderr)
    log("chose %s, threshold %.3f; model written to %s" % (
        document["training"]["chosen"], document["threshold"], args.output))
    return 0


def run_mine(args, stderr=None):
    from .mine import mine
    from .network import Network
    from .rules import parse_rules
    from .train import labelled_inputs
    stderr = stderr if stderr is not None else sys.stderr
    log = (lambda line: None) if args.quiet else (lambda line: stderr.write(line + "\n"))
    try:
        _need("sklearn", "scikit-learn")
        text, _counts = mine(labelled_inputs(args.inputs, args.labels),
                             Network.load(args.network), args.max_rules, log=log)
        parse_rules(text, args.output)   # what is written loads
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    except (OSError, Ss7ToolsError) as exc:
        return _refuse("mine", exc, stderr)
    return 0


def run_report(args, stderr=None):
    stderr = stderr if stderr is not None else sys.stderr
    try:
        _need("matplotlib", "matplotlib")
        from .report import write_report
        write_report(args.verdicts, args.output, labels_path=args.labels,
                     summary_path=args.summary)
    except (OSError, Ss7ToolsError, csv.Error) as exc:
        return _refuse("report", exc, stderr)
    return 0


def run_rules(args, stdout=None, stderr=None):
    from .defaults import default_rules_text
    from .rules import load_rules
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    if args.check:
        try:
            for path in args.check:
                rules = load_rules(path)
                stdout.write("%s: %d rules\n" % (path, len(rules)))
        except Ss7ToolsError as exc:
            return _refuse("rules", exc, stderr)
        return 0
    stdout.write(default_rules_text())
    return 0


def _need(module, package):
    try:
        __import__(module)
    except ImportError:
        raise DetectError("needs %s (pip install 'pyhss[detect]')" % package) from None


def add_parser(subparsers):
    common_network = dict(help="the home network file (default: the simulator's default "
                               "world, ss7tools/detect/networks/default.yaml)")
    p = subparsers.add_parser(
        "detect", help="a verdict for every SS7 message: rules, then the model",
        description="Run the firewall rules (and a trained model) over a capture or rows "
                    "file: one verdict, score and reason per message (keyed by frame and "
                    "chunk) and a per-subscriber summary.")
    p.add_argument("input", help="capture (pcap/pcapng), or rows file (.csv/.msgpack)")
    p.add_argument("-o", "--output", required=True, help="verdicts CSV")
    p.add_argument("--rules", help="rule file (default: the FS.11 default rules; "
                                   "`ss7tools rules` prints them)")
    p.add_argument("--model", help="model file from ss7tools train")
    p.add_argument("--network", **common_network)
    p.add_argument("--summary", help="per-subscriber summary CSV (default: OUTPUT with "
                                     ".summary.csv)")
    p.add_argument("--labels", help="simulator labels: score the verdicts against them")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=run_detect)

    for name, func, what in (("train", run_train, "a model file"),
                             ("mine", run_mine, "a rule file of at most --max-rules rules")):
        p = subparsers.add_parser(
            name, help="learn %s from labelled traffic" % what,
            description="Learn %s from captures or rows files with the simulator's labels "
                        "beside them (IN.labels.csv) or given with --labels." % what)
        p.add_argument("inputs", nargs="+", metavar="LABELLED")
        p.add_argument("-o", "--output", required=True)
        p.add_argument("--labels", nargs="+", help="labels files, one per input, in order")
        p.add_argument("--network", **common_network)
        if name == "mine":
            p.add_argument("--max-rules", type=_rule_count, default=20,
                           help="at most this many rules (1-20, default 20)")
        p.add_argument("-q", "--quiet", action="store_true")
        p.set_defaults(func=func)

    p = subparsers.add_parser(
        "report", help="an HTML report of a detection run",
        description="One self-contained HTML file (plots embedded) from a verdicts CSV.")
    p.add_argument("verdicts", help="verdicts CSV from ss7tools detect")
    p.add_argument("-o", "--output", required=True, help="HTML file")
    p.add_argument("--labels", help="simulator labels (adds a confusion matrix)")
    p.add_argument("--summary", help="per-subscriber summary (default: beside the verdicts)")
    p.set_defaults(func=run_report)

    p = subparsers.add_parser(
        "rules", help="print the default rules, or check rule files",
        description="Print the default FS.11 rule set, or check rule files (--check).")
    p.add_argument("--check", nargs="+", metavar="FILE", help="rule files to check")
    p.set_defaults(func=run_rules)


def _rule_count(text):
    import argparse
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 20:
        raise argparse.ArgumentTypeError("expected 1 to 20, got %r" % text)
    return value

