"""History entries of one change are numbered in the order of their sites, whatever order a
scan of ``sites`` returns them in (a change's events are listed by their entries' ids)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import site_history
from app.queries import Caller
from app.services.boundary_state import BoundarySet
from app.services.sites import create_sites
from tests.support.alerts import site_draft


def test_a_change_s_entries_follow_its_sites_even_after_a_row_moved(
    session: Session, boundaries: BoundarySet
) -> None:
    """A CI run listed N1's event before N0's: N0's row had been rewritten after it was
    made, and a scan of ``sites`` returns a row where its last version lies."""
    caller = Caller(role="admin", name="t")
    drafts = [site_draft(14.0 + i * 0.01, 4.0, name=f"H{i}") for i in range(3)]
    created = create_sites(session, boundaries, drafts, caller)
    ids = sorted(
        int(
            session.execute(
                text("SELECT id FROM sites WHERE public_id = :p"), {"p": c.public_id}
            ).scalar_one()
        )
        for c in created
    )
    # the first site's row rewritten: its new version lies after the others
    session.execute(text("UPDATE sites SET name = name || ' ' WHERE id = :i"), {"i": ids[0]})
    # a plain scan, as the planner may choose for a larger change
    session.execute(text("SET LOCAL enable_indexscan = off"))
    session.execute(text("SET LOCAL enable_bitmapscan = off"))
    order = session.execute(text("SELECT id FROM sites WHERE id = ANY(:ids)"), {"ids": ids})
    assert [int(i) for i in order.scalars()] != ids, "the scan returns the rewritten row last"
    site_history.record(session, ids, 1, site_history.Entry("edited"))
    entries = session.execute(
        text(
            "SELECT site_id FROM site_versions WHERE site_id = ANY(:ids) AND action = 'edited' "
            "ORDER BY id"
        ),
        {"ids": ids},
    )
    assert [int(i) for i in entries.scalars()] == ids
