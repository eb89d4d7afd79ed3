"""The audit log, end to end: the ASGI app with its lifespan (the background flusher running)
on a committed database copy; rows counted in PostgreSQL itself."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.db.engine import make_engine, make_sessionmaker
from app.main import create_app
from app.services import keys as key_service
from tests.conftest import settings_for


@pytest.fixture(scope="module")
def database(database_copy: Callable[[str], str]) -> str:
    return database_copy("audit")


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def new_key(url: str, role: str, countries: list[str] | None = None) -> key_service.CreatedKey:
    engine = make_engine(url, pool_size=1)
    try:
        with make_sessionmaker(engine)() as session:
            return key_service.create_key(
                session, name=f"audit {role}", role=role, countries=countries or []
            )
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def served(database: str, cache_dir: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    admin = new_key(database, "admin")
    app = create_app(settings_for(database, cache_dir))
    with TestClient(app) as client:
        yield client, {"Authorization": f"Bearer {admin.key}"}


def count_rows(url: str, where: str = "true") -> int:
    with psycopg.connect(libpq(url)) as conn:
        return int(conn.execute(f"SELECT count(*) FROM audit_log WHERE {where}").fetchone()[0])  # type: ignore[index]


def test_a_bounded_load_of_10000_requests_leaves_exactly_10000_rows(
    database: str, cache_dir: Path
) -> None:
    researcher = new_key(database, "researcher")
    headers = {"Authorization": f"Bearer {researcher.key}"}
    before = count_rows(database)
    app = create_app(settings_for(database, cache_dir))
    with TestClient(app) as client:
        for i in range(9_000):
            path = ("/conformance", "/collections", "/collections/sites/items?limit=1")[i % 3]
            assert client.get(path, headers=headers).status_code == 200
        for _ in range(1_000):  # anonymous write attempts
            response = client.post("/collections/sites/items", json={"type": "Feature"})
            assert response.status_code == 401
        for _ in range(500):  # anonymous reads are not audited
            assert client.get("/conformance").status_code == 200
        assert app.state.audit_log.dropped == 0
    # leaving the client ran the shutdown, which wrote everything still queued
    assert count_rows(database) - before == 10_000
    assert count_rows(database, f"key_id = {researcher.id} AND role = 'researcher'") == 9_000
    anonymous = "key_id IS NULL AND method = 'POST' AND status = 401"
    assert count_rows(database, anonymous) >= 1_000
    one_page = f"key_id = {researcher.id} AND path = '/collections/sites/items'"
    assert count_rows(database, one_page + " AND query = 'limit=1' AND bytes > 0") == 3_000


def test_a_path_postgresql_cannot_hold_as_text_is_logged_and_stops_nothing(
    database: str, cache_dir: Path
) -> None:
    """A NUL sent as %00 in a path (or bytes that are not UTF-8) is logged as sent, and the
    requests after it are logged too (found by a helper: that row made every COPY of the
    queue fail, so nothing more was logged until a restart and the queue was lost at
    shutdown)."""
    researcher = new_key(database, "researcher")
    headers = {"Authorization": f"Bearer {researcher.key}"}
    before = count_rows(database)
    app = create_app(settings_for(database, cache_dir))
    with TestClient(app) as client:
        assert client.post("/collections/sites/items%00", json={}).status_code == 404
        assert client.get("/subscriptions/SUB-X%00", headers=headers).status_code < 500
        assert client.get("/collections/%FF%FEsites", headers=headers).status_code < 500
        for _ in range(10):
            assert client.get("/conformance", headers=headers).status_code == 200
    assert app.state.audit_log.dropped == 0
    assert count_rows(database) - before == 13
    assert count_rows(database, "path = '/collections/sites/items%00'") == 1
    assert count_rows(database, f"key_id = {researcher.id} AND path = '/conformance'") == 10


def test_a_row_the_table_refuses_is_dropped_alone(database: str) -> None:
    """Should a row still be refused (a value the table cannot hold), it is dropped and
    counted, and the rows queued with it are written."""
    import datetime as dt

    from app.services.audit_log import AuditLog

    engine = make_engine(database, pool_size=1)
    log = AuditLog()
    try:
        log.start(engine)
        log.stop()  # the flusher is not needed: flush() writes what is queued
        at = dt.datetime.now(dt.UTC)
        good = (at, None, None, "GET", "/queued-ok", "", 200, None, False, [], 0, 1.0)
        refused = (at, None, None, "GET", "/queued-\x00", "", 200, None, False, [], 0, 1.0)
        log._queue.extend([good, refused, good])
        assert log.flush() == 2
        assert log.dropped == 1 and log.queued == 0
    finally:
        engine.dispose()
    assert count_rows(database, "path = '/queued-ok'") == 2


def test_the_log_is_append_only_except_the_retention_purge(database: str) -> None:
    with psycopg.connect(libpq(database), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO audit_log (at, method, path, status, duration_ms) "
            "VALUES (now() - interval '400 days', 'GET', '/old', 200, 1.0)"
        )
        for statement in ("UPDATE audit_log SET status = 200", "DELETE FROM audit_log"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
    from app.db import audit as audit_repo

    engine = make_engine(database, pool_size=1)
    try:
        assert audit_repo.purge_older_than(engine, 365) == 1
    finally:
        engine.dispose()
    assert count_rows(database, "path = '/old'") == 0


def test_admins_filter_and_export_the_log(
    served: tuple[TestClient, dict[str, str]], database: str
) -> None:
    client, admin = served
    authority = new_key(database, "authority", ["CMR"])
    headers = {"Authorization": f"Bearer {authority.key}"}
    assert client.get("/conformance", headers=headers).status_code == 200
    # a query a spreadsheet would run as a formula, recorded as sent (its nameless parameter
    # refused: /conformance declares none but f and lang)
    assert client.get("/conformance?=1+HYPERLINK(1)", headers=headers).status_code == 400
    assert client.get("/collections/nothing", headers=headers).status_code == 404
    client.app.state.audit_log.flush()  # type: ignore[attr-defined]

    mine = client.get("/audit", params={"key": authority.id}, headers=admin).json()["entries"]
    assert [(e["path"], e["status"], e["role"]) for e in mine] == [
        ("/collections/nothing", 404, "authority"),
        ("/conformance", 400, "authority"),
        ("/conformance", 200, "authority"),
    ]
    assert mine[1]["query"] == "=1+HYPERLINK(1)"
    paged = client.get("/audit", params={"key": authority.id, "limit": 1}, headers=admin).json()
    assert len(paged["entries"]) == 1
    rest = client.get(paged["next"], headers=admin).json()["entries"]
    assert [e["id"] for e in rest] == [mine[1]["id"]]  # limit 1 of the rest
    by_path = client.get("/audit", params={"path": "/confor"}, headers=admin).json()["entries"]
    assert {e["path"] for e in by_path} == {"/conformance"}
    none = client.get("/audit", params={"since": "2999-01-01T00:00:00Z"}, headers=admin).json()
    assert none["entries"] == []
    for lax in ("0", "1700000000"):  # RFC 3339 text only: not read as a Unix time
        refused = client.get("/audit", params={"since": lax}, headers=admin)
        assert refused.status_code == 400, refused.text

    exported = client.get("/audit", params={"key": authority.id, "f": "csv"}, headers=admin)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["status"] for r in rows] == ["404", "400", "200"]
    assert rows[1]["query"] == "'=1+HYPERLINK(1)"  # neutralised (app.csv_safe)

    assert client.get("/audit", headers=headers).status_code == 403
    assert client.get("/audit").status_code == 401
