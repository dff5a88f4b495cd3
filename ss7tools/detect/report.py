"""``ss7tools report``: one self-contained HTML file from a detection run.

Plots (matplotlib, PNG embedded as data URIs, so the file reads without a
network connection): alerts over time by attack family, a confusion
matrix against the simulator's labels when given, hits per rule, the top
attacker GTs and the top victims; and the per-subscriber summary as a
table.
"""

import base64
import csv
import html
import io
import os

from ..attack_families import ATTACK_TYPES, NORMAL_LABEL
from ..errors import DetectError
from .command import VERDICT_COLUMNS, summary_path_for
from .source import read_labels

TOP = 15


def _read_verdicts(path):
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not set(VERDICT_COLUMNS) <= set(reader.fieldnames):
            raise DetectError("%s: not a verdicts file of ss7tools detect" % path)
        for line, entry in enumerate(reader, 2):
            try:
                yield (int(entry["frame"]), int(entry["chunk"]), float(entry["time_stamp"]),
                       entry["verdict"], entry["rule"], entry["family"],
                       entry["attacker_gt"], entry["subscriber"])
            except ValueError:
                raise DetectError("%s:%d: frame, chunk and time_stamp must be numbers"
                                  % (path, line))


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _barh(title, counts, xlabel):
    import matplotlib.pyplot as plt
    items = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP][::-1]
    figure, axis = plt.subplots(figsize=(8, 0.35 * max(len(items), 3) + 1))
    axis.barh([str(k) for k, _ in items], [v for _, v in items], color="#c0392b")
    axis.set_title(title)
    axis.set_xlabel(xlabel)
    return _png(figure)


def write_report(verdicts_path, out_path, labels_path=None, summary_path=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels = read_labels(labels_path) if labels_path else None
    times = {}
    per_rule, attackers, victims = {}, {}, {}
    names = (NORMAL_LABEL,) + ATTACK_TYPES + ("unknown",)
    confusion = {}
    total = flagged = 0
    start = None
    for frame, chunk, stamp, verdict, rule, family, attacker, subscriber in \
            _read_verdicts(verdicts_path):
        total += 1
        start = stamp if start is None else min(start, stamp)
        if verdict != "allow":
            flagged += 1
            times.setdefault(family or "unknown", []).append(stamp)
            per_rule[rule] = per_rule.get(rule, 0) + 1
            if attacker:
                attackers[attacker] = attackers.get(attacker, 0) + 1
            if subscriber:
                victims[subscriber] = victims.get(subscriber, 0) + 1
        if labels is not None:
            entry = labels.get((frame, chunk))
            truth = entry["label"] if entry is not None else NORMAL_LABEL
            predicted = (family or "unknown") if verdict != "allow" else NORMAL_LABEL
            confusion[(truth, predicted)] = confusion.get((truth, predicted), 0) + 1
    images = []
    figure, axis = plt.subplots(figsize=(9, 3.5))
    if times:
        axis.hist([[(t - start) / 60.0 for t in times[f]] for f in sorted(times)], bins=60,
                  stacked=True, label=sorted(times))
        axis.legend(fontsize="small")
    axis.set_title("alerts and drops over time, by attack family")
    axis.set_xlabel("minutes from the first message")
    axis.set_ylabel("messages")
    images.append(("Alerts over time", _png(figure)))
    if labels is not None:
        import numpy as np
        matrix = np.array([[confusion.get((t, p), 0) for p in names] for t in names[:-1]])
        figure, axis = plt.subplots(figsize=(8, 6))
        axis.imshow(np.log1p(matrix), cmap="Reds")
        axis.set_xticks(range(len(names)), names, rotation=45, ha="right")
        axis.set_yticks(range(len(names) - 1), names[:-1])
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                if matrix[i, j]:
                    axis.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8)
        axis.set_xlabel("verdict")
        axis.set_ylabel("label")
        axis.set_title("messages: labels against verdicts")
        images.append(("Confusion matrix", _png(figure)))
    images.append(("Hits per rule", _barh("messages per rule that fired", per_rule,
                                          "messages")))
    images.append(("Top attacker GTs", _barh("top attacker GTs", attackers, "messages")))
    images.append(("Top victims", _barh("top victims", victims, "messages flagged")))
    summary_rows = _summary_rows(summary_path or summary_path_for(verdicts_path))
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
             "<title>ss7tools detection report</title><style>",
             "body{font-family:sans-serif;margin:2em;max-width:70em}",
             "table{border-collapse:collapse;font-size:90%}",
             "td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>",
             "<h1>ss7tools detection report</h1>",
             "<p>%s: %d messages, %d alerted or dropped.</p>" % (
                 html.escape(os.path.basename(verdicts_path)), total, flagged)]
    for title, uri in images:
        parts.append("<h2>%s</h2><img alt='%s' src='%s'>" % (html.escape(title),
                                                             html.escape(title), uri))
    if summary_rows:
        header, body = summary_rows[0], summary_rows[1:]
        parts.append("<h2>Attacked subscribers (%d)</h2><table><tr>%s</tr>" % (
            len(body), "".join("<th>%s</th>" % html.escape(h) for h in header)))
        for row in body[:500]:
            parts.append("<tr>%s</tr>" % "".join("<td>%s</td>" % html.escape(c) for c in row))
        parts.append("</table>")
        if len(body) > 500:
            parts.append("<p>(%d more in the summary file)</p>" % (len(body) - 500))
    parts.append("</body></html>\n")
    with open(out_path, "w", encoding="utf-8") as out:
        out.write("\n".join(parts))


def _summary_rows(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))
