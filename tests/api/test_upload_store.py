"""The set-based store path: the same stored features as the row trigger, rows as progress,
revisited sites rewritten only when something changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.queries import Caller
from app.services.boundary_state import BoundaryCache
from app.services.ingest import UploadRequest, ingest
from app.settings import Settings
from bench.bench_read_survey import kobo_csv

CALLER = Caller(role="admin", name="store test")


def run(
    session: Session, settings: Settings, cache: BoundaryCache, data: bytes, name: str, **kw: Any
) -> dict[str, Any]:
    state = cache.current(session)
    assert state is not None
    outcome = ingest(
        session, state, settings, UploadRequest(data=data, filename=name), CALLER, **kw
    )
    return outcome.report


def test_stored_features_equal_what_the_trigger_writes(
    session: Session, settings: Settings, boundary_cache: BoundaryCache
) -> None:
    report = run(session, settings, boundary_cache, kobo_csv(300, seed=11), "store.csv")
    assert report["counts"]["sites_created"] > 250
    ids = [row["site"] for row in report["rows"]]
    stored = dict(
        session.execute(
            text("SELECT public_id, feature_json FROM sites WHERE public_id = ANY(:ids)"),
            {"ids": ids},
        ).all()
    )
    assert len(stored) == report["counts"]["sites_created"]
    # Rewrite through the row trigger (no change of data, so the same text is expected).
    session.execute(text("UPDATE sites SET id = id WHERE public_id = ANY(:ids)"), {"ids": ids})
    rewritten = dict(
        session.execute(
            text("SELECT public_id, feature_json FROM sites WHERE public_id = ANY(:ids)"),
            {"ids": ids},
        ).all()
    )
    assert rewritten == stored
    distances = session.execute(
        text(
            "SELECT count(*) FROM site_border_distances d JOIN sites s ON s.id = d.site_id "
            "WHERE s.public_id = ANY(:ids)"
        ),
        {"ids": ids},
    ).scalar_one()
    assert distances > 0, "border distances of the new sites are stored"


def test_progress_is_told_rows_when_it_takes_them(
    session: Session, settings: Settings, boundary_cache: BoundaryCache
) -> None:
    plain: list[str] = []
    run(session, settings, boundary_cache, kobo_csv(40, seed=12), "a.csv", progress=plain.append)
    assert plain == ["reading", "validating", "matching and measuring", "storing", "done"]

    told: list[tuple[str, int | None]] = []

    def with_rows(stage: str, rows: int | None = None) -> None:
        told.append((stage, rows))

    run(session, settings, boundary_cache, kobo_csv(40, seed=13), "b.csv", progress=with_rows)
    assert told == [
        ("reading", None),
        ("validating", 40),
        ("matching and measuring", 40),
        ("storing", 40),
        ("done", None),
    ]


def test_revisits_rewrite_only_sites_that_change(
    session: Session, settings: Settings, boundary_cache: BoundaryCache
) -> None:
    first = kobo_csv(50, seed=14)
    report = run(session, settings, boundary_cache, first, "first.csv")
    ids = sorted({row["site"] for row in report["rows"]})

    def versions() -> dict[str, tuple[int, str]]:
        rows = session.execute(
            text("SELECT public_id, version, feature_json FROM sites WHERE public_id = ANY(:ids)"),
            {"ids": ids},
        )
        return {public_id: (version, feature) for public_id, version, feature in rows}

    before = versions()
    # The same places, names and dates again (another file: a different submission column).
    same = first.replace(b'"_index"', b'"_index2"')
    again = run(session, settings, boundary_cache, same, "again.csv")
    assert again["counts"]["sites_matched"] == len(ids)
    assert versions() == before, "nothing changed, nothing rewritten"

    renamed = first.replace(b'"Site ', b'"Chantier revisit ').replace(b'"_index"', b'"_i3"')
    run(session, settings, boundary_cache, renamed, "renamed.csv")
    after = versions()
    changed = [i for i in ids if after[i] != before[i]]
    assert changed, "new names become aliases"
    for public_id in changed:
        version, feature = after[public_id]
        assert version == before[public_id][0] + 1
        assert "Chantier revisit" in feature, "the stored feature shows the new alias"


def test_a_large_upload_into_a_table_believed_small_refreshes_its_statistics(
    session: Session, settings: Settings, boundary_cache: BoundaryCache
) -> None:
    """The foreign-key checks after the new sites are planned from ``sites``' statistics: an
    upload adding more sites than the planner believes there are analyses the table first,
    inside its transaction (the rows it inserted count)."""
    from app.db import ingest_store

    session.execute(text("ANALYZE sites"))  # the test database: believed (nearly) empty
    believed = "SELECT reltuples FROM pg_class WHERE oid = 'sites'::regclass"
    assert session.execute(text(believed)).scalar_one() < ingest_store.STATISTICS_CHECK_ROWS
    rows = ingest_store.STATISTICS_CHECK_ROWS + 500
    report = run(session, settings, boundary_cache, kobo_csv(rows, seed=5), "large.csv")
    created = report["counts"]["sites_created"]
    assert created >= ingest_store.STATISTICS_CHECK_ROWS
    assert session.execute(text(believed)).scalar_one() >= created
    # a small upload leaves the statistics alone
    assert not ingest_store.refresh_site_statistics(session, 10)


def test_new_sites_go_in_in_file_order_with_ascending_ids(
    session: Session, settings: Settings, boundary_cache: BoundaryCache
) -> None:
    """The new sites' insert has no sort: their ids follow the file's rows, and the rows lie
    in the table in id order (what pages by id read), as the staging table was written."""
    report = run(session, settings, boundary_cache, kobo_csv(400, seed=12), "order.csv")
    created = [row["site"] for row in report["rows"] if row["outcome"] == "created"]
    assert len(created) > 300
    stored = session.execute(
        text("SELECT public_id, id FROM sites WHERE public_id = ANY(:ids) ORDER BY ctid"),
        {"ids": created},
    ).all()
    first_seen = list(dict.fromkeys(created))  # a site made by a row, later rows matching it
    assert [public_id for public_id, _ in stored] == first_seen
    ids = [site_id for _, site_id in stored]
    assert ids == sorted(ids)
