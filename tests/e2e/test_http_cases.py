"""The HTTP field cases over real HTTP (uvicorn, as deployed): HEAD on the resources GIS tools
probe first (case 14-ogc-head-requests), a made-up Host never reaches a link (rel-11), the
security headers (rel-15), and a chunked upload past the limit (rel-13/rel-15 kind)."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
from urllib.parse import urlsplit

import pytest

from app.services import keys as key_service
from tests.e2e.conftest import LiveServer

# The paths of case 14's run.sh (its item id is replaced by a real one below).
CASE_14_PATHS = [
    "/",
    "/conformance",
    "/api",
    "/collections",
    "/collections/sites",
    "/collections/sites/items",
    "/collections/sites/items?limit=1",
    "/maps/sites",
    "/health",
]


def request(
    server: LiveServer,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        payload = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload
    finally:
        conn.close()


@pytest.fixture(scope="module")
def item_path(live_server: LiveServer) -> str:
    status, _, body = request(live_server, "GET", "/collections/borders/items?limit=1")
    assert status == 200
    feature_id = json.loads(body)["features"][0]["id"]
    return f"/collections/borders/items/{feature_id}"


def test_case_14_head_answers_like_get(live_server: LiveServer, item_path: str) -> None:
    for path in [*CASE_14_PATHS, item_path]:
        got_status, got, _ = request(live_server, "GET", path)
        head_status, head, body = request(live_server, "HEAD", path)
        assert (head_status, body) == (got_status, b""), path
        assert head_status == 200, path
        assert head["content-type"] == got["content-type"], path


def test_refused_method_carries_allow_over_http(live_server: LiveServer) -> None:
    for method in ("TRACE", "DELETE", "PUT"):
        status, headers, _ = request(live_server, method, "/collections/sites/items")
        assert status == 405
        assert set(headers["allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}
    status, headers, _ = request(live_server, "OPTIONS", "/collections")
    assert status == 204 and headers["allow"] == "GET, HEAD, OPTIONS"


def test_a_read_only_item_advertises_no_writes_over_http(
    live_server: LiveServer, item_path: str
) -> None:
    status, options, _ = request(live_server, "OPTIONS", item_path)
    assert status == 204 and options["allow"] == "GET, HEAD, OPTIONS"
    for method in ("PUT", "PATCH", "DELETE", "TRACE"):
        status, headers, _ = request(live_server, method, item_path)
        assert (status, headers["allow"]) == (405, options["allow"]), method
    status, headers, body = request(live_server, "OPTIONS", "/collections/nowhere/items/x")
    assert status == 404 and "allow" not in headers
    assert json.loads(body)["code"] == "unknown_collection"


def test_rel_11_made_up_host_is_refused(live_server: LiveServer) -> None:
    for path in ("/collections/sites/items?limit=1", "/maps/sites?limit=1", "/"):
        status, headers, body = request(live_server, "GET", path, {"Host": "evil.example"})
        assert status == 400, path
        assert headers["content-type"] == "application/problem+json"
        assert b"evil.example" not in body
    status, _, body = request(live_server, "GET", "/maps/sites?limit=1", {"Host": "localhost"})
    assert status == 200
    scripts = re.findall(rb"<script src=\"([^\"]+)\"", body)
    assert scripts and all(s.startswith(b"../static/") for s in scripts), scripts


def test_rel_15_security_headers_over_http(live_server: LiveServer) -> None:
    for path in ("/maps/sites", "/maps/clusters", "/api.html", "/collections", "/nowhere"):
        _, headers, _ = request(live_server, "GET", path)
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin", path
        if headers["content-type"].startswith("text/html"):
            assert "script-src 'self'" in headers["content-security-policy"], path
    status, _, _ = request(live_server, "GET", "/docs")
    assert status == 404, "no Swagger UI from a CDN"


def test_chunked_body_past_the_limit_gets_413(live_server: LiveServer) -> None:
    with live_server.sessions() as session:  # a writer: anonymous callers get 401 first
        key = key_service.create_key(session, name="chunked", role="researcher", countries=[]).key
        session.commit()
    parts = urlsplit(live_server.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    try:
        conn.putrequest("POST", "/collections/sites/items")
        conn.putheader("Authorization", f"Bearer {key}")
        conn.putheader("Content-Type", "application/geo+json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        chunk = b"x" * 65536
        # The server may answer and close before the whole body is sent.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(64):  # 4 MiB, the JSON limit is 1 MiB
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        assert response.status == 413
        problem = json.loads(response.read())
        assert problem["code"] == "body_too_large"
    finally:
        conn.close()
