"""``pyhss-admin ims ...`` and ``pyhss-admin ifc ...``: IMS subscriptions,
iFC templates, and RTR/PPR through the running server.

    pyhss-admin ims add --impi alice@ims.test --impu sip:alice@ims.test --impu tel:+15551230001 \\
        --imsi 001010000000001 [--digest-password PW] [--ifc voice]
    pyhss-admin ims deregister sip:alice@ims.test --reason "contract ended"
    pyhss-admin ifc add voice voice.xml

Hooked into :mod:`pyhss.admin` (its parser, COMMANDS and exit statuses).
``ims update`` that changes what an S-CSCF is given (public identities,
iFC) and ``ifc add --replace`` ask the server for PPR, reported like
``subscriber update``'s IDR; ``ims deregister`` has it send RTR and fails
when it cannot.
"""

from twisted.internet import defer

from pyhss.apps import cx_control
from pyhss.provisioning import OperationFailed  # noqa: F401  (pyhss.admin maps it to exit 1)
from pyhss.provisioning_ims import IMS_SUBSCRIPTION, ImsProvisioning, deregister, template_from_text
from pyhss.storage.errors import NotFoundError, ValidationError
from pyhss.storage.ims_records import NOT_REGISTERED, check_ifc_name, check_impi, normalise_impu


def _identity_options(parser, adding):
    parser.add_argument("--impu", dest="impus", metavar="URI", action="append", required=adding,
                        help="public identity (sip:, sips: or tel: URI); repeat for more, the first is the "
                             "default" + ("" if adding else "; replaces the list"))
    parser.add_argument("--barred", metavar="URI", action="append", default=[],
                        help="one of the --impu identities is barred (UAR: DIAMETER_AUTHORIZATION_REJECTED)")
    parser.add_argument("--set", dest="sets", metavar="URI,URI", action="append", default=[],
                        help="an implicit registration set (registered together); without --set all "
                             "identities form one set, with it each identity not named is a set of its own")
    parser.add_argument("--imsi", required=adding, help="the subscriber whose K/OPc and SQN serve IMS AKA")
    digest = parser.add_mutually_exclusive_group()
    digest.add_argument("--digest-password", metavar="PASSWORD",
                        help="allow SIP Digest; only HA1 = MD5(IMPI:realm:password) is stored")
    if not adding:
        digest.add_argument("--no-digest", action="store_true", help="remove the SIP Digest password")
    parser.add_argument("--digest-realm", metavar="REALM", help="SIP Digest realm (default: the IMPI's domain)")
    ifc = parser.add_mutually_exclusive_group()
    ifc.add_argument("--ifc", metavar="NAME", help="iFC template (added with 'ifc add')")
    if not adding:
        ifc.add_argument("--no-ifc", action="store_true", help="no iFC")


def add_parsers(commands, common):
    """The ``ims`` and ``ifc`` command groups, on pyhss-admin's subparsers."""
    ims = commands.add_parser("ims", help="IMS subscriptions (Cx)").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    add = ims.add_parser("add", parents=[common], help="add an IMS subscription")
    add.add_argument("--impi", required=True, help="private identity, user@realm")
    _identity_options(add, adding=True)
    add.add_argument("--if-missing", action="store_true", help="do nothing if the IMPI exists")
    update = ims.add_parser("update", parents=[common], help="change an IMS subscription (PPR when registered)")
    update.add_argument("impi")
    _identity_options(update, adding=False)
    ims.add_parser("show", parents=[common], help="show one subscription and its registration").add_argument(
        "identity", help="private or public identity")
    listing = ims.add_parser("list", parents=[common], help="list IMS subscriptions")
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("--limit", type=int, default=None)
    ims.add_parser("delete", parents=[common], help="delete an IMS subscription").add_argument("impi")
    deregister = ims.add_parser("deregister", parents=[common],
                                help="have the running server send RTR to the assigned S-CSCF")
    deregister.add_argument("identity", help="a public identity (its implicit set) or a private identity (all)")
    deregister.add_argument("--reason", metavar="TEXT", help="Reason-Info of Deregistration-Reason")

    ifc = commands.add_parser("ifc", help="initial filter criteria templates").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    ifc_add = ifc.add_parser("add", parents=[common], help="add an iFC template from an XML file")
    ifc_add.add_argument("name")
    ifc_add.add_argument("file", help="XML: one InitialFilterCriteria, or a root element holding several")
    ifc_add.add_argument("--replace", action="store_true",
                         help="replace an existing template (PPR to its registered users)")
    ifc.add_parser("list", parents=[common], help="list iFC templates")
    ifc.add_parser("show", parents=[common], help="show a template's XML").add_argument("name")
    ifc.add_parser("delete", parents=[common], help="delete an iFC template").add_argument("name")


# --- records <-> output ---------------------------------------------------------------

def ims_view(subscription, registration=None, secrets=False):
    view = {"impi": subscription.impi, "imsi": subscription.imsi, "impus": [
        {"uri": i.uri, "barred": i.barred, "implicit_set": i.implicit_set,
         "state": registration.state(i.uri) if registration is not None else NOT_REGISTERED}
        for i in subscription.impus]}
    view["digest_realm"] = subscription.digest_realm
    if secrets:
        view["digest_ha1"] = subscription.digest_ha1
    view["ifc"] = subscription.ifc
    if registration is not None:
        view.update(scscf=registration.server_name, scscf_host=registration.scscf_host,
                    pending=registration.pending)
    return view


def _text(view):
    lines = [f"impi          {view['impi']}", f"imsi          {view['imsi']}"]
    for identity in view["impus"]:
        flags = " barred" if identity["barred"] else ""
        lines.append(f"impu          {identity['uri']} (set {identity['implicit_set']}{flags}, {identity['state']})")
    lines.append(f"digest        {'realm ' + view['digest_realm'] if view['digest_realm'] else 'no'}")
    if view.get("digest_ha1"):
        lines.append(f"digest_ha1    {view['digest_ha1']}")
    lines.append(f"ifc           {view['ifc'] or '-'}")
    if "scscf" in view:
        pending = " (pending: named by MAR)" if view["pending"] else ""
        lines.append(f"scscf         {view['scscf'] or '-'}{pending}")
        lines.append(f"scscf_host    {view['scscf_host'] or '-'}")
    return "\n".join(lines)


# --- commands -------------------------------------------------------------------------

def _identities(uris, barred, sets):
    uris = [normalise_impu(uri) for uri in uris]
    barred = {normalise_impu(uri) for uri in barred}
    numbers = {}
    for index, group in enumerate(sets, 1):
        for uri in filter(None, (part.strip() for part in group.split(","))):
            uri = normalise_impu(uri)
            if uri in numbers:
                raise ValidationError(f"{uri} is in two --set groups")
            numbers[uri] = index
    for uri in list(barred) + list(numbers):
        if uri not in uris:
            raise ValidationError(f"{uri} is not one of the --impu identities")
    next_set = len(sets) + 1
    identities = []
    for uri in uris:
        if uri not in numbers:
            numbers[uri] = 1 if not sets else next_set
            next_set += 1 if sets else 0
        identities.append({"uri": uri, "barred": uri in barred, "implicit_set": numbers[uri]})
    return identities


def _body(options, impus):
    """The options as the JSON body the REST API takes (one set of rules)."""
    body = {}
    if impus is not None:
        body["impus"] = impus
    if options.imsi is not None:
        body["imsi"] = options.imsi
    if options.digest_password is not None:
        body["digest_password"] = options.digest_password
        if options.digest_realm:
            body["digest_realm"] = options.digest_realm
    elif options.digest_realm:
        raise ValidationError("--digest-realm needs --digest-password")
    elif getattr(options, "no_digest", False):
        body["digest_password"] = None
    if options.ifc:
        body["ifc"] = options.ifc
    elif getattr(options, "no_ifc", False):
        body["ifc"] = None
    return body


@defer.inlineCallbacks
def cmd_ims_add(store, options, out):
    body = dict(_body(options, _identities(options.impus, options.barred, options.sets)), impi=options.impi)
    values = IMS_SUBSCRIPTION.parse(body, "create")
    subscription, created = yield ImsProvisioning(store, options.server).add_subscription(
        values, if_missing=options.if_missing)
    if not created:
        out({"impi": subscription.impi, "created": False}, f"IMS subscription {subscription.impi} exists; "
                                                          f"left unchanged")
        return
    out({"impi": subscription.impi, "created": True}, f"added IMS subscription {subscription.impi}")


@defer.inlineCallbacks
def cmd_ims_update(store, options, out):
    provisioning = ImsProvisioning(store, options.server)
    impi = IMS_SUBSCRIPTION.rules["impi"].from_text(options.impi)
    impus = None
    if options.impus:
        impus = _identities(options.impus, options.barred, options.sets)
    elif options.barred or options.sets:
        current = yield provisioning.get_subscription(impi)
        impus = _identities([i.uri for i in current.impus], options.barred, options.sets)
    changes = IMS_SUBSCRIPTION.parse(_body(options, impus), "patch", key=impi)
    if not changes:
        from pyhss.admin import UsageError
        raise UsageError("nothing to change; give at least one option")
    updated, ppr = yield provisioning.update_subscription(impi, changes)
    out(dict(ims_view(updated), ppr=ppr), f"updated IMS subscription {impi}\n{ppr['message']}")


@defer.inlineCallbacks
def cmd_ims_show(store, options, out):
    kind, identity = _parse(options.identity)
    subscription, registration = yield store.ims_lookup(**{kind: identity})
    if subscription is None:
        raise NotFoundError(f"no IMS subscription has {options.identity}")
    view = ims_view(subscription, registration, secrets=True)
    out(view, _text(view))


@defer.inlineCallbacks
def cmd_ims_list(store, options, out):
    if options.offset < 0 or (options.limit is not None and options.limit < 0):
        raise ValidationError("--offset and --limit must not be negative")
    subscriptions = yield store.list_ims_subscriptions(options.offset, options.limit)
    views = [ims_view(s) for s in subscriptions]
    lines = ["IMPI  IMSI  IMPUS  IFC"] + [
        f"{v['impi']}  {v['imsi']}  {','.join(i['uri'] for i in v['impus'])}  {v['ifc'] or '-'}" for v in views]
    out(views, "\n".join(lines))


@defer.inlineCallbacks
def cmd_ims_delete(store, options, out):
    impi = check_impi(options.impi)
    yield store.delete_ims_subscription(impi)
    out({"impi": impi, "deleted": True}, f"deleted IMS subscription {impi}")


def _parse(identity):
    try:
        return cx_control.parse_identity(identity)
    except cx_control.InvalidIdentity as e:
        raise ValidationError(str(e)) from None


@defer.inlineCallbacks
def cmd_ims_deregister(store, options, out):
    outcome = yield deregister(options.server, options.identity, options.reason)
    out({"identity": _parse(options.identity)[1], "rtr": outcome}, outcome["message"])


def _read_template(name, path):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(65537)
    except OSError as e:
        raise ValidationError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ValidationError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        return template_from_text(name, text)
    except ValidationError as e:
        raise ValidationError(f"{path}: {e.problem}") from None


@defer.inlineCallbacks
def cmd_ifc_add(store, options, out):
    template = _read_template(options.name, options.file)
    if not options.replace:
        yield store.add_ifc_template(template)
        out({"name": template.name, "created": True}, f"added iFC template {template.name}")
        return
    template, users, pushed = yield ImsProvisioning(store, options.server).replace_template(
        template.name, template.xml)
    lines = [f"replaced iFC template {template.name} ({len(users)} subscriptions use it)"]
    lines += [f"{r['impi']}: {r['message']}" for r in pushed]
    out({"name": template.name, "replaced": True, "users": users, "ppr": pushed}, "\n".join(lines))


@defer.inlineCallbacks
def cmd_ifc_list(store, options, out):
    templates = yield store.list_ifc_templates()
    views = [{"name": t.name, "criteria": t.xml.count("<InitialFilterCriteria>")} for t in templates]
    out(views, "\n".join(["NAME  CRITERIA"] + [f"{v['name']}  {v['criteria']}" for v in views]))


@defer.inlineCallbacks
def cmd_ifc_show(store, options, out):
    template = yield store.get_ifc_template(check_ifc_name(options.name))
    if template is None:
        raise NotFoundError(f"no iFC template {options.name!r}")
    out({"name": template.name, "xml": template.xml}, template.xml)


@defer.inlineCallbacks
def cmd_ifc_delete(store, options, out):
    yield store.delete_ifc_template(check_ifc_name(options.name))
    out({"name": options.name, "deleted": True}, f"deleted iFC template {options.name}")


COMMANDS = {
    ("ims", "add"): cmd_ims_add,
    ("ims", "update"): cmd_ims_update,
    ("ims", "show"): cmd_ims_show,
    ("ims", "list"): cmd_ims_list,
    ("ims", "delete"): cmd_ims_delete,
    ("ims", "deregister"): cmd_ims_deregister,
    ("ifc", "add"): cmd_ifc_add,
    ("ifc", "list"): cmd_ifc_list,
    ("ifc", "show"): cmd_ifc_show,
    ("ifc", "delete"): cmd_ifc_delete,
}
