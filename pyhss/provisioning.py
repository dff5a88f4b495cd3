"""Provisioning: what ``pyhss-admin`` and the REST API both do to the store.

One set of rules, not one per interface: a record's external form (JSON
for the REST API and ``--json``, text for command-line options and CSV
cells) is a :class:`Shape` over the record's field rules
(:mod:`pyhss.storage.rules`), and the changes are the operations of
:class:`Provisioning`, which tell the running server about them as
``pyhss-admin`` always did: a change to what an MME is given (MSISDN, APNs,
UE-AMBR, enabled) asks it for IDR, a cancel for CLR (S6a's control
commands, :mod:`pyhss.apps.s6a_control`), through whatever reaches the
server (``server.call(command, imsi)``: the control socket for
``pyhss-admin``, the AMP link or the server's own locator for the API).

Bad input raises :class:`InvalidInput`, a ValidationError listing every
field at fault (``problems``: ``[(field, problem)]``), so that a form can
show each problem next to its field.
"""

from dataclasses import MISSING, fields

from twisted.internet import defer

from pyhss import control
from pyhss.apps import s6a_control
from pyhss.protocols.results import DIAMETER_SUCCESS
from pyhss.storage.errors import NotFoundError, ValidationError
from pyhss.storage.interface import EVERY_SUBSCRIBER
from pyhss.storage.records import (
    APN_RULES, SERVING_NODE_RULES, SUBSCRIBER_RULES, ApnProfile, ServingNode, Subscriber, check_imsi,
    normalise_apn,
)

# Subscriber fields that are part of Subscription-Data: changing one means IDR.
PROFILE_FIELDS = ("msisdn", "apns", "ue_ambr_ul", "ue_ambr_dl", "enabled")


class InvalidInput(ValidationError):
    """Input with problems in one or more fields.

    @ivar problems: ``[(field, problem)]``; field None for the whole input.
    """

    def __init__(self, problems, message=None):
        problems = list(problems)
        first_field, first_problem = problems[0]
        ValidationError.__init__(self, message or (f"{first_field}: {first_problem}" if first_field
                                                   else first_problem),
                                 field=first_field, problem=first_problem)
        self.problems = problems

    @classmethod
    def from_error(cls, error):
        """An InvalidInput for any ValidationError (a record's, the store's)."""
        if isinstance(error, cls):
            return error
        return cls([(error.field, error.problem)], str(error))


class OperationFailed(Exception):
    """The running server could not do what was asked (no CLR sent, the
    MME refused it...).  ``outcome`` is the command's outcome when one came."""

    def __init__(self, message, outcome=None):
        Exception.__init__(self, message)
        self.outcome = outcome


class Shape:
    """A record's external form: which fields it shows, takes and needs.

    @param record: the record class (a frozen dataclass).
    @param field_rules: its rules, in field order.
    @param key: the field naming a record (its path segment in the API).
    @param required: fields a new record needs (besides those of one_of).
    @param one_of: fields of which a new record needs exactly one.
    @param read_only: fields shown but never taken.
    @param kept: fields a replace leaves as stored when it does not name
        them (state rather than profile: the SQN), as it does the secrets.
    """

    def __init__(self, name, record, field_rules, key, required=(), one_of=(), read_only=(), kept=()):
        self.name = name
        self.record = record
        self.rules = {rule.name: rule for rule in field_rules}
        self.key = key
        self.required = tuple(required)
        self.one_of = tuple(one_of)
        self.read_only = frozenset(read_only)
        self.write_only = frozenset(name for name, rule in self.rules.items() if rule.secret)
        self.kept = self.write_only | frozenset(kept)
        self.defaults = {}
        for f in fields(record):
            if f.default is not MISSING:
                self.defaults[f.name] = f.default

    # --- out ---------------------------------------------------------------------------
    def view(self, record, secrets=False):
        """The record as JSON values; the secret fields only with ``secrets``
        (``pyhss-admin subscriber show``), never for the API."""
        view = {}
        for name, rule in self.rules.items():
            if rule.secret:
                # A write-only input may be no field at all (a password kept as its hash).
                if secrets and hasattr(record, name):
                    value = getattr(record, name)
                    view[name] = None if value is None else value.hex().upper()
                continue
            value = getattr(record, name)
            view[name] = None if value is None else rule.to_json(value)
        return view

    # --- in ----------------------------------------------------------------------------
    def parse(self, body, mode, key=None):
        """Record values from a JSON object.

        ``mode``: "create" (the key and required fields needed, the rest
        defaults), "replace" (every field left out back to its default, but
        the key, the secrets and the ``kept`` fields, which stay), "patch"
        (only what is given).  ``key``: the key from the path, for replace
        and patch (the body may repeat it, not change it).  InvalidInput
        lists every problem.
        """
        if not isinstance(body, dict):
            raise InvalidInput([(None, "the body must be a JSON object")])
        problems = []
        messages = []
        values = {}
        for name, value in body.items():
            rule = self.rules.get(name)
            if rule is None:
                problems.append((name, "unknown field"))
                continue
            if name in self.read_only:
                problems.append((name, "is read-only"))
                continue
            if name == self.key and mode != "create":
                try:
                    same = rule.from_json(value) == key
                except ValidationError:
                    same = False
                if not same:
                    problems.append((name, f"cannot be changed (it names the {self.name})"))
                continue
            try:
                values[name] = rule.from_json(value)
            except ValidationError as e:
                problems.append((name, e.problem))
                messages.append(str(e))
        if mode == "create":
            for name in self.required:
                if name not in body:
                    problems.append((name, "is required"))
            if self.one_of and not any(name in body for name in self.one_of):
                problems.append((self.one_of[0], f"one of {' and '.join(self.one_of)} is required"))
        if self.one_of and sum(values.get(name) is not None for name in self.one_of) > 1:
            problems.append((self.one_of[1], f"give only one of {' and '.join(self.one_of)}"))
        if problems:
            # The rule's own line ("note must be printable text ...") when
            # the first problem is a field's value.
            first = messages[0] if messages and len(problems) == 1 else None
            raise InvalidInput(problems, first)
        if mode == "replace":
            kept = {name: default for name, default in self.defaults.items()
                    if name not in self.kept and name != self.key and name not in self.read_only}
            kept.update(values)
            values = kept
        return values

    def build(self, values):
        """The record from parsed values (InvalidInput for a problem of the
        whole record, such as neither OPc nor OP)."""
        try:
            return self.record(**values)
        except ValidationError as e:
            raise InvalidInput.from_error(e) from None

    # --- schema ------------------------------------------------------------------------
    def json_schema(self, mode):
        """The JSON Schema of the record shown ("read") or taken ("create",
        "replace", "patch"), from the same rules :meth:`parse` applies."""
        properties = {}
        for name, rule in self.rules.items():
            if mode == "read" and rule.secret:
                continue
            if mode != "read" and name in self.read_only:
                continue
            schema = rule.json_schema()
            if name in self.defaults and self.defaults[name] is not None and not rule.secret:
                schema["default"] = rule.to_json(self.defaults[name])
            if mode == "read" and name in self.read_only:
                schema["readOnly"] = True
            properties[name] = schema
        schema = {"type": "object", "properties": properties}
        if mode == "read":
            schema["required"] = [name for name in self.rules if name not in self.write_only]
        else:
            schema["additionalProperties"] = False
        if mode == "create":
            schema["required"] = list(self.required)
            if self.one_of:
                schema["oneOf"] = [{"required": [name]} for name in self.one_of]
        return schema


SUBSCRIBER = Shape("subscriber", Subscriber, SUBSCRIBER_RULES, key="imsi", required=("imsi", "k"),
                   one_of=("opc", "op"), kept=("sqn",))
APN = Shape("APN profile", ApnProfile, APN_RULES, key="name", required=("name",))
SERVING_NODE = Shape("serving node", ServingNode, SERVING_NODE_RULES, key="imsi",
                     read_only=tuple(rule.name for rule in SERVING_NODE_RULES))


# --- what the server is told ---------------------------------------------------------

def not_needed():
    return dict(s6a_control.outcome(False, reason="not-needed"),
                message="Subscription-Data unchanged: no IDR needed")


@defer.inlineCallbacks
def profile_changed(server, imsi):
    """Ask the server for an IDR; the store is updated whatever happens here.
    Fires the outcome with a ``message``."""
    try:
        result = yield server.call(s6a_control.ProfileChanged, imsi)
    except control.ServerUnreachable as e:
        return dict(s6a_control.outcome(False, reason="server-unreachable"),
                    message=f"{e}: store updated, no IDR sent")
    except defer.TimeoutError:
        return dict(s6a_control.outcome(False, reason="timeout"),
                    message=f"no answer from the server within {server.timeout:g}s: store updated, "
                            f"IDR outcome unknown")
    except control.ControlError as e:
        return dict(s6a_control.outcome(False, reason="server-error"),
                    message=f"server error: {e}: store updated, no IDR sent")
    return dict(result, message=s6a_control.describe("IDR", result))


@defer.inlineCallbacks
def cancel_subscription(server, imsi):
    """Have the server send CLR (SUBSCRIPTION_WITHDRAWAL); fires the outcome
    with a ``message`` when done (sent and accepted, or nothing to
    withdraw), else OperationFailed; NotFoundError, ValidationError."""
    imsi = check_imsi(imsi)
    what = "CLR (subscription withdrawal)"
    try:
        result = yield server.call(s6a_control.CancelSubscription, imsi)
    except control.ServerUnreachable as e:
        raise OperationFailed(f"{e}: no CLR sent") from None
    except defer.TimeoutError:
        raise OperationFailed(f"no answer from the server within {server.timeout:g}s: "
                              f"CLR outcome unknown") from None
    except control.UnknownSubscriber:
        raise NotFoundError(f"no subscriber {imsi}") from None
    except control.InvalidImsi as e:
        raise ValidationError(str(e), field="imsi") from None
    except control.ControlError as e:
        raise OperationFailed(f"server error: {e}: no CLR sent") from None
    message = s6a_control.describe(what, result)
    outcome = dict(result, message=message)
    # Nothing to withdraw (no MME holds the UE) is done; an MME that could
    # not be reached or did not accept it is not.
    done = (result["result_code"] == DIAMETER_SUCCESS if result["sent"]
            else result["reason"] in (s6a_control.NO_SERVING_MME, s6a_control.PURGED))
    if not done:
        raise OperationFailed(message, outcome)
    return outcome


class Provisioning:
    """The provisioning operations over a store, telling ``server`` (an
    object with ``call(command, imsi)`` and ``timeout``) what it must pass on.

    Every method returns a Deferred; failures are InvalidInput (bad input),
    DuplicateError, NotFoundError, InUseError, OperationFailed and
    StoreError.
    """

    def __init__(self, store, server):
        self.store = store
        self.server = server

    # --- subscribers -------------------------------------------------------------------
    @defer.inlineCallbacks
    def get_subscriber(self, imsi):
        subscriber = yield self.store.get_subscriber(_key(SUBSCRIBER, imsi))
        if subscriber is None:
            raise NotFoundError(f"no subscriber {imsi}")
        return subscriber

    @defer.inlineCallbacks
    def list_subscribers(self, query=EVERY_SUBSCRIBER, offset=0, limit=None):
        """Fires ``(subscribers, total)``: a page, and how many ``query`` wants."""
        found = yield self.store.list_subscribers(offset, limit, query=query)
        total = yield self.store.count_subscribers(query)
        return found, total

    @defer.inlineCallbacks
    def add_subscriber(self, values, if_missing=False):
        """Fires ``(subscriber, created)``."""
        subscriber = SUBSCRIBER.build(values)
        if if_missing:
            existing = yield self.store.get_subscriber(subscriber.imsi)
            if existing is not None:
                return existing, False
        try:
            yield self.store.add_subscriber(subscriber)
        except ValidationError as e:
            raise InvalidInput.from_error(e) from None
        return subscriber, True

    @defer.inlineCallbacks
    def update_subscriber(self, imsi, changes):
        """Change fields; fires ``(subscriber, idr)``, ``idr`` the outcome of
        telling the server (an IDR when a profile field is among the changes)."""
        imsi = _key(SUBSCRIBER, imsi)
        if not changes:
            raise InvalidInput([(None, "nothing to change")])
        try:
            subscriber = yield self.store.update_subscriber(imsi, **changes)
        except ValidationError as e:
            raise InvalidInput.from_error(e) from None
        if any(name in changes for name in PROFILE_FIELDS):
            idr = yield profile_changed(self.server, imsi)
        else:
            idr = not_needed()
        return subscriber, idr

    def delete_subscriber(self, imsi):
        return defer.maybeDeferred(lambda: self.store.delete_subscriber(_key(SUBSCRIBER, imsi)))

    def cancel(self, imsi):
        return defer.maybeDeferred(lambda: cancel_subscription(self.server, _key(SUBSCRIBER, imsi)))

    @defer.inlineCallbacks
    def serving_node(self, imsi):
        imsi = _key(SUBSCRIBER, imsi)
        node = yield self.store.get_serving_node(imsi)
        if node is None:
            if (yield self.store.get_subscriber(imsi)) is None:
                raise NotFoundError(f"no subscriber {imsi}")
            raise NotFoundError(f"subscriber {imsi} has no serving MME registered")
        return node

    # --- APN profiles ------------------------------------------------------------------
    @defer.inlineCallbacks
    def get_apn(self, name):
        profile = yield self.store.get_apn(_key(APN, name))
        if profile is None:
            raise NotFoundError(f"no APN {name!r}")
        return profile

    def list_apns(self):
        return self.store.list_apns()

    @defer.inlineCallbacks
    def add_apn(self, values, if_missing=False):
        """Fires ``(profile, created)``."""
        profile = APN.build(values)
        if if_missing:
            existing = yield self.store.get_apn(profile.name)
            if existing is not None:
                return existing, False
        stored = yield self.store.add_apn(profile)
        return stored, True

    @defer.inlineCallbacks
    def update_apn(self, name, changes):
        if not changes:
            raise InvalidInput([(None, "nothing to change")])
        try:
            profile = yield self.store.update_apn(_key(APN, name), **changes)
        except ValidationError as e:
            raise InvalidInput.from_error(e) from None
        return profile

    def delete_apn(self, name):
        return defer.maybeDeferred(lambda: self.store.delete_apn(_key(APN, name)))


def checked_key(shape, value):
    """The key field's value, checked (a bad one is InvalidInput)."""
    try:
        return shape.rules[shape.key].check(value)
    except ValidationError as e:
        raise InvalidInput.from_error(e) from None


_key = checked_key


__all__ = [
    "APN", "InvalidInput", "OperationFailed", "PROFILE_FIELDS", "Provisioning", "SERVING_NODE", "SUBSCRIBER",
    "Shape", "cancel_subscription", "checked_key", "normalise_apn", "profile_changed",
]
