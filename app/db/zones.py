"""Zones repository: zone sets, zones, and the sites' stored classification (the only SQL).

Zone features are built by PostGIS at read time (``ST_AsGeoJSON`` + ``json_build_object``);
the classification is written in bulk (COPY into a temporary table, one upsert that only
touches rows whose answer changed).
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Numeric,
    Table,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from app.db import bulk, features, tiles
from app.db import sites as site_repo
from app.db.cql2 import SqlField
from app.db.errors import translate_db_errors
from app.db.models import Site
from app.db.regional_models import SiteZone, Zone, ZoneSet
from app.queries import Caller, FeaturePage, FeatureQuery, PageRequest, SiteQuery
from geo.crs import OfferedCrs

zone_sets = typing.cast(Table, ZoneSet.__table__)
zones = typing.cast(Table, Zone.__table__)
site_zones = typing.cast(Table, SiteZone.__table__)
sites = typing.cast(Table, Site.__table__)

#: Distances closer than this (m) are the same answer: a recomputation does not rewrite them.
SAME_DISTANCE_M: Final = 0.01


def active_clause(today: Any = None) -> ColumnElement[bool]:
    """A zone set is active on ``today`` (default: the database's current date) when it is
    within its validity dates (open ends allowed)."""
    day = func.current_date() if today is None else literal(today)
    c = zone_sets.c
    return and_(
        or_(c.valid_from.is_(None), c.valid_from <= day),
        or_(c.valid_to.is_(None), c.valid_to >= day),
    )


# -- zone sets and zones ----------------------------------------------------------------------


@dataclass(frozen=True)
class StoredSet:
    id: int
    public_id: str
    name: str
    version: int


def lock_set_by_name(session: Session, name: str) -> StoredSet | None:
    """The zone set of that name, locked until the transaction ends (replacements queue)."""
    c = zone_sets.c
    row = session.execute(
        select(c.id, c.public_id, c.name, c.version).where(c.name == name).with_for_update()
    ).one_or_none()
    return None if row is None else StoredSet(*row)


def insert_set(session: Session, values: dict[str, Any]) -> int:
    with translate_db_errors():
        return int(
            session.execute(insert(zone_sets).values(values).returning(zone_sets.c.id)).scalar_one()
        )


def update_set(session: Session, set_id: int, values: dict[str, Any]) -> None:
    session.execute(
        update(zone_sets)
        .where(zone_sets.c.id == set_id)
        .values(**values, version=zone_sets.c.version + 1, updated_at=func.now())
    )


def zone_names(session: Session, set_id: int) -> dict[str, tuple[int, str]]:
    """name → (row id, public id) of a set's zones (names repeated in a set: the first)."""
    rows = session.execute(
        select(zones.c.name, zones.c.id, zones.c.public_id)
        .where(zones.c.zone_set_id == set_id)
        .order_by(zones.c.id)
    )
    found: dict[str, tuple[int, str]] = {}
    for name, zone_id, public_id in rows:
        found.setdefault(name, (int(zone_id), str(public_id)))
    return found


@dataclass(frozen=True)
class NewZone:
    """A zone to store: ``wkb`` of a valid MultiPolygon in lon/lat."""

    public_id: str
    name: str
    wkb: bytes
    area_km2: float
    properties: dict[str, Any]
    repair_reason: str | None
    source_row: int


def _geom(wkb: bytes) -> ColumnElement[Any]:
    return func.ST_Multi(func.ST_GeomFromWKB(literal(wkb), 4326))


def write_zones(
    session: Session, set_id: int, new: Sequence[NewZone], kept: dict[str, int]
) -> tuple[int, int, int]:
    """Store a set's zones: those whose name is in ``kept`` (name → row id) are rewritten in
    place (their public id stays), the others inserted, and the set's zones not written are
    deleted. Returns (inserted, updated, deleted)."""
    written: list[int] = []
    inserted = updated = 0
    for zone in new:
        values = {
            "name": zone.name,
            "geom": _geom(zone.wkb),
            "area_km2": zone.area_km2,
            "properties": zone.properties,
            "repair_reason": zone.repair_reason,
            "source_row": zone.source_row,
        }
        zone_id = kept.get(zone.name)
        if zone_id is not None and zone_id not in written:
            session.execute(
                update(zones).where(zones.c.id == zone_id).values(**values, updated_at=func.now())
            )
            updated += 1
        else:
            zone_id = int(
                session.execute(
                    insert(zones)
                    .values(**values, public_id=zone.public_id, zone_set_id=set_id)
                    .returning(zones.c.id)
                ).scalar_one()
            )
            inserted += 1
        written.append(zone_id)
    gone = session.execute(
        delete(zones).where(zones.c.zone_set_id == set_id, zones.c.id.not_in(written or [-1]))
    )
    return inserted, updated, int(gone.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SetShapes:
    """One zone set's zones as WKB (lon/lat MultiPolygons), with row and public ids."""

    set_id: int
    zone_ids: list[int]
    wkb: list[bytes]


def set_shapes(session: Session, set_ids: Sequence[int] | None = None) -> list[SetShapes]:
    """The zones of every zone set (or of these), grouped by set, in zone id order."""
    statement = select(zones.c.zone_set_id, zones.c.id, func.ST_AsBinary(zones.c.geom)).order_by(
        zones.c.zone_set_id, zones.c.id
    )
    if set_ids is not None:
        statement = statement.where(zones.c.zone_set_id.in_(set_ids))
    grouped: dict[int, SetShapes] = {}
    for set_id, zone_id, wkb in session.execute(statement):
        shapes = grouped.setdefault(int(set_id), SetShapes(int(set_id), [], []))
        shapes.zone_ids.append(int(zone_id))
        shapes.wkb.append(bytes(wkb))
    return list(grouped.values())


def set_upload_report(session: Session, upload_id: int, report: dict[str, Any]) -> None:
    """An upload's final report and counts (a zone upload learns its counts while storing)."""
    session.execute(
        text("UPDATE uploads SET report = :report, counts = :counts WHERE id = :id").bindparams(
            bindparam("report", type_=JSONB), bindparam("counts", type_=JSONB)
        ),
        {"report": report, "counts": report["counts"], "id": upload_id},
    )


# -- sites to classify --------------------------------------------------------------------------


@dataclass(frozen=True)
class Points:
    ids: list[int]
    lon: list[float]
    lat: list[float]


def _points(session: Session, sql: str, params: dict[str, Any]) -> Points:
    with bulk.driver(session).cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return Points([], [], [])
    ids, lon, lat = zip(*rows, strict=True)
    return Points(list(ids), list(lon), list(lat))


# Sites never classified, or moved since (``{columns}`` of them, ``{extra}`` narrowing).
_STALE = """
    SELECT {columns} FROM sites s
    LEFT JOIN site_zone_points p ON p.site_id = s.id
    WHERE (p.site_id IS NULL OR NOT (p.geom ~= s.geom)) {extra}
"""
_POINT_COLUMNS = "s.id, ST_X(s.geom), ST_Y(s.geom)"


# The upload's site ids as one array (an InitPlan, run once through the upload's index), never
# a semi-join: its rows are not committed, hence not analysed, and a planner that believed the
# table small re-scanned the upload's observations once per site (a 100 000-row import spent
# minutes here).
_OF_UPLOAD = "AND s.id = ANY(ARRAY(SELECT site_id FROM observations WHERE upload_id = %(upload)s))"


def _stale_scope(upload_id: int | None) -> tuple[str, dict[str, Any]]:
    if upload_id is None:
        return "", {}
    return _OF_UPLOAD, {"upload": upload_id}


def stale_points(session: Session, upload_id: int | None = None) -> Points:
    """Sites never classified or moved since (their point differs from the one classified);
    with ``upload_id``, only among the sites that upload's observations belong to."""
    extra, params = _stale_scope(upload_id)
    statement = _STALE.format(columns=_POINT_COLUMNS, extra=extra) + " ORDER BY s.id"
    return _points(session, statement, params)


def mark_stale_classified(session: Session, upload_id: int | None = None) -> None:
    """Remember the point of each site :func:`stale_points` gives (same arguments) as
    classified, in one statement: the ids are not sent back from Python (a million-site
    upload's list cost 310 MiB), and with no zone set the points are never fetched at all."""
    extra, params = _stale_scope(upload_id)
    with bulk.driver(session).cursor() as cursor:
        cursor.execute(
            "INSERT INTO site_zone_points (site_id, geom) "
            + _STALE.format(columns="s.id, s.geom", extra=extra)
            + " ON CONFLICT (site_id) DO UPDATE SET geom = excluded.geom",
            params,
        )


def stale_site_points(session: Session, site_ids: Sequence[int]) -> Points:
    """As ``stale_points``, only among these sites."""
    statement = _STALE.format(columns=_POINT_COLUMNS, extra="AND s.id = ANY(%(ids)s)")
    return _points(session, statement + " ORDER BY s.id", {"ids": list(site_ids)})


def all_points(session: Session) -> Points:
    return _points(session, "SELECT id, ST_X(geom), ST_Y(geom) FROM sites ORDER BY id", {})


CLASSIFICATION_COLUMNS: Final = {
    "site_id": "int8",
    "zone_set_id": "int8",
    "inside": "bool",
    "zone_id": "int8",
    "edge_distance_m": "float8",
}


def write_classification(session: Session, rows: Sequence[tuple[Any, ...]]) -> int:
    """Upsert (site, zone set) answers; rows whose stored answer is the same (inside, zone,
    distance within 1 cm) are left alone. Returns how many rows were written."""
    if not rows:
        return 0
    session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS zone_answers "
            "(LIKE site_zones INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
    )
    session.execute(text("TRUNCATE zone_answers"))
    bulk.copy_rows(session, "zone_answers", CLASSIFICATION_COLUMNS, rows)
    result = session.execute(
        text(
            """
            INSERT INTO site_zones (site_id, zone_set_id, inside, zone_id, edge_distance_m)
            SELECT site_id, zone_set_id, inside, zone_id, edge_distance_m FROM zone_answers
            ON CONFLICT (site_id, zone_set_id) DO UPDATE SET
                inside = excluded.inside, zone_id = excluded.zone_id,
                edge_distance_m = excluded.edge_distance_m, classified_at = clock_timestamp()
            WHERE site_zones.inside IS DISTINCT FROM excluded.inside
               OR site_zones.zone_id IS DISTINCT FROM excluded.zone_id
               OR site_zones.edge_distance_m IS NULL <> (excluded.edge_distance_m IS NULL)
               OR abs(site_zones.edge_distance_m - excluded.edge_distance_m) > :same
            """
        ),
        {"same": SAME_DISTANCE_M},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def mark_classified(session: Session, site_ids: Sequence[int]) -> None:
    """Remember the point each of these sites was classified at."""
    if not site_ids:
        return
    session.execute(
        text(
            """
            INSERT INTO site_zone_points (site_id, geom)
            SELECT id, geom FROM sites WHERE id = ANY(:ids)
            ON CONFLICT (site_id) DO UPDATE SET geom = excluded.geom
            """
        ),
        {"ids": list(site_ids)},
    )


def classified_version(session: Session) -> int:
    return int(
        session.execute(text("SELECT sites_version FROM zone_state WHERE id = 1")).scalar_one()
    )


def set_classified_version(session: Session, version: int) -> None:
    session.execute(text("UPDATE zone_state SET sites_version = :v WHERE id = 1"), {"v": version})


def lock_classification(session: Session) -> None:
    """Serialise classifications (held until the transaction ends)."""
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLASSIFY_LOCK})


CLASSIFY_LOCK: Final = 0x426C5A6E  # advisory lock class id, "BlZn"


# -- the zones collection -----------------------------------------------------------------------


def _sites_inside() -> ColumnElement[Any]:
    return (
        select(func.count())
        .select_from(site_zones)
        .where(site_zones.c.zone_id == zones.c.id, site_zones.c.inside)
        .scalar_subquery()
    )


ZONES_FROM = zones.join(zone_sets, zone_sets.c.id == zones.c.zone_set_id)


def _properties(_caller: Caller) -> features.Properties:
    z, s = zones.c, zone_sets.c
    return [
        ("name", z.name),
        ("zone_set", s.public_id),
        ("zone_set_name", s.name),
        ("zone_type", s.zone_type),
        ("valid_from", s.valid_from),
        ("valid_to", s.valid_to),
        ("active", active_clause()),
        ("area_km2", func.round(cast(z.area_km2, Numeric), 3)),
        ("repaired", z.repair_reason.is_not(None)),
        ("repair_reason", z.repair_reason),
        ("sites_inside", _sites_inside()),
        ("attributes", z.properties),
        ("updated_at", z.updated_at),
    ]


ZONE_FIELDS: Final[dict[str, SqlField]] = {
    "geometry": SqlField(zones.c.geom, "geometry"),
    "name": SqlField(zones.c.name, "string"),
    "zone_set": SqlField(zone_sets.c.public_id, "string"),
    "zone_set_name": SqlField(zone_sets.c.name, "string"),
    "zone_type": SqlField(zone_sets.c.zone_type, "string"),
    "valid_from": SqlField(zone_sets.c.valid_from, "date"),
    "valid_to": SqlField(zone_sets.c.valid_to, "date"),
    "area_km2": SqlField(zones.c.area_km2, "number"),
}

ZONES = features.FeatureSpec(
    table=ZONES_FROM,
    feature_id=zones.c.public_id,
    unique_key=zones.c.id,
    geom=zones.c.geom,
    properties=_properties,
    temporal=(zone_sets.c.valid_from, zone_sets.c.valid_to),
    decimals=6,
    fields=ZONE_FIELDS,
)


@dataclass(frozen=True)
class ZoneFilter:
    zone_types: tuple[str, ...] = ()
    zone_sets: tuple[str, ...] = ()  # public ids or names
    active: bool | None = None


def _where(query: FeatureQuery, selection: ZoneFilter) -> list[ColumnElement[bool]]:
    where = features.common_filters(ZONES, query)
    if selection.zone_types:
        where.append(zone_sets.c.zone_type.in_(selection.zone_types))
    if selection.zone_sets:
        where.append(
            or_(
                zone_sets.c.public_id.in_(selection.zone_sets),
                zone_sets.c.name.in_(selection.zone_sets),
            )
        )
    if selection.active is not None:
        clause = active_clause()
        where.append(clause if selection.active else ~clause)
    return where


def _tile_properties() -> list[tuple[str, ColumnElement[Any]]]:
    """The public properties of a zone in a vector tile (never the file's own attributes)."""
    z, s = zones.c, zone_sets.c
    return [
        ("id", z.public_id),
        ("name", z.name),
        ("zone_type", s.zone_type),
        ("zone_set", s.public_id),
        ("active", active_clause()),
    ]


def tile_names() -> list[str]:
    return [name for name, _ in _tile_properties()]


def tile_layer(query: FeatureQuery, selection: ZoneFilter) -> tiles.TileLayer:
    """The zones ``query`` and ``selection`` select (as the items), as a polygon layer
    (clipped to each tile and simplified to its pixel by ``app.db.tiles``)."""
    return tiles.TileLayer(
        table=ZONES_FROM,
        where=_where(query, selection),
        geom=zones.c.geom,
        properties=_tile_properties(),
    )


def page(
    session: Session,
    query: FeatureQuery,
    selection: ZoneFilter,
    request: PageRequest,
    caller: Caller,
    count_cap: int | None = None,
    crs: OfferedCrs | None = None,
) -> FeaturePage:
    return features.fetch_page(
        session, ZONES, _where(query, selection), request, caller, count_cap=count_cap, crs=crs
    )


def get_feature(
    session: Session, public_id: str, caller: Caller, crs: OfferedCrs | None = None
) -> str | None:
    return features.fetch_one(session, ZONES, public_id, caller, crs=crs)


def extent(session: Session) -> tuple[float, float, float, float] | None:
    row = session.execute(features.select_extent(zones.c.geom)).one()
    return None if row[0] is None else (row[0], row[1], row[2], row[3])


def validity_extent(session: Session) -> tuple[dt.date | None, dt.date | None]:
    first, last = session.execute(
        select(func.min(zone_sets.c.valid_from), func.max(zone_sets.c.valid_to))
    ).one()
    return first, last


# -- the sites' zone filters --------------------------------------------------------------------


def known_zone_refs(session: Session, refs: Sequence[str]) -> dict[str, tuple[str, str]]:
    """ref → ("set" | "zone", public id) for refs naming a zone set (public id or name, any
    case) or a zone (public id)."""
    found: dict[str, tuple[str, str]] = {}
    folded = [ref.casefold() for ref in refs]
    rows = session.execute(
        select(zone_sets.c.public_id, zone_sets.c.name).where(
            or_(
                func.lower(zone_sets.c.public_id).in_(folded),
                func.lower(zone_sets.c.name).in_(folded),
            )
        )
    )
    for public_id, name in rows:
        for ref in refs:
            if ref.casefold() in (public_id.casefold(), name.casefold()):
                found[ref] = ("set", public_id)
    for (public_id,) in session.execute(
        select(zones.c.public_id).where(func.lower(zones.c.public_id).in_(folded))
    ):
        for ref in refs:
            if ref.casefold() == public_id.casefold():
                found[ref] = ("zone", public_id)
    return found


@dataclass(frozen=True)
class ZoneSelection:
    """Sites inside (or, ``inside=False``, outside) these zone sets or zones (public ids);
    neither named: any active zone set."""

    set_ids: tuple[str, ...] = ()
    zone_ids: tuple[str, ...] = ()
    inside: bool = True

    def clause(self, site_id: ColumnElement[Any]) -> ColumnElement[bool]:
        return site_zone_clause(site_id, self.set_ids, self.zone_ids, self.inside)


def site_zone_clause(
    site_id: ColumnElement[Any],
    set_ids: Sequence[str],
    zone_ids: Sequence[str],
    inside: bool,
) -> ColumnElement[bool]:
    """Sites inside (``inside``) — or outside — the named zone sets or zones; with neither
    named, any *active* zone set. "Outside" is the negation: inside none of them."""
    z, s, sz = zones.c, zone_sets.c, site_zones.c
    clauses: list[ColumnElement[bool]] = []
    if set_ids:
        clauses.append(s.public_id.in_(set_ids))
    if zone_ids:
        clauses.append(sz.zone_id.in_(select(z.id).where(z.public_id.in_(zone_ids))))
    if not clauses:
        clauses.append(active_clause())
    found = exists(
        select(literal(1))
        .select_from(site_zones.join(zone_sets, zone_sets.c.id == sz.zone_set_id))
        .where(sz.site_id == site_id, sz.inside, or_(*clauses))
    )
    return found if inside else ~found


def named_zones_clause(session: Session, refs: Sequence[str], inside: bool) -> ColumnElement[bool]:
    """As ``site_zone_clause`` for zone sets (public id or name) and zones (public id) named
    by ``refs``, resolved now (none named: any active zone set). Refs that no longer name
    anything name no zone: with none left, no site is inside (every site is outside)."""
    found = known_zone_refs(session, refs).values() if refs else ()
    set_ids = sorted({public_id for kind, public_id in found if kind == "set"})
    zone_ids = sorted({public_id for kind, public_id in found if kind == "zone"})
    if refs and not set_ids and not zone_ids:
        return literal(not inside, Boolean)
    return site_zone_clause(sites.c.id, set_ids, zone_ids, inside)


def sites_page(
    session: Session,
    query: SiteQuery,
    selection: ZoneSelection,
    request: PageRequest,
    caller: Caller,
    count_cap: int | None = None,
    crs: OfferedCrs | None = None,
) -> FeaturePage:
    """The sites page of ``query`` (``app.db.sites.plan_query``) inside or outside zones."""
    plan = site_repo.plan_query(query)
    where = [*plan.where, selection.clause(sites.c.id)]
    return features.fetch_page(
        session, plan.spec, where, request, caller, plan.sort, count_cap, crs
    )


def active_zones_for_map(session: Session, limit: int = 2000) -> str:
    """Zones of the sets valid today as a FeatureCollection text, simplified (~100 m) for
    display: name, zone set, type. Measurements never use it."""
    z, s = zones.c, zone_sets.c
    feature = func.json_build_object(
        "type",
        "Feature",
        "geometry",
        func.ST_AsGeoJSON(func.ST_SimplifyPreserveTopology(z.geom, 0.001), 5).cast(JSONB),
        "properties",
        func.json_build_object("name", z.name, "zone_set", s.name, "zone_type", s.zone_type),
    )
    rows = session.execute(
        select(cast(feature, Text))
        .select_from(ZONES_FROM)
        .where(active_clause())
        .order_by(z.id)
        .limit(limit)
    )
    return '{"type":"FeatureCollection","features":[' + ",".join(rows.scalars()) + "]}"
