"""Migration 0021 carries the events written before groups over: their state, ids and bodies;
and when there are many of them, their ids become ``id * 16384`` without tripping over the
primary key (in one UPDATE, event 1 became 16384 while event 16384 was still there: the
upgrade failed, and ``serve``, which migrates as it starts, could not start; found by a
helper)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text

from app.db import alert_events, deliveries, migrations
from app.db.alert_models import GROUP_SPAN
from app.db.engine import make_engine, make_sessionmaker
from tests.support.pg import Server

OLD_EVENTS = 16_385  # ids 1..16385: event 1 becomes 16384, an id still held by an old event


def _old_subscription(conn: Connection, event: str) -> int:
    """An admin key and its webhook subscription to ``event``, written with SQL as a database
    before the migration holds them (the models describe the tables of today); the
    subscription's id."""
    key_id = conn.execute(
        text(
            "INSERT INTO api_keys (name, prefix, secret_hash, role) "
            "VALUES ('old', 'blk_old', :h, 'admin') RETURNING id"
        ),
        {"h": b"0" * 32},
    ).scalar_one()
    subscription_id: int = conn.execute(
        text(
            "INSERT INTO subscriptions (public_id, api_key_id, name, criteria, events, "
            "webhook_url, secret) VALUES ('SUB-OLD', :k, 'old', '{}', "
            "ARRAY[:event], 'http://127.0.0.1:9/h', 'whsec_AAAA') RETURNING id"
        ),
        {"k": key_id, "event": event},
    ).scalar_one()
    return subscription_id


def _database_at(pg_server: Server, revision: str) -> Iterator[Engine]:
    """A database of its own, migrated up to ``revision``, dropped after the test."""
    name = f"bl_migrate_{secrets.token_hex(4)}"
    pg_server.create_database(name)
    engine = make_engine(pg_server.url(name), pool_size=2)
    migrations.upgrade(engine, revision)
    yield engine
    engine.dispose()
    pg_server.drop_database(name)


@pytest.fixture
def engine_at_0020(pg_server: Server) -> Iterator[Engine]:
    yield from _database_at(pg_server, "0020_alert_events_site_versions")


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


def test_0021_keeps_the_events_written_before_groups(engine_at_0020: Engine) -> None:
    """Each event becomes a group of one: its id times 16384, its ``webhook-id``, state and
    body kept; the one due is still sent, the others are not sent again."""
    with engine_at_0020.begin() as conn:
        subscription_id = _old_subscription(conn, "upload.completed")
        for n, (status, attempts) in enumerate(
            (("delivered", 1), ("dead", 8), ("pending", 2), ("pending", 0))
        ):
            conn.execute(
                text(
                    "INSERT INTO alert_events (public_id, subscription_id, type, payload, "
                    "status, attempts, next_attempt_at) VALUES (:p, :s, 'upload.completed', "
                    "CAST(:body AS json), :status, :attempts, now() - interval '1 minute')"
                ),
                {
                    "p": f"msg_{n:032x}",
                    "s": subscription_id,
                    "body": f'{{"type":"upload.completed","data":{{"n":{n}}}}}',
                    "status": status,
                    "attempts": attempts,
                },
            )
        old_ids = list(conn.execute(text("SELECT id FROM alert_events ORDER BY id")).scalars())

    migrations.upgrade(engine_at_0020)

    sessions = make_sessionmaker(engine_at_0020)
    with sessions() as session:
        listed = alert_events.list_events(session, subscription_id, None, 0, 100)
        assert [(e.id, e.public_id, e.status, e.attempts, e.payload["data"]) for e in listed] == [
            (old_ids[0] * GROUP_SPAN, f"msg_{0:032x}", "delivered", 1, {"n": 0}),
            (old_ids[1] * GROUP_SPAN, f"msg_{1:032x}", "dead", 8, {"n": 1}),
            (old_ids[2] * GROUP_SPAN, f"msg_{2:032x}", "pending", 2, {"n": 2}),
            (old_ids[3] * GROUP_SPAN, f"msg_{3:032x}", "pending", 0, {"n": 3}),
        ]
        assert alert_events.delivery_counts(session, subscription_id) == {
            "delivered": 1,
            "dead": 1,
            "pending": 2,
        }
        due = deliveries.lock_due(session, 20)
        assert [(d.public_id, d.attempts, d.group_id) for d in due] == [
            (f"msg_{2:032x}", 2, None),
            (f"msg_{3:032x}", 0, None),
        ]
        session.rollback()
        new_group = session.execute(
            text(
                "INSERT INTO alert_event_groups (subscription_id, type, payload, size, status) "
                "VALUES (:s, 'upload.completed', '{}', 1, 'pending') RETURNING id"
            ),
            {"s": subscription_id},
        ).scalar_one()
        assert new_group * GROUP_SPAN > max(old_ids) * GROUP_SPAN
        session.rollback()
    migrations.downgrade(engine_at_0020, "0020_alert_events_site_versions")
    with engine_at_0020.connect() as conn:
        back = conn.execute(
            text("SELECT public_id, status, attempts FROM alert_events ORDER BY id")
        ).all()
    assert [tuple(r) for r in back] == [
        (f"msg_{0:032x}", "delivered", 1),
        (f"msg_{1:032x}", "dead", 8),
        (f"msg_{2:032x}", "pending", 2),
        (f"msg_{3:032x}", "pending", 0),
    ]


@pytest.fixture
def engine_at_0021(pg_server: Server) -> Iterator[Engine]:
    yield from _database_at(pg_server, "0021_alert_event_groups")


def test_0022_gives_a_group_taken_before_one_take_at_its_last_time(
    engine_at_0021: Engine,
) -> None:
    """A group taken before 0022 keeps what its events said: the events before ``sent``
    delivered at the group's last take, the others pending; later takes add their own."""
    last_take = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
    with engine_at_0021.begin() as conn:
        subscription_id = _old_subscription(conn, "site.created")
        conn.execute(
            text(
                "INSERT INTO alert_event_groups (subscription_id, type, site_version_ids, size, "
                "status, sent, delivered_at) "
                "VALUES (:s, 'site.created', '{1,2,3}', 3, 'pending', 2, :at)"
            ),
            {"s": subscription_id, "at": last_take},
        )

    migrations.upgrade(engine_at_0021)

    with make_sessionmaker(engine_at_0021)() as session:
        listed = alert_events.list_events(session, subscription_id, None, 0, 100)
    assert [(e.status, e.delivered_at) for e in listed] == [
        ("delivered", last_take),
        ("delivered", last_take),
        ("pending", None),
    ]
