"""``GET /events`` over real HTTP (uvicorn in its own process): a client disconnected while
100 events happen gets all 100, in order, when it reconnects with ``Last-Event-ID``; it never
sees another key's events."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from app.services import keys as key_service
from app.services import subscriptions
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.slow


def sse_events(lines: Iterator[str], count: int) -> list[dict[str, Any]]:
    """The first ``count`` events of an SSE stream (comments / pings skipped)."""
    found: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for line in lines:
        if not line:
            if "data" in current:
                found.append(current)
                if len(found) == count:
                    return found
            current = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        current[name] = value.removeprefix(" ")
    raise AssertionError(f"the stream ended after {len(found)} events")


def _key(live_server: LiveServer, role: str = "authority") -> tuple[str, Any]:
    with live_server.sessions() as session:
        created = key_service.create_key(session, name="sse", role=role, countries=[])
        return created.key, key_service.authenticate(session, created.key)


def _create(live_server: LiveServer, caller: Any, names: list[str]) -> None:
    with live_server.sessions() as session:
        boundaries = BoundaryCache().current(session)
        assert boundaries is not None
        drafts = [
            SiteDraft(kind="mine", name=name, lon=14.0 + i * 0.005, lat=4.3)
            for i, name in enumerate(names)
        ]
        create_sites(session, boundaries, drafts, caller)


def test_reconnecting_with_last_event_id_gets_everything_missed(live_server: LiveServer) -> None:
    key, caller = _key(live_server)
    other_key, other = _key(live_server)
    with live_server.sessions() as session:
        new = subscriptions.NewSubscription("sse", {"country": "CMR"}, ["site.created"], None)
        mine = subscriptions.create(session, live_server.settings, caller, new)[0].public_id
        subscriptions.create(session, live_server.settings, other, new)
    headers = {"Authorization": f"Bearer {key}"}
    url = f"{live_server.url}/events"
    with httpx.Client(timeout=30) as client:
        with client.stream("GET", url, headers=headers) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            _create(live_server, caller, ["first"])
            [first] = sse_events(stream.iter_lines(), 1)
        assert orjson.loads(first["data"])["data"]["properties"]["name"] == "first"
        names = [f"missed {i}" for i in range(100)]
        _create(live_server, caller, names)  # while nobody listens
        resumed = {**headers, "Last-Event-ID": first["id"]}
        with client.stream("GET", url, headers=resumed) as stream:
            events = sse_events(stream.iter_lines(), 100)
    payloads = [orjson.loads(e["data"]) for e in events]
    assert sorted(p["data"]["properties"]["name"] for p in payloads) == sorted(names)
    assert {p["subscription"] for p in payloads} == {mine}  # not the other key's
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids) and ids[0] > int(first["id"])
    assert {e["event"] for e in events} == {"site.created"}
    assert other_key != key


def test_a_key_holds_a_bounded_number_of_streams_and_gets_one_back_on_closing(
    live_server: LiveServer,
) -> None:
    """Each open stream polls the outbox twice a second: a key may hold
    ``BORDERLENS_EVENT_STREAMS_PER_KEY`` (4) at once per server process; one more is a 429 to
    retry, another key is not affected, and a closed stream's slot comes back."""
    key, _ = _key(live_server)
    other_key, _ = _key(live_server)
    url = f"{live_server.url}/events"
    limit = live_server.settings.event_streams_per_key
    assert limit == 4
    with httpx.Client(timeout=30) as client, contextlib.ExitStack() as held:
        opened = [
            held.enter_context(
                client.stream("GET", url, headers={"Authorization": f"Bearer {key}"})
            )
            for _ in range(limit)
        ]
        assert all(s.status_code == 200 for s in opened)
        refused = client.get(url, headers={"Authorization": f"Bearer {key}"})
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "too_many_streams"
        assert refused.headers["retry-after"] == "5"
        with client.stream("GET", url, headers={"Authorization": f"Bearer {other_key}"}) as s:
            assert s.status_code == 200
        opened.pop().close()
        # the server sees the client go at its next write (a ping, or the poll's end)
        deadline = time.monotonic() + 30
        while True:
            with client.stream("GET", url, headers={"Authorization": f"Bearer {key}"}) as again:
                if again.status_code == 200:
                    break
                assert again.status_code == 429
            assert time.monotonic() < deadline, "the closed stream's slot never came back"
            time.sleep(0.5)
