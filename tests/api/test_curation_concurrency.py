"""Curation under concurrency, on committed data through real connections (issue 11):
two merges of one pair at once leave one survivor; a stale ETag loses with 412 and nothing is
half-written; dataset versions follow commit order, with no gap, whoever writes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.db.engine import make_engine, make_sessionmaker
from app.main import create_app
from app.services import keys as key_service
from tests.conftest import settings_for
from tests.support.sites import BERBERATI_CAF, site_feature

ITEMS = "/collections/sites/items"


@pytest.fixture
def committed(database_copy: Callable[[str], str]) -> Iterator[str]:
    yield database_copy("curation")


def writer_headers(url: str) -> dict[str, str]:
    engine = make_engine(url, pool_size=1)
    with make_sessionmaker(engine)() as session:
        key = key_service.create_key(session, name="t", role="researcher", countries=[]).key
    engine.dispose()
    return {"Authorization": f"Bearer {key}"}


def create(client: TestClient, headers: dict[str, str], name: str, shift: float) -> str:
    lon, lat = BERBERATI_CAF
    body = site_feature(lon + shift, lat, name=name)
    response = client.post(ITEMS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def at_once(calls: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    barrier = threading.Barrier(len(calls))
    results: dict[str, Any] = {}

    def run(name: str, call: Callable[[], Any]) -> None:
        barrier.wait(timeout=30)
        results[name] = call()

    threads = [threading.Thread(target=run, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    libpq = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq, autocommit=True) as connection:
        return connection.execute(sql, params).fetchall()


def test_two_merges_of_one_pair_at_once_leave_one_survivor(committed: str, cache_dir: Path) -> None:
    headers = writer_headers(committed)
    with TestClient(create_app(settings_for(committed, cache_dir))) as client:
        for round_ in range(3):
            a = create(client, headers, f"pit {round_}", 0.0001 * round_)
            b = create(client, headers, f"pit {round_} bis", 0.0001 * round_ + 0.00005)

            def merge(source: str, target: str) -> int:
                body = {"into": target, "reason": "one pit"}
                return client.post(
                    f"{ITEMS}/{source}/merge", json=body, headers=headers
                ).status_code

            # Crossed (A into B, B into A) and twice the same way.
            statuses = at_once({"ab": partial(merge, a, b), "ba": partial(merge, b, a)})
            assert sorted(statuses.values()) == [200, 409], statuses
            current = query(
                committed,
                "SELECT public_id FROM sites WHERE public_id = ANY(%s) AND status <> 'retired'",
                [a, b],
            )
            assert len(current) == 1, "exactly one survivor"
            survivor = current[0][0]
            merged = b if survivor == a else a
            redirects = query(
                committed,
                "SELECT r.public_id, s.public_id FROM site_redirects r JOIN sites s "
                "ON s.id = r.site_id WHERE r.public_id = ANY(%s)",
                [a, b],
            )
            assert redirects == [(merged, survivor)]
            c = create(client, headers, f"pit {round_} ter", 0.0001 * round_ + 0.00007)
            twice = at_once({"1": partial(merge, c, survivor), "2": partial(merge, c, survivor)})
            assert sorted(twice.values()) == [200, 409], twice
            entries = query(
                committed,
                "SELECT action FROM site_versions v JOIN sites s ON s.id = v.site_id "
                "WHERE s.public_id = %s ORDER BY v.dataset_version, v.id",
                c,
            )
            assert [e[0] for e in entries] == ["created", "merged_into"], "merged once"


def test_a_merge_with_a_stale_etag_loses_and_writes_nothing(
    committed: str, cache_dir: Path
) -> None:
    headers = writer_headers(committed)
    with TestClient(create_app(settings_for(committed, cache_dir))) as client:
        a = create(client, headers, "old name", 0.0)
        b = create(client, headers, "other", 0.00005)
        stale = client.get(f"{ITEMS}/{a}").headers["etag"]
        fresh = client.patch(
            f"{ITEMS}/{a}",
            json={"properties": {"name": "new name"}},
            headers={**headers, "If-Match": stale, "Content-Type": "application/merge-patch+json"},
        )
        assert fresh.status_code == 200

        def state() -> list[Any]:
            return [
                query(committed, "SELECT sites_version FROM dataset_state"),
                query(committed, "SELECT count(*) FROM site_versions"),
                query(committed, "SELECT count(*) FROM site_redirects"),
                query(committed, "SELECT count(*) FROM observation_moves"),
                query(
                    committed,
                    "SELECT public_id, status, version, aliases FROM sites ORDER BY id",
                ),
            ]

        before = state()
        refused = client.post(
            f"{ITEMS}/{a}/merge",
            json={"into": b, "reason": "dup"},
            headers={**headers, "If-Match": stale},
        )
        assert refused.status_code == 412, refused.text
        assert refused.json()["code"] == "stale_etag"
        assert state() == before, "nothing half-written"
        current = client.get(f"{ITEMS}/{a}").headers["etag"]
        accepted = client.post(
            f"{ITEMS}/{a}/merge",
            json={"into": b, "reason": "dup"},
            headers={**headers, "If-Match": current},
        )
        assert accepted.status_code == 200, accepted.text


def test_dataset_versions_follow_commit_order_without_gaps(committed: str, cache_dir: Path) -> None:
    headers = writer_headers(committed)
    with TestClient(create_app(settings_for(committed, cache_dir))) as client:
        start = query(committed, "SELECT sites_version FROM dataset_state")[0][0]
        created = at_once(
            {
                str(i): (
                    lambda i=i: client.post(  # type: ignore[misc]
                        ITEMS, json=site_feature(*BERBERATI_CAF, name=f"s{i}"), headers=headers
                    )
                )
                for i in range(6)
            }
        )
        versions = sorted(int(r.headers["dataset-version"]) for r in created.values())
        assert versions == list(range(start + 1, start + 7)), "one number each, no gap"
    # A writer that takes no number itself (plain SQL) still gets one, at its commit.
    libpq = committed.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq) as connection:
        connection.execute(
            "UPDATE sites SET source = 'by hand' WHERE id = (SELECT min(id) FROM sites)"
        )
        inside = connection.execute("SELECT sites_version FROM dataset_state").fetchone()
        assert inside == (start + 6,), "not before the commit"
    rows = query(committed, "SELECT version FROM dataset_versions ORDER BY version DESC LIMIT 1")
    assert rows == [(start + 7,)]
    order = query(
        committed,
        "SELECT version FROM dataset_versions WHERE version > %s ORDER BY committed_at, version",
        start,
    )
    assert [v for (v,) in order] == list(range(start + 1, start + 8)), "times follow versions"
