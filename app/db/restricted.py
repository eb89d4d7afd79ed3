"""Restricted columns declared by an upload (0012): one set-based statement at store time."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

# In one statement: the upload remembers its declaration; each of its observations keeps the
# declared columns' values in ``restricted`` (out of the public ``attributes``); each site it
# touched gets the values of its latest visit in this upload merged into ``sites.restricted``
# (a later visit's value replaces an earlier one, columns not named again are kept).
RECORD_UPLOAD = text(
    """
    WITH declared AS (
        UPDATE uploads SET restricted_columns = CAST(:columns AS text[])
        WHERE id = :upload_id
        RETURNING id
    ), moved AS (
        UPDATE observations AS o
        SET restricted = coalesce(
                (SELECT jsonb_object_agg(key, value) FROM jsonb_each(o.attributes)
                 WHERE key = ANY(CAST(:columns AS text[]))),
                '{}'::jsonb),
            attributes = o.attributes - CAST(:columns AS text[])
        FROM declared
        WHERE o.upload_id = declared.id
        RETURNING o.site_id, o.restricted, o.observed_on, o.row_number
    ), latest AS (
        SELECT DISTINCT ON (site_id) site_id, restricted
        FROM moved
        WHERE restricted <> '{}'::jsonb
        ORDER BY site_id, observed_on DESC NULLS LAST, row_number DESC
    )
    UPDATE sites AS s
    SET restricted = s.restricted || latest.restricted
    FROM latest
    WHERE s.id = latest.site_id
    """
)


def record_upload(session: Session, upload_id: int, columns: Sequence[str]) -> None:
    session.execute(RECORD_UPLOAD, {"upload_id": upload_id, "columns": list(columns)})


def site_country(session: Session, site_id: int) -> str | None:
    """The country a stored site lies in (for a scoped writer's check)."""
    row = session.execute(text("SELECT country_iso3 FROM sites WHERE id = :id"), {"id": site_id})
    return row.scalar_one_or_none()
