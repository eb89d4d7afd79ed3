"""A request gives its key check's connection back before its route runs: requests beyond
the pool's size wait their turn instead of taking the whole pool (found by a helper: 25
subscriptions created at once by one admin key all answered 503 after 30 s, and `/health`
took 29 s, with the default pool of 10 + 10)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi.testclient import TestClient

from app.db.engine import make_engine, make_sessionmaker
from app.main import create_app
from app.services import border_bands
from app.services import keys as key_service
from tests.conftest import settings_for


def test_more_keyed_writes_at_once_than_the_pool_holds_all_succeed(
    database_copy: Callable[[str], str], cache_dir: Path
) -> None:
    database = database_copy("pool")
    engine = make_engine(database, pool_size=1)
    try:
        with make_sessionmaker(engine)() as session:
            admin = key_service.create_key(session, name="pool", role="admin", countries=[])
    finally:
        engine.dispose()
    # 2 + 2 overflow connections; each write took its key check's and its write session's
    settings = settings_for(database, cache_dir).model_copy(
        update={"db_pool_size": 2, "delivery_worker": False}
    )
    headers = {"Authorization": f"Bearer {admin.key}"}
    with TestClient(create_app(settings)) as client:

        def subscribe(i: int) -> int:
            body = {"name": f"pool {i}", "criteria": {"country": "GAB"}, "events": ["site.created"]}
            return client.post("/subscriptions", json=body, headers=headers).status_code

        with ThreadPoolExecutor(max_workers=12) as pool:
            statuses = list(pool.map(subscribe, range(12)))
        listed = client.get("/subscriptions", headers=headers).json()
    assert statuses == [201] * 12
    assert len(listed["subscriptions"]) == 12


def test_error_answers_of_a_self_noting_route_give_every_connection_back(
    database_copy: Callable[[str], str], cache_dir: Path
) -> None:
    """A tile outside its matrix (404), a bad tile path or query (400): the tile route notes
    the dataset version itself, and its error answers read it at the response's start through
    the request's read session, already closed by then: that took a new connection that was
    never given back (and raced the close), so about 100 such requests held the whole pool
    and the server never answered again, /health included (found by a helper)."""
    database = database_copy("pool_tiles")
    settings = settings_for(database, cache_dir).model_copy(
        update={"db_pool_size": 2, "delivery_worker": False}
    )
    paths = [
        "/collections/sites/tiles/WebMercatorQuad/2/99/99",
        "/collections/sites/tiles/WebMercatorQuad/abc/1/1",
        "/collections/sites/tiles/WebMercatorQuad/5/15/17?bbox=x",
    ]
    app = create_app(settings)
    with TestClient(app) as client:

        def ask(i: int) -> tuple[int, str | None]:
            answer = client.get(paths[i % len(paths)])
            return answer.status_code, answer.headers.get("dataset-version")

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(ask, range(120)))
        assert {status for status, _ in answers} == {400, 404}
        assert all(version is not None and version.isdigit() for _, version in answers)
        assert client.get("/health").status_code == 200
        assert app.state.engine.pool.checkedout() == 0


def test_pages_waiting_for_a_band_hold_no_connection(
    database_copy: Callable[[str], str], cache_dir: Path
) -> None:
    """A band waits for its turn (bands are drawn one at a time) and is drawn without its
    request's connection: bands and map pages asked while another band is being drawn held
    their read session's connection through the wait and the drawing, so about twenty of them
    (anonymous, under the rate limit) took the whole pool and /health waited 10-40 s (found by
    a helper). Here the drawing turn is held by the test while 8 requests wait, through a pool
    of 2 + 2: none of them holds a connection, and the items route answers meanwhile."""
    database = database_copy("pool_bands")
    settings = settings_for(database, cache_dir).model_copy(
        update={"db_pool_size": 2, "delivery_worker": False}
    )
    paths = [
        *(f"/maps/bands?border=CAF-CMR&within_km={2.013 + i / 10:g}" for i in range(5)),
        *(f"/maps/sites?border=CAF-CMR&within_km={3.017 + i / 10:g}" for i in range(3)),
    ]
    with border_bands._lock:  # bands drawn by earlier tests of this process answer at once
        border_bands._cache.clear()
    app = create_app(settings)
    with TestClient(app) as client, ThreadPoolExecutor(max_workers=len(paths)) as pool:
        assert border_bands._computing.acquire(timeout=60)
        try:
            waiting = [pool.submit(client.get, path) for path in paths]
            deadline = time.monotonic() + 8
            while len(border_bands._pending) < len(paths) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(border_bands._pending) == len(paths), "each request waits for its turn"
            assert app.state.engine.pool.checkedout() == 0
            items = client.get("/collections/sites/items", params={"limit": "1"})
            assert items.status_code == 200
        finally:
            border_bands._computing.release()
        answers = [future.result(timeout=120) for future in waiting]
    assert [answer.status_code for answer in answers] == [200] * len(paths)
