"""Sites repository: the only code that reads and writes the ``sites`` table."""

from __future__ import annotations

import datetime as dt
import secrets
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from geoalchemy2.shape import from_shape
from shapely import Point
from sqlalchemy import ColumnElement, Table, Text, any_, case, cast, func, insert, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from app.db import features
from app.db.errors import translate_db_errors
from app.db.models import Site
from app.queries import Caller, FeaturePage, PageRequest, SiteQuery

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

sites = typing.cast(Table, Site.__table__)


def new_public_id() -> str:
    """A stable public id such as ``BL-7K3Q9X2M4P`` (50 random bits, no confusable letters)."""
    return "BL-" + "".join(secrets.choice(CROCKFORD) for _ in range(10))


def _restricted_for(caller: Caller) -> ColumnElement[Any]:
    if caller.role == "admin" or (caller.role == "authority" and not caller.countries):
        return sites.c.restricted
    if caller.role == "authority":
        scope = cast(literal(list(caller.countries)), ARRAY(Text))
        return case((sites.c.country_iso3 == any_(scope), sites.c.restricted))
    return literal(None)


def site_extras(caller: Caller) -> features.Properties:
    """What is added to the stored public feature for this caller (restricted attributes)."""
    if caller.role in ("admin", "authority"):
        return [("restricted", _restricted_for(caller))]
    return []


SITES = features.FeatureSpec(
    table=sites,
    feature_id=sites.c.public_id,
    unique_key=sites.c.id,
    geom=sites.c.geom,
    properties=site_extras,
    temporal=(sites.c.first_observed, sites.c.last_observed),
    stored_json=sites.c.feature_json,
)


def site_filters(query: SiteQuery) -> list[ColumnElement[bool]]:
    where = features.common_filters(SITES, query)
    c = sites.c
    if query.kinds:
        where.append(c.kind.in_(query.kinds))
    if query.minerals:
        where.append(c.minerals.overlap(cast(literal(list(query.minerals)), ARRAY(Text))))
    if query.countries:
        where.append(c.country_iso3.in_(query.countries))
    return where


def page(
    session: Session,
    query: SiteQuery,
    request: PageRequest,
    caller: Caller,
    sort: Sequence[features.SortKey] = (),
    count_cap: int | None = None,
) -> FeaturePage:
    return features.fetch_page(
        session, SITES, site_filters(query), request, caller, sort, count_cap
    )


def count(session: Session, query: SiteQuery, cap: int) -> int | None:
    return features.count_matches(session, SITES, site_filters(query), cap)


def get_feature(session: Session, public_id: str, caller: Caller) -> str | None:
    return features.fetch_one(session, SITES, public_id, caller)


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
    boundary_source_id: str | None = None
    public_id: str = field(default_factory=new_public_id)

    def row(self) -> dict[str, Any]:
        values = {k: v for k, v in self.__dict__.items() if k not in ("lon", "lat")}
        values["geom"] = from_shape(Point(self.lon, self.lat), srid=4326)
        return values


def insert_sites(session: Session, new_sites: Sequence[NewSite]) -> list[str]:
    """Insert many sites in one executemany round; returns their public ids."""
    if not new_sites:
        return []
    with translate_db_errors():
        session.execute(insert(sites), [site.row() for site in new_sites])
    return [site.public_id for site in new_sites]


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
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute("SELECT id, ST_X(geom), ST_Y(geom), accuracy_m FROM sites ORDER BY id")
        rows = cursor.fetchall()
    if not rows:
        return SitePoints([], [], [], [])
    ids, lon, lat, accuracy = zip(*rows, strict=True)
    return SitePoints(list(ids), list(lon), list(lat), list(accuracy))


GEOGRAPHY_COLUMNS = ("country_iso3", "location_status", "claimants", "boundary_source_id")


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
    driver = session.connection().connection.driver_connection
    assert driver is not None
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
