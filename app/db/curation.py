"""SQL of curation (issue 11): merging, splitting, restoring and retiring sites, taking back
an upload, and the review queue of likely duplicates. Set-based: one statement per step,
whatever the number of observations involved."""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, func, select, text, update
from sqlalchemy.orm import Session

from app.db.models import RETIRED, Site, Upload
from app.db.regional_models import Actor, Route, ZoneSet

sites = typing.cast(Table, Site.__table__)
uploads = typing.cast(Table, Upload.__table__)


@dataclass(frozen=True)
class LockedSite:
    id: int
    public_id: str
    version: int
    status: str
    kind: str
    name: str
    country_iso3: str | None


def lock_sites(session: Session, public_ids: Sequence[str]) -> dict[str, LockedSite]:
    """Lock these sites' rows until the transaction ends, always in id order, so two
    transactions locking the same pair (two merges of A and B at once) never deadlock: the
    second waits for the first, then sees what it did."""
    c = sites.c
    rows = session.execute(
        select(c.id, c.public_id, c.version, c.status, c.kind, c.name, c.country_iso3)
        .where(c.public_id.in_(list(public_ids)))
        .order_by(c.id)
        .with_for_update()
    )
    return {row.public_id: LockedSite(**row._asdict()) for row in rows}


def merge_into(session: Session, merged: int, survivor: int, version: int, reason: str) -> int:
    """Fold site ``merged`` into ``survivor``: names and aliases become the survivor's aliases,
    minerals and observed dates are united, observations move (each move kept at
    ``version``), the merged site is retired and its id (and any id that already redirected
    to it) redirects to the survivor. Returns how many observations moved."""
    params = {"merged": merged, "survivor": survivor, "version": version, "reason": reason}
    session.execute(
        text(
            """
            UPDATE sites s SET
                aliases = ARRAY(
                    SELECT DISTINCT a FROM unnest(s.aliases || m.aliases || ARRAY[m.name]) AS a
                    WHERE a IS NOT NULL AND lower(a) <> lower(s.name) ORDER BY 1),
                minerals = ARRAY(SELECT DISTINCT unnest(s.minerals || m.minerals) ORDER BY 1),
                first_observed = LEAST(s.first_observed, m.first_observed),
                last_observed = GREATEST(s.last_observed, m.last_observed),
                updated_at = now()
            FROM sites m WHERE s.id = :survivor AND m.id = :merged
            """
        ),
        params,
    )
    moved = move_observations(session, merged, survivor, version, None)
    session.execute(
        update(sites)
        .where(sites.c.id == merged)
        .values(status=RETIRED, retired_at=func.now(), retired_reason=reason, updated_at=func.now())
    )
    session.execute(
        text("UPDATE site_redirects SET site_id = :survivor WHERE site_id = :merged"), params
    )
    session.execute(
        text(
            "INSERT INTO site_redirects (public_id, site_id, dataset_version) "
            "SELECT public_id, :survivor, :version FROM sites WHERE id = :merged"
        ),
        params,
    )
    return moved


def move_observations(
    session: Session, source: int, target: int, version: int, only: Sequence[int] | None
) -> int:
    """Move observations of ``source`` (all, or ``only`` these ids) to ``target``, keeping
    each move; returns how many moved."""
    params: dict[str, Any] = {"source": source, "target": target, "version": version}
    chosen = ""
    if only is not None:
        chosen = " AND id = ANY(:only)"
        params["only"] = list(only)
    session.execute(
        text(
            "INSERT INTO observation_moves (observation_id, from_site_id, to_site_id, "
            f"dataset_version) SELECT id, :source, :target, :version FROM observations "
            f"WHERE site_id = :source{chosen}"
        ),
        params,
    )
    result = session.execute(
        text(f"UPDATE observations SET site_id = :target WHERE site_id = :source{chosen}"),
        params,
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def observation_ids(
    session: Session, site_id: int, feature_ids: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """Row ids of observations of ``site_id`` named by (upload public id, row number)."""
    if not feature_ids:
        return {}
    rows = session.execute(
        text(
            "SELECT u.public_id, o.row_number, o.id FROM observations o "
            "JOIN uploads u ON u.id = o.upload_id "
            "JOIN unnest(CAST(:uploads AS text[]), CAST(:rows AS int[])) AS w(upload, row_number) "
            "ON w.upload = u.public_id AND w.row_number = o.row_number "
            "WHERE o.site_id = :site"
        ),
        {
            "uploads": [u for u, _ in feature_ids],
            "rows": [r for _, r in feature_ids],
            "site": site_id,
        },
    )
    return {(str(u), int(r)): int(i) for u, r, i in rows}


def observation_count(session: Session, site_id: int) -> int:
    value = session.execute(
        text("SELECT count(*) FROM observations WHERE site_id = :site"), {"site": site_id}
    ).scalar_one()
    return int(value)


@dataclass(frozen=True)
class SplitSeed:
    """What a new site split off from observations starts from: the most accurate point
    (then the latest), the most frequent name, the minerals and dates of those visits."""

    lon: float
    lat: float
    accuracy_m: float | None
    name: str | None
    minerals: list[str]
    first_observed: dt.date | None
    last_observed: dt.date | None


def split_seed(session: Session, observation_ids: Sequence[int]) -> SplitSeed:
    row = (
        session.execute(
            text(
                """
                SELECT
                    (SELECT ST_X(geom) FROM observations WHERE id = ANY(:ids)
                     ORDER BY accuracy_m NULLS LAST, observed_on DESC NULLS LAST, id LIMIT 1)
                     AS lon,
                    (SELECT ST_Y(geom) FROM observations WHERE id = ANY(:ids)
                     ORDER BY accuracy_m NULLS LAST, observed_on DESC NULLS LAST, id LIMIT 1)
                     AS lat,
                    (SELECT accuracy_m FROM observations WHERE id = ANY(:ids)
                     ORDER BY accuracy_m NULLS LAST, observed_on DESC NULLS LAST, id LIMIT 1)
                     AS accuracy_m,
                    (SELECT name FROM observations WHERE id = ANY(:ids) AND name IS NOT NULL
                     GROUP BY name ORDER BY count(*) DESC, name LIMIT 1) AS name,
                    ARRAY(SELECT DISTINCT m FROM observations, unnest(minerals) AS m
                          WHERE id = ANY(:ids) ORDER BY 1) AS minerals,
                    (SELECT min(observed_on) FROM observations WHERE id = ANY(:ids))
                     AS first_observed,
                    (SELECT max(observed_on) FROM observations WHERE id = ANY(:ids))
                     AS last_observed
                """
            ),
            {"ids": list(observation_ids)},
        )
        .mappings()
        .one()
    )
    return SplitSeed(**{k: row[k] for k in SplitSeed.__dataclass_fields__})


def refresh_observed_dates(session: Session, site_ids: Sequence[int]) -> None:
    """First and last observed from the site's remaining observations (sites with none keep
    theirs: a site made by hand has dates without visits)."""
    session.execute(
        text(
            """
            UPDATE sites s SET first_observed = o.first_seen, last_observed = o.last_seen,
                               updated_at = now()
            FROM (SELECT site_id, min(observed_on) AS first_seen, max(observed_on) AS last_seen
                  FROM observations WHERE site_id = ANY(:ids) GROUP BY site_id) o
            WHERE s.id = o.site_id
              AND (s.first_observed, s.last_observed) IS DISTINCT FROM (o.first_seen, o.last_seen)
            """
        ),
        {"ids": list(site_ids)},
    )


def unretire(session: Session, site_id: int, status: str) -> None:
    session.execute(
        update(sites)
        .where(sites.c.id == site_id)
        .values(status=status, retired_at=None, retired_reason=None, updated_at=func.now())
    )


def retire(session: Session, site_ids: Sequence[int], reason: str) -> None:
    session.execute(
        update(sites)
        .where(sites.c.id.in_(list(site_ids)), sites.c.status != RETIRED)
        .values(status=RETIRED, retired_at=func.now(), retired_reason=reason, updated_at=func.now())
    )


# -- taking back an upload -----------------------------------------------------------------


@dataclass(frozen=True)
class LockedUpload:
    id: int
    public_id: str
    api_key_id: int | None
    dataset_version: int | None
    retracted_at: dt.datetime | None
    retraction: dict[str, Any] | None


def lock_upload(session: Session, public_id: str) -> LockedUpload | None:
    c = uploads.c
    row = session.execute(
        select(c.id, c.public_id, c.api_key_id, c.dataset_version, c.retracted_at, c.retraction)
        .where(c.public_id == public_id)
        .with_for_update()
    ).one_or_none()
    return None if row is None else LockedUpload(**row._asdict())


def regional_rows(session: Session, upload_id: int) -> dict[str, int]:
    """How many routes, zone sets and actors an upload brought (uploads of those targets),
    by collection; empty for an upload of sites."""
    counts: dict[str, int] = {}
    for name, table in (("routes", Route), ("zone sets", ZoneSet), ("actors", Actor)):
        found = session.execute(
            select(func.count()).where(table.__table__.c.upload_id == upload_id)
        ).scalar_one()
        if found:
            counts[name] = int(found)
    return counts


@dataclass(frozen=True)
class UploadSites:
    """The sites an upload touched: those only it made and nobody touched since (removed),
    and the others (kept), each with why."""

    removed: list[tuple[int, str]]
    kept: list[tuple[int, str, str]]  # (id, public id, why)


def upload_sites(session: Session, upload: LockedUpload) -> UploadSites:
    rows = session.execute(
        text(
            """
            WITH touched AS (
                SELECT site_id, bool_or(outcome = 'created') AS created
                FROM observations WHERE upload_id = :upload GROUP BY site_id
            )
            SELECT s.id, s.public_id, t.created, s.status,
                   EXISTS (SELECT 1 FROM observations o
                           WHERE o.site_id = s.id AND o.upload_id <> :upload) AS other_uploads,
                   EXISTS (SELECT 1 FROM site_versions h
                           WHERE h.site_id = s.id AND h.dataset_version > :since
                             AND h.upload_id IS DISTINCT FROM :upload) AS touched_since
            FROM touched t JOIN sites s ON s.id = t.site_id
            ORDER BY s.id
            """
        ),
        {"upload": upload.id, "since": upload.dataset_version or 0},
    )
    removed: list[tuple[int, str]] = []
    kept: list[tuple[int, str, str]] = []
    for site_id, public_id, created, status, other_uploads, touched_since in rows:
        if not created:
            kept.append((site_id, public_id, "matched"))
        elif other_uploads:
            kept.append((site_id, public_id, "observed_by_other_uploads"))
        elif touched_since or status == RETIRED:
            kept.append((site_id, public_id, "changed_since"))
        else:
            removed.append((site_id, public_id))
    return UploadSites(removed, kept)


def remove_upload_observations(session: Session, upload_id: int, version: int) -> int:
    """Keep the upload's observations in ``retracted_observations`` (reads as of earlier
    versions still show them), then delete them; returns how many."""
    session.execute(
        text(
            "INSERT INTO retracted_observations (id, upload_id, site_id, row_number, outcome, "
            "observed_on, geom, accuracy_m, name, kind, minerals, attributes, created_at, "
            "dataset_version) SELECT id, upload_id, site_id, row_number, outcome, observed_on, "
            "geom, accuracy_m, name, kind, minerals, attributes, created_at, :version "
            "FROM observations WHERE upload_id = :upload"
        ),
        {"upload": upload_id, "version": version},
    )
    result = session.execute(
        text("DELETE FROM observations WHERE upload_id = :upload"), {"upload": upload_id}
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def mark_retracted(
    session: Session, upload_id: int, reason: str, key_id: int | None, summary: dict[str, Any]
) -> None:
    session.execute(
        update(uploads)
        .where(uploads.c.id == upload_id)
        .values(
            retracted_at=func.now(),
            retracted_reason=reason,
            retracted_by=key_id,
            retraction=summary,
        )
    )


# -- review queue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    a_name: str
    b_name: str
    kind: str
    a_country: str | None
    b_country: str | None
    distance_m: float
    similarity: float


def likely_duplicates(
    session: Session,
    distance_m: float,
    min_similarity: float,
    limit: int,
    countries: Sequence[str] | None,
) -> list[Pair]:
    """Pairs of current sites of one kind within ``distance_m`` (geodesic, on the sphere)
    whose accent-folded names are alike (trigram similarity), never a pair a person
    rejected; most alike first. ``countries``: only pairs with a site in one of them."""
    degrees = distance_m / 111_000 / 0.5  # a box wide enough up to 60° of latitude
    rows = session.execute(
        text(
            """
            SELECT a.public_id, b.public_id, a.name, b.name, a.kind, a.country_iso3,
                   b.country_iso3, ST_DistanceSphere(a.geom, b.geom) AS distance_m,
                   similarity(borderlens_fold(a.name), borderlens_fold(b.name)) AS alike
            FROM sites a
            JOIN sites b ON b.id > a.id AND b.kind = a.kind
                        AND b.geom && ST_Expand(a.geom, :degrees)
            WHERE a.status <> 'retired' AND b.status <> 'retired'
              AND ST_DistanceSphere(a.geom, b.geom) <= :distance
              AND similarity(borderlens_fold(a.name), borderlens_fold(b.name)) >= :alike
              AND NOT EXISTS (SELECT 1 FROM review_rejections r
                              WHERE r.site_a = a.id AND r.site_b = b.id)
              AND (CAST(:countries AS text[]) IS NULL
                   OR a.country_iso3 = ANY(CAST(:countries AS text[]))
                   OR b.country_iso3 = ANY(CAST(:countries AS text[])))
            ORDER BY alike DESC, distance_m, a.id, b.id
            LIMIT :limit
            """
        ),
        {
            "degrees": degrees,
            "distance": distance_m,
            "alike": min_similarity,
            "limit": limit,
            "countries": None if countries is None else list(countries),
        },
    )
    return [Pair(*row) for row in rows]


def reject_pair(
    session: Session, site_a: int, site_b: int, key_id: int | None, reason: str
) -> None:
    low, high = sorted((site_a, site_b))
    session.execute(
        text(
            "INSERT INTO review_rejections (site_a, site_b, key_id, reason) "
            "VALUES (:a, :b, :key, :reason) ON CONFLICT DO NOTHING"
        ),
        {"a": low, "b": high, "key": key_id, "reason": reason},
    )


def public_id_of(session: Session, site_id: int) -> str:
    return str(session.execute(select(sites.c.public_id).where(sites.c.id == site_id)).scalar_one())
