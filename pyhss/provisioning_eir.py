"""EIR provisioning (S13): what ``pyhss-admin eir`` and the REST API both
do to the equipment rules, and how both read the check history.

The server reads the rules at every ECR, so a change applies to the next
check: nothing is sent to the server.  The shape is that of
:mod:`pyhss.provisioning` over the rules of
:mod:`pyhss.storage.records_eir`.
"""

import datetime
import re

from twisted.internet import defer

from pyhss.provisioning import InvalidInput, Shape, checked_key
from pyhss.storage import rules
from pyhss.storage.errors import NotFoundError, ValidationError
from pyhss.storage.records_eir import (
    CHECK_REASONS, EQUIPMENT_RULE_RULES, EQUIPMENT_STATUSES, EquipmentCheck, EquipmentRule, check_user_imsi,
    parse_imei, status_name,
)

HISTORY_LIMIT = 100
_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_AGE_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

EQUIPMENT_RULE = Shape("EIR rule", EquipmentRule, EQUIPMENT_RULE_RULES, key="key", required=("key", "status"),
                       read_only=("updated_at",))


def parse_since(text, now):
    """Seconds since the epoch for a ``since``: an age before ``now``
    (``90s``, ``30m``, ``12h``, ``7d``) or an ISO 8601 date or time (naive:
    UTC).  ValidationError otherwise."""
    age = _AGE.match(text.strip())
    if age:
        return now - float(age.group(1)) * _AGE_SECONDS[age.group(2)]
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"not an ISO 8601 date or time, nor an age like 30m: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def when(seconds):
    """ISO 8601 UTC with milliseconds: ``2026-12-06T17:49:18.000Z``."""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def check_view(check):
    """One check of the history as JSON (``pyhss-admin eir history --json``
    and the API)."""
    return {"time": when(check.checked_at), "imei": check.imei, "software_version": check.software_version,
            "imsi": check.imsi, "mme": check.origin_host, "result_code": check.result_code,
            "status": status_name(check.status), "reason": check.reason}


CHECK_SCHEMA = {
    "type": "object",
    "description": "one ME identity check as it was answered",
    "properties": {
        "time": {"type": "string", "description": "when (ISO 8601, UTC)"},
        "imei": {"type": ["string", "null"], "description": "the 14 digits (a refused check: what came)"},
        "software_version": {"type": ["string", "null"]},
        "imsi": {"type": ["string", "null"]},
        "mme": {"type": "string", "description": "the asking MME or SGSN (Origin-Host)"},
        "result_code": {"type": "integer"},
        "status": {"type": ["string", "null"], "enum": ["whitelisted", "blacklisted", "greylisted", None]},
        "reason": {"type": "string", "description": "imei, tac, unknown, imsi-mismatch, refused, store-failed"},
    },
    "required": ["time", "imei", "software_version", "imsi", "mme", "result_code", "status", "reason"],
}

CHECK_RULES = (
    rules.Number("checked_at", "checked_at", doc="when it was answered (seconds since the epoch)"),
    rules.Text("origin_host", "origin_host", doc="the asking MME or SGSN (Origin-Host)"),
    rules.Integer("result_code", "result_code", 1000, 5999, doc="the answer's (Experimental-)Result-Code"),
    rules.Choice("reason", "reason", {reason: reason for reason in CHECK_REASONS},
                 doc="why it was answered so: an IMEI rule, a TAC rule, no rule (unknown), an IMSI binding "
                     "(imsi-mismatch), an error answer (refused), the store failing (store-failed)"),
    rules.Text("imei", "imei", optional=True, doc="the 14 digits (a refused check: what came, made printable)"),
    rules.Text("software_version", "software_version", optional=True),
    rules.Text("imsi", "imsi", optional=True),
    rules.Choice("status", "status", EQUIPMENT_STATUSES, optional=True,
                 doc="the Equipment-Status answered; null when none was"),
)
EQUIPMENT_CHECK = Shape("equipment check", EquipmentCheck, CHECK_RULES, key="checked_at",
                        read_only=tuple(rule.name for rule in CHECK_RULES))

# The history's filters, as the API's query parameters read them.
HISTORY_IMEI = rules.Checked("imei", "IMEI", parse_imei, {"type": "string", "pattern": "^[0-9]{14,15}$"},
                             doc="only this IMEI's checks (14 digits, or 15 with the check digit)")
HISTORY_IMSI = rules.Checked("imsi", "IMSI", check_user_imsi, {"type": "string", "pattern": "^[0-9]{6,15}$"},
                             doc="only this IMSI's checks")
HISTORY_SINCE = rules.Text("since", "since", max_length=64,
                           doc="only checks from then on: an ISO 8601 date or time (UTC unless it says) or an "
                               "age (90s, 30m, 12h, 7d)")
HISTORY_LIMIT_RULE = rules.Integer("limit", "limit", 0, 2 ** 31,
                                   doc=f"at most this many, the newest (default {HISTORY_LIMIT}; 0: all)")


class EirProvisioning:
    """The EIR operations over a store; every method returns a Deferred
    (InvalidInput, DuplicateError, NotFoundError, StoreError)."""

    def __init__(self, store, clock):
        self.store = store
        self.clock = clock

    @defer.inlineCallbacks
    def get_rule(self, key):
        rule = yield self.store.get_equipment_rule(checked_key(EQUIPMENT_RULE, key))
        if rule is None:
            raise NotFoundError(f"no EIR rule for {key}")
        return rule

    @defer.inlineCallbacks
    def list_rules(self, offset=0, limit=None):
        """Fires ``(rules, total)``: the rules in order (TACs and IMEIs)."""
        found = yield self.store.list_equipment_rules(0, None)
        end = None if limit is None else offset + limit
        return found[offset:end], len(found)

    @defer.inlineCallbacks
    def add_rule(self, values, replace=False):
        """Fires the rule as stored (DuplicateError when one exists for the key
        and not ``replace``)."""
        rule = EQUIPMENT_RULE.build(dict(values, updated_at=self.clock()))
        try:
            yield self.store.add_equipment_rule(rule, replace=replace)
        except ValidationError as e:
            raise InvalidInput.from_error(e) from None
        return rule

    @defer.inlineCallbacks
    def replace_rule(self, key, values):
        """Replace an existing rule (NotFoundError when none)."""
        key = checked_key(EQUIPMENT_RULE, key)
        yield self.get_rule(key)
        rule = yield self.add_rule(dict(values, key=key), replace=True)
        return rule

    def delete_rule(self, key):
        return defer.maybeDeferred(lambda: self.store.delete_equipment_rule(checked_key(EQUIPMENT_RULE, key)))

    @defer.inlineCallbacks
    def history_page(self, offset, limit, imei=None, imsi=None, since=None):
        """Fires ``(checks, total)``: the ``limit`` checks before the newest
        ``offset`` ones, oldest first, and how many the filters select."""
        checks = yield self.history(imei, imsi, since, offset + limit)
        page = checks[:max(len(checks) - offset, 0)]
        if imei is None and imsi is None and since is None:
            total = yield self.store.count_equipment_checks()
        else:
            total = len((yield self.history(imei, imsi, since, None)))
        return page, total

    def history(self, imei=None, imsi=None, since=None, limit=HISTORY_LIMIT):
        """The newest checks (``limit``; 0 or None: all), oldest first;
        ``since`` as :func:`parse_since` reads it."""
        try:
            since = None if since is None else parse_since(since, self.clock())
        except ValidationError as e:
            return defer.fail(InvalidInput([("since", str(e))]))
        return self.store.list_equipment_checks(imei=imei, imsi=imsi, since=since, limit=limit or None)


__all__ = [
    "CHECK_SCHEMA", "EQUIPMENT_CHECK", "EQUIPMENT_RULE", "EirProvisioning", "HISTORY_LIMIT", "check_view",
    "parse_since", "when",
]
