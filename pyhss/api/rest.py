"""REST resources as declarations, and the one twisted.web resource serving them.

A :class:`Collection` declares a kind of provisioned record: its path, its
key, its :class:`~pyhss.provisioning.Shape` (the field rules), the list
filters, and the handlers of what it supports (list, get, create, replace,
update, delete), plus its :class:`Action` (``POST .../{key}/cancel``) and
read-only :class:`View` (``GET .../{key}/serving``) sub-resources.  The
:class:`Router` turns the declarations into routes; everything common is
here: JSON in and out, the body limit, query parameters checked with the
same rules as the fields, errors as ``application/problem+json`` (RFC 9457)
with one ``{"field", "problem"}`` per field at fault, the token check
(:mod:`pyhss.api.tokens`), and one log line per write naming the token.
The OpenAPI document (:mod:`pyhss.api.openapi`) is built from the same
declarations.

Adding a resource is one more Collection with its handlers (subscribers,
APN profiles, IMS subscriptions, iFC templates, EIR rules, the EIR
history in :mod:`pyhss.api.resources`); an action one more Action (CLR's
``cancel``, RTR's ``deregister``, which takes query parameters).

Handlers take a :class:`Call` and return a Deferred (or a value); their
failures map to statuses in :data:`STATUS_OF`; anything else is a 500
with its traceback logged, never the details in the response.
"""

import json
import re
import time
from urllib.parse import unquote

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import resource, server

from pyhss.api.tokens import Forbidden, Unauthorized
from pyhss.provisioning import InvalidInput, OperationFailed
from pyhss.storage import rules
from pyhss.storage.errors import (
    DuplicateError, InUseError, NotFoundError, StoreError, StoreUnavailable, ValidationError,
)

JSON = b"application/json"
PROBLEM_JSON = b"application/problem+json"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

# Failures of handlers -> HTTP status.
STATUS_OF = (
    (InvalidInput, 400), (ValidationError, 400), (NotFoundError, 404), (DuplicateError, 409),
    (InUseError, 409), (OperationFailed, 502), (StoreUnavailable, 503), (StoreError, 503),
)
TITLES = {400: "invalid input", 401: "unauthorized", 403: "forbidden", 404: "not found",
          405: "method not allowed", 409: "conflict", 413: "request body too large",
          415: "unsupported media type", 500: "internal error", 502: "the server could not do it",
          503: "store unavailable"}

log = Logger(namespace="pyhss.api")


# --- declarations ----------------------------------------------------------------------

class Filter:
    """A list filter: query parameter ``name`` read with ``rule``, passed to
    the list handler by ``name``."""

    def __init__(self, name, rule, doc):
        self.name = name
        self.rule = rule
        self.doc = doc


class Action:
    """``POST {collection}/{key}/{name}``: a request to the server about a
    record (CLR); ``handler(call, **parameters)`` fires a JSON object.
    ``parameters``: optional query parameters (:class:`Filter`), read with
    their rules; the request takes no body."""

    def __init__(self, name, handler, summary, response_schema, description="", parameters=()):
        self.name = name
        self.parameters = tuple(parameters)
        self.handler = handler
        self.summary = summary
        self.response_schema = response_schema
        self.description = description


class View:
    """``GET {collection}/{key}/{name}``: read-only state of a record shown
    with ``shape`` (serving MME); ``handler(call)`` fires the record."""

    def __init__(self, name, shape, handler, summary):
        self.name = name
        self.shape = shape
        self.handler = handler
        self.summary = summary


class Collection:
    """A kind of record served under ``path``.

    Handlers (None: not supported) take a :class:`Call`:
      - ``list(call, offset, limit, **filters)`` fires ``(records, total)``;
      - ``get(call)`` fires the record (``call.key`` names it);
      - ``create(call, values)`` fires the record;
      - ``replace(call, values)``, ``update(call, values)`` fire ``(record, notes)``,
        ``notes`` a dict added to the response (``{"idr": outcome}``);
      - ``delete(call)`` fires anything.
    ``notes_schema``: the JSON Schema of each note.
    """

    def __init__(self, name, path, shape, summary, list=None, get=None, create=None, replace=None,
                 update=None, delete=None, filters=(), actions=(), views=(), notes_schema=None,
                 key_pattern=r"[^/]+"):
        self.name = name
        self.path = path
        self.shape = shape
        self.summary = summary
        self.handlers = {"list": list, "get": get, "create": create, "replace": replace,
                         "update": update, "delete": delete}
        self.filters = tuple(filters)
        self.actions = tuple(actions)
        self.views = tuple(views)
        self.notes_schema = notes_schema or {}
        self.key_pattern = key_pattern

    @property
    def key(self):
        return self.shape.key

    def supports(self, operation):
        return self.handlers[operation] is not None


class Call:
    """One request to a handler: the services (``provisioning``), the key
    from the path, the token's name, the raw request."""

    __slots__ = ("provisioning", "key", "token", "request")

    def __init__(self, provisioning, key, token, request):
        self.provisioning = provisioning
        self.key = key
        self.token = token
        self.request = request


# --- routes ----------------------------------------------------------------------------

class Route:
    """One (method, path template) and what serves it."""

    def __init__(self, method, template, collection, operation, serve, write):
        self.method = method
        self.template = template
        self.collection = collection
        self.operation = operation       # "list", "get", ..., "action", "view"
        self.serve = serve               # serve(call, request) -> Deferred of (status, body, headers)
        self.write = write


def routes_of(collection):
    """Every Route of a collection, in the order they are documented."""
    found = []
    base = collection.path
    item = f"{base}/{{{collection.key}}}"
    for operation, method, template, write in (
            ("list", "GET", base, False), ("create", "POST", base, True),
            ("get", "GET", item, False), ("replace", "PUT", item, True),
            ("update", "PATCH", item, True), ("delete", "DELETE", item, True)):
        if collection.supports(operation):
            serve = getattr(_Serve(collection), operation)
            found.append(Route(method, template, collection, operation, serve, write))
    for view in collection.views:
        found.append(Route("GET", f"{item}/{view.name}", collection, "view", _serve_view(collection, view),
                           False))
    for action in collection.actions:
        found.append(Route("POST", f"{item}/{action.name}", collection, "action",
                           _serve_action(action), True))
    return found


class _Serve:
    """The standard operations of a collection, over its handlers."""

    def __init__(self, collection):
        self.collection = collection
        self.shape = collection.shape
        self.handlers = collection.handlers

    def list(self, call, request):
        offset, limit, filters = _list_arguments(self.collection, request.args)
        d = defer.maybeDeferred(self.handlers["list"], call, offset, limit, **filters)

        def listed(found):
            records, total = found
            view = self.shape.view
            return 200, {"items": [view(record) for record in records], "offset": offset, "limit": limit,
                         "total": total}, None
        return d.addCallback(listed)

    def get(self, call, request):
        return defer.maybeDeferred(self.handlers["get"], call).addCallback(
            lambda record: (200, self.shape.view(record), None))

    def create(self, call, request):
        values = self.shape.parse(read_json(request), "create")
        d = defer.maybeDeferred(self.handlers["create"], call, values)

        def created(record):
            key = getattr(record, self.collection.key)
            location = f"{self.collection.path}/{key}".encode()
            return 201, self.shape.view(record), {b"location": location}
        return d.addCallback(created)

    def replace(self, call, request):
        return self._change(call, request, "replace")

    def update(self, call, request):
        return self._change(call, request, "patch")

    def _change(self, call, request, mode):
        values = self.shape.parse(read_json(request), mode, key=call.key)
        handler = self.handlers["replace" if mode == "replace" else "update"]
        d = defer.maybeDeferred(handler, call, values)

        def changed(found):
            record, notes = found
            return 200, dict(self.shape.view(record), **notes), None
        return d.addCallback(changed)

    def delete(self, call, request):
        return defer.maybeDeferred(self.handlers["delete"], call).addCallback(lambda _: (204, None, None))


def _serve_view(collection, view):
    def serve(call, request):
        return defer.maybeDeferred(view.handler, call).addCallback(
            lambda record: (200, view.shape.view(record), None))
    return serve


def _serve_action(action):
    def serve(call, request):
        _no_body(request)
        parameters = _query_values({p.name: p.rule for p in action.parameters}, request.args)
        return defer.maybeDeferred(action.handler, call, **parameters).addCallback(
            lambda result: (200, result, None))
    return serve


LIMIT = rules.Integer("limit", "limit", 1, MAX_LIMIT, doc=f"page size (default {DEFAULT_LIMIT})")
OFFSET = rules.Integer("offset", "offset", 0, 2 ** 62, doc="records to skip")


def _list_arguments(collection, args):
    known = {f.name: f.rule for f in collection.filters}
    known.update(offset=OFFSET, limit=LIMIT)
    values = _query_values(known, args)
    offset = values.pop("offset", 0)
    limit = values.pop("limit", DEFAULT_LIMIT)
    return offset, limit, values


def _query_values(known, args):
    """The query parameters, each read with its rule (InvalidInput listing
    every unknown, repeated or bad one)."""
    problems = []
    values = {}
    for raw_name, raw_values in args.items():
        name = raw_name.decode("utf-8", "replace")
        rule = known.get(name)
        if rule is None:
            problems.append((name, f"unknown query parameter; expected one of {', '.join(known)}"))
            continue
        if len(raw_values) != 1:
            problems.append((name, "given more than once"))
            continue
        try:
            values[name] = rule.from_text(raw_values[0].decode("utf-8"))
        except UnicodeDecodeError:
            problems.append((name, "not UTF-8 text"))
        except ValidationError as e:
            problems.append((name, e.problem))
    if problems:
        raise InvalidInput(problems)
    return values


# --- bodies ----------------------------------------------------------------------------

class BodyTooLarge(Exception):
    pass


class NotJson(Exception):
    pass


def _refuse_duplicates(pairs):
    seen = {}
    for name, value in pairs:
        if name in seen:
            raise InvalidInput([(name, "given twice")])
        seen[name] = value
    return seen


def _refuse_constant(name):
    raise InvalidInput([(None, f"not valid JSON: {name} is not a number JSON has")])


def read_json(request):
    """The request's JSON body (InvalidInput, NotJson)."""
    content_type = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    if content_type != JSON:
        raise NotJson()
    request.content.seek(0)
    data = request.content.read()
    try:
        return json.loads(data, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise InvalidInput([(None, "the body is not UTF-8 text")]) from None
    except json.JSONDecodeError as e:
        raise InvalidInput([(None, f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}")]) from None
    except RecursionError:
        raise InvalidInput([(None, "not valid JSON: nested too deeply")]) from None


def _no_body(request):
    request.content.seek(0, 2)
    if request.content.tell():
        raise InvalidInput([(None, "this request takes no body")])


def problem_body(status, detail, problems=(), **extra):
    body = {"type": "about:blank", "title": TITLES.get(status, "error"), "status": status, "detail": detail}
    if problems:
        body["errors"] = [{"field": field, "problem": problem} for field, problem in problems]
    body.update(extra)
    return body


# --- the resource ----------------------------------------------------------------------

class Router(resource.Resource):
    """Serves every route of ``collections`` (a leaf: it parses the path).

    @param provisioning: given to handlers as ``call.provisioning``.
    @param tokens: a :class:`pyhss.api.tokens.Authenticator`.
    @param observe: ``observe(method, template, status, seconds)`` after
        each request (metrics), or None.
    @param clock: ``time.perf_counter``-like.
    """

    isLeaf = True

    def __init__(self, collections, provisioning, tokens, observe=None, clock=time.perf_counter):
        resource.Resource.__init__(self)
        self.collections = tuple(collections)
        self.provisioning = provisioning
        self.tokens = tokens
        self.observe = observe
        self.clock = clock
        self.routes = [route for collection in self.collections for route in routes_of(collection)]
        # Routes by number of path segments, each (regex, {method: route}).
        self._table = {}
        for route in self.routes:
            segments = route.template.strip("/").split("/")
            pattern = "^/" + "/".join(
                f"(?P<key>{route.collection.key_pattern})" if segment.startswith("{") else re.escape(segment)
                for segment in segments) + "$"
            entries = self._table.setdefault(len(segments), [])
            for regex, methods, template in entries:
                if template == route.template:
                    methods[route.method] = route
                    break
            else:
                entries.append((re.compile(pattern), {route.method: route}, route.template))

    def match(self, path):
        """``(methods, key)`` for a path, or ``(None, None)``."""
        segments = path.count("/")
        for regex, methods, _ in self._table.get(segments, ()):
            found = regex.match(path)
            if found is not None:
                return methods, found.groupdict().get("key")
        return None, None

    def render(self, request):
        started = self.clock()
        method = request.method.decode("ascii", "replace")
        try:
            path = request.path.decode("utf-8")
        except UnicodeDecodeError:
            path = ""
        methods, key = self.match(unquote(path).rstrip("/") if path != "/" else path)
        if methods is None:
            return self._finish_now(request, None, started, 404, problem_body(404, f"no resource {path}"))
        route = methods.get(method)
        if route is None:
            request.setHeader(b"allow", ", ".join(sorted(methods)).encode())
            return self._finish_now(request, None, started, 405,
                                    problem_body(405, f"{method} is not allowed on {path}"))
        try:
            token = self.tokens.check(request, write=route.write)
        except Unauthorized as e:
            request.setHeader(b"www-authenticate", b'Bearer realm="pyhss"')
            return self._finish_now(request, route, started, 401, problem_body(401, str(e)))
        except Forbidden as e:
            return self._finish_now(request, route, started, 403, problem_body(403, str(e)))
        call = Call(self.provisioning, key, token, request)
        try:
            d = route.serve(call, request)
        except Exception:
            d = defer.fail(Failure())
        finished = []
        request.notifyFinish().addBoth(finished.append)
        d.addCallbacks(self._respond, self._failed, (request, route, started, finished, token), None,
                       (request, route, started, finished, token), None)
        return server.NOT_DONE_YET

    def _failed(self, reason, request, route, started, finished, token):
        status, body = failure_response(reason, route)
        self._respond((status, body, None), request, route, started, finished, token)

    def _respond(self, result, request, route, started, finished, token):
        status, body, headers = result
        if finished:        # the client went away
            return
        data = self._write_headers(request, status, body, headers)
        if data:
            request.write(data)
        request.finish()
        self._after(request, route, status, started, token)

    def _finish_now(self, request, route, started, status, body):
        data = self._write_headers(request, status, body, None)
        self._after(request, route, status, started, None)
        return data

    @staticmethod
    def _write_headers(request, status, body, headers):
        request.setResponseCode(status)
        if headers:
            for name, value in headers.items():
                request.setHeader(name, value)
        request.setHeader(b"cache-control", b"no-store")
        if body is None:
            request.setHeader(b"content-length", b"0")
            return b""
        request.setHeader(b"content-type", PROBLEM_JSON if status >= 400 else JSON)
        data = json.dumps(body, separators=(",", ":")).encode()
        # A length, not chunks: one write, and cheaper for keep-alive clients.
        request.setHeader(b"content-length", b"%d" % len(data))
        return data

    def _after(self, request, route, status, started, token):
        if self.observe is not None:
            self.observe(request.method.decode("ascii", "replace"),
                         route.template if route is not None else "(none)", status, self.clock() - started)
        if route is not None and route.write and token is not None:
            # Every write, with who made it; never a body (it may hold K or OPc).
            log.info("api: {token} {method} {path} -> {status}", token=token.name,
                     method=request.method.decode("ascii", "replace"),
                     path=request.path.decode("utf-8", "replace"), status=status)


def failure_response(reason, route=None):
    """(status, problem body) for a handler's failure."""
    error = reason.value
    if isinstance(error, NotJson):
        return 415, problem_body(415, "send the body as Content-Type: application/json")
    if isinstance(error, BodyTooLarge):
        return 413, problem_body(413, str(error))
    for error_type, status in STATUS_OF:
        if isinstance(error, error_type):
            break
    else:
        log.failure("api: {route} failed", reason,
                    route=route.template if route is not None else "(none)")
        return 500, problem_body(500, "internal error (logged by the server)")
    if status == 400:
        problems = InvalidInput.from_error(error).problems
        return 400, problem_body(400, str(error), problems)
    if status == 502 and getattr(error, "outcome", None) is not None:
        return 502, problem_body(502, str(error), outcome=error.outcome)
    return status, problem_body(status, str(error))
