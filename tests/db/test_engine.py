"""The engine's connections never hold a server-side prepared statement, so no statement is
ever run with a generic plan (one plan for any parameter values).

A generic plan is estimated without the values: with every site of one status, ``status <> $2``
was taken to keep one row, and an upload's spatial match became a nested loop over every
pair of points and sites (10 000 x 440 000), still running after minutes while it held the
upload lock (found in the alerts benchmark once psycopg had prepared the statement on a
pooled connection, after its fifth run there). Committed data and a real pooled connection:
what is prepared belongs to the server session, which the tests' rolled-back one shares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.db import uploads as upload_repo
from app.db.engine import make_engine
from app.queries import Caller
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites

RUNS = 12  # psycopg prepares after 5 runs, PostgreSQL weighs a generic plan after 5 more


@pytest.fixture
def pooled(database_copy: Callable[[str], str]) -> Iterator[Engine]:
    engine = make_engine(database_copy("plans"), pool_size=1)
    yield engine
    engine.dispose()


def _prepared(session: Session) -> list[tuple[str, int]]:
    rows = session.execute(text("SELECT statement, generic_plans FROM pg_prepared_statements"))
    return [(str(statement), int(generic)) for statement, generic in rows]


def test_a_statement_run_again_and_again_is_planned_for_its_values(pooled: Engine) -> None:
    """The upload's spatial match, run as an upload runs it, twelve times on one pooled
    connection over sites of one status: the same candidates each time, and no
    statement prepared on the server (with psycopg's default, it was from the sixth run)."""
    with Session(pooled) as session:
        boundaries = BoundaryCache().current(session)
        assert boundaries is not None
        drafts = [
            SiteDraft(kind="mine", name=f"P{k}", lon=14.0 + k * 0.001, lat=4.0) for k in range(20)
        ]
        create_sites(session, boundaries, drafts, Caller(role="admin", name="t"))
        session.commit()
        session.execute(text("ANALYZE sites"))  # the skew the generic estimate misread
        session.commit()
    lon, lat = [14.0 + k * 0.001 for k in range(20)], [4.0] * 20
    found = []
    for _ in range(RUNS):
        with Session(pooled) as session:  # the pool's one connection, each time
            candidates = upload_repo.candidate_sites(session, lon, lat)
            found.append(sorted(candidates.site_id.tolist()))
            session.commit()
    assert all(ids == found[0] for ids in found) and len(found[0]) >= 20
    with Session(pooled) as session:
        session.execute(text("SELECT 1 WHERE :x = 1"), {"x": 1})
        assert _prepared(session) == []


def test_queries_of_the_orm_are_not_prepared_either(pooled: Engine) -> None:
    with Session(pooled) as session:
        for k in range(RUNS):
            session.execute(
                text("SELECT count(*) FROM sites WHERE status <> :retired AND id > :k"),
                {"retired": "retired", "k": k},
            )
        assert _prepared(session) == []
