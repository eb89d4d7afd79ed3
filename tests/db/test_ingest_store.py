"""The store statements of ``app.db.ingest_store`` as PostgreSQL plans them: the stored
feature is computed inline, not by a call of the SQL function per row (which costs 2.7 times as
much on 100 000 sites; the equality of what is stored is tested in tests/api/test_upload_store)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import ingest_store


def plan_of(session: Session, statement: str, params: dict[str, object]) -> str:
    rows = session.execute(text(f"EXPLAIN (VERBOSE, COSTS OFF) {statement}"), params)
    return "\n".join(rows.scalars())


@pytest.mark.parametrize("which", ["new sites", "revisited sites"])
def test_the_feature_function_is_inlined(session: Session, which: str) -> None:
    ingest_store.insert_new_sites(session, ingest_store.NO_NEW_SITES)  # creates the staging table
    row_type = ingest_store.site_row_type(session)
    if which == "new sites":
        statement = ingest_store.new_sites_statement(row_type)
        params: dict[str, object] = {"location_origin": "test", "source": None}
    else:
        statement = ingest_store.refresh_statement(row_type)
        params = {"upload_id": 1}
    plan = plan_of(session, statement, params)
    assert "st_asgeojson" in plan.lower()  # the function's body is in the plan...
    assert "borderlens_site_feature_text(" not in plan  # ...not a call of it
