"""Sites repository: the only code that reads and writes the ``sites`` table."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Float,
    Numeric,
    Table,
    Text,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from app.db import bulk, features, tiles
from app.db.cql2 import SqlField
from app.db.models import RETIRED, Site, SiteBorderDistance
from app.db.search import name_search
from app.queries import Caller, FeaturePage, PageRequest, SiteQuery
from geo.crs import OfferedCrs

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# What a site derives from the boundaries (recomputed on a move or a change of source).
GEOGRAPHY_COLUMNS = (
    "country_iso3",
    "location_status",
    "claimants",
    "border_distance_m",
    "border_pair",
    "neighbour_iso3",
    "side_probability",
    "side_confidence",
    "boundary_source_id",
)
GEOGRAPHY_COLUMNS_SET: Final = frozenset(GEOGRAPHY_COLUMNS)

sites = typing.cast(Table, Site.__table__)
near_table = typing.cast(Table, SiteBorderDistance.__table__)


def new_public_ids(count: int, prefix: str = "BL-") -> list[str]:
    """Stable public ids such as ``BL-7K3Q9X2M4P``: 50 random bits each in Crockford base 32
    (no I, L, O, U to misread), drawn from the OS in one call for the whole batch."""
    # 256 is a multiple of 32, so a random byte modulo 32 is a uniform digit.
    digits = np.frombuffer(secrets.token_bytes(10 * count), dtype=np.uint8) % 32
    letters = np.asarray(list(CROCKFORD))[digits].reshape(count, 10)
    return [prefix + "".join(row) for row in letters]


def new_public_id() -> str:
    return new_public_ids(1)[0]


def site_extras(caller: Caller) -> features.Properties:
    """What is added to the stored public feature for this caller (restricted attributes)."""
    if caller.may_read_restricted:
        restricted = features.restricted_for(caller, sites.c.restricted, sites.c.country_iso3)
        return [("restricted", restricted)]
    return []


def site_revealed(caller: Caller) -> ColumnElement[typing.Any]:
    """The site's country ('' at sea) when its feature shows ``caller`` restricted values."""
    country = func.coalesce(sites.c.country_iso3, "")
    has_values = sites.c.restricted != literal_column("'{}'::jsonb")
    return features.restricted_for(caller, case((has_values, country)), sites.c.country_iso3)


#: The SQL of each site queryable (CQL2 ``filter``), named as in the GeoJSON properties.
SITE_FIELDS: Final[dict[str, SqlField]] = {
    "geometry": SqlField(sites.c.geom, "geometry"),
    "kind": SqlField(sites.c.kind, "string"),
    "name": SqlField(sites.c.name, "string"),
    "aliases": SqlField(sites.c.aliases, "string_array"),
    "minerals": SqlField(sites.c.minerals, "string_array"),
    "status": SqlField(sites.c.status, "string"),
    "country": SqlField(sites.c.country_iso3, "string"),
    "location_status": SqlField(sites.c.location_status, "string"),
    "claimants": SqlField(sites.c.claimants, "string_array"),
    "accuracy_m": SqlField(sites.c.accuracy_m, "number"),
    "location_origin": SqlField(sites.c.location_origin, "string"),
    "first_observed": SqlField(sites.c.first_observed, "date"),
    "last_observed": SqlField(sites.c.last_observed, "date"),
    "source": SqlField(sites.c.source, "string"),
    "border_distance_m": SqlField(sites.c.border_distance_m, "number"),
    "border_distance_km": SqlField(sites.c.border_distance_m / 1000.0, "number"),
    "border_pair": SqlField(sites.c.border_pair, "string"),
    "neighbour_country": SqlField(sites.c.neighbour_iso3, "string"),
    "side_confidence": SqlField(sites.c.side_confidence, "string"),
    "side_probability": SqlField(sites.c.side_probability, "number"),
    "boundary_source": SqlField(sites.c.boundary_source_id, "string"),
}


SITES = features.FeatureSpec(
    table=sites,
    feature_id=sites.c.public_id,
    unique_key=sites.c.id,
    geom=sites.c.geom,
    properties=site_extras,
    temporal=(sites.c.first_observed, sites.c.last_observed),
    stored_json=sites.c.feature_json,
    fields=SITE_FIELDS,
    revealed=site_revealed,
)


# Sites without a distance (no borders loaded) sort last; the same expression is indexed
# (ix_sites_border_sort), so "nearest to any border first" pages by an index scan.
BORDER_SORT: ColumnElement[typing.Any] = func.coalesce(
    sites.c.border_distance_m, literal_column("1e300")
)


@dataclass(frozen=True)
class SitesPlan:
    """How one query reads sites: the spec (maybe joined), its filters and its sort."""

    spec: features.FeatureSpec
    where: list[ColumnElement[bool]]
    sort: list[features.SortKey]


def _near_border(query: SiteQuery) -> typing.Any:
    """Each site's distance to the asked border (nearest of its pairs), within the radius."""
    assert query.border is not None and query.within_km is not None
    return (
        select(near_table.c.site_id, func.min(near_table.c.distance_m).label("distance_m"))
        .where(
            near_table.c.pair_code.in_(query.border.pairs),
            near_table.c.distance_m <= query.within_km * 1000,
        )
        .group_by(near_table.c.site_id)
        .subquery("near_border")
    )


def plan_query(query: SiteQuery) -> SitesPlan:
    spec = SITES
    c = sites.c
    where = features.common_filters(SITES, query)
    if query.kinds:
        where.append(c.kind.in_(query.kinds))
    if query.minerals:
        where.append(c.minerals.overlap(cast(literal(list(query.minerals)), ARRAY(Text))))
    if query.countries:
        where.append(c.country_iso3.in_(query.countries))
    if query.statuses:
        where.append(c.status.in_(query.statuses))
    elif not query.include_retired:
        where.append(c.status != RETIRED)
    distance: ColumnElement[typing.Any] = c.border_distance_m
    if query.border is not None and query.within_km is not None:
        near = _near_border(query)
        distance = near.c.distance_m
        asked = query.border.asked

        def with_distance(caller: Caller) -> features.Properties:
            return [
                *site_extras(caller),
                ("query_border", literal(asked)),
                ("query_border_distance_m", func.round(cast(near.c.distance_m, Numeric), 1)),
            ]

        spec = dataclasses.replace(
            SITES, table=sites.join(near, near.c.site_id == c.id), properties=with_distance
        )
    elif query.border is not None:
        where.append(c.border_pair.in_(query.border.pairs))
    elif query.within_km is not None:
        where.append(c.border_distance_m <= query.within_km * 1000)
    sort = [
        features.SortKey(
            _sort_column(term.name, distance if distance is not c.border_distance_m else None),
            term.descending,
        )
        for term in query.sortby
    ]
    if query.q is not None:
        found = name_search(c.name, c.aliases, query.q)
        where.append(found.where)
        if not sort:  # best matches first
            sort.append(features.SortKey(found.rank, descending=True))
    return SitesPlan(spec, where, sort)


def _sort_column(
    name: str, asked_border_distance: ColumnElement[typing.Any] | None
) -> ColumnElement[typing.Any]:
    """The SQL of a sortable queryable (names as in the GeoJSON properties)."""
    if name == "border_distance_m":
        return BORDER_SORT if asked_border_distance is None else asked_border_distance
    return SORTABLE_COLUMNS[name]


# Sortable site queryables beside border_distance_m. Each is NOT NULL or made so, because a
# keyset page compares rows and NULL compares as unknown.
SORTABLE_COLUMNS: dict[str, ColumnElement[typing.Any]] = {
    "kind": sites.c.kind,
    "name": sites.c.name,
    "country": func.coalesce(sites.c.country_iso3, literal_column("''")),
    "accuracy_m": func.coalesce(sites.c.accuracy_m, literal_column("1e300")),
    "first_observed": func.coalesce(sites.c.first_observed, literal_column("'9999-12-31'::date")),
    "last_observed": func.coalesce(sites.c.last_observed, literal_column("'0001-01-01'::date")),
}


#: Slack of the nearest-border test in :func:`row_filters`, in metres.
NEAREST_SLACK_M: Final = 1.0


def row_filters(query: SiteQuery) -> list[ColumnElement[bool]]:
    """Every criterion of ``query`` as a condition on one ``sites`` row, the border one
    (``border`` with ``within_km``) as an ``EXISTS`` probe of that site's distances by the
    primary key: what a subscription tests on the sites a change touched. The join that
    pages use reads every site near that border, so its cost grows with the table, not with
    the change."""
    plan = plan_query(query)
    if query.border is None or query.within_km is None:
        return plan.where
    within_m = query.within_km * 1000
    near = exists().where(
        near_table.c.site_id == sites.c.id,
        near_table.c.pair_code.in_(query.border.pairs),
        near_table.c.distance_m <= within_m,
    )
    # A site whose nearest border (any) is farther has no border that near: the probe is
    # spared (PostgreSQL tests the cheap condition first). 1 m of slack, as the two figures
    # are computed apart. With the alerts benchmark's subscriptions, the probes were a
    # quarter of an upload's events statement (10 000 probes, 70 ms).
    nearest_close = sites.c.border_distance_m <= within_m + NEAREST_SLACK_M
    return [*plan.where, and_(nearest_close, near)]


def page(
    session: Session,
    query: SiteQuery,
    request: PageRequest,
    caller: Caller,
    count_cap: int | None = None,
    crs: OfferedCrs | None = None,
) -> FeaturePage:
    plan = plan_query(query)
    return features.fetch_page(
        session, plan.spec, plan.where, request, caller, plan.sort, count_cap, crs
    )


#: What a site carries in a vector tile (public attributes; arrays as comma-joined text).
SITE_TILE_PROPERTIES: Final = (
    ("id", sites.c.public_id),
    ("name", sites.c.name),
    ("kind", sites.c.kind),
    ("country", sites.c.country_iso3),
    ("border_pair", sites.c.border_pair),
    # to 0.1 m, as the items say it
    ("border_distance_m", cast(func.round(cast(sites.c.border_distance_m, Numeric), 1), Float)),
    ("minerals", func.array_to_string(sites.c.minerals, ",")),
    ("status", sites.c.status),
)


def tile_layer(query: SiteQuery, kinds: Sequence[str]) -> tiles.TileLayer:
    """The sites ``query`` selects (the items' filters, sort ignored) as a point layer whose
    aggregates count each of ``kinds``."""
    plan = plan_query(query)
    return tiles.TileLayer(
        table=plan.spec.table,
        where=plan.where,
        geom=sites.c.geom,
        properties=SITE_TILE_PROPERTIES,
        points=True,
        breakdown=(sites.c.kind, tuple(kinds)),
    )


def count(session: Session, query: SiteQuery, cap: int) -> int | None:
    plan = plan_query(query)
    return features.count_matches(session, plan.spec, plan.where, cap)


def features_of(session: Session, public_ids: Sequence[str], caller: Caller) -> str:
    """The features of these sites, joined with commas (for a FeatureCollection)."""
    if not public_ids:
        return ""
    revealed = features.revealed_expression(SITES, caller)
    columns = [features.feature_json(SITES, caller), *([] if revealed is None else [revealed])]
    rows = session.execute(select(*columns).where(sites.c.public_id.in_(public_ids))).all()
    features.note_read(len(rows), [row[1] for row in rows if len(row) > 1])
    return ",".join(row[0] for row in rows)


def get_feature(
    session: Session, public_id: str, caller: Caller, crs: OfferedCrs | None = None
) -> str | None:
    return features.fetch_one(session, SITES, public_id, caller, crs=crs)


def get_feature_and_version(
    session: Session, public_id: str, caller: Caller, crs: OfferedCrs | None = None
) -> tuple[str, int] | None:
    """The feature text as ``caller`` sees it (in ``crs``) and the row version it was read at
    (the ETag)."""
    revealed = features.revealed_expression(SITES, caller)
    columns = [features.feature_json(SITES, caller, crs), sites.c.version]
    row = session.execute(
        select(*columns, *([] if revealed is None else [revealed])).where(
            sites.c.public_id == public_id
        )
    ).one_or_none()
    if row is None:
        return None
    features.note_read(1, row[2:])
    return str(row[0]), int(row[1])


# -- edits (OGC API Features Part 4: replace, update, retire) ----------------------------


@dataclass(frozen=True)
class StoredSite:
    """What people may edit of one site, as stored, with its row id and version."""

    id: int
    public_id: str
    version: int
    kind: str
    name: str
    aliases: list[str]
    minerals: list[str]
    status: str
    lon: float
    lat: float
    accuracy_m: float | None
    location_origin: str | None
    source: str | None
    first_observed: dt.date | None
    last_observed: dt.date | None
    properties: dict[str, Any]
    restricted: dict[str, Any]


def points_of(session: Session, public_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes (EPSG:4326 degrees) of the sites named, as stored now (no
    lock; unknown ids are left out)."""
    rows = session.execute(
        select(func.ST_X(sites.c.geom), func.ST_Y(sites.c.geom)).where(
            sites.c.public_id.in_(list(public_ids))
        )
    ).all()
    return (
        np.array([lon for lon, _ in rows], dtype=float),
        np.array([lat for _, lat in rows], dtype=float),
    )


def lock_site(session: Session, public_id: str) -> StoredSite | None:
    """Read one site and lock its row until the transaction ends (``SELECT ... FOR UPDATE``):
    a concurrent writer of the same site waits, then sees the version this one wrote."""
    return read_site(session, public_id, lock=True)


def read_site(session: Session, public_id: str, *, lock: bool = False) -> StoredSite | None:
    """One site as an edit reads it; ``lock``: see :func:`lock_site`."""
    c = sites.c
    statement = select(
        c.id,
        c.public_id,
        c.version,
        c.kind,
        c.name,
        c.aliases,
        c.minerals,
        c.status,
        func.ST_X(c.geom).label("lon"),
        func.ST_Y(c.geom).label("lat"),
        c.accuracy_m,
        c.location_origin,
        c.source,
        c.first_observed,
        c.last_observed,
        c.properties,
        c.restricted,
    ).where(c.public_id == public_id)
    row = session.execute(statement.with_for_update() if lock else statement).one_or_none()
    return None if row is None else StoredSite(**row._asdict())


#: Columns an edit may set (besides the point); the names are code, never user input.
EDITABLE_COLUMNS: Final = frozenset(
    {
        "kind",
        "name",
        "aliases",
        "minerals",
        "status",
        "accuracy_m",
        "location_origin",
        "source",
        "first_observed",
        "last_observed",
        "properties",
        "restricted",
        *GEOGRAPHY_COLUMNS_SET,
    }
)


def update_site(
    session: Session,
    site_id: int,
    expected_version: int,
    lon: float,
    lat: float,
    values: dict[str, Any],
) -> int | None:
    """Rewrite one site if it is still at ``expected_version``; returns its new version, or
    None when another transaction changed it first (the check and the write are one
    statement, so two writers holding the same version cannot both succeed)."""
    unknown = set(values) - EDITABLE_COLUMNS
    if unknown:
        raise ValueError(f"not editable site columns: {sorted(unknown)}")
    statement = (
        update(sites)
        .where(sites.c.id == site_id, sites.c.version == expected_version)
        .values(
            **values,
            geom=func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326),
            updated_at=func.now(),
        )
        .returning(sites.c.version)
    )
    version = session.execute(statement).scalar_one_or_none()
    return None if version is None else int(version)


def retire_site(session: Session, site_id: int, expected_version: int, reason: str) -> int | None:
    """Mark one site retired (kept, hidden from item lists) if still at ``expected_version``;
    returns its new version, or None when another transaction changed it first."""
    statement = (
        update(sites)
        .where(sites.c.id == site_id, sites.c.version == expected_version)
        .values(status=RETIRED, retired_at=func.now(), retired_reason=reason, updated_at=func.now())
        .returning(sites.c.version)
    )
    version = session.execute(statement).scalar_one_or_none()
    return None if version is None else int(version)


def replace_site_border_distances(
    session: Session, site_id: int, rows: Sequence[tuple[int, str, float]]
) -> None:
    """One site's per-border distances, after it moved."""
    session.execute(delete(near_table).where(near_table.c.site_id == site_id))
    insert_border_distances(session, rows)


@dataclass
class NewSite:
    """A site ready to store: validated, located, lon/lat on WGS 84."""

    kind: str
    name: str
    lon: float
    lat: float
    location_status: str
    country_iso3: str | None = None
    claimants: list[str] = field(default_factory=list)
    minerals: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    status: str = "unknown"
    accuracy_m: float | None = None
    location_origin: str | None = None
    source: str | None = None
    first_observed: dt.date | None = None
    last_observed: dt.date | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    restricted: dict[str, Any] = field(default_factory=dict)
    border_distance_m: float | None = None
    border_pair: str | None = None
    neighbour_iso3: str | None = None
    side_probability: float | None = None
    side_confidence: str | None = None
    boundary_source_id: str | None = None
    public_id: str = field(default_factory=new_public_id)

    def copy_row(self, site_id: int) -> tuple[Any, ...]:
        values = {**self.__dict__, "id": site_id, "geom": bulk.ewkt_point(self.lon, self.lat)}
        return tuple(values[column] for column in SITE_COPY_COLUMNS)


# Columns a new site is copied in with, and their PostgreSQL types (geometry travels as EWKT).
SITE_COPY_COLUMNS: Final = {
    "id": "int8",
    "public_id": "text",
    "kind": "text",
    "name": "text",
    "aliases": "text[]",
    "minerals": "text[]",
    "status": "text",
    "geom": "text",
    "country_iso3": "text",
    "location_status": "text",
    "claimants": "text[]",
    "accuracy_m": "float8",
    "location_origin": "text",
    "source": "text",
    "first_observed": "date",
    "last_observed": "date",
    "properties": "jsonb",
    "restricted": "jsonb",
    "border_distance_m": "float8",
    "border_pair": "text",
    "neighbour_iso3": "text",
    "side_probability": "float8",
    "side_confidence": "text",
    "boundary_source_id": "text",
}


def reserve_site_ids(session: Session, count: int) -> list[int]:
    """Take ``count`` ids from the sites sequence, so related rows can refer to new sites
    before they are copied in."""
    if count == 0:
        return []
    rows = session.execute(
        select(func.nextval("sites_id_seq")).select_from(func.generate_series(1, count))
    )
    return [int(value) for value in rows.scalars()]


def insert_sites(session: Session, new_sites: Sequence[NewSite]) -> list[int]:
    """Insert sites with COPY (the feature text is written by the table's trigger); returns
    their ids, in order."""
    ids = reserve_site_ids(session, len(new_sites))
    bulk.copy_rows(
        session,
        "sites",
        SITE_COPY_COLUMNS,
        [site.copy_row(site_id) for site_id, site in zip(ids, new_sites, strict=True)],
    )
    return ids


BORDER_DISTANCE_COLUMNS: Final = {"site_id": "int8", "pair_code": "text", "distance_m": "float8"}


def insert_border_distances(session: Session, rows: Sequence[tuple[int, str, float]]) -> None:
    bulk.copy_rows(
        session,
        "site_border_distances",
        BORDER_DISTANCE_COLUMNS,
        rows,
    )


def replace_border_distances(session: Session, rows: Sequence[tuple[int, str, float]]) -> None:
    """All sites' per-border distances at once (after a change of boundary source)."""
    session.execute(text("TRUNCATE site_border_distances"))
    insert_border_distances(session, rows)


def count_all(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(sites)).scalar_one())


def public_ids_exist(session: Session, public_ids: Sequence[str]) -> set[str]:
    rows = session.execute(select(sites.c.public_id).where(sites.c.public_id.in_(public_ids)))
    return set(rows.scalars())


def temporal_extent(session: Session) -> tuple[dt.date | None, dt.date | None]:
    first, last = session.execute(
        select(func.min(sites.c.first_observed), func.max(sites.c.last_observed))
    ).one()
    return first, last


# -- bulk geography (recomputed when the active boundary source changes) ----------------


@dataclass(frozen=True)
class SitePoints:
    ids: list[int]
    lon: list[float]
    lat: list[float]
    accuracy_m: list[float | None]


def all_points(session: Session) -> SitePoints:
    """Every site's id, lon, lat and accuracy, fetched with the raw driver (fast for 1 M rows)."""
    with bulk.driver(session).cursor() as cursor:
        cursor.execute("SELECT id, ST_X(geom), ST_Y(geom), accuracy_m FROM sites ORDER BY id")
        rows = cursor.fetchall()
    if not rows:
        return SitePoints([], [], [], [])
    ids, lon, lat, accuracy = zip(*rows, strict=True)
    return SitePoints(list(ids), list(lon), list(lat), list(accuracy))


def bulk_update_geography(
    session: Session, columns: Sequence[str], rows: Sequence[Sequence[object]]
) -> int:
    """Update derived columns of many sites: COPY into a temp table, one UPDATE ... FROM.

    ``rows`` are ``(id, *values)`` in the order of ``columns``; returns how many changed.
    """
    if not rows:
        return 0
    table_columns = {c.name: c for c in sites.c}
    unknown = set(columns) - set(table_columns)
    if unknown:
        raise ValueError(f"not site columns: {sorted(unknown)}")
    driver = bulk.driver(session)
    definitions = ", ".join(
        f"{name} {table_columns[name].type.compile(dialect=session.get_bind().dialect)}"
        for name in columns
    )
    with driver.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE site_update (id bigint PRIMARY KEY, {definitions}) ON COMMIT DROP"
        )
        with cursor.copy(f"COPY site_update (id, {', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        assignments = ", ".join(f"{name} = u.{name}" for name in columns)
        # Rows whose values do not change are left alone: rewriting them would cost a new
        # tuple each, bloat the table and undo its spatial clustering.
        changed = " OR ".join(f"s.{name} IS DISTINCT FROM u.{name}" for name in columns)
        cursor.execute(
            f"UPDATE sites s SET {assignments}, updated_at = now() FROM site_update u "
            f"WHERE s.id = u.id AND ({changed})"
        )
        updated = cursor.rowcount
        cursor.execute("DROP TABLE site_update")
    return int(updated)


def spatial_extent(session: Session) -> tuple[float, float, float, float] | None:
    """The lon/lat box of every site (CRS84), or None when there are none."""
    row = session.execute(features.select_extent(sites.c.geom)).one()
    if row[0] is None:
        return None
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])
