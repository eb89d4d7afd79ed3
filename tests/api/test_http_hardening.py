"""HTTP behaviour every route shares (app/api/hardening.py, app/api/limits.py).

The route families are read from the application's own route table, so a route added later
is covered without touching this file: HEAD answers like GET without a body, a refused method
gets 405 with ``Allow``, every response carries the common security headers, and a request
naming an unknown host is refused before any link is built from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import BaseRoute, Mount, Route

from app import collections
from app.main import create_app
from app.maps.assets import ensure_assets, local_urls
from app.settings import PROJECT_ROOT, Settings
from tests.conftest import TEST_CLIENT_HOST, settings_for
from tests.support.sites import BERBERATI_CAF, site_feature

Headers = Callable[..., dict[str, str]]

# Built only to read its route table (no request reaches its database).
ROUTE_TABLE_APP = create_app(
    settings_for("postgresql://routes@127.0.0.1:1/unused", PROJECT_ROOT / ".borderlens")
)
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Headers that legitimately differ between two answers to the same request.
# set-cookie: the sign-in page hands out a fresh CSRF token with each answer; x-request-id:
# each request gets its own id (unless the client sends one); x-borderlens-provenance: an
# export or package says when it was made.
VOLATILE = {
    "date",
    "content-length",
    "etag",
    "last-modified",
    "set-cookie",
    "x-request-id",
    "x-borderlens-provenance",
}
#: Endless streams: a GET never ends, so there is no answer to compare a HEAD with (the SSE
#: stream is exercised by tests/e2e/test_alerts_sse.py against a real server).
STREAMS = {"/events"}


def _walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """(path template, methods) of every route, through FastAPI's included routers."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            yield from _walk(included.routes, prefix + getattr(context, "prefix", ""))
        elif isinstance(route, Mount):
            yield prefix + route.path + "/{path}", {"GET", "HEAD"}
        elif isinstance(route, Route):
            yield prefix + route.path, set(route.methods or ())


def route_table(app: FastAPI) -> dict[str, set[str]]:
    """Path template -> methods, from the route table and the OpenAPI document together."""
    table: dict[str, set[str]] = {}
    for path, methods in _walk(app.router.routes):
        table.setdefault(path, set()).update(methods)
    for path, operations in app.openapi()["paths"].items():
        table.setdefault(path, set()).update(method.upper() for method in operations)
    return table


ROUTES = route_table(ROUTE_TABLE_APP)
GET_TEMPLATES = sorted(
    path for path, methods in ROUTES.items() if "GET" in methods and path not in STREAMS
)
# Each GET template, once per collection where it names one (a collection added later is
# covered too).
GET_CASES = [
    pytest.param(template, collection, id=f"{template}[{collection}]" if collection else template)
    for template in GET_TEMPLATES
    for collection in (
        [provider.id for provider in collections.PROVIDERS]
        if "{collectionId}" in template
        else [""]
    )
]


def _regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{\w+\})", template)
    pattern = "".join(
        (".+" if part == "{path}" else "[^/]+") if part.startswith("{") else re.escape(part)
        for part in parts
    )
    return re.compile(f"^{pattern}$")


def expected_allow(path: str) -> set[str]:
    """Every method of every template matching ``path``, HEAD with GET, and OPTIONS."""
    methods = set().union(*(m for t, m in ROUTES.items() if _regex(t).match(path)))
    if "GET" in methods:
        methods.add("HEAD")
    return methods | {"OPTIONS"}


@pytest.fixture
def concrete(client: TestClient, api_key: Headers) -> Callable[..., str]:
    """A template made concrete with values that exist (a site, an upload, a static file,
    the first feature of the collection asked for)."""
    researcher = api_key("researcher")
    created = client.post(
        "/collections/sites/items",
        json=site_feature(*BERBERATI_CAF, name="HEAD probe"),
        headers=researcher,
    )
    assert created.status_code == 201, created.text
    upload = client.post(
        "/uploads",
        files={"file": ("probe.csv", b"name,latitude,longitude\nHEAD probe,4.2612,15.7883\n")},
        data={"kind": "mine"},
        headers=researcher,
    )
    assert upload.status_code in (201, 422), upload.text
    assert ensure_assets(Settings().cache_dir) or True  # offline: the static case is a 404
    values = {
        "collectionId": "sites",
        "featureId": created.json()["id"],
        "upload_id": upload.headers.get("location", "/UP-NONE").rsplit("/", 1)[1],
        "path": local_urls("").leaflet_js.split("/", 3)[3],
    }

    def make(template: str, collection: str = "sites") -> str:
        if template.endswith("/{path}"):
            return template.replace("{path}", values["path"])
        chosen = {**values, "collectionId": collection}
        if collection != "sites" and "{featureId}" in template:
            first = client.get(f"/collections/{collection}/items", params={"limit": 1})
            features = first.json().get("features") or [{"id": "unknown"}]
            chosen["featureId"] = str(features[0]["id"])
        return re.sub(r"\{(\w+)\}", lambda m: chosen.get(m[1], "unknown"), template)

    return make


def test_the_route_table_is_read() -> None:
    assert {"/", "/collections/{collectionId}/items", "/maps/sites", "/health"} <= set(
        GET_TEMPLATES
    )
    assert any(t.startswith("/static/vendor/") for t in GET_TEMPLATES), "mounted files too"


@pytest.mark.parametrize(("template", "collection"), GET_CASES)
def test_head_is_get_without_a_body(
    template: str,
    collection: str,
    client: TestClient,
    api_key: Headers,
    concrete: Callable[..., str],
) -> None:
    path = concrete(template, collection or "sites")
    admin = api_key("admin")
    got = client.get(path, headers=admin)
    head = client.head(path, headers=admin)
    assert head.status_code == got.status_code, (path, got.text[:300])
    assert head.content == b""
    assert head.headers.get("content-type") == got.headers.get("content-type")
    assert set(head.headers) - VOLATILE == set(got.headers) - VOLATILE
    for name in set(got.headers) - VOLATILE - {"content-security-policy"}:
        assert head.headers[name] == got.headers[name], name
    if "content-length" in got.headers and "content-encoding" not in got.headers:
        assert "content-length" in head.headers


@pytest.mark.parametrize("template", sorted(ROUTES))
def test_refused_methods_get_405_with_allow(
    template: str, client: TestClient, concrete: Callable[..., str]
) -> None:
    path = concrete(template)
    allowed = expected_allow(path)
    for method in ("TRACE", "CONNECT", *ALL_METHODS):
        if method in allowed:
            continue
        response = client.request(method, path)
        assert response.status_code == 405, (method, path, response.text[:200])
        assert response.headers["content-type"] == "application/problem+json"
        assert set(response.headers["allow"].split(", ")) == allowed, (method, path)


@pytest.mark.parametrize("template", sorted(ROUTES))
def test_plain_options_lists_the_methods(
    template: str, client: TestClient, concrete: Callable[..., str]
) -> None:
    path = concrete(template)
    response = client.options(path)
    assert response.status_code == 204
    assert set(response.headers["allow"].split(", ")) == expected_allow(path)


# -- Allow per collection: what the concrete URL answers, not what its template could -------

COLLECTION_TEMPLATES = sorted(t for t in ROUTES if t.startswith("/collections/{collectionId}"))
COLLECTION_IDS = [provider.id for provider in collections.PROVIDERS]
READ_ONLY = [p.id for p in collections.PROVIDERS if p.writer() is None]
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def allow_of(response: Any) -> set[str]:
    return set(response.headers["allow"].split(", "))


@pytest.mark.parametrize("collection", ["borders", "countries", "zones"])
def test_read_only_collections_advertise_no_writes(
    collection: str, client: TestClient, api_key: Headers, concrete: Callable[..., str]
) -> None:
    admin = {**api_key("admin"), "If-Match": "*"}
    for template in ("/collections/{collectionId}/items", "/collections/{collectionId}/items/x"):
        path = concrete(template, collection)
        options = client.options(path)
        assert options.status_code == 204, path
        assert allow_of(options) == {"GET", "HEAD", "OPTIONS"}, path
        for method in ("POST", "PUT", "PATCH", "DELETE", "TRACE"):
            refused = client.request(method, path, headers=admin, json={})
            assert refused.status_code == 405, (method, path, refused.text[:200])
            assert allow_of(refused) == allow_of(options), (method, path)
    sites = client.options(concrete("/collections/{collectionId}/items", "sites"))
    assert allow_of(sites) == {"GET", "HEAD", "OPTIONS", "POST"}


@pytest.mark.parametrize(
    "path",
    [
        "/collections/nowhere",
        "/collections/nowhere/items",
        "/collections/nowhere/items/BL-0000000000",
        "/collections/nowhere/queryables",
        "/collections/nowhere/tiles",
        # ids no collection could have (a pattern answered 400 to GET, HEAD and POST)
        "/collections/SITES/items",
        "/collections/Sites/items/x",
        "/collections/a.b/items",
        "/collections/observations.json",
    ],
)
def test_an_unknown_collection_is_404_to_every_method(
    path: str, client: TestClient, api_key: Headers
) -> None:
    admin = {**api_key("admin"), "If-Match": "*"}
    for method in ("OPTIONS", "GET", "POST", "PUT", "PATCH", "DELETE", "TRACE"):
        response = client.request(method, path, headers=admin, json={})
        assert response.status_code == 404, (method, path, response.text[:200])
        assert "allow" not in response.headers, (method, path)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "unknown_collection", (method, path)


collection_ids = st.one_of(
    st.sampled_from(COLLECTION_IDS),
    st.from_regex(r"[a-z0-9_-]{1,16}", fullmatch=True),
    # not "." or "..": a client resolves those in the path before sending it
    st.from_regex(r"[A-Za-z0-9._~-]{1,16}", fullmatch=True).filter(lambda s: s.strip(".") != ""),
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    template=st.sampled_from(COLLECTION_TEMPLATES),
    collection=collection_ids,
    method=st.sampled_from((*ALL_METHODS, "TRACE")),
)
def test_allow_is_exactly_what_a_collection_url_answers(
    template: str,
    collection: str,
    method: str,
    client: TestClient,
    api_key: Headers,
    concrete: Callable[..., str],
) -> None:
    """Any collection (known or not), any of its URL templates, any method: a method is in
    ``Allow`` exactly when it is not refused with a 405, every 405 carries OPTIONS' ``Allow``,
    and a URL whose OPTIONS is a 404 (it names nothing) refuses every method without a 405."""
    path = concrete(template, collection)
    options = client.options(path)
    body = {"json": {}} if method in WRITES else {}
    response = client.request(method, path, headers={**api_key("admin"), "If-Match": "*"}, **body)
    if options.status_code == 404:
        # a 404 as a rule (a GET may find a malformed tile address first: 400)
        assert response.status_code in (400, 404), (method, path, response.text[:200])
        assert "allow" not in options.headers and "allow" not in response.headers
        return
    assert options.status_code == 204, (path, options.text[:200])
    allowed = allow_of(options)
    assert (method in allowed) == (response.status_code != 405), (method, path, allowed)
    if response.status_code == 405:
        assert allow_of(response) == allowed, (method, path)
    if collection not in COLLECTION_IDS:
        raise AssertionError(f"{path}: an unknown collection answered OPTIONS with {allowed}")
    if collection in READ_ONLY:
        assert not allowed & WRITES, (path, allowed)


def test_cors_preflight_still_answered_by_cors(client: TestClient) -> None:
    response = client.options(
        "/uploads",
        headers={
            "Origin": "https://field.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("template", GET_TEMPLATES)
def test_every_response_has_the_security_headers(
    template: str, client: TestClient, concrete: Callable[..., str]
) -> None:
    path = concrete(template)
    for response in (
        client.get(path),
        client.get(path + "/nothing-here"),
        client.request("TRACE", path),
        client.get(path, headers={"Host": "evil.example"}),
    ):
        assert response.headers["x-content-type-options"] == "nosniff", response.request.url
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        if response.headers.get("content-type", "").startswith("text/html"):
            csp = response.headers["content-security-policy"]
            script_src = _directive(csp, "script-src")
            assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
            assert "*" not in script_src and "http" not in " ".join(script_src), csp
            assert _directive(csp, "default-src") == ["'self'"]
            assert _directive(csp, "object-src") == ["'none'"]


def _directive(policy: str, name: str) -> list[str]:
    for part in policy.split(";"):
        words = part.split()
        if words and words[0] == name:
            return words[1:]
    raise AssertionError(f"{name} missing from {policy!r}")


def test_frame_ancestors_join_every_html_policy(app: FastAPI) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"frame_ancestors": "https://kimberleyprocess.example"}
    )
    client = TestClient(app)
    for path in ("/maps/sites", "/api.html"):
        policy = client.get(path).headers["content-security-policy"]
        assert _directive(policy, "frame-ancestors") == ["https://kimberleyprocess.example"]
    assert "content-security-policy" not in client.get("/conformance").headers


def test_swagger_ui_is_not_served_from_a_cdn(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404
    page = client.get("/api.html")
    assert page.status_code == 200
    assert not re.search(r"<(script|link)\b[^>]*(src|href)=['\"]?https?:", page.text)


# -- Host header --------------------------------------------------------------------------

REFUSED_HOSTS = [
    "evil.example",
    "evil.example:8000",
    "localhost.evil.example",
    "127.0.0.1.evil.example",
    "[::2]:8000",
    "10.0.0.1",
    "public.example.org.evil",
]
ALLOWED_HOSTS = [
    "localhost",
    "localhost:8000",
    "LOCALHOST.",
    "127.0.0.1:41234",
    "[::1]:8000",
    TEST_CLIENT_HOST,
    "public.example.org",
    "public.example.org:443",
]


@pytest.fixture
def public_client(app: FastAPI) -> TestClient:
    app.state.settings = app.state.settings.model_copy(
        update={"public_url": "https://public.example.org/borderlens"}
    )
    return TestClient(app)


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_unknown_hosts_get_400(host: str, public_client: TestClient) -> None:
    for path in ("/", "/collections/sites/items", "/maps/sites", "/static/vendor/x.js", "/api"):
        response = public_client.get(path, headers={"Host": host})
        assert response.status_code == 400, (host, path)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "unknown_host"
        assert host not in response.text and "evil" not in response.text


def test_health_answers_probes_by_ip_and_names_no_host(public_client: TestClient) -> None:
    response = public_client.get("/health", headers={"Host": "10.42.0.17:8000"})
    assert response.status_code in (200, 503)
    assert "10.42.0.17" not in response.text and "http" not in response.text


@pytest.mark.parametrize("host", ALLOWED_HOSTS)
def test_known_hosts_get_links_from_the_public_url(
    host: str, public_client: TestClient, api_key: Headers
) -> None:
    items = public_client.get("/collections/sites/items", headers={"Host": host})
    assert items.status_code == 200, items.text
    hrefs = [link["href"] for link in items.json()["links"]]
    assert hrefs and all(h.startswith("https://public.example.org/borderlens/") for h in hrefs)
    created = public_client.post(
        "/collections/sites/items",
        json=site_feature(*BERBERATI_CAF, name="behind a proxy"),
        headers={"Host": host, **api_key("researcher")},
    )
    assert created.status_code == 201, created.text
    assert created.headers["location"].startswith("https://public.example.org/borderlens/")


def test_map_pages_never_name_the_request_host(client: TestClient) -> None:
    page = client.get("/maps/sites", headers={"Host": "localhost:8000"}).text
    assert "localhost" not in page and TEST_CLIENT_HOST not in page
    sources = re.findall(r"<(?:script|link)\b[^>]*(?:src|href)=\"([^\"]+)\"", page)
    assert sources and all(s.startswith("../static/vendor/") for s in sources), sources


def test_allowed_hosts_setting_and_wildcards(app: FastAPI) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"allowed_hosts": ["maps.example.org", "*.borderlens.example"]}
    )
    client = TestClient(app)
    for host, status in (
        ("maps.example.org", 200),
        ("a.borderlens.example", 200),
        ("a.b.borderlens.example:8443", 200),
        ("borderlens.example", 400),
        ("evilborderlens.example", 400),
        (TEST_CLIENT_HOST, 400),
        ("localhost", 200),
    ):
        assert client.get("/conformance", headers={"Host": host}).status_code == status, host


HOST_NAMES = st.from_regex(
    r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9-]{1,12}){0,3}", fullmatch=True
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(host=HOST_NAMES)
def test_any_other_host_is_refused(host: str, client: TestClient) -> None:
    response = client.get("/conformance", headers={"Host": host})
    allowed = host in ("localhost", TEST_CLIENT_HOST)
    assert response.status_code == (200 if allowed else 400), host


# -- Oversized bodies ---------------------------------------------------------------------


@pytest.fixture
def small_limits_client(app: FastAPI, settings: Settings) -> TestClient:
    """The app with a 20 kB upload limit (the limits are read when the app is built)."""
    small = create_app(settings.model_copy(update={"upload_max_bytes": 20_000}))
    small.dependency_overrides = app.dependency_overrides
    return TestClient(small)


def _chunks(total: int, size: int = 8192) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


@pytest.mark.parametrize(
    ("path", "content_type", "limit"),
    [
        ("/uploads", "multipart/form-data; boundary=b", 20_000 + 64 * 1024),
        ("/collections/sites/items", "application/geo+json", 1024 * 1024),
    ],
)
@pytest.mark.parametrize("over", [1, 10_000, 3_000_000])
@pytest.mark.parametrize("chunked", [True, False])
def test_oversized_bodies_get_413(
    small_limits_client: TestClient,
    api_key: Headers,
    path: str,
    content_type: str,
    limit: int,
    over: int,
    chunked: bool,
) -> None:
    size = limit + over
    body: Any = _chunks(size) if chunked else b"x" * size
    response = small_limits_client.post(
        path, content=body, headers={"Content-Type": content_type, **api_key("researcher")}
    )
    assert response.status_code == 413, response.text[:300]
    assert response.json()["code"] == "body_too_large"
    assert f"{limit:,}" in response.json()["detail"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_chunked_body_under_the_limit_is_read(client: TestClient, api_key: Headers) -> None:
    import json

    body = json.dumps(site_feature(*BERBERATI_CAF, name="sent in chunks")).encode()
    response = client.post(
        "/collections/sites/items",
        content=iter([body[:10], body[10:]]),
        headers={"Content-Type": "application/geo+json", **api_key("researcher")},
    )
    assert response.status_code == 201, response.text


PARAM_TEMPLATES = sorted(path for path in ROUTES if "{" in path)


@pytest.mark.parametrize("template", PARAM_TEMPLATES)
@pytest.mark.parametrize("spelled", ["%00", "a%00b"])
def test_a_nul_in_any_path_parameter_is_404_never_500(
    template: str, spelled: str, client: TestClient, api_key: Headers
) -> None:
    """PostgreSQL text cannot hold NUL: an id with one once reached it from the history,
    restore, write and subscription routes (500). Every route and method, read from the
    route table: 404 problem, whoever asks."""
    path = re.sub(r"\{(\w+)\}", spelled, template)
    admin = {**api_key("admin"), "If-Match": "*"}
    for method in sorted(ROUTES[template] & set(ALL_METHODS)):
        answer = client.request(method, path, headers=admin, json={"reason": "r"})
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        # an id of a collection's feature is coded as the item route codes a missing one
        feature = re.match(r"^/collections/([^/]+)/items/[^/]*%00", path)
        expected = "unknown_feature" if feature and "%00" not in feature[1] else "not_found"
        assert answer.json()["code"] == expected, (method, path)


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/collections/sites/items/%00", "unknown_feature"),  # field case rel-04 c
        ("/collections/borders/items/%00", "unknown_feature"),
        ("/collections/sites/items/SITE%00/history", "unknown_feature"),
        ("/collections/nope/items/%00", "unknown_collection"),
        ("/collections/sites%00/items/x", "not_found"),
        ("/uploads/%00", "not_found"),
    ],
)
def test_a_nul_in_a_feature_id_is_an_unknown_feature(
    path: str, code: str, client: TestClient, api_key: Headers
) -> None:
    answer = client.get(path, headers=api_key("admin"))
    assert answer.status_code == 404, answer.text
    assert answer.json()["code"] == code
    assert "%00" in answer.json()["instance"]


def test_an_exhausted_connection_pool_is_a_503_to_retry(app: FastAPI) -> None:
    """Every connection of the pool in use for its whole timeout is an overloaded server,
    not a broken one: 503 ``service_busy`` with ``Retry-After`` (it was a 500, for every
    route, while cluster readers held the pool). It is answered by the application's own
    handlers, not re-raised to the server after the answer: the server logged a whole
    traceback ("Exception in ASGI application") for each such request, a log anyone could
    flood (found by a helper); the client here would raise it."""
    import sqlalchemy.exc

    from app.api.deps import get_read_session

    def exhausted() -> Any:
        raise sqlalchemy.exc.TimeoutError(
            "QueuePool limit of size 10 overflow 10 reached, connection timed out, timeout 30.00"
        )

    app.dependency_overrides[get_read_session] = exhausted
    client = TestClient(app)
    response = client.get("/collections/sites/items")
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.json()["code"] == "service_busy"
    assert "QueuePool" not in response.text
