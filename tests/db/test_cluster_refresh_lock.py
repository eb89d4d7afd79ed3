"""A read of clusters while a recomputation holds its lock: committed data and real sessions
(the lock is a transaction's, so the tests' one-transaction session cannot show it)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from app.db import clusters as cluster_repo
from app.db.engine import make_engine, make_sessionmaker
from app.queries import Caller
from app.services import clusters as cluster_service
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites


@pytest.fixture
def sessions(
    database_copy: Callable[[str], str], cache_dir: Path
) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_copy("clusterlock"), pool_size=3)
    yield make_sessionmaker(engine)
    engine.dispose()


def _add(sessions: sessionmaker[Session], drafts: list[SiteDraft]) -> None:
    with sessions() as session:
        state = BoundaryCache().current(session)
        assert state is not None
        create_sites(session, state, drafts, Caller(role="admin", name="t"))


def _run(sessions: sessionmaker[Session]) -> cluster_repo.RunRecord:
    with sessions() as reader:
        return cluster_service.current_run(reader, cluster_service.DEFAULT, sessions)


def test_a_recomputation_in_progress_is_not_waited_for(
    sessions: sessionmaker[Session],
) -> None:
    """While another transaction recomputes (holds the lock), a read of changed sites gets
    the last stored clustering at once, its ``site_count`` saying which; each reader waited
    for the lock holding two connections, and with a recomputation of minutes over 180 000
    sites they took the whole pool (every route answered 500)."""
    _add(
        sessions,
        [SiteDraft(kind="mine", name=f"a{i}", lon=15.0 + i * 0.01, lat=5.0) for i in range(6)],
    )
    first = _run(sessions)
    _add(sessions, [SiteDraft(kind="mine", name="far", lon=25.0, lat=9.0)])

    @contextlib.contextmanager
    def impatient() -> Iterator[Session]:
        """A session whose lock waits fail after 5 s (a wait fails the test, not hangs it)."""
        with sessions() as session:
            session.execute(text("SET lock_timeout = '5s'"))
            yield session

    with sessions() as recomputing:
        cluster_repo.lock_refresh(recomputing)
        with impatient() as reader:
            stale = cluster_service.current_run(reader, cluster_service.DEFAULT, impatient)
        recomputing.rollback()
    assert (stale.id, stale.site_count) == (first.id, first.site_count)
    fresh = _run(sessions)  # the lock is free: recomputed with the new site
    assert fresh.site_count == first.site_count + 1
