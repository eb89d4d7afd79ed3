"""Uploads and observations: provenance rows, bulk COPY of sites and visits, site matching."""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from sqlalchemy import Table, func, insert, select, text, update
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
    api_key_id: int | None


#: ``owner`` argument meaning "whoever uploaded it" (an admin's view).
ANY_OWNER: Final = None

_STORED = (
    uploads.c.id,
    uploads.c.public_id,
    uploads.c.filename,
    uploads.c.sha256,
    uploads.c.received_at,
    uploads.c.uploader,
    uploads.c.counts,
    uploads.c.report,
    uploads.c.api_key_id,
)


def _owned(statement: Any, owner: int | None) -> Any:
    """Only uploads sent with API key ``owner`` (all when ``owner`` is :data:`ANY_OWNER`)."""
    return statement if owner is ANY_OWNER else statement.where(uploads.c.api_key_id == owner)


def find_by_sha256(session: Session, sha256: str) -> StoredUpload | None:
    row = session.execute(select(*_STORED).where(uploads.c.sha256 == sha256)).one_or_none()
    return StoredUpload(*row) if row else None


def get(session: Session, public_id: str, owner: int | None) -> StoredUpload | None:
    """The upload ``public_id`` if ``owner`` sent it (any upload for :data:`ANY_OWNER`)."""
    statement = _owned(select(*_STORED).where(uploads.c.public_id == public_id), owner)
    row = session.execute(statement).one_or_none()
    return StoredUpload(*row) if row else None


def rejected_rows(session: Session, public_id: str, owner: int | None) -> tuple[bool, bytes | None]:
    """(the upload exists for ``owner``, its packed rejected rows or None)."""
    statement = _owned(
        select(uploads.c.rejected_rows).where(uploads.c.public_id == public_id), owner
    )
    row = session.execute(statement).one_or_none()
    return (False, None) if row is None else (True, row[0])


def list_recent(
    session: Session, limit: int, owner: int | None, before: str | None = None
) -> list[dict[str, Any]] | None:
    """Newest first, ``limit`` at most, those older than upload ``before`` (a public id) when
    given; None when ``before`` is not an upload ``owner`` can see."""
    statement = (
        select(
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
    if before is not None:
        found = select(uploads.c.id).where(uploads.c.public_id == before)
        before_id = session.execute(_owned(found, owner)).scalar_one_or_none()
        if before_id is None:
            return None
        statement = statement.where(uploads.c.id < before_id)
    return [dict(row._mapping) for row in session.execute(_owned(statement, owner))]


def insert_upload(session: Session, values: dict[str, Any]) -> int:
    with translate_db_errors():
        result = session.execute(insert(uploads).values(values).returning(uploads.c.id))
    return int(result.scalar_one())


def set_report(session: Session, upload_id: int, report: dict[str, Any]) -> None:
    """An upload's report, written once its rows are stored (see ``app.services.ingest``)."""
    with translate_db_errors():
        session.execute(update(uploads).where(uploads.c.id == upload_id).values(report=report))


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


# Two uploads that may match or create the same site must not plan in parallel: each reads
# the sites near its points, then inserts the ones it did not find, so two transactions that
# overlap never see each other's new sites and both create them (field case rel-02: 600 sites
# at 300 places). A unique rule on the location cannot say "same place" (two sightings of one
# mine are metres apart, and a mine and the comptoir next door are two sites), so instead each
# upload takes transaction-scoped advisory locks on the grid cells its points can match in,
# before it reads candidates; an upload in another part of the region does not wait. Two
# points within CANDIDATE_MARGIN_DEG of each other always share a locked cell (each upload
# locks every cell its points' margin boxes touch). Cells are taken in sorted order after a
# shared lock on the whole region, so two uploads never wait on each other in a cycle; an upload
# touching more than MAX_CELL_LOCKS cells takes the whole-region lock exclusively instead (one
# lock rather than thousands: PostgreSQL's lock table is small and shared by all sessions).
SITE_LOCK_NAMESPACE: Final = 0x426C5369  # advisory lock class id, "BlSi"
LOCK_CELL_DEG: Final = 1.0
MAX_CELL_LOCKS: Final = 64
WHOLE_REGION_KEY: Final = -1


def area_cells(lon: np.ndarray, lat: np.ndarray) -> list[int]:
    """Sorted keys of the LOCK_CELL_DEG cells touched by each point's candidate margin box."""
    if len(lon) == 0:
        return []

    def index(values: np.ndarray, offset: float) -> tuple[np.ndarray, np.ndarray]:
        low = np.floor((values - CANDIDATE_MARGIN_DEG + offset) / LOCK_CELL_DEG)
        high = np.floor((values + CANDIDATE_MARGIN_DEG + offset) / LOCK_CELL_DEG)
        return low.astype(np.int64), high.astype(np.int64)

    x_low, x_high = index(np.asarray(lon, dtype=float), 180.0)
    y_low, y_high = index(np.asarray(lat, dtype=float), 90.0)
    keys = [x * 1000 + y for x in (x_low, x_high) for y in (y_low, y_high)]
    return sorted(int(k) for k in np.unique(np.concatenate(keys)))


def lock_whole_region(session: Session) -> None:
    """Wait for, then hold until commit, every site lock of the region (what an upload of more
    than MAX_CELL_LOCKS cells takes): for a rare write whose points are only known once its
    rows are locked (a split, a restore), taken before them."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
        {"namespace": SITE_LOCK_NAMESPACE, "key": WHOLE_REGION_KEY},
    )


def lock_area(session: Session, lon: np.ndarray, lat: np.ndarray) -> int:
    """Wait for, then hold until commit, the site locks of the area around these points.

    Returns the number of cells locked (0 when the whole region was locked).
    """
    lock = text("SELECT pg_advisory_xact_lock(:namespace, :key)")
    cells = area_cells(lon, lat)
    if len(cells) > MAX_CELL_LOCKS:
        session.execute(lock, {"namespace": SITE_LOCK_NAMESPACE, "key": WHOLE_REGION_KEY})
        return 0
    session.execute(
        text("SELECT pg_advisory_xact_lock_shared(:namespace, :key)"),
        {"namespace": SITE_LOCK_NAMESPACE, "key": WHOLE_REGION_KEY},
    )
    for key in cells:
        session.execute(lock, {"namespace": SITE_LOCK_NAMESPACE, "key": key})
    return len(cells)


def candidate_sites(session: Session, lon: Sequence[float], lat: Sequence[float]) -> Candidates:
    """Sites within ``CANDIDATE_MARGIN_DEG`` of each point, found with the spatial index."""
    with bulk.driver(session).cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE incoming (idx integer, lon float8, lat float8) ON COMMIT DROP"
        )
        # Plain numbers travel faster than geometry text; the points are built once, below.
        with cursor.copy("COPY incoming (idx, lon, lat) FROM STDIN") as copy:
            copy.set_types(["int4", "float8", "float8"])
            for row in zip(range(len(lon)), lon, lat, strict=True):
                copy.write_row(row)
        # One spatial join for the whole upload (the index on sites.geom per point).
        cursor.execute(
            "SELECT i.idx, s.id, s.public_id, ST_X(s.geom), ST_Y(s.geom), s.name, s.kind "
            "FROM incoming i JOIN sites s "
            "ON ST_DWithin(s.geom, ST_SetSRID(ST_MakePoint(i.lon, i.lat), 4326), %s) "
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


# -- bulk writes: app.db.ingest_store (staging tables, one statement per table) ------------


def observation_counts(session: Session, site_ids: Sequence[int]) -> dict[int, int]:
    rows = session.execute(
        select(observations.c.site_id, func.count())
        .where(observations.c.site_id.in_(site_ids))
        .group_by(observations.c.site_id)
    )
    return {int(site_id): int(n) for site_id, n in rows}
