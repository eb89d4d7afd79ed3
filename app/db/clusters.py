"""Cluster runs: the sites version counter, stored runs, their clusters and members."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import shapely
from sqlalchemy import (
    ColumnElement,
    Float,
    Numeric,
    Table,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from app.db import bulk, dataset, features, tiles
from app.db.cql2 import SqlField
from app.db.models import RETIRED, Cluster, ClusterMember, ClusterRun, DatasetState, Site
from app.queries import Caller, FeaturePage, FeatureQuery, PageRequest
from geo.crs import OfferedCrs

runs = typing.cast(Table, ClusterRun.__table__)
clusters = typing.cast(Table, Cluster.__table__)
members = typing.cast(Table, ClusterMember.__table__)
state = typing.cast(Table, DatasetState.__table__)
sites_table = typing.cast(Table, Site.__table__)

# Any 64-bit number unique to "recompute the default clustering" (pg_advisory_xact_lock).
REFRESH_LOCK = 0x626C_636C_7573_7472


def sites_version(session: Session) -> int:
    """The dataset version (an alias of ``app.db.dataset.dataset_version``, migration 0011):
    it moves with every committed change, so a stored clustering knows it may be stale."""
    return dataset.dataset_version(session)


def lock_refresh(session: Session) -> None:
    """Serialise recomputations (held until the transaction ends)."""
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": REFRESH_LOCK})


def try_lock_refresh(session: Session) -> bool:
    """The recomputation lock if no one holds it (held until the transaction ends); False
    at once when a recomputation is running."""
    return bool(
        session.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": REFRESH_LOCK}
        ).scalar_one()
    )


@dataclass(frozen=True)
class RunRecord:
    id: int
    eps_m: float
    min_sites: int
    adapt: bool
    eps_used_m: float
    eps_tried_m: list[float]
    percolation: dict[str, Any]
    sites_version: int
    site_count: int
    boundary_source_id: str | None
    computed_at: Any


def latest_run(session: Session, eps_m: float, min_sites: int, adapt: bool) -> RunRecord | None:
    row = session.execute(
        select(*runs.c)
        .where(runs.c.eps_m == eps_m, runs.c.min_sites == min_sites, runs.c.adapt == adapt)
        .order_by(runs.c.id.desc())
        .limit(1)
    ).one_or_none()
    return RunRecord(**row._mapping) if row else None


@dataclass(frozen=True)
class ClusteringInput:
    """Every site, as parallel arrays."""

    site_id: np.ndarray
    public_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    country: np.ndarray
    kind: np.ndarray
    minerals: np.ndarray


def _objects(values: Sequence[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


def clustering_input(session: Session) -> ClusteringInput:
    with bulk.driver(session).cursor() as cursor:
        cursor.execute(
            "SELECT id, public_id, ST_X(geom), ST_Y(geom), country_iso3, kind, minerals "
            f"FROM sites WHERE status <> '{RETIRED}' ORDER BY id"  # retired sites are gone
        )
        rows = cursor.fetchall()
    ids, public, lon, lat, country, kind, minerals = (
        zip(*rows, strict=True) if rows else ((), (), (), (), (), (), ())
    )
    return ClusteringInput(
        site_id=np.asarray(ids, dtype=np.int64),
        public_id=_objects(public),
        lon=np.asarray(lon, dtype=float),
        lat=np.asarray(lat, dtype=float),
        country=_objects(country),
        kind=_objects(kind),
        minerals=_objects([tuple(m) for m in minerals]),
    )


def membership(session: Session, run_id: int) -> dict[str, frozenset[str]]:
    """cluster id -> the public ids of its sites."""
    rows = session.execute(
        text(
            "SELECT m.cluster_id, array_agg(s.public_id) FROM cluster_members m "
            "JOIN sites s ON s.id = m.site_id WHERE m.run_id = :run GROUP BY m.cluster_id"
        ),
        {"run": run_id},
    )
    return {cluster_id: frozenset(ids) for cluster_id, ids in rows}


@dataclass(frozen=True)
class StoredCluster:
    cluster_id: str
    member_ids: tuple[str, ...]
    countries: tuple[str, ...]
    kinds: tuple[str, ...]
    minerals: tuple[str, ...]
    count: int
    span_km: float
    cross_border: bool
    geometry: Any


def insert_run(session: Session, values: dict[str, Any]) -> int:
    return int(session.execute(insert(runs).values(values).returning(runs.c.id)).scalar_one())


def store_clusters(
    session: Session, run_id: int, stored: Sequence[StoredCluster], site_ids: dict[str, int]
) -> None:
    bulk.copy_rows(
        session,
        "clusters",
        {
            "run_id": "int8",
            "cluster_id": "text",
            "member_count": "int4",
            "countries": "text[]",
            "kinds": "text[]",
            "minerals": "text[]",
            "span_km": "float8",
            "cross_border": "bool",
            "geom": "text",
        },
        [
            (
                run_id,
                c.cluster_id,
                c.count,
                list(c.countries),
                list(c.kinds),
                list(c.minerals),
                c.span_km,
                c.cross_border,
                shapely.to_wkb(shapely.set_srid(c.geometry, 4326), hex=True, include_srid=True),
            )
            for c in stored
        ],
    )
    bulk.copy_rows(
        session,
        "cluster_members",
        {"run_id": "int8", "site_id": "int8", "cluster_id": "text"},
        [(run_id, site_ids[public], c.cluster_id) for c in stored for public in c.member_ids],
    )


def delete_older_runs(session: Session, run: RunRecord) -> None:
    session.execute(
        delete(runs).where(
            runs.c.eps_m == run.eps_m,
            runs.c.min_sites == run.min_sites,
            runs.c.adapt == run.adapt,
            runs.c.id < run.id,
        )
    )


def load_clusters(session: Session, run_id: int) -> list[StoredCluster]:
    rows = session.execute(
        select(
            clusters.c.cluster_id,
            select(func.array_agg(text("s.public_id")))
            .select_from(text("cluster_members m JOIN sites s ON s.id = m.site_id"))
            .where(text("m.run_id = clusters.run_id AND m.cluster_id = clusters.cluster_id"))
            .scalar_subquery(),
            clusters.c.countries,
            clusters.c.kinds,
            clusters.c.minerals,
            clusters.c.member_count,
            clusters.c.span_km,
            clusters.c.cross_border,
            func.ST_AsBinary(clusters.c.geom),
        ).where(clusters.c.run_id == run_id)
    )
    return [
        StoredCluster(
            cluster_id=row[0],
            member_ids=tuple(sorted(row[1] or ())),
            countries=tuple(row[2]),
            kinds=tuple(row[3]),
            minerals=tuple(row[4]),
            count=int(row[5]),
            span_km=float(row[6]),
            cross_border=bool(row[7]),
            geometry=shapely.from_wkb(bytes(row[8])),
        )
        for row in rows
    ]


def prune_parameter_sets(session: Session, keep: int, default: tuple[float, int, bool]) -> None:
    """Drop the runs of all but the ``keep`` most recently computed non-default parameter
    sets (the default clustering is always kept)."""
    session.execute(
        text(
            "DELETE FROM cluster_runs WHERE (eps_m, min_sites, adapt) <> (:eps, :min, :adapt) "
            "AND id NOT IN (SELECT id FROM cluster_runs WHERE (eps_m, min_sites, adapt) "
            "<> (:eps, :min, :adapt) ORDER BY id DESC LIMIT :keep)"
        ),
        {"eps": default[0], "min": default[1], "adapt": default[2], "keep": keep},
    )


# -- feature pages ----------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterFilter:
    """Filters on one stored run's clusters (``border``: pair -> members in both countries;
    one country -> cross-border clusters with members there)."""

    run_id: int
    cross_border_only: bool = False
    countries_all: tuple[str, ...] = ()
    cross_border_with: str | None = None


def _member_list(base_url: str) -> ColumnElement[Any]:
    m = members.alias("m")
    s = sites_table.alias("s")
    return (
        select(
            func.coalesce(
                func.json_agg(
                    aggregate_order_by(
                        func.json_build_object(
                            "id",
                            s.c.public_id,
                            "href",
                            func.concat(base_url + "/collections/sites/items/", s.c.public_id),
                        ),
                        s.c.public_id,
                    )
                ),
                literal_column("'[]'::json"),
            )
        )
        .select_from(m.join(s, s.c.id == m.c.site_id))
        .where(m.c.run_id == clusters.c.run_id, m.c.cluster_id == clusters.c.cluster_id)
        .scalar_subquery()
    )


#: The SQL of each cluster queryable (CQL2 ``filter``).
CLUSTER_FIELDS = {
    "geometry": SqlField(clusters.c.geom, "geometry"),
    "member_count": SqlField(clusters.c.member_count, "integer"),
    "cross_border": SqlField(clusters.c.cross_border, "boolean"),
    "countries": SqlField(clusters.c.countries, "string_array"),
    "kinds": SqlField(clusters.c.kinds, "string_array"),
    "minerals": SqlField(clusters.c.minerals, "string_array"),
    "span_km": SqlField(clusters.c.span_km, "number"),
}


def spec_for(run: RunRecord, base_url: str) -> features.FeatureSpec:
    """How the clusters of one run become GeoJSON features (largest first, then by id)."""
    c = clusters.c

    def properties(_caller: Caller) -> features.Properties:
        return [
            ("member_count", c.member_count),
            ("cross_border", c.cross_border),
            ("countries", c.countries),
            ("kinds", c.kinds),
            ("minerals", c.minerals),
            ("span_km", func.round(cast(c.span_km, Numeric), 3)),
            ("eps_km", features.json_real(literal(round(run.eps_used_m / 1000, 4)))),
            ("min_sites", literal(run.min_sites)),
            ("members", _member_list(base_url)),
        ]

    return features.FeatureSpec(
        table=clusters,
        feature_id=c.cluster_id,
        unique_key=c.cluster_id,
        geom=c.geom,
        properties=properties,
        fields=CLUSTER_FIELDS,
    )


# Largest first: the negated count sorts ascending with the id, so one row comparison pages.
LARGEST_FIRST = features.SortKey(-clusters.c.member_count)


def cluster_where(
    spec: features.FeatureSpec, query: FeatureQuery, selection: ClusterFilter
) -> list[ColumnElement[bool]]:
    c = clusters.c
    where: list[ColumnElement[bool]] = [c.run_id == selection.run_id]
    where.extend(features.common_filters(spec, query))
    if selection.cross_border_only:
        where.append(c.cross_border)
    if selection.countries_all:
        where.append(c.countries.contains(list(selection.countries_all)))
    if selection.cross_border_with is not None:
        where.extend((c.cross_border, c.countries.contains([selection.cross_border_with])))
    return where


def page(
    session: Session,
    run: RunRecord,
    query: FeatureQuery,
    selection: ClusterFilter,
    request: PageRequest,
    base_url: str,
    count_cap: int | None,
    crs: OfferedCrs | None = None,
) -> FeaturePage:
    spec = spec_for(run, base_url)
    where = cluster_where(spec, query, selection)
    return features.fetch_page(
        session, spec, where, request, Caller(), [LARGEST_FIRST], count_cap, crs
    )


#: What a cluster carries in a vector tile (arrays as comma-joined text; no member list).
CLUSTER_TILE_PROPERTIES: Final = (
    ("id", clusters.c.cluster_id),
    ("member_count", clusters.c.member_count),
    ("cross_border", clusters.c.cross_border),
    ("countries", func.array_to_string(clusters.c.countries, ",")),
    ("kinds", func.array_to_string(clusters.c.kinds, ",")),
    ("minerals", func.array_to_string(clusters.c.minerals, ",")),
    ("span_km", cast(func.round(cast(clusters.c.span_km, Numeric), 3), Float)),
)


def tile_layer(run: RunRecord, query: FeatureQuery, selection: ClusterFilter) -> tiles.TileLayer:
    """The clusters of ``run`` that ``query`` selects, as a layer of their shapes."""
    spec = spec_for(run, "")
    return tiles.TileLayer(
        table=clusters,
        where=cluster_where(spec, query, selection),
        geom=clusters.c.geom,
        properties=CLUSTER_TILE_PROPERTIES,
    )


def get_feature(
    session: Session, run: RunRecord, cluster_id: str, base_url: str, crs: OfferedCrs | None = None
) -> str | None:
    spec = spec_for(run, base_url)
    in_run = [clusters.c.run_id == run.id]
    return features.fetch_one(session, spec, cluster_id, Caller(), in_run, crs=crs)
