"""``pyhss-admin``: provision subscribers and APN profiles in the configured store.

    pyhss-admin --config config.yaml subscriber add --imsi 001010000000001 --k HEX --opc HEX
    pyhss-admin --config config.yaml --json subscriber list
    pyhss-admin --config config.yaml import subscribers.csv
    pyhss-admin --config config.yaml export backup.csv
    pyhss-admin --config config.yaml subscriber cancel 001010000000001
    pyhss-admin --config config.yaml token add oss --read-only
    pyhss-admin --config config.yaml eir add --imei 490154203237518 --status blacklisted

It runs the store through the reactor with the same adapter code the
server uses, so a running server and pyhss-admin can share the SQLite
file.  After ``subscriber update`` changes what an MME is given
(MSISDN, APNs, UE-AMBR, enabled) it asks the running server, over the
control socket (:mod:`pyhss.control`), to send IDR to the serving MME and
prints what happened; a server that is not running is reported, not an
error (the MME gets the new profile at its next ULR).  ``subscriber
cancel`` has the server send CLR (SUBSCRIPTION_WITHDRAWAL) and fails
when it cannot.  Exit status: 0 done; 1 not found, the store failed, or
the server could not do what was asked; 2 refused input (usage, bad
value, duplicate, APN in use).  Every error is one line on standard
error.
"""

import argparse
import contextlib
import csv
import json
import re
import sys

from twisted.internet import defer, task

from pyhss import admin_eir, admin_ims, control, subscriber_csv
from pyhss.api import tokens
from pyhss.config import ConfigError, load_config
from pyhss.provisioning import APN, SUBSCRIBER, OperationFailed, Provisioning
from pyhss.storage import open_store
from pyhss.storage.errors import DuplicateError, InUseError, NotFoundError, StoreError, ValidationError
from pyhss.storage.records import check_imsi, normalise_apn

PROG = "pyhss-admin"
EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2
CSV_COLUMNS = subscriber_csv.CSV_COLUMNS
# Seconds the server may take beyond its own request_timeout to answer.
CONTROL_MARGIN = 5.0


class UsageError(Exception):
    """Bad command line; exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _non_negative(text):
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return value


def _subscriber_options(parser, adding):
    keys = parser.add_mutually_exclusive_group(required=adding)
    keys.add_argument("--opc", metavar="HEX", help="OPc, 16 bytes in hex")
    keys.add_argument("--op", metavar="HEX", help="operator key OP, 16 bytes in hex (OPc is derived per use)")
    parser.add_argument("--k", metavar="HEX", required=adding, help="subscriber key K, 16 bytes in hex")
    parser.add_argument("--amf", metavar="HEX", default="8000" if adding else None,
                        help="authentication management field, 2 bytes in hex (default 8000)")
    parser.add_argument("--sqn", type=_non_negative, default=0 if adding else None,
                        help="last sequence number handed out (SQN_HE, default 0)")
    parser.add_argument("--msisdn", metavar="DIGITS", help="MSISDN, international format without '+'")
    parser.add_argument("--apn", dest="apns", metavar="NAME", nargs="+", action="extend",
                        help="APN names (provisioned with 'apn add'); the first is the default")
    parser.add_argument("--ue-ambr-ul", type=_non_negative, metavar="BPS", help="UE-AMBR uplink, bit/s")
    parser.add_argument("--ue-ambr-dl", type=_non_negative, metavar="BPS", help="UE-AMBR downlink, bit/s")
    state = parser.add_mutually_exclusive_group()
    state.add_argument("--disable", dest="enabled", action="store_false", default=None,
                       help="refuse service (authentication and location updates)")
    state.add_argument("--enable", dest="enabled", action="store_true", default=None, help="grant service")
    roaming = parser.add_mutually_exclusive_group()
    roaming.add_argument("--no-roaming", dest="roaming_allowed", action="store_false", default=None,
                         help="refuse AIR/ULR from a Visited-PLMN-Id other than the home PLMN (5004)")
    roaming.add_argument("--roaming", dest="roaming_allowed", action="store_true", default=None,
                         help="allow other PLMNs (the default)")


def build_parser():
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine-readable output")
    parser = _Parser(prog=PROG, description="Provision the pyhss subscriber store.", parents=[common])
    parser.add_argument("--config", default="config.yaml", help="configuration file (default: config.yaml)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    subscriber = commands.add_parser("subscriber", help="subscribers").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    add = subscriber.add_parser("add", parents=[common], help="add a subscriber")
    add.add_argument("--imsi", required=True)
    _subscriber_options(add, adding=True)
    add.add_argument("--if-missing", action="store_true", help="do nothing if the IMSI exists")
    update = subscriber.add_parser("update", parents=[common], help="change a subscriber")
    update.add_argument("imsi")
    _subscriber_options(update, adding=False)
    for name, text in (("show", "show one subscriber, key material included"),
                       ("delete", "delete a subscriber"),
                       ("cancel", "have the running server send CLR (subscription withdrawal) to the "
                                  "serving MME")):
        subscriber.add_parser(name, parents=[common], help=text).add_argument("imsi")
    listing = subscriber.add_parser("list", parents=[common], help="list subscribers (no key material)")
    listing.add_argument("--offset", type=_non_negative, default=0)
    listing.add_argument("--limit", type=_non_negative, default=None)

    apn = commands.add_parser("apn", help="APN profiles").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    apn_add = apn.add_parser("add", parents=[common], help="add an APN profile")
    apn_add.add_argument("name")
    apn_add.add_argument("--qci", type=_non_negative, default=9, help="QoS class identifier (default 9)")
    apn_add.add_argument("--arp", type=_non_negative, default=8, help="ARP priority level 1-15 (default 8)")
    preemption = tuple(APN.rules["arp_preemption_capability"].choices)
    apn_add.add_argument("--preemption-capability", choices=preemption, default="disabled")
    apn_add.add_argument("--preemption-vulnerability", choices=preemption, default="enabled")
    apn_add.add_argument("--ambr-ul", type=_non_negative, metavar="BPS", help="APN-AMBR uplink, bit/s")
    apn_add.add_argument("--ambr-dl", type=_non_negative, metavar="BPS", help="APN-AMBR downlink, bit/s")
    apn_add.add_argument("--pdn-type", choices=tuple(APN.rules["pdn_type"].choices), default="ipv4")
    apn_add.add_argument("--context-id", type=_non_negative, help="Context-Identifier (default: lowest free)")
    apn_add.add_argument("--if-missing", action="store_true", help="do nothing if the APN exists")
    apn.add_parser("list", parents=[common], help="list APN profiles")
    for name, text in (("show", "show one APN profile"), ("delete", "delete an APN profile")):
        apn.add_parser(name, parents=[common], help=text).add_argument("name")

    token = commands.add_parser("token", help="API tokens (REST API, console, /metrics)").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    token_add = token.add_parser("add", parents=[common], help="make an API token; it is shown once")
    token_add.add_argument("name")
    token_add.add_argument("--read-only", action="store_true", help="may only read (GET)")
    token.add_parser("list", parents=[common], help="list API tokens (names and scopes)")
    token.add_parser("remove", parents=[common], help="remove an API token").add_argument("name")

    admin_ims.add_parsers(commands, common)

    bulk = commands.add_parser("import", parents=[common], help="bulk-load subscribers from CSV (one "
                                                                "transaction: all or nothing)")
    bulk.add_argument("file", help=f"CSV with a header row naming columns among: {','.join(CSV_COLUMNS)} "
                                   f"(imsi and k required)")
    bulk.add_argument("--skip-existing", action="store_true", help="leave IMSIs already stored alone")
    export = commands.add_parser("export", parents=[common], help="write every subscriber, key material "
                                                                  "included, to a new CSV file (mode 0600)")
    export.add_argument("file", help="the file to create (import reads it back)")
    admin_eir.add_commands(commands, common)
    return parser


# --- records <-> output ---------------------------------------------------------------

def subscriber_view(sub, keys):
    return SUBSCRIBER.view(sub, secrets=keys)


def apn_view(profile):
    return APN.view(profile)


def _text(value):
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(value) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _table(rows, columns):
    cells = [[_text(row[c]) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def _fields(view):
    width = max(len(k) for k in view)
    return "\n".join(f"{k.ljust(width)}  {_text(v)}" for k, v in view.items())


# --- commands -------------------------------------------------------------------------

# Options read with the subscriber's field rules (pyhss.storage.rules).
_TEXT_OPTIONS = ("k", "opc", "op", "amf")
_VALUE_OPTIONS = ("sqn", "msisdn", "apns", "ue_ambr_ul", "ue_ambr_dl", "enabled", "roaming_allowed")


def _key_changes(options):
    changes = {}
    for name in _TEXT_OPTIONS:
        value = getattr(options, name)
        if value is not None:
            changes[name] = SUBSCRIBER.rules[name].from_text(value)
    for name in _VALUE_OPTIONS:
        value = getattr(options, name)
        if value is not None:
            changes[name] = SUBSCRIBER.rules[name].check(tuple(value) if name == "apns" else value)
    return changes


@defer.inlineCallbacks
def cmd_subscriber_add(store, options, out):
    values = dict(_key_changes(options), imsi=check_imsi(options.imsi))
    sub, created = yield Provisioning(store, options.server).add_subscriber(values, if_missing=options.if_missing)
    if not created:
        out({"imsi": sub.imsi, "created": False}, f"subscriber {sub.imsi} exists; left unchanged")
        return
    out({"imsi": sub.imsi, "created": True}, f"added subscriber {sub.imsi}")


@defer.inlineCallbacks
def cmd_subscriber_update(store, options, out):
    changes = _key_changes(options)
    if not changes:
        raise UsageError("nothing to change; give at least one option")
    sub, idr = yield Provisioning(store, options.server).update_subscriber(options.imsi, changes)
    out(dict(subscriber_view(sub, keys=False), idr=idr), f"updated subscriber {sub.imsi}\n{idr['message']}")


@defer.inlineCallbacks
def cmd_subscriber_cancel(store, options, out):
    outcome = yield Provisioning(store, options.server).cancel(options.imsi)
    out({"imsi": options.imsi, "clr": outcome}, outcome["message"])


@defer.inlineCallbacks
def cmd_subscriber_show(store, options, out):
    sub = yield store.get_subscriber(check_imsi(options.imsi))
    if sub is None:
        raise NotFoundError(f"no subscriber {options.imsi}")
    view = subscriber_view(sub, keys=True)
    out(view, _fields(view))


@defer.inlineCallbacks
def cmd_subscriber_list(store, options, out):
    subs = yield store.list_subscribers(options.offset, options.limit)
    views = [subscriber_view(s, keys=False) for s in subs]
    out(views, _table(views, ("imsi", "msisdn", "sqn", "apns", "enabled")))


@defer.inlineCallbacks
def cmd_subscriber_delete(store, options, out):
    yield store.delete_subscriber(check_imsi(options.imsi))
    out({"imsi": options.imsi, "deleted": True}, f"deleted subscriber {options.imsi}")


@defer.inlineCallbacks
def cmd_apn_add(store, options, out):
    rules = APN.rules
    values = dict(name=options.name, qci=options.qci, arp_priority=options.arp,
                  arp_preemption_capability=rules["arp_preemption_capability"].from_text(
                      options.preemption_capability),
                  arp_preemption_vulnerability=rules["arp_preemption_vulnerability"].from_text(
                      options.preemption_vulnerability),
                  ambr_ul=options.ambr_ul, ambr_dl=options.ambr_dl, pdn_type=options.pdn_type,
                  context_id=options.context_id or None)
    profile, created = yield Provisioning(store, options.server).add_apn(values, if_missing=options.if_missing)
    if not created:
        out(dict(apn_view(profile), created=False), f"APN {profile.name} exists; left unchanged")
        return
    out(dict(apn_view(profile), created=True), f"added APN {profile.name} (context id {profile.context_id})")


@defer.inlineCallbacks
def cmd_apn_list(store, options, out):
    views = [apn_view(p) for p in (yield store.list_apns())]
    out(views, _table(views, ("name", "context_id", "qci", "arp_priority", "ambr_ul", "ambr_dl", "pdn_type")))


@defer.inlineCallbacks
def cmd_apn_show(store, options, out):
    profile = yield store.get_apn(normalise_apn(options.name))
    if profile is None:
        raise NotFoundError(f"no APN {options.name!r}")
    view = apn_view(profile)
    out(view, _fields(view))


@defer.inlineCallbacks
def cmd_apn_delete(store, options, out):
    yield store.delete_apn(options.name)
    out({"name": normalise_apn(options.name), "deleted": True}, f"deleted APN {normalise_apn(options.name)}")


@defer.inlineCallbacks
def cmd_import(store, options, out):
    known = {profile.name for profile in (yield store.list_apns())}
    with subscriber_csv.CsvSubscribers(options.file, known) as rows:
        try:
            # The store reads the file as it loads it, in one transaction.
            added = yield store.add_subscribers(rows, skip_existing=options.skip_existing)
        except DuplicateError as e:
            # The store names the IMSI it already holds.
            imsi = re.search(r"(?<!\d)\d{14,15}(?!\d)", str(e))
            line = rows.line_of(imsi.group()) if imsi else None
            raise DuplicateError(f"{options.file}:{line}: {e}" if line else f"{options.file}: {e}") from None
        skipped = rows.rows - added
    out({"imported": added, "skipped": skipped},
        f"imported {added} subscribers from {options.file}" + (f" ({skipped} already stored)" if skipped else ""))


EXPORT_PAGE = 10000


@defer.inlineCallbacks
def cmd_export(store, options, out):
    """Every subscriber, key material included, to a new file (mode 0600)."""
    count = 0
    with subscriber_csv.create_private(options.file) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(subscriber_csv.CSV_COLUMNS)
        while True:
            page = yield store.list_subscribers(count, EXPORT_PAGE)
            writer.writerows(subscriber_csv.subscriber_cells(sub) for sub in page)
            count += len(page)
            if len(page) < EXPORT_PAGE:
                break
    out({"exported": count, "file": options.file}, f"exported {count} subscribers to {options.file}")


# Token commands need the configuration, not the store.
def cmd_token_add(config, options, out):
    secret = tokens.TokenFile(config.api.tokens).add(options.name, read_only=options.read_only)
    scope = tokens.READ_ONLY if options.read_only else tokens.READ_WRITE
    out({"name": options.name, "scope": scope, "token": secret},
        f"{secret}\n(API token {options.name}, {scope}: shown only now; the server keeps its hash "
        f"in {config.api.tokens})")


def cmd_token_list(config, options, out):
    found = tokens.TokenFile(config.api.tokens).read()
    views = [{"name": t.name, "scope": t.scope, "created": t.created} for t in found.values()]
    out(views, _table(views, ("name", "scope", "created")) if views else "no API tokens")


def cmd_token_remove(config, options, out):
    tokens.TokenFile(config.api.tokens).remove(options.name)
    out({"name": options.name, "removed": True}, f"removed API token {options.name}")


TOKEN_COMMANDS = {
    ("token", "add"): cmd_token_add,
    ("token", "list"): cmd_token_list,
    ("token", "remove"): cmd_token_remove,
}

COMMANDS = {
    ("subscriber", "add"): cmd_subscriber_add,
    ("subscriber", "update"): cmd_subscriber_update,
    ("subscriber", "show"): cmd_subscriber_show,
    ("subscriber", "list"): cmd_subscriber_list,
    ("subscriber", "delete"): cmd_subscriber_delete,
    ("subscriber", "cancel"): cmd_subscriber_cancel,
    ("apn", "add"): cmd_apn_add,
    ("apn", "list"): cmd_apn_list,
    ("apn", "show"): cmd_apn_show,
    ("apn", "delete"): cmd_apn_delete,
    ("import", None): cmd_import,
    ("export", None): cmd_export,
    **TOKEN_COMMANDS,
    **admin_ims.COMMANDS,
}
COMMANDS.update(admin_eir.COMMANDS)

REFUSED = (UsageError, ValidationError, DuplicateError, InUseError, ConfigError)


class ServerLink:
    """The running server's control socket, as configured."""

    def __init__(self, reactor, config):
        self.reactor = reactor
        self.path = config.control.socket_path
        self.config_path = config.path
        self.timeout = config.timers.request_timeout + CONTROL_MARGIN

    def call(self, command, imsi=None, **arguments):
        if self.path is None:
            return defer.fail(control.ServerUnreachable(
                None, f"no control socket configured (control.socket in {self.config_path})"))
        if imsi is not None:
            arguments["imsi"] = imsi
        return control.call(self.reactor, self.path, command, self.timeout, **arguments)


# --- entry points ---------------------------------------------------------------------

@defer.inlineCallbacks
def run(reactor, argv, stdout=None, stderr=None):
    """Run one command; fires the exit status.  Tests call this in-process."""
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr

    def fail(status, message):
        stderr.write(f"{PROG}: error: {message}\n")
        return status

    try:
        with contextlib.redirect_stdout(stdout):   # --help
            options = build_parser().parse_args(argv)
    except UsageError as e:
        return fail(EXIT_REFUSED, e)
    except SystemExit as e:
        return e.code or 0
    as_json = getattr(options, "json", False)

    def out(data, text):
        stdout.write((json.dumps(data, indent=2) if as_json else text) + "\n")

    try:
        config = load_config(options.config)
    except ConfigError as e:
        return fail(EXIT_REFUSED, e)
    options.server = ServerLink(reactor, config)
    key = (options.command, getattr(options, "action", None))
    if key in TOKEN_COMMANDS:
        try:
            TOKEN_COMMANDS[key](config, options, out)
        except REFUSED as e:
            return fail(EXIT_REFUSED, e)
        except (NotFoundError, StoreError, OSError) as e:
            return fail(EXIT_FAILED, e)
        return EXIT_OK
    try:
        store = open_store(config.database, reactor)
    except StoreError as e:
        return fail(EXIT_FAILED, e)
    try:
        try:
            yield store.opened
        finally:
            # The store made a database file that other users could read
            # private (it holds K and OPc): say so; the command still runs.
            for warning in getattr(store, "warnings", ()):
                stderr.write(f"{PROG}: warning: {warning}\n")
        command = COMMANDS[(options.command, getattr(options, "action", None))]
        yield command(store, options, out)
    except REFUSED as e:
        return fail(EXIT_REFUSED, e)
    except (NotFoundError, StoreError, OperationFailed) as e:
        return fail(EXIT_FAILED, e)
    finally:
        yield store.close()
    return EXIT_OK


def main(argv=None):
    """Console script: ``pyhss-admin``."""
    argv = sys.argv[1:] if argv is None else argv

    def start(reactor):
        return run(reactor, argv).addCallback(lambda status: _exit(status))

    task.react(start)


def _exit(status):
    if status:
        raise SystemExit(status)


if __name__ == "__main__":
    main()
