"""Uploads and observations: provenance rows, bulk COPY of sites and visits, site matching."""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from app.db import bulk
from app.db.errors import translate_db_errors
from app.db.models import RETIRED, Observation, Upload

uploads = typing.cast(Table, Upload.__table__)
observations = typing.cast(Table, Observation.__table__)

# Points within this many degrees are looked at as candidate matches; the exact geodesic test
# happens in geo.matching. 0.01° is over 1 km anywhere in the region (cos 25° x 111 km).
CANDIDATE_MARGIN_DEG = 0.01


@dataclass(frozen=True)
class StoredUpload:
    id: int
    public_id: str
    filename: str
    sha256: str
    received_at: dt.datetime
    uploader: str
    counts: dict[str, Any]
    report: dict[str, Any]


_STORED = (
    uploads.c.id,
    uploads.c.public_id,
    uploads.c.filename,
    uploads.c.sha256,
    uploads.c.received_at,
    uploads.c.uploader,
    uploads.c.counts,
    uploads.c.report,
)


def find_by_sha256(session: Session, sha256: str) -> StoredUpload | None:
    row = session.execute(select(*_STORED).where(uploads.c.sha256 == sha256)).one_or_none()
    return StoredUpload(*row) if row else None


def get(session: Session, public_id: str) -> StoredUpload | None:
    row = session.execute(select(*_STORED).where(uploads.c.public_id == public_id)).one_or_none()
    return StoredUpload(*row) if row else None


def list_recent(session: Session, limit: int, before_id: int | None) -> list[dict[str, Any]]:
    statement = (
        select(
            uploads.c.id,
            uploads.c.public_id,
            uploads.c.filename,
            uploads.c.format,
            uploads.c.sha256,
            uploads.c.uploader,
            uploads.c.received_at,
            uploads.c.counts,
        )
        .order_by(uploads.c.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        statement = statement.where(uploads.c.id < before_id)
    return [dict(row._mapping) for row in session.execute(statement)]


def insert_upload(session: Session, values: dict[str, Any]) -> int:
    with translate_db_errors():
        result = session.execute(insert(uploads).values(values).returning(uploads.c.id))
    return int(result.scalar_one())


# -- site matching -----------------------------------------------------------------------


@dataclass(frozen=True)
class Candidates:
    """Sites near incoming points: aligned arrays, one entry per (observation, site) pair."""

    observation: np.ndarray
    site_id: np.ndarray
    public_id: list[str]
    lon: np.ndarray
    lat: np.ndarray
    name: list[str]
    kind: list[str]


def candidate_sites(session: Session, lon: Sequence[float], lat: Sequence[float]) -> Candidates:
    """Sites within ``CANDIDATE_MARGIN_DEG`` of each point, found with the spatial index."""
    with bulk.driver(session).cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE incoming (idx integer, geom geometry(Point, 4326)) ON COMMIT DROP"
        )
        with cursor.copy("COPY incoming (idx, geom) FROM STDIN") as copy:
            for i, (point_lon, point_lat) in enumerate(zip(lon, lat, strict=True)):
                copy.write_row((i, bulk.ewkt_point(point_lon, point_lat)))
        cursor.execute(
            "SELECT i.idx, s.id, s.public_id, ST_X(s.geom), ST_Y(s.geom), s.name, s.kind "
            "FROM incoming i JOIN sites s ON ST_DWithin(s.geom, i.geom, %s) "
            "WHERE s.status <> %s",  # a retired site takes no new visits
            (CANDIDATE_MARGIN_DEG, RETIRED),
        )
        rows = cursor.fetchall()
        cursor.execute("DROP TABLE incoming")
    if not rows:
        empty = np.array([], dtype=np.intp)
        return Candidates(empty, empty, [], np.array([]), np.array([]), [], [])
    columns = list(zip(*rows, strict=True))
    return Candidates(
        observation=np.asarray(columns[0], dtype=np.intp),
        site_id=np.asarray(columns[1], dtype=np.int64),
        public_id=list(columns[2]),
        lon=np.asarray(columns[3], dtype=float),
        lat=np.asarray(columns[4], dtype=float),
        name=list(columns[5]),
        kind=list(columns[6]),
    )


# -- bulk writes ---------------------------------------------------------------------------


# Columns an observation is copied in with, and their PostgreSQL types (geometry as EWKT).
OBSERVATION_COPY_COLUMNS: Final = {
    "upload_id": "int8",
    "site_id": "int8",
    "row_number": "int4",
    "outcome": "text",
    "observed_on": "date",
    "geom": "text",
    "accuracy_m": "float8",
    "name": "text",
    "kind": "text",
    "minerals": "text[]",
    "attributes": "jsonb",
}


def insert_observations(session: Session, rows: Sequence[Sequence[Any]]) -> None:
    bulk.copy_rows(session, "observations", OBSERVATION_COPY_COLUMNS, rows)


def refresh_matched_sites(session: Session, upload_id: int) -> int:
    """Fold this upload's observations into the sites they matched: dates, minerals, names."""
    result = session.execute(
        text(
            """
            UPDATE sites s SET
                first_observed = LEAST(s.first_observed, o.first_seen),
                last_observed = GREATEST(s.last_observed, o.last_seen),
                minerals = ARRAY(SELECT DISTINCT unnest(s.minerals || o.minerals) ORDER BY 1),
                aliases = ARRAY(
                    SELECT DISTINCT a FROM unnest(s.aliases || o.names) AS a
                    WHERE a IS NOT NULL AND lower(a) <> lower(s.name) ORDER BY 1),
                updated_at = now()
            FROM (
                SELECT site_id, min(observed_on) AS first_seen, max(observed_on) AS last_seen,
                       array_agg(DISTINCT m) FILTER (WHERE m IS NOT NULL) AS minerals,
                       array_agg(DISTINCT name) AS names
                FROM observations LEFT JOIN LATERAL unnest(minerals) AS m ON true
                WHERE upload_id = :upload_id AND outcome = 'matched'
                GROUP BY site_id
            ) o
            WHERE s.id = o.site_id
            """
        ),
        {"upload_id": upload_id},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def observation_counts(session: Session, site_ids: Sequence[int]) -> dict[int, int]:
    rows = session.execute(
        select(observations.c.site_id, func.count())
        .where(observations.c.site_id.in_(site_ids))
        .group_by(observations.c.site_id)
    )
    return {int(site_id): int(n) for site_id, n in rows}
