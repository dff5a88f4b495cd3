"""``pyhss-admin``: provision subscribers and APN profiles in the configured store.

    pyhss-admin --config config.yaml subscriber add --imsi 001010000000001 --k HEX --opc HEX
    pyhss-admin --config config.yaml --json subscriber list
    pyhss-admin --config config.yaml import subscribers.csv
    pyhss-admin --config config.yaml export backup.csv
    pyhss-admin --config config.yaml subscriber cancel 001010000000001

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

from pyhss import control, subscriber_csv
from pyhss.apps import s6a_control
from pyhss.config import ConfigError, load_config
from pyhss.protocols.results import DIAMETER_SUCCESS
from pyhss.storage import open_store
from pyhss.storage.errors import DuplicateError, InUseError, NotFoundError, StoreError, ValidationError
from pyhss.storage.records import (
    AMF_LENGTH, KEY_LENGTH, PDN_TYPES, ApnProfile, Subscriber, check_imsi, normalise_apn, parse_hex,
)

PROG = "pyhss-admin"
EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2
CSV_COLUMNS = subscriber_csv.CSV_COLUMNS
# Subscriber fields that are part of Subscription-Data: changing one means IDR.
PROFILE_FIELDS = ("msisdn", "apns", "ue_ambr_ul", "ue_ambr_dl", "enabled")
# Seconds the server may take beyond its own request_timeout to answer.
CONTROL_MARGIN = 5.0


class UsageError(Exception):
    """Bad command line; exit status 2."""


class OperationFailed(Exception):
    """The server could not do what was asked; exit status 1."""


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
    apn_add.add_argument("--preemption-capability", choices=("enabled", "disabled"), default="disabled")
    apn_add.add_argument("--preemption-vulnerability", choices=("enabled", "disabled"), default="enabled")
    apn_add.add_argument("--ambr-ul", type=_non_negative, metavar="BPS", help="APN-AMBR uplink, bit/s")
    apn_add.add_argument("--ambr-dl", type=_non_negative, metavar="BPS", help="APN-AMBR downlink, bit/s")
    apn_add.add_argument("--pdn-type", choices=tuple(PDN_TYPES), default="ipv4")
    apn_add.add_argument("--context-id", type=_non_negative, help="Context-Identifier (default: lowest free)")
    apn_add.add_argument("--if-missing", action="store_true", help="do nothing if the APN exists")
    apn.add_parser("list", parents=[common], help="list APN profiles")
    for name, text in (("show", "show one APN profile"), ("delete", "delete an APN profile")):
        apn.add_parser(name, parents=[common], help=text).add_argument("name")

    bulk = commands.add_parser("import", parents=[common], help="bulk-load subscribers from CSV (one "
                                                                "transaction: all or nothing)")
    bulk.add_argument("file", help=f"CSV with a header row naming columns among: {','.join(CSV_COLUMNS)} "
                                   f"(imsi and k required)")
    bulk.add_argument("--skip-existing", action="store_true", help="leave IMSIs already stored alone")
    export = commands.add_parser("export", parents=[common], help="write every subscriber, key material "
                                                                  "included, to a new CSV file (mode 0600)")
    export.add_argument("file", help="the file to create (import reads it back)")
    return parser


# --- records <-> output ---------------------------------------------------------------

def subscriber_view(sub, keys):
    view = {"imsi": sub.imsi}
    if keys:
        view.update(k=sub.k.hex().upper(), opc=sub.opc and sub.opc.hex().upper(),
                    op=sub.op and sub.op.hex().upper())
    view.update(amf=sub.amf.hex().upper(), sqn=sub.sqn, msisdn=sub.msisdn, apns=list(sub.apns),
                enabled=sub.enabled, roaming_allowed=sub.roaming_allowed, ue_ambr_ul=sub.ue_ambr_ul,
                ue_ambr_dl=sub.ue_ambr_dl, network_access_mode=sub.network_access_mode,
                periodic_rau_tau_timer=sub.periodic_rau_tau_timer,
                access_restriction_data=sub.access_restriction_data)
    return view


def apn_view(profile):
    preemption = {0: "enabled", 1: "disabled"}
    return {"name": profile.name, "context_id": profile.context_id, "qci": profile.qci,
            "arp_priority": profile.arp_priority,
            "arp_preemption_capability": preemption[profile.arp_preemption_capability],
            "arp_preemption_vulnerability": preemption[profile.arp_preemption_vulnerability],
            "ambr_ul": profile.ambr_ul, "ambr_dl": profile.ambr_dl, "pdn_type": profile.pdn_type}


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

def _key_changes(options):
    changes = {}
    if options.k is not None:
        changes["k"] = parse_hex(options.k, KEY_LENGTH, "K")
    if options.opc is not None:
        changes["opc"] = parse_hex(options.opc, KEY_LENGTH, "OPc")
    if options.op is not None:
        changes["op"] = parse_hex(options.op, KEY_LENGTH, "OP")
    if options.amf is not None:
        changes["amf"] = parse_hex(options.amf, AMF_LENGTH, "AMF")
    for name in ("sqn", "msisdn", "apns", "ue_ambr_ul", "ue_ambr_dl", "enabled", "roaming_allowed"):
        value = getattr(options, name)
        if value is not None:
            changes[name] = tuple(value) if name == "apns" else value
    return changes


@defer.inlineCallbacks
def cmd_subscriber_add(store, options, out):
    changes = _key_changes(options)
    sub = Subscriber(check_imsi(options.imsi), **changes)
    if options.if_missing and (yield store.get_subscriber(sub.imsi)) is not None:
        out({"imsi": sub.imsi, "created": False}, f"subscriber {sub.imsi} exists; left unchanged")
        return
    yield store.add_subscriber(sub)
    out({"imsi": sub.imsi, "created": True}, f"added subscriber {sub.imsi}")


@defer.inlineCallbacks
def cmd_subscriber_update(store, options, out):
    changes = _key_changes(options)
    if not changes:
        raise UsageError("nothing to change; give at least one option")
    sub = yield store.update_subscriber(check_imsi(options.imsi), **changes)
    if any(name in changes for name in PROFILE_FIELDS):
        idr = yield _profile_changed(options.server, sub.imsi)
    else:
        idr = dict(s6a_control.outcome(False, reason="not-needed"),
                   message="Subscription-Data unchanged: no IDR needed")
    out(dict(subscriber_view(sub, keys=False), idr=idr), f"updated subscriber {sub.imsi}\n{idr['message']}")


@defer.inlineCallbacks
def _profile_changed(server, imsi):
    """Ask the server for an IDR; the store is updated whatever happens here."""
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
def cmd_subscriber_cancel(store, options, out):
    imsi = check_imsi(options.imsi)
    what = "CLR (subscription withdrawal)"
    try:
        result = yield options.server.call(s6a_control.CancelSubscription, imsi)
    except control.ServerUnreachable as e:
        raise OperationFailed(f"{e}: no CLR sent") from None
    except defer.TimeoutError:
        raise OperationFailed(f"no answer from the server within {options.server.timeout:g}s: "
                              f"CLR outcome unknown") from None
    except control.UnknownSubscriber:
        raise NotFoundError(f"no subscriber {imsi}") from None
    except control.InvalidImsi as e:
        raise ValidationError(str(e)) from None
    except control.ControlError as e:
        raise OperationFailed(f"server error: {e}: no CLR sent") from None
    message = s6a_control.describe(what, result)
    # Nothing to withdraw (no MME holds the UE) is done; an MME that could
    # not be reached or did not accept it is not.
    done = (result["result_code"] == DIAMETER_SUCCESS if result["sent"]
            else result["reason"] in (s6a_control.NO_SERVING_MME, s6a_control.PURGED))
    if not done:
        raise OperationFailed(message)
    out({"imsi": imsi, "clr": dict(result, message=message)}, message)


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
    preemption = {"enabled": 0, "disabled": 1}
    profile = ApnProfile(options.name, qci=options.qci, arp_priority=options.arp,
                         arp_preemption_capability=preemption[options.preemption_capability],
                         arp_preemption_vulnerability=preemption[options.preemption_vulnerability],
                         ambr_ul=options.ambr_ul, ambr_dl=options.ambr_dl, pdn_type=options.pdn_type,
                         context_id=options.context_id or None)
    if options.if_missing:
        existing = yield store.get_apn(profile.name)
        if existing is not None:
            out(dict(apn_view(existing), created=False), f"APN {existing.name} exists; left unchanged")
            return
    stored = yield store.add_apn(profile)
    out(dict(apn_view(stored), created=True), f"added APN {stored.name} (context id {stored.context_id})")


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
}

REFUSED = (UsageError, ValidationError, DuplicateError, InUseError, ConfigError)


class ServerLink:
    """The running server's control socket, as configured."""

    def __init__(self, reactor, config):
        self.reactor = reactor
        self.path = config.control.socket_path
        self.config_path = config.path
        self.timeout = config.timers.request_timeout + CONTROL_MARGIN

    def call(self, command, imsi):
        if self.path is None:
            return defer.fail(control.ServerUnreachable(
                None, f"no control socket configured (control.socket in {self.config_path})"))
        return control.call(self.reactor, self.path, command, self.timeout, imsi=imsi)


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
