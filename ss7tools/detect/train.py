"""``ss7tools train``: learn the model from labelled traffic.

Each labelled input (a capture or rows file with the simulator's labels
beside it) goes through its own feature pass (:class:`FeaturePass`, the
object detection uses); the requests from outside the home network (what
the model judges: see :mod:`ss7tools.detect.engine`) become the training
rows, labelled with their attack family or normal.

The estimator is chosen by evaluation, not by habit: each candidate of
:data:`CANDIDATES` is scored out of fold (folds by input file when there
are several, so a candidate is judged on traffic it did not see; else
stratified), on F1 of attack against normal at its best threshold; the
best wins, a cheaper one (fewer comparisons per message) when within
:data:`TIE` of it.  The winner is fitted on everything and saved with the
threshold chosen out of fold.
"""

import time

from ..attack_families import NORMAL_LABEL
from ..errors import DetectError
from .features import FeaturePass
from .model import CLASSES, Model, export_sklearn, save_model
from .source import iter_file_rows, labels_path_for, messages, read_labels

CLASS_INDEX = {name: i for i, name in enumerate(CLASSES)}
TIE = 0.003


def _candidates():
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier
    return {
        "decision_tree": lambda: DecisionTreeClassifier(max_depth=12, min_samples_leaf=3,
                                                        random_state=0),
        "random_forest": lambda: RandomForestClassifier(
            n_estimators=30, max_depth=14, min_samples_leaf=2, n_jobs=1, random_state=0),
        "extra_trees": lambda: ExtraTreesClassifier(
            n_estimators=30, max_depth=16, min_samples_leaf=2, n_jobs=1, random_state=0),
        "logistic_regression": lambda: LogisticRegression(max_iter=2000, C=1.0),
    }


CANDIDATES = ("decision_tree", "random_forest", "extra_trees", "logistic_regression")


def labelled_inputs(paths, labels=None):
    """``[(input, labels path)]``: each input's labels beside it unless given."""
    if labels and len(labels) != len(paths):
        raise DetectError("--labels: give one labels file per input (%d inputs, %d labels)"
                          % (len(paths), len(labels)))
    return [(p, labels[i] if labels else labels_path_for(p)) for i, p in enumerate(paths)]


def collect(inputs, network, limits=None, progress=None):
    """Feature rows of the requests from outside the home network.

    Returns ``(X, y, groups, counts)``: feature vectors, class indexes
    (:data:`~ss7tools.detect.model.CLASSES`), the input index of each, and
    per input the messages and labelled classes seen."""
    X, y, groups, counts = [], [], [], []
    for index, (path, labels_path) in enumerate(inputs):
        labels = read_labels(labels_path)
        features = FeaturePass(network, limits)
        seen = {"input": str(path), "messages": 0, "unlabelled": 0, "requests": {}}
        for rows in messages(iter_file_rows(path)):
            ctx = features.observe(rows)
            seen["messages"] += 1
            if not ctx.interconnect:
                continue
            entry = labels.get((ctx.frame, ctx.chunk))
            if entry is None:
                seen["unlabelled"] += 1
                continue
            label = entry["label"]
            if label not in CLASS_INDEX:
                raise DetectError("%s: unknown label %r" % (labels_path, label))
            X.append(list(ctx.vector))
            y.append(CLASS_INDEX[label])
            groups.append(index)
            seen["requests"][label] = seen["requests"].get(label, 0) + 1
        if progress is not None:
            progress(seen)
        counts.append(seen)
    if not X:
        raise DetectError("no request from outside the home network in the inputs: "
                          "nothing to learn from (is --network the inputs' network?)")
    if len(set(y)) < 2 or CLASS_INDEX[NORMAL_LABEL] not in y:
        raise DetectError("the inputs need both normal and attack requests to learn from")
    return X, y, groups, counts


def best_threshold(scores, truth):
    """``(threshold, f1)`` maximising F1 of ``scores >= threshold``."""
    pairs = sorted(zip(scores, truth), reverse=True)
    positives = sum(truth)
    best = (0.5, 0.0)
    tp = fp = 0
    for i, (score, positive) in enumerate(pairs):
        if positive:
            tp += 1
        else:
            fp += 1
        if i + 1 < len(pairs) and pairs[i + 1][0] == score:
            continue
        f1 = 2 * tp / (tp + fp + positives) if positives else 0.0
        if f1 > best[1]:
            nxt = pairs[i + 1][0] if i + 1 < len(pairs) else 0.0
            best = ((score + nxt) / 2 if score != nxt else score, f1)
    return max(0.01, min(0.99, best[0])), best[1]


def _folds(y, groups):
    import numpy as np
    from sklearn.model_selection import GroupKFold, StratifiedKFold
    y = np.asarray(y)
    if len(set(groups)) >= 2:
        return list(GroupKFold(n_splits=min(3, len(set(groups)))).split(y, y, groups))
    smallest = min(int((y == c).sum()) for c in set(y.tolist()))
    return list(StratifiedKFold(n_splits=max(2, min(3, smallest)), shuffle=True,
                                random_state=0).split(y, y))


def _fit(name, X, y):
    from sklearn.preprocessing import StandardScaler
    estimator = _candidates()[name]()
    if name == "logistic_regression":
        scaler = StandardScaler().fit(X)
        estimator.fit(scaler.transform(X), y)
        return export_sklearn(estimator, scaler)
    estimator.fit(X, y)
    return export_sklearn(estimator)


def _document_model(section):
    from .features import FEATURES
    return Model({"threshold": 0.5, "classes": list(CLASSES), "features": list(FEATURES),
                  "estimator": section})


def evaluate_candidates(X, y, groups, names=CANDIDATES, log=None):
    """Out-of-fold F1 (attack vs normal), threshold and cost per candidate."""
    import numpy as np
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    results = {}
    folds = _folds(y, groups)
    for name in names:
        started = time.time()
        scores = np.zeros(len(y))
        cost = 0
        for train, test in folds:
            if len(set(y[train].tolist())) < 2:
                continue
            model = _document_model(_fit(name, X[train], y[train]))
            cost = max(cost, model.node_visits())
            scores[test] = [model.predict(x)[0] for x in X[test].tolist()]
        threshold, f1 = best_threshold(scores.tolist(), (y != 0).tolist())
        results[name] = {"f1": round(f1, 4), "threshold": round(threshold, 4), "cost": cost,
                         "seconds": round(time.time() - started, 1)}
        if log is not None:
            log("%-20s out-of-fold F1 %.4f at threshold %.3f, %d comparisons, %.1f s"
                % (name, f1, threshold, cost, time.time() - started))
    return results


def choose(results):
    best = max(r["f1"] for r in results.values())
    near = [(r["cost"], name) for name, r in results.items() if r["f1"] >= best - TIE]
    return min(near)[1]


def train(inputs, network, out_path, names=CANDIDATES, log=None):
    """Collect, choose, fit and save; returns the saved document."""
    return train_collected(collect(inputs, network), out_path, names, log, len(inputs))


def train_collected(collected, out_path, names=CANDIDATES, log=None, inputs=1):
    """:func:`train` on what :func:`collect` gave."""
    import numpy as np
    X, y, groups, counts = collected
    if log is not None:
        log("%d requests from outside the home network (%d attacks) in %d inputs"
            % (len(y), sum(1 for c in y if c), inputs))
    results = evaluate_candidates(X, y, groups, names, log)
    chosen = choose(results)
    section = _fit(chosen, np.asarray(X, dtype=float), np.asarray(y))
    threshold = results[chosen]["threshold"]
    training = {"inputs": counts, "rows": len(y),
                "classes": {CLASSES[c]: int(n) for c, n in
                            zip(*np.unique(np.asarray(y), return_counts=True))},
                "candidates": results, "chosen": chosen,
                "selection": "out-of-fold F1 of attack against normal (folds by input "
                             "file where there are several)",
                "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return save_model(out_path, section, threshold, training)
