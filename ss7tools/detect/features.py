"""The one streaming feature pass: from each SS7 message (the parser's rows
of it) to what rules and the model read, updating the per-subscriber,
per-GT and per-dialogue state on the way.  The same object serves offline
detection, training and live evaluation, so a message gets the same
features in all three.

A message is the list of its rows (one per TCAP component, all with the
same frame and chunk; see :data:`ss7tools.rows.COLUMNS`).  Features
describe what came *before* the message (its own request counts in the
rates); the state is updated after they are computed.  None of it depends
on verdicts: the engine keeps its flags in slots of its own.

:data:`FEATURES` names the model's inputs, in order, with their meaning;
unknown values are -1.
"""

import math
from bisect import bisect_left as _bisect_left
from itertools import compress, count as _counting, islice

from ..map_catalogue import MAP_BY_NAME
from ..rows import COLUMN_INDEX
from .network import HOME, NONE, NO_GT, distance_km
from .state import Dialogue, StateTables

#: feature name -> meaning (the model's inputs, in this order)
FEATURE_DOCS = (
    ("op_code", "MAP operation code of the message's operation (its dialogue's for an answer)"),
    ("fs11_category", "GSMA FS.11 category of the operation (0: none)"),
    ("tcap_type", "0 begin, 1 continue, 2 end, 3 abort, 4 unidirectional"),
    ("answer", "0 a request, 1 a result, 2 an error, 3 a reject or abort"),
    ("calling_origin", "calling GT: 0 home, 1 roaming partner, 2 other, 3 none"),
    ("called_origin", "called GT: 0 home, 1 roaming partner, 2 other, 3 none"),
    ("imsi_origin", "subscriber's IMSI: 0 home, 1 partner, 2 other, 3 unknown"),
    ("calling_is_subscriber_home", "1 the calling GT is in the subscriber's home network"),
    ("location_known", "1 the subscriber's serving VLR is known"),
    ("calling_in_vlr_country", "1 the calling GT is in the country of the subscriber's VLR"),
    ("calling_is_vlr", "1 the calling GT is the subscriber's VLR"),
    ("since_location_update", "seconds since the subscriber's last updateLocation"),
    ("since_seen", "seconds since the last evidence of where the subscriber is"),
    ("travel_speed_kmh", "speed from the subscriber's last location to the calling GT's"),
    ("since_outside_request", "seconds since the last request about the subscriber "
                              "from outside the home network"),
    ("outside_requests", "requests about the subscriber from outside (decaying, 1 h)"),
    ("since_subscriber_message", "seconds since the previous message about the subscriber"),
    ("op_rate_60s", "requests of this operation from this calling GT in 60 s, this one too"),
    ("gt_messages", "messages seen from the calling GT before"),
    ("gt_age", "seconds since the calling GT was first seen"),
    ("since_gt_message", "seconds since the previous message from the calling GT"),
    ("gt_dialogues", "dialogues the calling GT opened before"),
    ("gt_failed_share", "share of the calling GT's answered dialogues that failed "
                        "(error, reject, abort)"),
    ("gt_sms_routing", "sendRoutingInfoForSM requests from the calling GT before"),
    ("gt_delivery_share", "mt-forwardSM per sendRoutingInfoForSM from the calling GT"),
    ("since_sai_same_gt", "seconds since this calling GT asked for the subscriber's vectors"),
    ("smsc_matches_calling", "1 the SMSC address of an SMS operation is the calling "
                             "GT's network, 0 it is not"),
    ("pass_age", "seconds since the feature pass saw its first message (capped at a day): "
                 "how much history the state holds"),
)
FEATURES = tuple(name for name, _ in FEATURE_DOCS)
FEATURE_INDEX = {name: i for i, name in enumerate(FEATURES)}

TCAP_TYPES = {"begin": 0, "continue": 1, "end": 2, "abort": 3, "unidirectional": 4}
#: beyond this speed a change of country is not believed (km/h)
PLAUSIBLE_SPEED_KMH = 1000.0
#: requests a VLR sends because the phone is there
PRESENCE_REQUESTS = frozenset(("updateLocation", "updateGprsLocation", "sendAuthenticationInfo",
                               "mo-forwardSM", "processUnstructuredSS-Request"))
#: results a VLR returns only when it reached the phone
PRESENCE_RESULTS = frozenset(("provideRoamingNumber", "mt-forwardSM", "provideSubscriberInfo"))
REGISTRATIONS = frozenset(("updateLocation", "updateGprsLocation"))
SMS_OPERATIONS = frozenset(("sendRoutingInfoForSM", "mt-forwardSM", "mo-forwardSM",
                            "reportSM-DeliveryStatus"))
OUTSIDE_DECAY_S = 3600.0
MAX_PASS_AGE = 86400.0

_C = COLUMN_INDEX
(_FRAME, _CHUNK, _TIME, _CALLED_GT, _CALLING_GT, _TCAP, _OTID, _DTID, _COMPONENT, _OP_CODE,
 _OP_NAME, _IMSI, _MSISDN, _SMSC) = (
    _C["frame"], _C["chunk"], _C["time_stamp"], _C["called_gt"], _C["calling_gt"],
    _C["tcap_type"], _C["otid"], _C["dtid"], _C["component"], _C["op_code"], _C["op_name"],
    _C["imsi"], _C["msisdn"], _C["smsc"])
#: operation name -> (op_code feature, FS.11 category): one look-up a message
_OPERATION_INFO = {op.name: (op.code, op.fs11 or 0) for op in MAP_BY_NAME.values()}
_NO_OPERATION = (-1, 0)
_TCAP_CODE = TCAP_TYPES
_FEATURE_COUNT = len(FEATURES)
_exp = math.exp


_DISTANCES = {}
_DISTANCES_MAX = 65536


def _distance(a, b):
    """:func:`distance_km`, remembered: locations are a network file's few
    VLRs and partners, so the same pairs come back."""
    key = (a, b)
    km = _DISTANCES.get(key)
    if km is None:
        if len(_DISTANCES) >= _DISTANCES_MAX:
            _DISTANCES.clear()
        km = _DISTANCES[key] = distance_km(a, b)
    return km


class Context:
    """One message as the feature pass saw it: its rows (``row`` the first
    invoke's, else the first), its operation, category, parties, the
    subscriber and its state, the calling GT's state, its dialogue, and the
    feature ``vector``.  ``request``: it opens a dialogue with an invoke;
    ``interconnect``: such a request from outside the home network (what
    the model judges)."""

    __slots__ = ("rows", "row", "frame", "chunk", "time", "op", "category", "tcap", "request",
                 "interconnect", "calling_gt", "called_gt", "calling", "called", "external_gt",
                 "subscriber", "imsi", "msisdn", "sub", "gt", "dialogue", "speed", "vector",
                 "rate_times", "rate_hits", "flags")

    def column(self, name):
        return self.row[COLUMN_INDEX[name]]


class FeaturePass:
    """``observe(rows)`` -> :class:`Context`, in message order."""

    def __init__(self, network, limits=None, rate_queries=()):
        self.network = network
        self.state = StateTables(limits)
        #: (window, above) pairs the rules' rate conditions ask about; each
        #: request's answers are kept in ``ctx.rate_hits``
        self.rate_queries = tuple(rate_queries)
        self.messages = 0
        self.started_at = None

    def observe(self, rows):
        ctx = self.observe_only(rows)
        self.state.tick(ctx.time)
        return ctx

    def observe_only(self, rows):
        """:meth:`observe` without the state's sweep (the caller runs
        ``state.tick`` once it may)."""
        network = self.network
        state = self.state
        self.messages += 1
        row = rows[0]
        failed = 0
        if len(rows) > 1:
            for r in rows:
                if r[_COMPONENT] == "invoke":
                    row = r
                    break
            for r in rows:
                component = r[_COMPONENT]
                if component == "returnError":
                    failed = max(failed, 2)
                elif component == "reject":
                    failed = 3
        component = row[_COMPONENT]
        now = row[_TIME] or 0.0
        started_at = self.started_at
        if started_at is None:
            started_at = self.started_at = now
        tcap = row[_TCAP]
        ctx = Context()
        ctx.flags = state.gts
        ctx.rows, ctx.row = rows, row
        ctx.frame, ctx.chunk, ctx.time, ctx.tcap = row[_FRAME], row[_CHUNK], now, tcap
        calling_gt, called_gt = row[_CALLING_GT], row[_CALLED_GT]
        ctx.calling_gt, ctx.called_gt = calling_gt, called_gt
        gt_info = network.gt
        known = network.gt_cache
        calling = (known.get(calling_gt) or gt_info(calling_gt)) if calling_gt else NO_GT
        called = (known.get(called_gt) or gt_info(called_gt)) if called_gt else NO_GT
        ctx.calling, ctx.called = calling, called
        calling_origin = calling.origin
        ctx.external_gt = (calling_gt if calling_origin != HOME and calling_gt
                           else called_gt if called.origin != HOME and called_gt else None)
        request = component == "invoke" and (tcap == "begin" or tcap == "unidirectional")
        ctx.request = request
        interconnect = ctx.interconnect = request and calling_origin != HOME
        op = row[_OP_NAME]
        imsi, msisdn = row[_IMSI], row[_MSISDN]
        smsc = row[_SMSC]
        if len(rows) > 1:
            for r in rows:
                imsi = imsi or r[_IMSI]
                msisdn = msisdn or r[_MSISDN]
                smsc = smsc or r[_SMSC]

        # the dialogue: opened by a request (registered in _update, once the
        # subscriber is known), found again by the answers
        dialogue = None
        answer = 0
        if not request and tcap is not None:
            dialogues = state.dialogues
            dialogue = dialogues.get((called_gt, row[_DTID]))
            if dialogue is None and row[_OTID]:
                dialogue = dialogues.get((calling_gt, row[_OTID]))
            if tcap == "abort":
                answer = 3
            elif failed:
                answer = failed
            elif component == "returnError":
                answer = 2
            elif component == "reject":
                answer = 3
            else:
                answer = 1 if component != "invoke" else 0
            if dialogue is not None and op is None:
                op = dialogue.op
        ctx.dialogue = dialogue
        ctx.op = op
        code, category = _OPERATION_INFO.get(op, _NO_OPERATION)
        ctx.category = category

        # the subscriber: IMSI, else one learnt for the MSISDN, else the
        # E.214 called GT, else the dialogue's
        if imsi and msisdn:
            if state.msisdns.get(msisdn) != imsi:
                state.learn_msisdn(msisdn, imsi)
                # what was kept under the MSISDN (before its IMSI was known)
                # is the IMSI's
                state.merge_subscriber(msisdn, imsi, now)
        elif msisdn and not imsi:
            imsi = state.msisdns.get(msisdn)
        if not imsi and request and called_gt:
            imsi = network.mgt_imsi(called_gt)
        subscriber = imsi or msisdn
        if subscriber is None and dialogue is not None:
            subscriber = dialogue.subscriber
            if subscriber is not None and subscriber.__class__ is str and len(subscriber) == 15:
                imsi = subscriber
        ctx.subscriber, ctx.imsi, ctx.msisdn = subscriber, imsi, msisdn
        # state.subscriber() and state.gt(), inlined for the common case
        sub = None
        if subscriber:
            sub = state.subscribers.get(subscriber)
            if sub is None:
                sub = state.subscriber(subscriber, now)
            else:
                state.subscribers.move_to_end(subscriber)
                sub.touched = now
        ctx.sub = sub
        gt = None
        if calling_gt:
            gt = state.gts.get(calling_gt)
            if gt is None:
                gt = state.gt(calling_gt, now)
            else:
                state.gts.move_to_end(calling_gt)
                gt.touched = now
        ctx.gt = gt

        vector = [-1.0] * _FEATURE_COUNT
        ctx.vector = vector
        vector[0] = code
        vector[1] = category
        vector[2] = _TCAP_CODE.get(tcap, -1)
        vector[3] = answer
        vector[4] = calling_origin
        vector[5] = called.origin
        if imsi:
            imsi_origin, imsi_network = network.imsi(imsi)
            vector[6] = imsi_origin
            if imsi_network is not None and calling_origin != NONE:
                vector[7] = 1 if calling.network == imsi_network else 0
        else:
            vector[6] = NONE
        age = now - started_at
        vector[27] = MAX_PASS_AGE if MAX_PASS_AGE < age else age   # min(), NaN alike

        # where the subscriber is
        speed = -1.0
        if sub is not None:
            vlr = sub.vlr
            if vlr is None:
                vector[8] = 0
            else:
                vector[8] = 1
                if calling_origin != NONE and calling.country is not None:
                    vector[9] = 1 if calling.country == vlr.country else 0
                vector[10] = 1 if calling_gt == sub.vlr_gt else 0
                seen_at = sub.seen_at
                if seen_at is not None:
                    vector[12] = now - seen_at
                    here, there = vlr.location, calling.location
                    if here is not None and there is not None:
                        if here == there:
                            speed = 0.0
                        else:
                            elapsed = now - seen_at
                            speed = _distance(here, there) / (
                                (elapsed if elapsed > 1.0 else 1.0) / 3600.0)
                        vector[13] = speed
            if sub.ul_at is not None:
                vector[11] = now - sub.ul_at
            outside_at = sub.outside_at
            if outside_at is not None:
                vector[14] = now - outside_at
                vector[15] = sub.outside_count * _exp((outside_at - now) / OUTSIDE_DECAY_S)
            else:
                vector[15] = 0.0
            if sub.last_at is not None:
                vector[16] = now - sub.last_at
            if gt is not None and sub.sai_gt == calling_gt and sub.sai_at is not None:
                vector[25] = now - sub.sai_at
        ctx.speed = speed

        # the calling GT's history
        rate_times = None
        if gt is not None:
            if request and op is not None:
                rate_times = gt.op_times(op)
                # this one and the newest earlier ones back to the first older
                # than 60 s, at most 64: a binary search while the times came
                # in order (they do, but for a capture's own disorder)
                held = len(rate_times)
                cutoff = now - 60.0
                if op not in gt.unordered:
                    vector[17] = 1 + held - _bisect_left(rate_times, cutoff,
                                                        held - 63 if held > 63 else 0)
                else:
                    older = map(cutoff.__gt__, islice(reversed(rate_times), 63))
                    vector[17] = 1 + next(compress(_counting(), older),
                                          held if held < 63 else 63)
            seen = gt.seen
            vector[18] = seen
            vector[19] = now - gt.first_at
            if seen:
                vector[20] = now - gt.last_at
            vector[21] = gt.dialogues
            if gt.answered:
                vector[22] = gt.failed / gt.answered
            sri_sm = gt.sri_sm
            vector[23] = sri_sm
            if sri_sm:
                vector[24] = gt.mt_sm / sri_sm
        ctx.rate_times = rate_times
        ctx.rate_hits = None
        if smsc and request and calling_gt and op in SMS_OPERATIONS:
            smsc_info = gt_info(smsc)
            same = smsc == calling_gt or (smsc_info.network is not None
                                          and smsc_info.network == calling.network)
            vector[26] = 1 if same else 0

        # the state after the message (its features are computed)
        if gt is not None:
            gt.seen += 1
            gt.last_at = now
            if request:
                gt.dialogues += 1
                if op == "sendRoutingInfoForSM":
                    gt.sri_sm += 1
                elif op == "mt-forwardSM":
                    gt.mt_sm += 1
                if rate_times is not None:
                    # out of order (or NaN): no binary search on these times
                    if rate_times:
                        if not now >= rate_times[-1]:
                            gt.unordered.add(op)
                    elif now != now:
                        gt.unordered.add(op)
                    rate_times.append(now)
                    queries = self.rate_queries
                    if queries:
                        # what the rules' rate conditions ask, as of now
                        held = len(rate_times)
                        hits = ctx.rate_hits = {}
                        for query in queries:
                            window, above = query
                            hits[query] = (held > above
                                           and rate_times[-(above + 1)] >= now - window)
        if request:
            if tcap == "begin" and calling_gt:
                otid = row[_OTID]
                if otid:
                    dialogues = state.dialogues
                    if len(dialogues) >= state.limits.dialogues:
                        dialogues.popitem(last=False)
                    ctx.dialogue = dialogues[(calling_gt, otid)] = Dialogue(
                        op, subscriber, ctx.frame, ctx.chunk, now, calling_gt, called_gt)
        elif dialogue is not None and answer and (tcap == "end" or tcap == "abort"):
            initiator_gt = dialogue.initiator
            initiator = state.gts.get(initiator_gt)
            if initiator is not None:
                initiator.answered += 1
                if answer >= 2:
                    initiator.failed += 1
            # the initiator's transaction id as this message names it
            otid = row[_OTID] if calling_gt == initiator_gt and row[_OTID] else row[_DTID]
            state.dialogues.pop((initiator_gt, otid), None)
        if sub is None:
            return ctx
        sub.last_at = now
        if interconnect:
            if sub.outside_at is not None:
                sub.outside_count = sub.outside_count * _exp(
                    (sub.outside_at - now) / OUTSIDE_DECAY_S) + 1.0
            else:
                sub.outside_count = 1.0
            sub.outside_at = now
        # evidence of where the phone is: the VLR's own requests, its results
        if request:
            if op not in PRESENCE_REQUESTS:
                return ctx
            if op == "sendAuthenticationInfo":
                sub.sai_gt, sub.sai_at = calling_gt, now
        elif not (answer == 1 and tcap == "end" and op in PRESENCE_RESULTS):
            return ctx
        if calling_gt and calling.origin != NONE:
            vlr = sub.vlr
            speed = ctx.speed
            if (vlr is None or vlr.country == calling.country or speed < 0
                    or speed <= PLAUSIBLE_SPEED_KMH):
                sub.vlr, sub.vlr_gt, sub.seen_at = calling, calling_gt, now
                if request and op in REGISTRATIONS:
                    sub.ul_at = now
        return ctx
