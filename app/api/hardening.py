"""HTTP behaviour every route shares, done once as the outermost of our ASGI middlewares.

- **Host**: a request whose ``Host`` header names a host the service does not answer for gets a
  400 problem, so links, ``Location`` and page URLs are never built from a made-up host
  (``BORDERLENS_ALLOWED_HOSTS``; loopback names and the public URL's host always pass;
  ``/health``, which has no links, answers any host).
  Starlette's ``TrustedHostMiddleware`` is not used: it answers plain text and splits
  ``[::1]:8000`` at the first colon.
- **HEAD** is GET without the body (RFC 9110 §9.3.2) on every route, static files included:
  the request is run as GET and the body dropped, so status and headers are GET's own.
- **405** carries ``Allow``, the methods the URL answers (RFC 9110 §15.5.6): those of every
  route matching the path, narrowed for this very URL by the route modules' ``allows`` (a
  read-only collection's items match the templates that take writes, and take none); a plain
  ``OPTIONS`` (not a CORS preflight, which the CORS middleware answers) gets 204 with the same
  ``Allow``. A URL that names nothing (an unknown collection) is a 404 to every method,
  ``OPTIONS`` and the methods no route takes included.
- **NUL in the path**: a path holding a NUL character (``%00``) names no resource: 404, before
  any route passes it as an id to PostgreSQL (whose text cannot hold NUL: a 500 there).
- **Headers**: ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy`` on every response;
  HTML gets a Content-Security-Policy allowing only its own assets unless the route set a
  stricter one of its own, and ``frame-ancestors`` from ``BORDERLENS_FRAME_ANCESTORS``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import collections as registry
from app.api.responses import problem_response
from app.errors import NotFound, UnknownHost, problem_for
from app.settings import Settings

ROUTE_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Answered whatever the Host: it holds no link, and health probes of orchestrators address
# the container by its IP.
ANY_HOST_PATHS = frozenset({"/health"})
# The origin only, and only over HTTPS: tile servers (OpenStreetMap's among them) refuse
# requests without a Referer, but no page path or query leaves the service.
REFERRER_POLICY = "strict-origin-when-cross-origin"
BASE_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": REFERRER_POLICY}
DEFAULT_HTML_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    # Folium and Leaflet position everything with style attributes; styles cannot run code.
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
}


#: A feature of a collection, or a sub-resource of one (``/history``): the NUL in its id.
_FEATURE_PATH = re.compile(r"^/collections/(?P<collection>[^/\x00]+)/items/[^/]*\x00")


def nul_path_problem(path: str) -> NotFound:
    """The 404 of a path holding a NUL, coded as the route would code the id it names: a
    feature of a collection ``unknown_feature`` (``unknown_collection`` if there is no such
    collection), anything else ``not_found``. No id holds a NUL (PostgreSQL text cannot)."""
    if match := _FEATURE_PATH.match(path):
        collection = match["collection"]
        try:
            registry.get(collection)
        except NotFound as unknown:  # unknown_collection
            return unknown
        return NotFound(
            f"no feature with a NUL character (%00) in its id in collection {collection!r}",
            code="unknown_feature",
        )
    return NotFound("no resource has a NUL character (%00) in its path")


def request_host(scope: Scope) -> str | None:
    """The host named by the ``Host`` header, lower case, without port or brackets."""
    raw = Headers(scope=scope).get("host")
    if raw is None:
        return None
    raw = raw.strip().lower()
    if raw.startswith("["):
        host, _, _ = raw[1:].partition("]")
    else:
        host = raw.rsplit(":", 1)[0] if raw.count(":") == 1 else raw
    return host.rstrip(".")


def allowed_hosts(settings: Settings) -> set[str]:
    hosts = set(LOOPBACK_HOSTS) | {h.strip().lower() for h in settings.allowed_hosts}
    if settings.public_url and (public := urlsplit(settings.public_url).hostname):
        hosts.add(public.lower())
    return hosts


def host_is_allowed(host: str | None, settings: Settings) -> bool:
    """True for a missing Host (HTTP/1.0: the server's own address is used) or a listed one."""
    if host is None:
        return True
    for pattern in allowed_hosts(settings):
        if pattern == "*" or pattern == host:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


#: What a route module may declare as ``allows`` (``create_app`` gathers them in
#: ``app.state.allows``): given a concrete path and the methods its route templates take there,
#: the methods that URL really answers; ``NotFound`` when the path names nothing. The template
#: ``/collections/{collectionId}/items/{featureId}`` takes PUT, a read-only collection's item
#: does not.
Allows = Callable[[str, frozenset[str]], frozenset[str]]


def methods_for(
    routes: Iterable[BaseRoute], scope: Scope, allows: Sequence[Allows] = ()
) -> set[str]:
    """Every method the scope's path answers (HEAD wherever GET is, OPTIONS wherever any):
    those some route takes there, as ``allows`` narrow them; ``NotFound`` when the path names
    nothing.

    Routes are asked through ``matches`` only (FastAPI nests included routers in the table),
    once per method a route can declare.
    """
    methods: set[str] = set()
    for route in routes:
        if isinstance(route, Mount):
            if route.matches(scope)[0] is not Match.NONE:
                methods |= {"GET", "HEAD"}  # our mounts are static file directories
            continue
        for method in ROUTE_METHODS - methods:
            if route.matches({**scope, "method": method})[0] is Match.FULL:
                methods.add(method)
    if methods:
        answered = frozenset(methods)
        for narrow in allows:
            answered = narrow(scope["path"], answered)
        methods = set(answered)
    if "GET" in methods:
        methods.add("HEAD")
    if methods:
        methods.add("OPTIONS")
    return methods


def allow_header(methods: set[str]) -> str:
    return ", ".join(sorted(methods))


def inline_script_hashes(page: str) -> list[str]:
    """CSP ``'sha256-…'`` sources for the inline ``<script>`` blocks of a page we generated."""
    hashes = []
    for body in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", page, re.S | re.I):
        digest = hashlib.sha256(body.encode("utf-8")).digest()
        hashes.append(f"'sha256-{base64.b64encode(digest).decode()}'")
    return sorted(set(hashes))


def external_origins(page: str, tag: str, attribute: str) -> list[str]:
    """Origins of absolute ``<tag attribute=…>`` URLs (a map's fallback CDN, when used)."""
    origins = set()
    pattern = rf"<{tag}\b[^>]*\b{attribute}=[\"']?(https?://[^\"'\s>]+)"
    for url in re.findall(pattern, page, re.I):
        parts = urlsplit(url)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    return sorted(origins)


def generated_page_policy(page: str, *, img_sources: Iterable[str] = ()) -> str:
    """The CSP for an HTML page the service generated with inline scripts (Folium maps).

    Scripts: the page's own inline blocks by hash, plus the origins its ``<script src>`` and
    stylesheet links point to (the service itself; a CDN only when local assets are missing).
    Hashing after rendering is sound here because every user-supplied text in a map is escaped
    before rendering (popups, JSON), so the only inline scripts are the generator's.
    """
    policy = {key: list(value) for key, value in DEFAULT_HTML_POLICY.items()}
    policy["script-src"] += external_origins(page, "script", "src") + inline_script_hashes(page)
    policy["style-src"] += external_origins(page, "link", "href")
    policy["img-src"] += list(img_sources)
    return render_policy(policy)


def render_policy(policy: dict[str, list[str]]) -> str:
    return "; ".join(f"{key} {' '.join(dict.fromkeys(values))}" for key, values in policy.items())


DEFAULT_HTML_CSP = render_policy(DEFAULT_HTML_POLICY)


class HttpHardening:
    """See the module docstring. Reads the settings from ``app.state`` at each request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        application = scope["app"]
        settings: Settings = application.state.settings
        send = self._with_headers(send, settings)
        if scope["path"] not in ANY_HOST_PATHS and not host_is_allowed(
            request_host(scope), settings
        ):
            problem = problem_for(
                UnknownHost(
                    "the Host header names a host this service does not answer for "
                    "(BORDERLENS_ALLOWED_HOSTS, BORDERLENS_PUBLIC_URL)"
                )
            )
            problem.instance = scope["path"]
            await problem_response(problem)(scope, receive, send)
            return
        if "\x00" in scope["path"]:
            problem = problem_for(nul_path_problem(scope["path"]))
            problem.instance = scope["path"].replace("\x00", "%00")
            await problem_response(problem)(scope, receive, send)
            return
        method = scope["method"]
        allows: Sequence[Allows] = getattr(application.state, "allows", ())
        if method == "OPTIONS" and not _is_preflight(scope):
            try:
                methods = methods_for(application.router.routes, scope, allows)
            except NotFound as missing:
                await _not_found(missing, scope, receive, send)
                return
            if methods:
                await _empty(204, {"Allow": allow_header(methods)}, send)
                return
        if method == "HEAD":
            scope = {**scope, "method": "GET"}
            send = _without_body(send)
        # A copy: the router rewrites the scope it is given (root_path of a mount, ...).
        probe = dict(scope)
        routes = application.router.routes
        await self.app(scope, receive, _with_allow_on_405(send, receive, routes, probe, allows))

    @staticmethod
    def _with_headers(send: Send, settings: Settings) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in BASE_HEADERS.items():
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith("text/html"):
                    policy = headers.get("content-security-policy") or DEFAULT_HTML_CSP
                    if settings.frame_ancestors and "frame-ancestors" not in policy:
                        policy += f"; frame-ancestors {settings.frame_ancestors}"
                    headers["Content-Security-Policy"] = policy
            await send(message)

        return wrapped


def _is_preflight(scope: Scope) -> bool:
    headers = Headers(scope=scope)
    return "origin" in headers and "access-control-request-method" in headers


async def _empty(status: int, headers: dict[str, str], send: Send) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": b""})


def _without_body(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        elif message["type"] == "http.response.pathsend":
            message = {"type": "http.response.body", "body": b""}
        await send(message)

    return wrapped


async def _not_found(missing: NotFound, scope: Scope, receive: Receive, send: Send) -> None:
    problem = problem_for(missing)
    problem.instance = scope["path"]
    await problem_response(problem)(scope, receive, send)


def _with_allow_on_405(
    send: Send,
    receive: Receive,
    routes: Iterable[BaseRoute],
    scope: Scope,
    allows: Sequence[Allows],
) -> Send:
    """Every 405 (the router's, or a route's own for a read-only collection) says what OPTIONS
    says; on a URL that names nothing it becomes that 404."""
    replaced = False

    async def wrapped(message: Message) -> None:
        nonlocal replaced
        if replaced:
            return  # the 405's body: the 404 went out instead
        if message["type"] == "http.response.start" and message["status"] == 405:
            try:
                methods = methods_for(routes, scope, allows)
            except NotFound as missing:
                replaced = True
                await _not_found(missing, scope, receive, send)
                return
            MutableHeaders(scope=message)["Allow"] = allow_header(methods)
        await send(message)

    return wrapped
