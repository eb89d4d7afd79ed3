"""Writers of sites hold the area an upload plans in (``app.db.uploads.lock_area``): an upload
reads the sites near its points, then creates what it did not find and visits what it found,
so a merge or a new site in that area meanwhile would go unseen (a visit left on a
merged-away site, found by a helper racing an upload and a merge, 9 runs in 9). Committed
data and real sessions: the locks are transactions', which the tests' one-transaction session
cannot show."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import psycopg
import pytest
from sqlalchemy import exc, text
from sqlalchemy.orm import Session, sessionmaker

from app.db import uploads as upload_repo
from app.db.engine import make_engine, make_sessionmaker
from app.queries import Caller
from app.services import curation, site_edits
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites

ADMIN = Caller(role="admin", name="t")
S, T = (16.60, 4.95), (16.6005, 4.95)  # 55 m apart, one place twice


@pytest.fixture
def sessions(
    database_copy: Callable[[str], str], cache_dir: Path
) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_copy("arealock"), pool_size=3)
    yield make_sessionmaker(engine)
    engine.dispose()


def _create(session: Session, *points: tuple[float, float]) -> list[str]:
    state = BoundaryCache().current(session)
    assert state is not None
    drafts = [SiteDraft(kind="mine", name=f"p{i}", lon=x, lat=y) for i, (x, y) in enumerate(points)]
    return [site.public_id for site in create_sites(session, state, drafts, ADMIN)]


@contextlib.contextmanager
def impatient(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose lock waits fail at once (a wait shows as LockNotAvailable)."""
    with sessions() as session:
        session.execute(text("SET lock_timeout = '300ms'"))
        yield session


def waited(call: Callable[[], object]) -> bool:
    try:
        call()
    except exc.OperationalError as error:
        if isinstance(error.orig, psycopg.errors.LockNotAvailable):
            return True
        raise
    return False


def test_a_merge_and_a_new_site_wait_for_an_upload_planning_in_their_area(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        merged, survivor = _create(session, S, T)
    with sessions() as upload:
        upload_repo.lock_area(upload, np.array([S[0]]), np.array([S[1]]))  # planning there
        with impatient(sessions) as other:
            assert waited(lambda: curation.merge(other, merged, survivor, "one place", ADMIN))
        with impatient(sessions) as other:
            assert waited(lambda: _create(other, (16.6001, 4.9501)))
        with impatient(sessions) as other:  # elsewhere in the region: no wait
            assert not waited(lambda: _create(other, (22.0, 7.0)))
        upload.rollback()
    with impatient(sessions) as session:  # the upload is over: the merge goes through
        assert not waited(lambda: curation.merge(session, merged, survivor, "one place", ADMIN))


def test_an_edit_moving_a_site_waits_for_an_upload_planning_where_it_goes_or_leaves(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        (far,) = _create(session, (22.0, 7.0))

    def move_to(point: tuple[float, float]) -> Callable[[Session], object]:
        def edit(session: Session) -> object:
            state = BoundaryCache().current(session)
            assert state is not None
            return site_edits.edit_site(
                session,
                state,
                far,
                site_edits.Precondition(any_version=True),
                lambda current: replace(current.draft, lon=point[0], lat=point[1]),
                ADMIN,
            )

        return edit

    with sessions() as upload:
        upload_repo.lock_area(upload, np.array([S[0]]), np.array([S[1]]))
        with impatient(sessions) as other:  # into the upload's area
            assert waited(lambda: move_to(S)(other))
        with impatient(sessions) as other:  # elsewhere, far from it
            assert not waited(lambda: move_to((22.5, 7.5))(other))
        upload.rollback()
    with sessions() as upload:  # the upload plans where the site now is
        upload_repo.lock_area(upload, np.array([22.5]), np.array([7.5]))
        with impatient(sessions) as other:  # moving it out waits too
            assert waited(lambda: move_to((23.0, 8.0))(other))
        upload.rollback()


def test_a_restore_waits_for_any_upload_planning(sessions: sessionmaker[Session]) -> None:
    """A restore (and a split) learns its point only under its row lock: it holds the whole
    region first, so it waits for an upload planning anywhere, and goes through after it."""
    with sessions() as session:
        (far,) = _create(session, (23.0, 8.0))
        site_edits.retire_site(
            session, far, site_edits.Precondition(any_version=True), "gone", ADMIN
        )

    def restore(session: Session) -> object:
        state = BoundaryCache().current(session)
        assert state is not None
        return curation.restore(session, state, far, "came back", ADMIN)

    with sessions() as upload:
        upload_repo.lock_area(upload, np.array([S[0]]), np.array([S[1]]))
        with impatient(sessions) as other:
            assert waited(lambda: restore(other))
        upload.rollback()
    with impatient(sessions) as session:
        assert not waited(lambda: restore(session))
