"""Routes repository: trade routes between sites, and finding the sites their ends name.

Features are built by PostGIS at read time; the ends are matched to sites in one statement
(``LATERAL`` nearest within the match distance, on ``geography``: exact for two points).
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Float,
    Numeric,
    Table,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.orm import Session, aliased

from app.db import features, tiles
from app.db.cql2 import SqlField
from app.db.models import Site
from app.db.regional_models import Route
from app.queries import Caller, FeaturePage, FeatureQuery, PageRequest
from geo.crs import OfferedCrs

routes = typing.cast(Table, Route.__table__)
sites = typing.cast(Table, Site.__table__)
source_site = aliased(sites, name="src")
destination_site = aliased(sites, name="dst")


@dataclass(frozen=True)
class KnownSite:
    id: int
    public_id: str
    name: str
    lon: float
    lat: float
    country: str | None


def nearest_sites(
    session: Session, lon: Sequence[float], lat: Sequence[float], within_m: float
) -> list[KnownSite | None]:
    """For each point, the nearest current site within ``within_m`` geodesic metres."""
    if not lon:
        return []
    rows = session.execute(
        text(
            """
            SELECT p.k, s.id, s.public_id, s.name, ST_X(s.geom), ST_Y(s.geom), s.country_iso3
            FROM (
                SELECT k, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography AS g,
                       -- a lon/lat box around the point that holds the whole radius: the
                       -- sites' GiST index picks the candidates, geography measures them
                       ST_Expand(ST_SetSRID(ST_MakePoint(lon, lat), 4326),
                                 1.01 * :within / (110574 * greatest(cos(radians(lat)), 0.01)))
                           AS box
                FROM unnest(CAST(:lon AS float8[]), CAST(:lat AS float8[])) WITH ORDINALITY
                     AS q(lon, lat, k)
            ) p
            LEFT JOIN LATERAL (
                SELECT * FROM sites
                WHERE status <> 'retired' AND geom && p.box
                  AND ST_DWithin(geom::geography, p.g, :within)
                ORDER BY ST_Distance(geom::geography, p.g), id
                LIMIT 1
            ) s ON true
            ORDER BY p.k
            """
        ),
        {"lon": list(lon), "lat": list(lat), "within": within_m},
    )
    return [
        None if row[1] is None else KnownSite(row[1], row[2], row[3], row[4], row[5], row[6])
        for row in rows
    ]


def sites_by_ref(session: Session, refs: Sequence[str]) -> dict[str, list[KnownSite]]:
    """Sites named by public id (exact) or by name (accents and case folded) for each ref."""
    if not refs:
        return {}
    rows = session.execute(
        text(
            """
            SELECT r.ref, s.id, s.public_id, s.name, ST_X(s.geom), ST_Y(s.geom), s.country_iso3
            FROM unnest(CAST(:refs AS text[])) AS r(ref)
            JOIN sites s ON s.status <> 'retired' AND (
                 upper(s.public_id) = upper(r.ref)
                 OR borderlens_fold(s.name) = borderlens_fold(r.ref))
            ORDER BY r.ref, s.id
            """
        ),
        {"refs": list(refs)},
    )
    found: dict[str, list[KnownSite]] = {}
    for row in rows:
        found.setdefault(row[0], []).append(
            KnownSite(row[1], row[2], row[3], row[4], row[5], row[6])
        )
    return found


@dataclass(frozen=True)
class NewRoute:
    public_id: str
    upload_id: int
    source_site_id: int
    destination_site_id: int
    wkb: bytes
    length_km: float
    source_country: str | None
    destination_country: str | None
    cross_border: bool
    border_pair: str | None
    crossing_wkb: bytes | None
    mineral: str | None
    period: str | None
    volume: float | None
    volume_unit: str | None
    properties: dict[str, Any]
    source_row: int


def insert_routes(session: Session, new: Sequence[NewRoute]) -> None:
    """Insert routes (one multi-row INSERT)."""
    if not new:
        return
    rows = [
        {
            **{k: v for k, v in route.__dict__.items() if k not in ("wkb", "crossing_wkb")},
            "geom": func.ST_GeomFromWKB(literal(route.wkb), 4326),
            "crossing": None
            if route.crossing_wkb is None
            else func.ST_GeomFromWKB(literal(route.crossing_wkb), 4326),
        }
        for route in new
    ]
    session.execute(insert(routes).values(rows))


# -- the routes collection ------------------------------------------------------------------------

ROUTES_FROM = routes.join(source_site, source_site.c.id == routes.c.source_site_id).join(
    destination_site, destination_site.c.id == routes.c.destination_site_id
)


def _crossing_json() -> ColumnElement[Any]:
    return func.json_build_array(
        func.round(cast(func.ST_X(routes.c.crossing), Numeric), 6),
        func.round(cast(func.ST_Y(routes.c.crossing), Numeric), 6),
    )


def _properties(_caller: Caller) -> features.Properties:
    r = routes.c
    return [
        ("source", source_site.c.public_id),
        ("source_name", source_site.c.name),
        ("destination", destination_site.c.public_id),
        ("destination_name", destination_site.c.name),
        ("source_country", r.source_country),
        ("destination_country", r.destination_country),
        ("cross_border", r.cross_border),
        ("border_pair", r.border_pair),
        ("crossing", case((routes.c.crossing.is_(None), None), else_=_crossing_json())),
        ("mineral", r.mineral),
        ("period", r.period),
        ("volume", features.json_real(r.volume)),
        ("volume_unit", r.volume_unit),
        ("length_km", features.json_real(r.length_km)),
        ("attributes", r.properties),
        ("created_at", r.created_at),
    ]


ROUTE_FIELDS: Final[dict[str, SqlField]] = {
    "geometry": SqlField(routes.c.geom, "geometry"),
    "source": SqlField(source_site.c.public_id, "string"),
    "destination": SqlField(destination_site.c.public_id, "string"),
    "source_country": SqlField(routes.c.source_country, "string"),
    "destination_country": SqlField(routes.c.destination_country, "string"),
    "cross_border": SqlField(routes.c.cross_border, "boolean"),
    "border_pair": SqlField(routes.c.border_pair, "string"),
    "mineral": SqlField(routes.c.mineral, "string"),
    "period": SqlField(routes.c.period, "string"),
    "volume": SqlField(routes.c.volume, "number"),
    "length_km": SqlField(routes.c.length_km, "number"),
}

ROUTES = features.FeatureSpec(
    table=ROUTES_FROM,
    feature_id=routes.c.public_id,
    unique_key=routes.c.id,
    geom=routes.c.geom,
    properties=_properties,
    decimals=6,
    fields=ROUTE_FIELDS,
)


@dataclass(frozen=True)
class RouteFilter:
    cross_border: bool | None = None
    border_pairs: tuple[str, ...] = ()
    minerals: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()  # public ids: routes from or to them


def where(query: FeatureQuery, selection: RouteFilter) -> list[ColumnElement[bool]]:
    clauses = features.common_filters(ROUTES, query)
    if selection.cross_border is not None:
        clauses.append(routes.c.cross_border.is_(selection.cross_border))
    if selection.border_pairs:
        clauses.append(routes.c.border_pair.in_(selection.border_pairs))
    if selection.minerals:
        clauses.append(routes.c.mineral.in_(selection.minerals))
    if selection.sites:
        clauses.append(
            source_site.c.public_id.in_(selection.sites)
            | destination_site.c.public_id.in_(selection.sites)
        )
    return clauses


def _tile_properties() -> list[tuple[str, ColumnElement[Any]]]:
    """The public properties of a route in a vector tile (no site names, volumes or the
    file's own attributes)."""
    r = routes.c
    return [
        ("id", r.public_id),
        ("mineral", r.mineral),
        ("cross_border", r.cross_border),
        ("border_pair", r.border_pair),
        ("source_country", r.source_country),
        ("destination_country", r.destination_country),
        ("length_km", cast(func.round(cast(r.length_km, Numeric), 3), Float)),
    ]


def tile_names() -> list[str]:
    return [name for name, _ in _tile_properties()]


def tile_layer(query: FeatureQuery, selection: RouteFilter) -> tiles.TileLayer:
    """The routes ``query`` and ``selection`` select (as the items), as a line layer
    (clipped to each tile and simplified to its pixel by ``app.db.tiles``)."""
    return tiles.TileLayer(
        table=ROUTES_FROM,
        where=where(query, selection),
        geom=routes.c.geom,
        properties=_tile_properties(),
    )


def page(
    session: Session,
    query: FeatureQuery,
    selection: RouteFilter,
    request: PageRequest,
    caller: Caller,
    count_cap: int | None = None,
    crs: OfferedCrs | None = None,
) -> FeaturePage:
    return features.fetch_page(
        session, ROUTES, where(query, selection), request, caller, count_cap=count_cap, crs=crs
    )


def get_feature(
    session: Session, public_id: str, caller: Caller, crs: OfferedCrs | None = None
) -> str | None:
    return features.fetch_one(session, ROUTES, public_id, caller, crs=crs)


def extent(session: Session) -> tuple[float, float, float, float] | None:
    row = session.execute(features.select_extent(routes.c.geom)).one()
    return None if row[0] is None else (row[0], row[1], row[2], row[3])


@dataclass(frozen=True)
class Flow:
    """Routes between one source and one destination, counted (for the flows map)."""

    source_name: str
    destination_name: str
    lon1: float
    lat1: float
    lon2: float
    lat2: float
    count: int
    cross_border: bool
    border_pair: str | None
    minerals: list[str]


def flows(session: Session, query: FeatureQuery, selection: RouteFilter, limit: int) -> list[Flow]:
    """Routes grouped by (source, destination), most used first, at most ``limit``."""
    r = routes.c
    statement = (
        select(
            source_site.c.name,
            destination_site.c.name,
            func.ST_X(source_site.c.geom),
            func.ST_Y(source_site.c.geom),
            func.ST_X(destination_site.c.geom),
            func.ST_Y(destination_site.c.geom),
            func.count(),
            func.bool_or(r.cross_border),
            func.min(r.border_pair),
            func.array_remove(func.array_agg(func.distinct(r.mineral)), None),
        )
        .select_from(ROUTES_FROM)
        .where(*where(query, selection))
        .group_by(source_site.c.id, destination_site.c.id)
        .order_by(func.count().desc(), source_site.c.id, destination_site.c.id)
        .limit(limit)
    )
    return [
        Flow(row[0], row[1], row[2], row[3], row[4], row[5], int(row[6]), bool(row[7]), row[8],
             list(row[9] or []))
        for row in session.execute(statement)
    ]  # fmt: skip


def flow_statistics(session: Session, group_by: Sequence[str]) -> list[tuple[Any, ...]]:
    """Routes counted by border crossed and/or mineral (``group_by`` among ``border``,
    ``mineral``, ``cross_border``), with the volume summed where known."""
    columns = {"border": routes.c.border_pair, "mineral": routes.c.mineral,
               "cross_border": routes.c.cross_border}  # fmt: skip
    groups = [columns[key].label(key) for key in group_by]
    statement = select(*groups, func.count().label("routes"), func.sum(routes.c.volume))
    if groups:
        statement = statement.group_by(*groups).order_by(*(g.asc().nulls_last() for g in groups))
    return [tuple(row) for row in session.execute(statement)]
