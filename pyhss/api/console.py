"""The web console: server-rendered pages (Jinja2 templates) and a little plain JavaScript.

The pages hold no subscriber data: the forms are rendered here from the
same field rules the REST API validates with (labels, input kinds, ranges,
choices), and ``static/console.js`` fills them from the REST API and
sends the edits there, with the API token the user entered once, kept in
the browser's session storage and sent as ``Authorization: Bearer`` (no
cookie, so no cross-site request can carry it).  A refused edit shows the
API's problem for each field next to that field.

Pages: ``/`` (dashboard: peers and per-command rates from ``/metrics``),
``/console/subscribers`` (search by IMSI or MSISDN), ``/console/subscribers/IMSI``
(profile, APNs, serving MME; edit, disable, cancel, delete),
``/console/subscribers/new``, ``/console/apns`` and ``/console/apns/NAME``;
a read-only list page for each other collection (``/console/ims_subscriptions``,
``ifc_templates``, ``eir_rules``, ``eir_checks``), its columns the fields of
its record's read schema.
"""

import importlib.resources

import jinja2
from twisted.web import resource

from pyhss.storage import rules

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("pyhss.api", "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def static_files():
    return str(importlib.resources.files("pyhss.api") / "static")


def render(template, **values):
    return _TEMPLATES.get_template(template).render(**values).encode("utf-8")


class FormField:
    """What a form needs to know of one field, from its rule."""

    def __init__(self, rule, read_only=False, required=False):
        self.name = rule.name
        self.label = rule.label
        self.doc = rule.doc
        self.read_only = read_only
        self.required = required
        self.attributes = {}
        self.choices = None
        if isinstance(rule, rules.Flag):
            self.kind = "flag"
        elif isinstance(rule, rules.Choice):
            self.kind = "choice"
            self.choices = [str(name) for name in rule.choices]
            if rule.json_type == "integer":
                self.kind = "choice-int"
        elif isinstance(rule, rules.Integer):
            self.kind = "int"
            self.attributes = {"min": rule.low, "max": rule.high, "inputmode": "numeric"}
        elif isinstance(rule, rules.ApnList):
            self.kind = "list"
            self.attributes = {"placeholder": "internet, ims"}
        elif isinstance(rule, rules.Octets):
            self.kind = "secret" if rule.secret else "text"
            self.attributes = {"maxlength": 2 * rule.length + 2, "autocomplete": "off"}
        else:
            self.kind = "text"
        self.optional = rule.optional


def form_fields(shape, creating):
    found = []
    for name, rule in shape.rules.items():
        if name in shape.read_only:
            continue
        if name == shape.key and not creating:
            continue
        found.append(FormField(rule, required=creating and name in shape.required))
    return found


# Collections with record pages (forms); the others have a read-only list page.
FORM_PAGES = ("subscribers", "apns")


class Console(resource.Resource):
    """``/console/...`` (and ``/``)."""

    isLeaf = True

    def __init__(self, collections):
        resource.Resource.__init__(self)
        self.collections = {collection.name: collection for collection in collections}

    def render_GET(self, request):
        parts = [part.decode("utf-8", "replace") for part in request.postpath if part]
        if request.prepath and request.prepath[0] == b"console":
            page = self._page(parts)
        else:
            page = self._page([]) if not parts else None
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        if page is None:
            request.setResponseCode(404)
            return render("missing.html", page="missing")
        return page

    def _page(self, parts):
        if not parts:
            return render("dashboard.html", page="dashboard")
        collection = self.collections.get(parts[0])
        if collection is None or len(parts) > 2:
            return None
        noun = collection.shape.name
        listed_only = collection.name not in FORM_PAGES
        if len(parts) == 1:
            if listed_only:
                shape = collection.shape
                columns = [name for name, rule in shape.rules.items() if not rule.secret]
                return render("list.html", page=collection.name, collection=collection, columns=columns,
                              title=(noun[0].upper() if noun[1:2].islower() else noun[0]) + noun[1:] + "s")
            return render(f"{collection.name}.html", page=collection.name, collection=collection)
        if listed_only:
            return None
        creating = parts[1] == "new"
        return render("record.html", page=collection.name, collection=collection, noun=noun,
                      creating=creating, key=None if creating else parts[1],
                      fields=form_fields(collection.shape, creating),
                      views=collection.views, actions=collection.actions)
