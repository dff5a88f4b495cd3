"""The detection engine: one call per SS7 message, in arrival order, giving
its verdict.  The same engine runs offline (``ss7tools detect``) and live
(:class:`~ss7tools.detect.live.LiveEvaluator`).

For each message: the feature pass updates the state and computes the
features; an answer in a dialogue whose request was alerted or dropped
(or allowed by a rule) shares that verdict; otherwise the rules are tried
in order, the first that matches decides; if none matches and the model
judges the message (a request from outside the home network), its score
against the threshold chosen at training decides; else the message is
allowed.  An alert or drop flags the subscriber, and the outside GT that
sent it if that GT is new, so that rules can follow what the attack sets
off.  A GT is new when it sent at most :data:`GT_FLAG_MAX_HISTORY`
messages before; for a model's alert it must also have appeared after the
first :data:`WARM_UP_S` of traffic (before that every GT looks new) and
the score be at least :data:`MODEL_GT_FLAG_SCORE`: one wrong alert must
not blacklist a partner's node.
"""

from ..attack_families import ATTACK_FAMILIES
from .features import FEATURE_INDEX, Context, FeaturePass
from .rules import INHERIT
from .state import fold_flags

ALERT, DROP, ALLOW = "alert", "drop", "allow"
#: the rule name of a verdict no rule gave
MODEL_RULE, DEFAULT_RULE = "model", "default"
#: an outside GT with more messages than this before its first alert is
#: established: one alert does not flag it (its requests are judged one by one)
GT_FLAG_MAX_HISTORY = 20
WARM_UP_S = 600.0
MODEL_GT_FLAG_SCORE = 0.95


GT_MESSAGES = FEATURE_INDEX["gt_messages"]


def _family_by_operation():
    guess = {}
    for family in ATTACK_FAMILIES:
        for op in family.attacker_operations:
            guess.setdefault(op, family.name)
    for family in ATTACK_FAMILIES:
        for op in family.operations:
            guess.setdefault(op, family.name)
    return guess


#: operation -> the attack family it most likely belongs to (attacker's
#: operations before consequences, families in declaration order)
FAMILY_BY_OPERATION = _family_by_operation()


class Verdict:
    """What the engine decided for one message: ``action`` (alert, drop,
    allow), the ``rule`` that decided (``model``, ``default`` where no rule
    did), the attack ``family`` (None when allowed), a ``score`` in [0, 1]
    and a ``reason``; the message's key (frame, chunk), time, operation,
    subscriber, and the outside GT involved (``attacker_gt`` when flagged);
    ``request``: the message opened a dialogue with an invoke."""

    __slots__ = ("frame", "chunk", "time", "action", "rule", "family", "score", "reason",
                 "op", "subscriber", "imsi", "msisdn", "attacker_gt", "calling_gt",
                 "called_gt", "request")

    def __repr__(self):
        return "Verdict(%r, %r, %r, %r, %r)" % (self.frame, self.chunk, self.action,
                                                self.rule, self.family)

    @property
    def flagged(self):
        return self.action != ALLOW


class Engine:
    """``evaluate(rows)`` -> :class:`Verdict`, for each message in order;
    ``evaluate_many(groups)`` the same for a batch of messages, with the
    model's scores computed for the whole batch at once."""

    def __init__(self, rules, network, model=None, limits=None, features=None):
        self.rules = rules
        self.model = model
        queries = rules.rate_queries if rules is not None else ()
        if features is None:
            features = FeaturePass(network, limits, queries)
        else:
            features.rate_queries = tuple(sorted(set(features.rate_queries) | set(queries)))
        self.features = features
        self.network = network
        self.counts = {ALERT: 0, DROP: 0, ALLOW: 0}
        self._first_match = rules.first_match if rules is not None else None

    def evaluate(self, rows):
        return self._decide(self.features.observe(rows), None)

    def evaluate_many(self, groups):
        """The verdicts of ``groups`` (lists of rows, one per message, in
        order), identical to :meth:`evaluate` on each in turn.

        The feature pass runs over the batch first (features do not depend
        on verdicts), the model scores every request it may judge in one
        vectorised call, then each message is decided in order.  What
        deciding reads and the feature pass changes is kept apart: the
        pending messages are decided before the state is swept, a merged
        subscriber's flags are folded in their place among them, and a
        GT's message count is read from the message's features."""
        model = self.model
        if model is None or not model.batches:
            evaluate = self.evaluate
            return [evaluate(rows) for rows in groups]
        features = self.features
        state = features.state
        observe = features.observe_only
        verdicts = []
        pending = []

        def flush():
            if not pending:
                return
            judged = [ctx for ctx in pending if ctx.__class__ is Context and ctx.interconnect]
            predictions = dict(zip(map(id, judged),
                                   model.predict_many([ctx.vector for ctx in judged])))
            decide = self._decide
            append = verdicts.append
            for ctx in pending:
                if ctx.__class__ is Context:
                    append(decide(ctx, predictions.get(id(ctx))))
                else:
                    fold_flags(*ctx)
            pending.clear()

        state.defer_flags = lambda old, new: pending.append((old, new))
        try:
            for rows in groups:
                ctx = observe(rows)
                pending.append(ctx)
                if state.sweep_due():
                    flush()
                state.tick(ctx.time)
            flush()
        finally:
            state.defer_flags = None
        return verdicts

    def _predict(self, ctx, prediction):
        return prediction if prediction is not None else self.model.predict(ctx.vector)

    def _decide(self, ctx, prediction):
        """The verdict of a message the feature pass saw (``prediction``: the
        model's (score, family) for it when already computed)."""
        v = Verdict()
        v.frame, v.chunk, v.time, v.op = ctx.frame, ctx.chunk, ctx.time, ctx.op
        v.subscriber, v.imsi, v.msisdn = ctx.subscriber, ctx.imsi, ctx.msisdn
        v.calling_gt, v.called_gt = ctx.calling_gt, ctx.called_gt
        v.attacker_gt = None
        v.request = ctx.request
        dialogue = ctx.dialogue
        earlier = dialogue.verdict if dialogue is not None and not ctx.request else None
        if earlier is not None and (earlier.action != ALLOW or earlier.rule != DEFAULT_RULE):
            v.action, v.rule, v.family, v.score = (earlier.action, earlier.rule, earlier.family,
                                                   earlier.score)
            v.attacker_gt = earlier.attacker_gt
            v.reason = "in the dialogue of %s.%s" % (dialogue.frame, dialogue.chunk)
        else:
            rule = self._first_match(ctx) if self._first_match is not None else None
            if rule is not None:
                self._by_rule(v, rule, ctx, prediction)
            elif self.model is not None and ctx.interconnect:
                score, family = self._predict(ctx, prediction)
                v.score = score
                if score >= self.model.threshold:
                    v.action, v.rule, v.family = ALERT, MODEL_RULE, family
                    v.reason = "model score %.3f >= %.3f" % (score, self.model.threshold)
                else:
                    v.action, v.rule, v.family = ALLOW, DEFAULT_RULE, None
                    v.reason = "model score %.3f" % score
            else:
                v.action, v.rule, v.family, v.score = ALLOW, DEFAULT_RULE, None, 0.0
                v.reason = ""
        if ctx.request and dialogue is not None:
            dialogue.verdict = v
        if v.action != ALLOW:
            self._flag(v, ctx)
        self.counts[v.action] += 1
        return v

    def _by_rule(self, v, rule, ctx, prediction):
        v.action, v.rule = rule.action, rule.name
        v.reason = rule.description or "rule %s" % rule.name
        if rule.action == ALLOW:
            v.family, v.score = None, 0.0
            return
        v.score = 1.0
        family = rule.family
        if family == INHERIT:
            if rule.inherit_from == "subscriber_flagged_within" and ctx.sub is not None:
                family = ctx.sub.flagged_family
                v.attacker_gt = ctx.sub.flagged_gt
            else:
                state = ctx.flags.get(ctx.external_gt) if ctx.external_gt else None
                family = state.flagged_family if state is not None else None
        elif family is None:
            if self.model is not None and ctx.interconnect:
                score, family = self._predict(ctx, prediction)
            if family is None:
                family = FAMILY_BY_OPERATION.get(ctx.op)
        v.family = family

    def _flag(self, v, ctx):
        if v.attacker_gt is None:
            v.attacker_gt = ctx.external_gt
        sub = ctx.sub
        if sub is not None:
            sub.flagged_at, sub.flagged_family = ctx.time, v.family
            sub.flagged_gt, sub.flagged_rule = v.attacker_gt, v.rule
        gt = ctx.external_gt
        if gt is not None and ctx.request and gt == ctx.calling_gt:
            state = ctx.gt   # the calling GT's state (the feature pass found it)
            # its messages before this one, as they were then (in a batch,
            # later messages are counted already)
            new = ctx.vector[GT_MESSAGES] <= GT_FLAG_MAX_HISTORY
            if v.rule == MODEL_RULE:
                started = self.features.started_at
                new = (new and v.score >= MODEL_GT_FLAG_SCORE
                       and state.first_at - started >= WARM_UP_S)
            if state.flagged_at is not None or new:
                state.flagged_at, state.flagged_family = ctx.time, v.family
                state.flagged_rule = v.rule
