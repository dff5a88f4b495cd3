"""The HTTP site: REST resources, ``/openapi.json``, ``/docs``, ``/metrics`` and the console.

Every response carries ``X-Content-Type-Options: nosniff``, ``X-Frame-Options:
DENY``, ``Referrer-Policy: no-referrer`` and a Content-Security-Policy that
lets pages run only the scripts served here.  Cross-site requests are
refused before any resource runs (CSRF): a request whose ``Origin`` is
not this site or whose ``Sec-Fetch-Site`` is ``cross-site`` gets 403 (the
console sends its token in a header from the browser session, never in a
cookie, and writes only as JSON, which no form can send across sites).
While no token is configured (loopback only) the ``Host`` must be a
loopback name, so that a page on another site cannot reach the API
through DNS rebinding.  A body larger than ``api.max_body`` is answered 413
as soon as its length is known, and the connection closed.
"""

import importlib.resources
import ipaddress
import json
import time

from twisted.web import resource, server, static

from pyhss.api import console, metrics
from pyhss.api.openapi import build_document
from pyhss.api.resources import COLLECTIONS
from pyhss.api.rest import PROBLEM_JSON, Router, problem_body

SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy",
     b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
     b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
)
# Swagger UI sets inline styles.
DOCS_POLICY = (b"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")
SAFE_METHODS = (b"GET", b"HEAD", b"OPTIONS")
LOOPBACK_NAMES = ("localhost",)


class ApiRequest(server.Request):
    """A request with the site's limits and cross-site checks."""

    def gotLength(self, length):
        limit = self.channel.site.max_body
        if length is not None and length > limit:
            self._refuse_now(413, f"request body of {length} bytes is larger than api.max_body ({limit})")
            return
        self._body_seen = 0
        server.Request.gotLength(self, length)

    def handleContentChunk(self, data):
        if getattr(self, "_refused", False):
            return
        self._body_seen = getattr(self, "_body_seen", 0) + len(data)
        limit = self.channel.site.max_body
        if self._body_seen > limit:
            self._refuse_now(413, f"request body larger than api.max_body ({limit} bytes)")
            return
        server.Request.handleContentChunk(self, data)

    def _refuse_now(self, status, detail):
        self._refused = True
        body = json.dumps(problem_body(status, detail)).encode()
        self.channel.transport.write(
            b"HTTP/1.1 %d Request Entity Too Large\r\ncontent-type: %s\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, PROBLEM_JSON, len(body), body))
        self.channel.transport.loseConnection()

    def process(self):
        if getattr(self, "_refused", False):
            return
        for name, value in SECURITY_HEADERS:
            self.setHeader(name, value)
        refusal = self.channel.site.cross_site_refusal(self)
        if refusal is not None:
            self.setResponseCode(403)
            self.setHeader(b"content-type", PROBLEM_JSON)
            self.write(json.dumps(problem_body(403, refusal)).encode())
            self.finish()
            return
        server.Request.process(self)


class ApiSite(server.Site):
    requestFactory = ApiRequest

    def __init__(self, root, authenticator, max_body, https=False):
        server.Site.__init__(self, root)
        self.authenticator = authenticator
        self.max_body = max_body
        self.https = https
        self.displayTracebacks = False

    def log(self, request):
        # Requests are counted (metrics) and writes logged with the token
        # (rest.Router); an access log line per GET would flood the log.
        pass

    def cross_site_refusal(self, request):
        host = request.getHeader(b"host") or b""
        if not self.authenticator.required and not _loopback_host(host):
            return "without API tokens the API answers only requests to a loopback address (localhost, 127.0.0.1)"
        if request.method in SAFE_METHODS:
            return None
        if (request.getHeader(b"sec-fetch-site") or b"").lower() == b"cross-site":
            return "cross-site request refused"
        origin = request.getHeader(b"origin")
        if origin is not None:
            own = (b"https://" if self.https else b"http://") + host
            if origin.lower() != own.lower():
                return "request from another origin refused"
        return None


def _loopback_host(host):
    name = host.decode("ascii", "replace")
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    else:
        name = name.rpartition(":")[0] if name.count(":") == 1 else name
    if name.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class JsonDocument(resource.Resource):
    isLeaf = True

    def __init__(self, document):
        resource.Resource.__init__(self)
        self.body = json.dumps(document, indent=1).encode()

    def render_GET(self, request):
        request.setHeader(b"content-type", b"application/json")
        return self.body


class Root(resource.Resource):
    """``/``: the console; REST collections, docs, metrics beneath."""

    def __init__(self, router, children):
        resource.Resource.__init__(self)
        self.router = router
        # A collection's first path segment (/ims/subscriptions: ims) leads to the router.
        self.collections = {collection.path.strip("/").split("/")[0].encode() for collection in router.collections}
        for name, child in children.items():
            self.putChild(name, child)

    def getChild(self, name, request):
        if name in self.collections:
            return self.router
        if name == b"":
            return self.children[b"console"]
        return Missing()


class Missing(resource.Resource):
    isLeaf = True

    def render(self, request):
        request.setResponseCode(404)
        request.setHeader(b"content-type", PROBLEM_JSON)
        return json.dumps(problem_body(404, f"no resource {request.path.decode('utf-8', 'replace')}")).encode()


def swagger_ui_files():
    """Swagger UI's files, as the swagger-ui-py package ships them."""
    return str(importlib.resources.files("swagger_ui") / "static")


class Docs(resource.Resource):
    """``/docs``: Swagger UI (the swagger-ui-py package's files) on /openapi.json."""

    def __init__(self):
        resource.Resource.__init__(self)
        self.putChild(b"ui", static.File(swagger_ui_files()))
        self.page = console.render("docs.html")

    def getChild(self, name, request):
        if name == b"":
            return self
        return resource.Resource.getChild(self, name, request)

    def render_GET(self, request):
        request.setHeader(b"content-security-policy", DOCS_POLICY)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return self.page


def build_site(config, provisioning, snapshot, authenticator, hss_pid=None, collections=COLLECTIONS):
    """The Site serving ``config.api`` over ``provisioning``; ``snapshot()``
    fires the node's metrics snapshot."""
    api_stats = metrics.ApiStats()
    router = Router(collections, provisioning, authenticator, observe=api_stats.observe, clock=time.perf_counter)
    root = Root(router, {
        b"openapi.json": JsonDocument(build_document(collections)),
        b"docs": Docs(),
        b"metrics": metrics.MetricsResource(snapshot, api_stats, authenticator, hss_pid),
        b"console": console.Console(collections),
        b"static": static.File(console.static_files()),
    })
    site = ApiSite(root, authenticator, config.api.max_body, https=config.api.tls_certificate is not None)
    site.router = router
    site.api_stats = api_stats
    return site
