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
