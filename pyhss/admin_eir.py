"""``pyhss-admin eir``: the equipment identity register's rules and history.

    pyhss-admin eir add --imei 490154203237518 --status blacklisted [--imsi IMSI] [--note TEXT] [--replace]
    pyhss-admin eir add --tac 49015420 --status greylisted
    pyhss-admin eir list [--offset N] [--limit N]
    pyhss-admin eir delete --imei 49015420323751 | --tac 49015420
    pyhss-admin eir check 490154203237518 [--imsi IMSI]
    pyhss-admin eir history [--imei IMEI] [--imsi IMSI] [--since WHEN] [--limit N]

The rules are read by the running server at every ECR, so a change
applies to the next check (no control-socket call is needed).  ``check``
says what the server would answer, with this configuration's ``s13``
statuses.  ``history`` shows the newest checks (100 unless ``--limit``),
oldest first; the server writes them in batches, so the last
``s13.history.flush_interval`` seconds may not show yet.  ``--since``
takes an ISO 8601 date or time (UTC unless it says otherwise) or an age
such as ``90s``, ``30m``, ``12h``, ``7d``.

:mod:`pyhss.admin` adds these to its parser and its command table; errors
are its own (refused input: exit 2).
"""

import time

from twisted.internet import defer

from pyhss import provisioning_eir
from pyhss.apps.s13_policy import EirPolicy
from pyhss.config import load_config
from pyhss.protocols import results
from pyhss.storage.errors import ValidationError
from pyhss.storage.records_eir import (
    EQUIPMENT_STATUSES, check_tac, check_user_imsi, imei_from_wire, parse_imei, status_name,
)

HISTORY_LIMIT = provisioning_eir.HISTORY_LIMIT
when = provisioning_eir.when


def _admin():
    # pyhss.admin's parser pieces and table layout; imported when used, not
    # at the top: pyhss.admin imports this module.
    from pyhss import admin
    return admin


def add_commands(commands, common):
    """The ``eir`` command group, under ``commands`` (admin's subparsers)."""
    non_negative = _admin()._non_negative
    eir = commands.add_parser("eir", help="equipment identity register (S13): rules and check history") \
        .add_subparsers(dest="action", metavar="ACTION", required=True)
    add = eir.add_parser("add", parents=[common], help="add a rule for an IMEI or a TAC")
    _key_options(add)
    add.add_argument("--status", required=True, choices=tuple(EQUIPMENT_STATUSES),
                     help="the Equipment-Status the EIR answers")
    add.add_argument("--imsi", help="bind an IMEI rule to this IMSI: used with another IMSI (or none), the "
                                    "check answers s13.imsi_mismatch_status")
    add.add_argument("--note", help="free text kept with the rule (a case number, a reason)")
    add.add_argument("--replace", action="store_true", help="replace the rule of that IMEI or TAC if one exists")
    listing = eir.add_parser("list", parents=[common], help="list the rules, TACs and IMEIs in order")
    listing.add_argument("--offset", type=non_negative, default=0)
    listing.add_argument("--limit", type=non_negative, default=None)
    delete = eir.add_parser("delete", parents=[common], help="delete the rule of an IMEI or a TAC")
    _key_options(delete)
    check = eir.add_parser("check", parents=[common],
                           help="what the EIR answers for an IMEI (this config's s13 statuses)")
    check.add_argument("imei", help="14 digits, or 15 ending in the check digit or the spare digit 0")
    check.add_argument("--imsi", help="the IMSI the ECR would name")
    history = eir.add_parser("history", parents=[common], help="the newest checks, oldest first")
    history.add_argument("--imei", help="only this IMEI's checks (14 or 15 digits)")
    history.add_argument("--imsi", help="only this IMSI's checks")
    history.add_argument("--since", metavar="WHEN",
                         help="only checks from WHEN on: an ISO 8601 date or time (UTC unless it says) or an "
                              "age (90s, 30m, 12h, 7d)")
    history.add_argument("--limit", type=non_negative, default=HISTORY_LIMIT,
                         help=f"at most this many, the newest (default {HISTORY_LIMIT}; 0: all)")


def _key_options(parser):
    key = parser.add_mutually_exclusive_group(required=True)
    key.add_argument("--imei", help="an IMEI: 14 digits, or 15 with the check digit")
    key.add_argument("--tac", help="a Type Allocation Code: the first 8 digits of every IMEI it covers")


def rule_view(rule):
    return {"imei": rule.key if rule.kind == "imei" else None, "tac": rule.key if rule.kind == "tac" else None,
            "status": status_name(rule.status), "imsi": rule.imsi, "note": rule.note,
            "updated_at": when(rule.updated_at)}


check_view = provisioning_eir.check_view


def _key(options):
    return parse_imei(options.imei) if options.imei is not None else check_tac(options.tac)


def parse_since(text, now):
    """``--since`` as :func:`pyhss.provisioning_eir.parse_since` reads it."""
    try:
        return provisioning_eir.parse_since(text, now)
    except ValidationError as e:
        raise ValidationError(f"--since: {e}") from None


@defer.inlineCallbacks
def cmd_eir_add(store, options, out):
    values = {"key": _key(options), "status": options.status}
    values.update({name: getattr(options, name) for name in ("imsi", "note") if getattr(options, name) is not None})
    rule = yield provisioning_eir.EirProvisioning(store, time.time).add_rule(
        provisioning_eir.EQUIPMENT_RULE.parse(values, "create"), replace=options.replace)
    text = f"added the rule for {rule.kind.upper()} {rule.key}: {options.status}"
    if rule.imsi:
        text += f", bound to IMSI {rule.imsi}"
    out(rule_view(rule), text)


@defer.inlineCallbacks
def cmd_eir_list(store, options, out):
    views = [rule_view(rule) for rule in (yield store.list_equipment_rules(options.offset, options.limit))]
    out(views, _admin()._table(views, ("tac", "imei", "status", "imsi", "note", "updated_at")))


@defer.inlineCallbacks
def cmd_eir_delete(store, options, out):
    key = _key(options)
    yield store.delete_equipment_rule(key)
    kind = "IMEI" if options.imei is not None else "TAC"
    out({kind.lower(): key, "deleted": True}, f"deleted the rule for {kind} {key}")


@defer.inlineCallbacks
def cmd_eir_check(store, options, out):
    s13 = load_config(options.config).s13
    imei = imei_from_wire(options.imei)     # as the server reads an ECR's IMEI
    imsi = None if options.imsi is None else check_user_imsi(options.imsi)
    imei_rule, tac_rule = yield store.match_equipment(imei)
    status, reason = EirPolicy.from_names(s13.unknown_status, s13.imsi_mismatch_status).decide(
        imei_rule, tac_rule, imsi)
    result_code = results.DIAMETER_SUCCESS if status is not None else results.DIAMETER_ERROR_EQUIPMENT_UNKNOWN
    why = {"imei": f"the rule for IMEI {imei}", "tac": f"the rule for TAC {imei[:8]}",
           "unknown": "no rule: s13.unknown_status",
           "imsi-mismatch": f"IMEI {imei} is bound to IMSI {imei_rule and imei_rule.imsi}: "
                            f"s13.imsi_mismatch_status"}[reason]
    answer = status_name(status) if status is not None else "DIAMETER_ERROR_EQUIPMENT_UNKNOWN (5422)"
    out({"imei": imei, "imsi": imsi, "result_code": result_code, "status": status_name(status), "reason": reason},
        f"IMEI {imei}: {answer}, by {why}")


@defer.inlineCallbacks
def cmd_eir_history(store, options, out):
    imei = None if options.imei is None else parse_imei(options.imei)
    imsi = None if options.imsi is None else check_user_imsi(options.imsi)
    since = None if options.since is None else parse_since(options.since, time.time())
    checks = yield store.list_equipment_checks(imei=imei, imsi=imsi, since=since, limit=options.limit or None)
    views = [check_view(check) for check in checks]
    out(views, _admin()._table(views, ("time", "imei", "software_version", "imsi", "mme", "result_code", "status",
                                       "reason")))


COMMANDS = {
    ("eir", "add"): cmd_eir_add,
    ("eir", "list"): cmd_eir_list,
    ("eir", "delete"): cmd_eir_delete,
    ("eir", "check"): cmd_eir_check,
    ("eir", "history"): cmd_eir_history,
}
