"""Boundary sources, countries, borders and disputed areas: storage and feature pages."""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Numeric,
    Table,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.db import features, tiles
from app.db.cql2 import SqlField
from app.db.errors import translate_db_errors
from app.db.models import (
    Border,
    BoundaryEvent,
    BoundarySource,
    Country,
    DisputedArea,
    LandMask,
)
from app.queries import Caller, FeaturePage, FeatureQuery, PageRequest
from geo.crs import OfferedCrs

sources = typing.cast(Table, BoundarySource.__table__)
events = typing.cast(Table, BoundaryEvent.__table__)
countries = typing.cast(Table, Country.__table__)
borders = typing.cast(Table, Border.__table__)
disputed = typing.cast(Table, DisputedArea.__table__)
lands = typing.cast(Table, LandMask.__table__)


@dataclass(frozen=True)
class SourceRecord:
    id: str
    name: str
    version: str
    licence: str
    licence_url: str | None
    attribution: str
    sha256: str
    positional_uncertainty_m: float


@dataclass(frozen=True)
class ActiveSource:
    id: str
    name: str
    version: str
    licence: str
    licence_url: str | None
    attribution: str
    positional_uncertainty_m: float
    loaded_at: dt.datetime


@dataclass(frozen=True)
class CountryRow:
    iso3: str
    name_en: str
    name_fr: str
    name_pt: str
    area_km2: float
    wkb: bytes


@dataclass(frozen=True)
class BorderRow:
    pair_code: str
    country_a: str
    country_b: str
    length_km: float
    wkb: bytes


@dataclass(frozen=True)
class DisputedRow:
    claimants: tuple[str, ...]
    area_km2: float
    wkb: bytes


def _geom(wkb: bytes) -> ColumnElement[Any]:
    return func.ST_Multi(func.ST_GeomFromWKB(wkb, 4326))


# -- writes -----------------------------------------------------------------------------


def store_source(
    session: Session,
    record: SourceRecord,
    country_rows: Sequence[CountryRow],
    border_rows: Sequence[BorderRow],
    disputed_rows: Sequence[DisputedRow],
    land: tuple[str, bytes] | None = None,
) -> None:
    """Insert or replace one source and all its geometries (the caller owns the transaction)."""
    values = record.__dict__ | {"loaded_at": func.now()}
    upsert = pg_insert(sources).values(values)
    with translate_db_errors():
        session.execute(
            upsert.on_conflict_do_update(
                index_elements=[sources.c.id],
                set_={k: upsert.excluded[k] for k in values if k != "id"},
            )
        )
        for table in (countries, borders, disputed):
            session.execute(delete(table).where(table.c.source_id == record.id))
        for row in country_rows:
            session.execute(
                insert(countries).values(
                    source_id=record.id,
                    iso3=row.iso3,
                    name_en=row.name_en,
                    name_fr=row.name_fr,
                    name_pt=row.name_pt,
                    area_km2=row.area_km2,
                    geom=_geom(row.wkb),
                )
            )
        for border in border_rows:
            session.execute(
                insert(borders).values(
                    source_id=record.id,
                    pair_code=border.pair_code,
                    country_a=border.country_a,
                    country_b=border.country_b,
                    length_km=border.length_km,
                    geom=_geom(border.wkb),
                )
            )
        session.execute(delete(lands).where(lands.c.source_id == record.id))
        if land is not None:
            origin, wkb = land
            session.execute(
                insert(lands).values(source_id=record.id, origin=origin, geom=_geom(wkb))
            )
        for area in disputed_rows:
            session.execute(
                insert(disputed).values(
                    source_id=record.id,
                    claimants=list(area.claimants),
                    area_km2=area.area_km2,
                    geom=_geom(area.wkb),
                )
            )


def activate(session: Session, source_id: str) -> None:
    session.execute(update(sources).where(sources.c.active).values(active=False))
    session.execute(update(sources).where(sources.c.id == source_id).values(active=True))


def record_event(session: Session, source_id: str, event: str, detail: dict[str, Any]) -> None:
    session.execute(insert(events).values(source_id=source_id, event=event, detail=detail))


# -- reads ------------------------------------------------------------------------------


def active_source(session: Session) -> ActiveSource | None:
    row = session.execute(
        select(
            sources.c.id,
            sources.c.name,
            sources.c.version,
            sources.c.licence,
            sources.c.licence_url,
            sources.c.attribution,
            sources.c.positional_uncertainty_m,
            sources.c.loaded_at,
        ).where(sources.c.active)
    ).one_or_none()
    return ActiveSource(*row) if row else None


def loaded_source_ids(session: Session) -> dict[str, str]:
    """Loaded sources: id -> sha256 of the file they were loaded from."""
    return {row.id: row.sha256 for row in session.execute(select(sources.c.id, sources.c.sha256))}


def events_of(session: Session, limit: int = 20) -> list[dict[str, Any]]:
    rows = session.execute(
        select(events.c.source_id, events.c.event, events.c.detail, events.c.at)
        .order_by(events.c.id.desc())
        .limit(limit)
    ).mappings()
    return [dict(row) for row in rows]


def country_shapes(session: Session, source_id: str) -> list[tuple[str, bytes]]:
    rows = session.execute(
        select(countries.c.iso3, func.ST_AsBinary(countries.c.geom)).where(
            countries.c.source_id == source_id
        )
    )
    return [(iso3, bytes(wkb)) for iso3, wkb in rows]


def border_shapes(session: Session, source_id: str) -> list[tuple[str, str, str, float, bytes]]:
    rows = session.execute(
        select(
            borders.c.pair_code,
            borders.c.country_a,
            borders.c.country_b,
            borders.c.length_km,
            func.ST_AsBinary(borders.c.geom),
        ).where(borders.c.source_id == source_id)
    )
    return [(pair, a, b, length_km, bytes(wkb)) for pair, a, b, length_km, wkb in rows]


def disputed_shapes(session: Session, source_id: str) -> list[tuple[tuple[str, ...], float, bytes]]:
    rows = session.execute(
        select(disputed.c.claimants, disputed.c.area_km2, func.ST_AsBinary(disputed.c.geom)).where(
            disputed.c.source_id == source_id
        )
    )
    return [(tuple(claimants), area, bytes(wkb)) for claimants, area, wkb in rows]


def land_shape(session: Session, source_id: str) -> bytes | None:
    wkb = session.execute(
        select(func.ST_AsBinary(lands.c.geom)).where(lands.c.source_id == source_id)
    ).scalar_one_or_none()
    return bytes(wkb) if wkb is not None else None


def border_pairs(session: Session) -> list[str]:
    """Pair codes of the active source's borders."""
    rows = session.execute(
        select(borders.c.pair_code)
        .where(borders.c.source_id == _active_id())
        .order_by(borders.c.pair_code)
    )
    return list(rows.scalars())


def country_codes(session: Session) -> list[str]:
    rows = session.execute(
        select(countries.c.iso3)
        .where(countries.c.source_id == _active_id())
        .order_by(countries.c.iso3)
    )
    return list(rows.scalars())


# -- feature collections ----------------------------------------------------------------


def _active_id() -> ColumnElement[Any]:
    return select(sources.c.id).where(sources.c.active).scalar_subquery()


def _country_properties(_caller: Caller) -> features.Properties:
    c = countries.c
    return [
        ("iso3", c.iso3),
        ("name", c.name_en),
        ("name_fr", c.name_fr),
        ("name_pt", c.name_pt),
        ("area_km2", func.round(cast(c.area_km2, Numeric), 1)),
        ("boundary_source", c.source_id),
    ]


def _border_properties(_caller: Caller) -> features.Properties:
    c = borders.c
    return [
        ("pair_code", c.pair_code),
        ("country_a", c.country_a),
        ("country_b", c.country_b),
        ("length_km", features.json_real(c.length_km)),
        ("boundary_source", c.source_id),
    ]


def _disputed_properties(_caller: Caller) -> features.Properties:
    c = disputed.c
    return [
        ("claimants", c.claimants),
        ("area_km2", features.json_real(c.area_km2)),
        ("boundary_source", c.source_id),
    ]


COUNTRIES = features.FeatureSpec(
    table=countries,
    feature_id=countries.c.iso3,
    unique_key=countries.c.iso3,
    geom=countries.c.geom,
    properties=_country_properties,
    decimals=6,
    fields={
        "geometry": SqlField(countries.c.geom, "geometry"),
        "iso3": SqlField(countries.c.iso3, "string"),
        "name": SqlField(countries.c.name_en, "string"),
        "name_fr": SqlField(countries.c.name_fr, "string"),
        "name_pt": SqlField(countries.c.name_pt, "string"),
        "area_km2": SqlField(countries.c.area_km2, "number"),
        "boundary_source": SqlField(countries.c.source_id, "string"),
    },
)
BORDERS = features.FeatureSpec(
    table=borders,
    feature_id=borders.c.pair_code,
    unique_key=borders.c.pair_code,
    geom=borders.c.geom,
    properties=_border_properties,
    decimals=6,
    fields={
        "geometry": SqlField(borders.c.geom, "geometry"),
        "pair_code": SqlField(borders.c.pair_code, "string"),
        "country_a": SqlField(borders.c.country_a, "string"),
        "country_b": SqlField(borders.c.country_b, "string"),
        "length_km": SqlField(borders.c.length_km, "number"),
        "boundary_source": SqlField(borders.c.source_id, "string"),
    },
)
DISPUTED = features.FeatureSpec(
    table=disputed,
    feature_id=func.array_to_string(disputed.c.claimants, "-"),
    unique_key=func.array_to_string(disputed.c.claimants, "-"),
    geom=disputed.c.geom,
    properties=_disputed_properties,
    decimals=6,
    fields={
        "geometry": SqlField(disputed.c.geom, "geometry"),
        "claimants": SqlField(disputed.c.claimants, "string_array"),
        "area_km2": SqlField(disputed.c.area_km2, "number"),
        "boundary_source": SqlField(disputed.c.source_id, "string"),
    },
)


def _where(
    spec: features.FeatureSpec, query: FeatureQuery, source_col: Any
) -> list[ColumnElement[bool]]:
    return [source_col == _active_id(), *features.common_filters(spec, query)]


BORDERS_FOR_MAPS = features.FeatureSpec(
    table=borders,
    feature_id=borders.c.pair_code,
    unique_key=borders.c.pair_code,
    # About 200 m of simplification: invisible at the zooms a border map is read at, and it
    # keeps an embedded map page light on the field's thin links. Measurements never use it.
    geom=func.ST_SimplifyPreserveTopology(borders.c.geom, 0.002),
    properties=_border_properties,
    decimals=5,
)


def borders_for_map(session: Session) -> str:
    """All active borders as a FeatureCollection text, simplified for display."""
    page = features.fetch_page(
        session,
        BORDERS_FOR_MAPS,
        [borders.c.source_id == _active_id()],
        PageRequest(limit=10_000),
        Caller(),
    )
    return '{"type":"FeatureCollection","features":[' + page.features_json + "]}"


SPECS = {
    "countries": (COUNTRIES, countries.c.source_id),
    "borders": (BORDERS, borders.c.source_id),
    "disputed-areas": (DISPUTED, disputed.c.source_id),
}


def page(
    session: Session,
    collection: str,
    query: FeatureQuery,
    request: PageRequest,
    caller: Caller,
    count_cap: int | None = None,
    crs: OfferedCrs | None = None,
) -> FeaturePage:
    spec, source_col = SPECS[collection]
    where = _where(spec, query, source_col)
    return features.fetch_page(session, spec, where, request, caller, count_cap=count_cap, crs=crs)


def _tile_properties(collection: str) -> list[tuple[str, ColumnElement[Any]]]:
    """What a boundary feature carries in a vector tile: its GeoJSON properties, arrays as
    comma-joined text, numbers as plain floats."""
    spec, _ = SPECS[collection]
    numbers = {"area_km2", "length_km"}
    columns = {
        "countries": {"area_km2": countries.c.area_km2},
        "borders": {"length_km": borders.c.length_km},
        "disputed-areas": {"area_km2": disputed.c.area_km2},
    }[collection]
    properties: list[tuple[str, ColumnElement[Any]]] = [("id", spec.feature_id)]
    for name, expr in spec.properties(Caller()):
        if name in numbers:
            expr = cast(func.round(cast(columns[name], Numeric), 3), Float)
        elif name == "claimants":
            expr = func.array_to_string(disputed.c.claimants, ",")
        properties.append((name, expr))
    return properties


def tile_names(collection: str) -> list[str]:
    return [name for name, _ in _tile_properties(collection)]


def tile_layer(collection: str, query: FeatureQuery) -> tiles.TileLayer:
    """The active features of a boundary collection ``query`` selects, as a line or polygon
    layer (clipped to each tile and simplified to its pixel by ``app.db.tiles``)."""
    spec, source_col = SPECS[collection]
    return tiles.TileLayer(
        table=spec.table,
        where=_where(spec, query, source_col),
        geom=spec.geom,
        properties=_tile_properties(collection),
    )


def count(session: Session, collection: str, query: FeatureQuery, cap: int) -> int | None:
    spec, source_col = SPECS[collection]
    return features.count_matches(session, spec, _where(spec, query, source_col), cap)


def get_feature(
    session: Session,
    collection: str,
    feature_id: str,
    caller: Caller,
    crs: OfferedCrs | None = None,
) -> str | None:
    spec, source_col = SPECS[collection]
    active = [source_col == _active_id()]
    return features.fetch_one(session, spec, feature_id, caller, active, crs=crs)


def extent(
    session: Session, collection: str = "countries"
) -> tuple[float, float, float, float] | None:
    """The lon/lat box of a boundary collection's active features (CRS84)."""
    spec, source_col = SPECS[collection]
    box = session.execute(
        select(func.ST_Extent(spec.geom)).where(source_col == _active_id())
    ).scalar_one_or_none()
    if box is None:
        return None
    return _parse_box2d(str(box))


def _parse_box2d(text: str) -> tuple[float, float, float, float]:
    """``BOX(minx miny,maxx maxy)`` -> (minx, miny, maxx, maxy)."""
    inner = text[text.index("(") + 1 : text.rindex(")")]
    low, high = inner.split(",")
    min_x, min_y = (float(v) for v in low.split())
    max_x, max_y = (float(v) for v in high.split())
    return min_x, min_y, max_x, max_y
