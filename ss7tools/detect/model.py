"""The learned model's file and its evaluation, without scikit-learn.

A model file is JSON (never a pickle: loading it cannot run code): the
format name and version, the ss7tools version that made it, the feature
list it was trained on (:data:`~ss7tools.detect.features.FEATURES`), the
classes (``normal`` and the attack families), the score threshold chosen
at training, the estimator as plain numbers (decision trees as node
arrays, or a linear model's coefficients), a training summary, and a
SHA-256 of all that.  Loading checks every field, shape and index (a
tree's children come after their parent, so evaluation always ends) and
refuses, with one line (:class:`~ss7tools.errors.ModelFileError`), a file
that is not a model, was altered, or was made for another feature list.
The checksum catches corruption and edits; it is not a signature.
"""

import hashlib
import json
import math

try:
    import numpy as _np
except ImportError:  # batches are scored one vector at a time
    _np = None

from ..attack_families import ATTACK_TYPES, NORMAL_LABEL
from ..errors import ModelFileError
from .features import FEATURES

FORMAT = "ss7tools-detect-model"
FORMAT_VERSION = 1
CLASSES = (NORMAL_LABEL,) + ATTACK_TYPES
MAX_FILE_BYTES = 256 << 20
MAX_NODES = 5_000_000


def package_version():
    try:
        from importlib.metadata import version
        return version("pyhss")
    except Exception:  # not installed (a source tree): the version is unknown
        return "unknown"


def _digest(document):
    body = {k: v for k, v in document.items() if k != "sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Model:
    """A loaded model: ``predict(vector)`` -> ``(score, family)``, the score
    being the probability of an attack (1 - P(normal)) and the family the
    most probable attack family; ``threshold`` from training."""

    def __init__(self, document, source="<model>"):
        self.source = source
        self.document = document
        self.threshold = float(document["threshold"])
        self.classes = tuple(document["classes"])
        self.features = tuple(document["features"])
        self.training = document.get("training", {})
        estimator = document["estimator"]
        self.kind = estimator["kind"]
        self.name = estimator.get("name", self.kind)
        self._families = self.classes[1:]
        self._packed = None
        if self.kind == "trees":
            self._trees = [(t["feature"], t["threshold"], t["left"], t["right"],
                            [tuple(v) for v in t["value"]]) for t in estimator["trees"]]
            self._scale = 1.0 / len(self._trees)
            self._packed = _pack_trees(self._trees) if _np is not None else None
        else:
            self._coef = [tuple(row) for row in estimator["coef"]]
            self._intercept = tuple(estimator["intercept"])
            self._mean = tuple(estimator["mean"])
            self._std = tuple(estimator["scale"])
        #: predict_many() is vectorised (trees, with numpy); a linear model is
        #: cheap one vector at a time, and stays in plain floats (math.exp)
        self.batches = self._packed is not None

    def probabilities(self, x):
        """Class probabilities (in ``classes`` order) for one feature vector."""
        if self.kind == "trees":
            k = len(self.classes)
            sums = [0.0] * k
            for feature, threshold, left, right, values in self._trees:
                node = 0
                f = feature[0]
                while f >= 0:
                    node = left[node] if x[f] <= threshold[node] else right[node]
                    f = feature[node]
                leaf = values[node]
                for i in range(k):
                    sums[i] += leaf[i]
            scale = self._scale
            return [s * scale for s in sums]
        z = [(xi - m) / s for xi, m, s in zip(x, self._mean, self._std)]
        logits = [b + sum(c * v for c, v in zip(row, z))
                  for row, b in zip(self._coef, self._intercept)]
        top = max(logits)
        exps = [math.exp(v - top) for v in logits]
        total = sum(exps)
        return [e / total for e in exps]

    def predict(self, x):
        p = self.probabilities(x)
        best = max(range(1, len(p)), key=p.__getitem__)
        return 1.0 - p[0], self._families[best - 1]

    def predict_many(self, vectors):
        """``[predict(x) for x in vectors]``, the trees walked for all the
        vectors at once; the leaves' probabilities are added tree by tree in
        the same order as :meth:`probabilities`, so the scores are the same
        floats."""
        if not vectors:
            return []
        if self._packed is None:
            return [self.predict(x) for x in vectors]
        np = _np
        feature, threshold, left, right, values, roots, depth = self._packed
        x = np.array(vectors, dtype=np.float64)
        rows = np.arange(len(vectors))[:, None]
        nodes = np.repeat(roots[None, :], len(vectors), axis=0)
        for _ in range(depth):
            go_left = x[rows, feature[nodes]] <= threshold[nodes]
            nodes = np.where(go_left, left[nodes], right[nodes])
        sums = np.zeros((len(vectors), len(self.classes)))
        for tree in range(len(roots)):
            sums += values[nodes[:, tree]]
        p = sums * self._scale
        scores = (1.0 - p[:, 0]).tolist()
        best = np.argmax(p[:, 1:], axis=1).tolist()
        families = self._families
        return [(score, families[b]) for score, b in zip(scores, best)]

    def node_visits(self):
        """Roughly the comparisons one evaluation costs (choosing estimators)."""
        if self.kind == "trees":
            return sum(_depth(t[0], t[2], t[3]) for t in self._trees)
        return len(self._coef) * len(self.features)


def _pack_trees(trees):
    """The trees as numpy arrays of all their nodes (indexes made absolute;
    a leaf is its own child, so walking past it stays there), the roots and
    the greatest depth."""
    np = _np
    feature, threshold, left, right, values, roots = [], [], [], [], [], []
    depth = 0
    for f, t, lo, hi, v in trees:
        base = len(feature)
        roots.append(base)
        for node in range(len(f)):
            leaf = f[node] < 0
            feature.append(0 if leaf else f[node])
            threshold.append(t[node])
            left.append(base + (node if leaf else lo[node]))
            right.append(base + (node if leaf else hi[node]))
        values.extend(v)
        depth = max(depth, _depth(f, lo, hi))
    return (np.array(feature, dtype=np.intp), np.array(threshold, dtype=np.float64),
            np.array(left, dtype=np.intp), np.array(right, dtype=np.intp),
            np.array(values, dtype=np.float64), np.array(roots, dtype=np.intp), depth)


def _depth(feature, left, right):
    depth = [0] * len(feature)
    for node in range(len(feature)):
        if feature[node] >= 0:
            depth[left[node]] = depth[right[node]] = depth[node] + 1
    return max(depth) if depth else 0


# -- saving --------------------------------------------------------------------
def export_sklearn(estimator, scaler=None):
    """The ``estimator`` section for a fitted scikit-learn classifier whose
    classes are indexes into :data:`CLASSES` (a decision tree, a random or
    extra-trees forest, or a logistic regression with its scaler)."""
    name = type(estimator).__name__
    fitted = [int(c) for c in estimator.classes_]
    if hasattr(estimator, "tree_") or hasattr(estimator, "estimators_"):
        trees = [estimator] if hasattr(estimator, "tree_") else list(estimator.estimators_)
        return {"kind": "trees", "name": name, "trees": [_export_tree(t.tree_, fitted)
                                                         for t in trees]}
    if hasattr(estimator, "coef_"):
        coef = [[0.0] * len(FEATURES) for _ in CLASSES]
        intercept = [-1e3] * len(CLASSES)   # a class never seen has no chance
        if len(fitted) == 2:  # scikit-learn's binary form: one row for class 1
            rows = [(-estimator.coef_[0], -estimator.intercept_[0]),
                    (estimator.coef_[0], estimator.intercept_[0])]
            for (row, b), cls in zip(rows, fitted):
                coef[cls], intercept[cls] = [float(v) / 2 for v in row], float(b) / 2
        else:
            for row, b, cls in zip(estimator.coef_, estimator.intercept_, fitted):
                coef[cls], intercept[cls] = [float(v) for v in row], float(b)
        return {"kind": "linear", "name": name, "coef": coef, "intercept": intercept,
                "mean": [float(v) for v in scaler.mean_],
                "scale": [float(v) if v else 1.0 for v in scaler.scale_]}
    raise ValueError("cannot export a %s" % name)


def _export_tree(tree, fitted):
    n = tree.node_count
    values = []
    for node in range(n):
        counts = [0.0] * len(CLASSES)
        row = tree.value[node][0]
        total = float(sum(row)) or 1.0
        for cls, count in zip(fitted, row):
            counts[cls] = round(float(count) / total, 6)
        values.append(counts)
    return {"feature": [int(f) if tree.children_left[i] >= 0 else -1
                        for i, f in enumerate(tree.feature[:n])],
            "threshold": [float(t) if tree.children_left[i] >= 0 else 0.0
                          for i, t in enumerate(tree.threshold[:n])],
            "left": [int(c) for c in tree.children_left[:n]],
            "right": [int(c) for c in tree.children_right[:n]],
            "value": values}


def save_model(path, estimator_section, threshold, training):
    document = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "ss7tools_version": package_version(), "features": list(FEATURES),
                "classes": list(CLASSES), "threshold": float(threshold),
                "estimator": estimator_section, "training": training}
    document["sha256"] = _digest(document)
    Model(_validated(document, str(path)), str(path))   # never write what load refuses
    with open(path, "w", encoding="utf-8") as out:
        json.dump(document, out, separators=(",", ":"), allow_nan=False)
        out.write("\n")
    return document


# -- loading -------------------------------------------------------------------
def load_model(path):
    """The :class:`Model` in ``path``, or :class:`ModelFileError` (one line)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ModelFileError("%s: cannot read: %s" % (path, exc.strerror or exc))
    if len(data) > MAX_FILE_BYTES:
        raise ModelFileError("%s: larger than any model (%d MiB)" % (path, MAX_FILE_BYTES >> 20))
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ModelFileError("%s: not an ss7tools model (not JSON; a pickle or other "
                             "file is never loaded)" % path)
    return Model(_validated(document, str(path)), str(path))


def _no_constant(name):
    raise ValueError("%s is not allowed" % name)


def _refuse(path, problem):
    raise ModelFileError("%s: %s" % (path, problem))


def _validated(doc, path):
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        _refuse(path, "not an ss7tools model file")
    if doc.get("format_version") != FORMAT_VERSION:
        _refuse(path, "model format version %r, this ss7tools reads version %d: train it "
                      "again" % (doc.get("format_version"), FORMAT_VERSION))
    if doc.get("features") != list(FEATURES) or doc.get("classes") != list(CLASSES):
        _refuse(path, "made by ss7tools %s for other features or attack families than "
                      "this version's: train it again" % (doc.get("ss7tools_version"),))
    if doc.get("sha256") != _digest(doc):
        _refuse(path, "checksum mismatch: the file was altered or damaged")
    threshold = doc.get("threshold")
    if not _finite(threshold) or not 0 <= threshold <= 1:
        _refuse(path, "threshold must be a number between 0 and 1")
    if not isinstance(doc.get("training", {}), dict):
        _refuse(path, "training: expected a mapping")
    estimator = doc.get("estimator")
    if not isinstance(estimator, dict) or estimator.get("kind") not in ("trees", "linear"):
        _refuse(path, "estimator: expected kind trees or linear")
    if estimator["kind"] == "trees":
        trees = estimator.get("trees")
        if not isinstance(trees, list) or not trees:
            _refuse(path, "estimator.trees: expected a list of trees")
        total = 0
        for index, tree in enumerate(trees):
            total += _check_tree(tree, path, "estimator.trees[%d]" % index)
            if total > MAX_NODES:
                _refuse(path, "estimator: more than %d nodes" % MAX_NODES)
    else:
        k, n = len(CLASSES), len(FEATURES)
        coef = estimator.get("coef")
        if (not isinstance(coef, list) or len(coef) != k
                or not all(isinstance(r, list) and len(r) == n and all(map(_finite, r))
                           for r in coef)):
            _refuse(path, "estimator.coef: expected %d rows of %d numbers" % (k, n))
        for key, size in (("intercept", k), ("mean", n), ("scale", n)):
            values = estimator.get(key)
            if not isinstance(values, list) or len(values) != size \
                    or not all(map(_finite, values)):
                _refuse(path, "estimator.%s: expected %d numbers" % (key, size))
        if any(v == 0 for v in estimator["scale"]):
            _refuse(path, "estimator.scale: zero")
    return doc


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _check_tree(tree, path, where):
    if not isinstance(tree, dict):
        _refuse(path, where + ": expected a mapping")
    arrays = [tree.get(k) for k in ("feature", "threshold", "left", "right", "value")]
    if not all(isinstance(a, list) for a in arrays):
        _refuse(path, where + ": expected feature, threshold, left, right and value lists")
    n = len(arrays[0])
    if n == 0 or any(len(a) != n for a in arrays):
        _refuse(path, where + ": node lists of different lengths")
    feature, threshold, left, right, value = arrays
    nf, k = len(FEATURES), len(CLASSES)
    for node in range(n):
        f, t, lo, hi, v = feature[node], threshold[node], left[node], right[node], value[node]
        if not (isinstance(f, int) and not isinstance(f, bool) and -1 <= f < nf):
            _refuse(path, "%s: node %d: feature index out of range" % (where, node))
        if not _finite(t):
            _refuse(path, "%s: node %d: threshold is not a number" % (where, node))
        if f >= 0:
            if not (isinstance(lo, int) and isinstance(hi, int)
                    and node < lo < n and node < hi < n):
                _refuse(path, "%s: node %d: children must follow their parent" % (where, node))
        elif lo != -1 or hi != -1:
            _refuse(path, "%s: node %d: a leaf has no children" % (where, node))
        if not (isinstance(v, list) and len(v) == k and all(_finite(x) and 0 <= x <= 1
                                                             for x in v)):
            _refuse(path, "%s: node %d: expected %d probabilities" % (where, node, k))
    return n
