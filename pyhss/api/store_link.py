"""The API child's store writes, made by the HSS process's store (``api.writes: hss``).

SQLite has one writer: when the child wrote the shared file itself, an
AIR's SQN write waited for the child's write transactions, and a burst of
subscriber creations pushed AIR p99 past a second (bench/README.md).  So
the child reads from its own connection to the file (WAL readers never
wait for the writer), and sends every write over the AMP link
(:class:`StoreWrites`) to the HSS process, whose one store worker orders
them with AIR's writes: the writes of one reactor iteration of the child
go as one message, reach the HSS's worker in one reactor iteration of the
HSS and commit in one transaction there (a savepoint each).  A message
holds at most :data:`MAX_CALLS` writes, so that the HSS reactor never spends
more than a millisecond or two on one before answering Diameter again.

Arguments and results cross as tagged JSON (:func:`encode`,
:func:`decode`): the store's records (frozen dataclasses, rebuilt with their
checks on the other side), bytes, tuples; a failure as its store error
class (:mod:`pyhss.storage.errors`) with its field and problem, so that the
API answers exactly as it does for its own store.  A write's Deferred fires
after the HSS's COMMIT, so a read that follows it in the child sees it.
"""

import json
from functools import partial

from twisted.internet import defer
from twisted.logger import Logger

from pyhss.storage import errors
from pyhss.storage.ims_records import IfcTemplate, ImsRegistration, ImsSubscription, PublicIdentity
from pyhss.storage.records import ApnProfile, ServingNode, Subscriber
from pyhss.storage.records_eir import EquipmentCheck, EquipmentRule

# The IStore methods that write, as provisioning calls them (the REST API's
# handlers): these, and only these, go to the HSS process.
WRITE_METHODS = (
    "add_subscriber", "add_subscribers", "update_subscriber", "delete_subscriber",
    "add_apn", "update_apn", "delete_apn",
    "add_ifc_template", "update_ifc_template", "delete_ifc_template",
    "add_ims_subscription", "update_ims_subscription", "delete_ims_subscription",
    "add_equipment_rule", "delete_equipment_rule",
)
# Writes per message: about 50 us each on the HSS's reactor.
MAX_CALLS = 32

RECORDS = {cls.__name__: cls for cls in (
    Subscriber, ApnProfile, ServingNode, ImsSubscription, PublicIdentity, IfcTemplate, ImsRegistration,
    EquipmentRule, EquipmentCheck)}
ERRORS = {cls.__name__: cls for cls in (
    errors.StoreError, errors.DuplicateError, errors.NotFoundError, errors.InUseError, errors.ValidationError,
    errors.StoreUnavailable)}

log = Logger(namespace="pyhss.api")


class NotForwardable(TypeError):
    """A value the link does not carry (not a record, bytes, text, number, list...)."""


# --- tagged JSON ------------------------------------------------------------------------

def _tagged(value):
    kind = type(value)
    if value is None or kind in (str, int, float, bool):
        return value
    if kind is bytes:
        return {"b": value.hex()}
    if kind is tuple:
        return {"t": [_tagged(item) for item in value]}
    if kind is list:
        return [_tagged(item) for item in value]
    if kind is dict:
        return {"m": [[_tagged(key), _tagged(item)] for key, item in value.items()]}
    if RECORDS.get(kind.__name__) is kind:
        return {"r": kind.__name__, "f": [_tagged(getattr(value, name)) for name in kind.__dataclass_fields__]}
    raise NotForwardable(f"cannot send a {kind.__name__} to the HSS process")


def _untagged(obj):
    # json's object_hook: every JSON object on the link is a tag.
    if "b" in obj:
        return bytes.fromhex(obj["b"])
    if "t" in obj:
        return tuple(obj["t"])
    if "m" in obj:
        return {key: item for key, item in obj["m"]}
    if "r" in obj:
        cls = RECORDS.get(obj["r"])
        if cls is None:
            raise errors.StoreError(f"unknown record type {obj['r']!r} on the store link")
        return cls(*obj["f"])
    raise errors.StoreError(f"unknown value on the store link: {sorted(obj)}")


def encode(value):
    return json.dumps(_tagged(value), separators=(",", ":"))


def decode(text):
    return json.loads(text, object_hook=_untagged)


def error_of(failure):
    """A failure as tagged data: ``["error", class name, message, field, problem]``."""
    error = failure.value
    name = type(error).__name__
    if ERRORS.get(name) is not type(error):
        # Not one of the store's errors (a bug): logged here, a StoreError there.
        log.failure("store write from the API child failed", failure)
        return ["error", "StoreError", f"the HSS process's store failed: {name}", None, None]
    if isinstance(error, errors.ValidationError):
        return ["error", name, str(error), error.field, error.problem]
    return ["error", name, str(error), None, None]


def error_from(outcome):
    _, name, message, field, problem = outcome
    cls = ERRORS.get(name, errors.StoreError)
    if cls is errors.ValidationError:
        return cls(message, field=field, problem=problem)
    return cls(message)


# --- the HSS side -------------------------------------------------------------------------

def run_writes(store, calls_text):
    """Run the encoded writes (a JSON list of ``[method, args, kwargs]``) on
    ``store``, all in this reactor iteration (one worker batch); fires the
    outcomes as JSON, one ``{"ok": value}`` or ``{"error": ...}`` per call."""
    calls = json.loads(calls_text, object_hook=_untagged)
    pending = []
    for name, args, kwargs in calls:
        if name not in WRITE_METHODS:
            pending.append(defer.fail(errors.StoreError(f"{name!r} is not a store write the API may send")))
            continue
        try:
            pending.append(defer.maybeDeferred(getattr(store, name), *args, **dict(kwargs)))
        except Exception:
            pending.append(defer.fail())

    def outcomes(results):
        return json.dumps([["ok", _tagged(value)] if ok else error_of(value) for ok, value in results],
                          separators=(",", ":"))
    return defer.DeferredList(pending, consumeErrors=True).addCallback(outcomes)


# --- the child side -----------------------------------------------------------------------

class ForwardingStore:
    """The child's store: reads from ``local`` (its own connection to the
    file), writes (:data:`WRITE_METHODS`) sent to the HSS process by
    ``send(calls_text)`` (a Deferred of the outcomes' JSON), batched per
    reactor iteration.  Every other attribute is ``local``'s."""

    def __init__(self, local, send, reactor):
        self._local = local
        self._send = send
        self._reactor = reactor
        self._queued = []            # (encoded call, Deferred)
        for name in WRITE_METHODS:
            setattr(self, name, partial(self._write, name))

    def __getattr__(self, name):
        return getattr(self._local, name)

    def _write(self, name, *args, **kwargs):
        try:
            call = json.dumps([name, _tagged(list(args)), _tagged(kwargs)["m"]], separators=(",", ":"))
        except NotForwardable as e:
            return defer.fail(errors.ValidationError(str(e)))
        d = defer.Deferred()
        self._queued.append((call, d))
        if len(self._queued) == 1:
            self._reactor.callLater(0, self._flush)
        return d

    def _flush(self):
        queued, self._queued = self._queued, []
        for start in range(0, len(queued), MAX_CALLS):
            self._send_batch(queued[start:start + MAX_CALLS])

    def _send_batch(self, batch):
        text = "[" + ",".join(call for call, _ in batch) + "]"

        def answered(outcomes_text):
            outcomes = decode(outcomes_text)
            if len(outcomes) != len(batch):
                raise errors.StoreError(f"the HSS process answered {len(outcomes)} of {len(batch)} writes")
            for (_, d), outcome in zip(batch, outcomes):
                if outcome[0] == "ok":
                    d.callback(outcome[1])
                else:
                    d.errback(error_from(outcome))

        def failed(reason):
            if reason.check(defer.TimeoutError):
                # It may yet be made: say so rather than that it was not.
                error = errors.StoreUnavailable("no answer from the HSS process in time: the write's outcome "
                                                "is unknown")
            else:
                error = errors.StoreUnavailable(f"the HSS process did not make the write: "
                                                f"{reason.getErrorMessage()}")
            for _, d in batch:
                if not d.called:
                    d.errback(error)
        defer.maybeDeferred(self._send, text).addCallback(answered).addErrback(failed)
