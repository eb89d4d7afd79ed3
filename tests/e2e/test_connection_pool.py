"""A request gives its key check's connection back before its route runs: requests beyond
the pool's size wait their turn instead of taking the whole pool (found by a helper: 25
subscriptions created at once by one admin key all answered 503 after 30 s, and `/health`
took 29 s, with the default pool of 10 + 10)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi.testclient import TestClient

from app.db.engine import make_engine, make_sessionmaker
from app.main import create_app
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
