"""Shared fixtures: a real PostGIS for the whole run, one rolled-back transaction per test.

Databases: a template is migrated and loaded with the Natural Earth boundaries once per run;
the test database is copied from it (``CREATE DATABASE ... TEMPLATE``, a file copy), and
end-to-end tests that need committed data get copies of their own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from app.api.deps import get_read_session, get_session, get_session_factory
from app.db import migrations
from app.db.engine import make_engine, make_sessionmaker
from app.main import create_app
from app.services import boundaries as boundary_service
from app.services import keys as key_service
from app.services.boundary_state import BoundaryCache
from app.settings import PROJECT_ROOT, Settings
from tests.support.pg import Server, start_server

SHARED = PROJECT_ROOT.parent / "shared"
TEST_BOUNDARY_SOURCE = "natural-earth-10m"
RUN_ID = f"{os.getpid()}_{secrets.token_hex(3)}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    server = start_server()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """Downloads (boundaries, web assets) are shared across runs: they are pinned by checksum."""
    return PROJECT_ROOT / ".borderlens"


TEST_CLIENT_HOST = "testserver"  # the Host Starlette's TestClient sends


def settings_for(url: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=url,
        data_dir=data_dir,
        boundary_source=TEST_BOUNDARY_SOURCE,
        allowed_hosts=[TEST_CLIENT_HOST],  # not allowed by default: the tests say so here
        # every in-process request comes from one address; tests of the limits set their own
        rate_limit_per_key="none",
        rate_limit_anonymous="none",
        # in-process tests get the upload's answer at once; the tests of uploads as jobs set
        # the threshold themselves or send `Prefer: respond-async`
        upload_async_bytes=1 << 40,
    )


@pytest.fixture(scope="session")
def template_db(pg_server: Server, cache_dir: Path) -> Iterator[str]:
    """A database migrated to head with the Natural Earth boundaries loaded (and active)."""
    name = f"bl_tpl_{RUN_ID}"
    pg_server.create_database(name)
    engine = make_engine(pg_server.url(name), pool_size=1)
    try:
        migrations.upgrade(engine)
        with make_sessionmaker(engine)() as session:
            settings = settings_for(pg_server.url(name), cache_dir)
            boundary_service.load_source(session, settings, TEST_BOUNDARY_SOURCE)
    finally:
        engine.dispose()
    yield name
    pg_server.drop_database(name)


@pytest.fixture(scope="session")
def database_copy(pg_server: Server, template_db: str) -> Iterator[Callable[[str], str]]:
    """Make a throw-away copy of the template; returns its URL. Dropped at the end of the run."""
    made: list[str] = []

    def copy(label: str) -> str:
        name = f"bl_{label}_{RUN_ID}_{len(made)}"
        pg_server.create_database(name, template=template_db)
        made.append(name)
        return pg_server.url(name)

    yield copy
    for name in made:
        pg_server.drop_database(name)


@pytest.fixture(scope="session")
def engine(database_copy: Callable[[str], str]) -> Iterator[Engine]:
    engine = make_engine(database_copy("test"), pool_size=2)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        transaction = conn.begin()
        yield conn
        transaction.rollback()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """A session inside the test's transaction: a service's commit only releases a savepoint."""
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        yield session


@pytest.fixture
def settings(engine: Engine, cache_dir: Path) -> Settings:
    return settings_for(engine.url.render_as_string(hide_password=False), cache_dir)


@pytest.fixture
def app(settings: Settings, session: Session) -> FastAPI:
    """The real application, its database session bound to the test's transaction."""
    application = create_app(settings)
    application.dependency_overrides[get_session] = lambda: session
    application.dependency_overrides[get_read_session] = lambda: session
    application.dependency_overrides[get_session_factory] = lambda: (
        lambda: contextlib.nullcontext(session)
    )
    return application


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=True)


@pytest.fixture
def boundary_cache() -> BoundaryCache:
    return BoundaryCache()


@pytest.fixture
def api_key(session: Session) -> Callable[..., dict[str, str]]:
    """``api_key("researcher")`` -> an Authorization header for a fresh key of that role."""

    def make(role: str, countries: list[str] | None = None) -> dict[str, str]:
        created = key_service.create_key(
            session, name=f"test {role}", role=role, countries=countries or []
        )
        return {"Authorization": f"Bearer {created.key}"}

    return make


class _ServerErrors(logging.Handler):
    """Collects every unhandled error the application answers with a 500."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="session", autouse=True)
def no_server_errors() -> Iterator[None]:
    """No request of the whole in-process suite may end in a 500 (issue 8: no 5xx anywhere in
    the suite's logs); servers in subprocesses are checked by their own tests."""
    handler = _ServerErrors()
    logger = logging.getLogger("app.errors")
    logger.addHandler(handler)
    yield
    logger.removeHandler(handler)
    messages = [
        f"{record.getMessage()}: {record.exc_info[1]!r}" if record.exc_info else record.getMessage()
        for record in handler.records
    ]
    assert not messages, f"{len(messages)} unhandled server error(s): {messages[:5]}"
