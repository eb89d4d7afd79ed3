"""Sites repository: the only code that reads and writes the ``sites`` table."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from geoalchemy2.shape import from_shape
from shapely import Point
from sqlalchemy import ColumnElement, Text, any_, case, cast, func, insert, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from app.db import features
from app.db.errors import translate_db_errors
from app.db.models import Site
from app.queries import Caller, FeaturePage, PageRequest, SiteQuery

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

sites = Site.__table__


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


def site_properties(caller: Caller) -> features.Properties:
    c = sites.c
    props: features.Properties = [
        ("kind", c.kind),
        ("name", c.name),
        ("aliases", c.aliases),
        ("minerals", c.minerals),
        ("status", c.status),
        ("country", c.country_iso3),
        ("location_status", c.location_status),
        ("claimants", c.claimants),
        ("accuracy_m", c.accuracy_m),
        ("location_origin", c.location_origin),
        ("first_observed", c.first_observed),
        ("last_observed", c.last_observed),
        ("source", c.source),
        ("attributes", c.properties),
        ("boundary_source", c.boundary_source_id),
        ("created_at", c.created_at),
        ("updated_at", c.updated_at),
    ]
    if not caller.is_anonymous and caller.role in ("admin", "authority"):
        props.append(("restricted", _restricted_for(caller)))
    return props


SITES = features.FeatureSpec(
    table=sites,
    feature_id=sites.c.public_id,
    unique_key=sites.c.id,
    geom=sites.c.geom,
    properties=site_properties,
    temporal=(sites.c.first_observed, sites.c.last_observed),
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
) -> FeaturePage:
    return features.fetch_page(session, SITES, site_filters(query), request, caller, sort)


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
