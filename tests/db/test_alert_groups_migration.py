"""Migration 0021 carries the events written before groups over when there are many of them:
their ids become ``id * 16384`` without tripping over the primary key (in one UPDATE, event 1
became 16384 while event 16384 was still there: the upgrade failed, and ``serve``, which
migrates as it starts, could not start; found by a helper)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from app.db import migrations
from app.db.engine import make_engine
from tests.support.pg import Server

OLD_EVENTS = 16_385  # ids 1..16385: event 1 becomes 16384, an id still held by an old event


@pytest.fixture
def engine_at_0020(pg_server: Server) -> Iterator[Engine]:
    name = f"bl_migrate21many_{secrets.token_hex(4)}"
    pg_server.create_database(name)
    engine = make_engine(pg_server.url(name), pool_size=1)
    migrations.upgrade(engine, "0020_alert_events_site_versions")
    yield engine
    engine.dispose()
    pg_server.drop_database(name)


def test_0021_upgrades_a_database_with_more_than_16383_events(engine_at_0020: Engine) -> None:
    with engine_at_0020.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alert_events (subscription_id, type, payload, status, attempts) "
                "SELECT 1, 'upload.completed', '{\"n\": 1}', 'delivered', 1 "
                "FROM generate_series(1, :n)"
            ),
            {"n": OLD_EVENTS},
        )
        old_ids = list(conn.execute(text("SELECT id FROM alert_events ORDER BY id")).scalars())

    migrations.upgrade(engine_at_0020)

    with engine_at_0020.connect() as conn:
        new_ids = list(conn.execute(text("SELECT id FROM alert_events ORDER BY id")).scalars())
        groups = conn.execute(text("SELECT count(*) FROM alert_event_groups")).scalar_one()
    assert new_ids == [i * 16_384 for i in old_ids]
    assert groups == OLD_EVENTS
