"""Actors repository: supply-chain actors, their links to sites and to each other (the only SQL).

Contact points are restricted: they are added to a feature only for callers who read restricted
attributes of the actor's country (:func:`app.db.features.restricted_for`).
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, Table, func, literal, literal_column, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.db import features
from app.db.cql2 import SqlField
from app.db.models import Site
from app.db.regional_models import Actor, ActorLink, ActorSite
from app.queries import Caller, FeaturePage, FeatureQuery, PageRequest
from geo.crs import OfferedCrs

actors = typing.cast(Table, Actor.__table__)
actor_sites = typing.cast(Table, ActorSite.__table__)
actor_links = typing.cast(Table, ActorLink.__table__)
sites = typing.cast(Table, Site.__table__)


def existing(session: Session, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
    """dedup key → (row id, public id) of the actors already registered."""
    if not keys:
        return {}
    rows = session.execute(
        select(actors.c.dedup_key, actors.c.id, actors.c.public_id).where(
            actors.c.dedup_key.in_(list(keys))
        )
    )
    return {key: (int(actor_id), str(public_id)) for key, actor_id, public_id in rows}


def by_name_or_registration(session: Session, refs: Sequence[str]) -> dict[str, list[int]]:
    """Actors a ref names: public id, registration, or name (accents and case folded)."""
    if not refs:
        return {}
    rows = session.execute(
        text(
            """
            SELECT r.ref, a.id FROM unnest(CAST(:refs AS text[])) AS r(ref)
            JOIN actors a ON upper(a.public_id) = upper(r.ref)
                 OR borderlens_fold(a.registration) = borderlens_fold(r.ref)
                 OR borderlens_fold(a.name) = borderlens_fold(r.ref)
            ORDER BY r.ref, a.id
            """
        ),
        {"refs": list(refs)},
    )
    found: dict[str, list[int]] = {}
    for ref, actor_id in rows:
        found.setdefault(ref, []).append(int(actor_id))
    return found


def insert_actors(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert actors (``lon``/``lat`` of the office, or None), returning their ids in order."""
    if not rows:
        return []
    values = []
    for row in rows:
        office = row.get("lon") is not None and row.get("lat") is not None
        values.append(
            {
                **{k: v for k, v in row.items() if k not in ("lon", "lat")},
                "geom": func.ST_SetSRID(func.ST_MakePoint(row["lon"], row["lat"]), 4326)
                if office
                else None,
            }
        )
    result = session.execute(pg_insert(actors).values(values).returning(actors.c.id))
    return [int(actor_id) for actor_id in result.scalars()]


def link_sites(session: Session, rows: Sequence[tuple[int, int, str]]) -> int:
    """(actor id, site id, relation) links; those already known are skipped. Returns how
    many are new."""
    if not rows:
        return 0
    values = [{"actor_id": a, "site_id": s, "relation": r} for a, s, r in rows]
    statement = pg_insert(actor_sites).values(values).on_conflict_do_nothing()
    return len(session.execute(statement.returning(actor_sites.c.actor_id)).all())


def link_actors(session: Session, rows: Sequence[tuple[int, int, str]]) -> int:
    """(from actor, to actor, relation) links; known ones skipped. Returns how many are new."""
    if not rows:
        return 0
    values = [{"from_actor_id": a, "to_actor_id": b, "relation": r} for a, b, r in rows]
    statement = pg_insert(actor_links).values(values).on_conflict_do_nothing()
    return len(session.execute(statement.returning(actor_links.c.from_actor_id)).all())


def place_at_sites(session: Session, actor_ids: Sequence[int]) -> None:
    """Actors without an office point take the point of the first site they are linked to."""
    if not actor_ids:
        return
    session.execute(
        text(
            """
            UPDATE actors a SET geom = (
                SELECT s.geom FROM actor_sites l JOIN sites s ON s.id = l.site_id
                WHERE l.actor_id = a.id ORDER BY l.relation DESC, s.id LIMIT 1)
            WHERE a.id = ANY(:ids) AND a.geom IS NULL
            """
        ),
        {"ids": list(actor_ids)},
    )


# -- the actors collection ------------------------------------------------------------------------

EMPTY: Final = func.ST_GeomFromText(literal("GEOMETRYCOLLECTION EMPTY"), 4326)


def _site_list(relation: str) -> ColumnElement[Any]:
    return (
        select(func.coalesce(func.json_agg(sites.c.public_id), literal_column("'[]'::json")))
        .select_from(actor_sites.join(sites, sites.c.id == actor_sites.c.site_id))
        .where(actor_sites.c.actor_id == actors.c.id, actor_sites.c.relation == relation)
        .scalar_subquery()
    )


def _supplies() -> ColumnElement[Any]:
    other = actors.alias("other")
    return (
        select(func.coalesce(func.json_agg(other.c.public_id), literal_column("'[]'::json")))
        .select_from(actor_links.join(other, other.c.id == actor_links.c.to_actor_id))
        .where(actor_links.c.from_actor_id == actors.c.id)
        .scalar_subquery()
    )


def _properties(caller: Caller) -> features.Properties:
    a = actors.c
    listed: features.Properties = [
        ("name", a.name),
        ("actor_type", a.actor_type),
        ("registration", a.registration),
        ("licence_valid_to", a.licence_valid_to),
        ("country", a.country_iso3),
        ("works_at", _site_list("works_at")),
        ("buys_at", _site_list("buys_at")),
        ("supplies", _supplies()),
        ("attributes", a.properties),
    ]
    if caller.may_read_restricted:
        listed.append(("contact", features.restricted_for(caller, a.contact, a.country_iso3)))
    return listed


ACTOR_FIELDS: Final[dict[str, SqlField]] = {
    "geometry": SqlField(actors.c.geom, "geometry"),
    "name": SqlField(actors.c.name, "string"),
    "actor_type": SqlField(actors.c.actor_type, "string"),
    "registration": SqlField(actors.c.registration, "string"),
    "licence_valid_to": SqlField(actors.c.licence_valid_to, "date"),
    "country": SqlField(actors.c.country_iso3, "string"),
}

ACTORS = features.FeatureSpec(
    table=actors,
    feature_id=actors.c.public_id,
    unique_key=actors.c.id,
    # Actors placed nowhere yet are an empty geometry, not a missing one (valid GeoJSON).
    geom=func.coalesce(actors.c.geom, EMPTY),
    properties=_properties,
    fields=ACTOR_FIELDS,
)


@dataclass(frozen=True)
class ActorFilter:
    actor_types: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()  # public ids: actors linked to them


def _where(query: FeatureQuery, selection: ActorFilter) -> list[ColumnElement[bool]]:
    clauses = features.common_filters(ACTORS, query)
    if selection.actor_types:
        clauses.append(actors.c.actor_type.in_(selection.actor_types))
    if selection.countries:
        clauses.append(actors.c.country_iso3.in_(selection.countries))
    if selection.sites:
        linked = (
            select(actor_sites.c.actor_id)
            .join(sites, sites.c.id == actor_sites.c.site_id)
            .where(sites.c.public_id.in_(selection.sites))
        )
        clauses.append(actors.c.id.in_(linked))
    return clauses


def page(
    session: Session,
    query: FeatureQuery,
    selection: ActorFilter,
    request: PageRequest,
    caller: Caller,
    count_cap: int | None = None,
    crs: OfferedCrs | None = None,
) -> FeaturePage:
    where = _where(query, selection)
    return features.fetch_page(
        session, ACTORS, where, request, caller, count_cap=count_cap, crs=crs
    )


def get_feature(
    session: Session, public_id: str, caller: Caller, crs: OfferedCrs | None = None
) -> str | None:
    return features.fetch_one(session, ACTORS, public_id, caller, crs=crs)


def extent(session: Session) -> tuple[float, float, float, float] | None:
    row = session.execute(features.select_extent(actors.c.geom)).one()
    return None if row[0] is None else (row[0], row[1], row[2], row[3])


def of_site(session: Session, site_public_id: str) -> list[dict[str, Any]]:
    """The actors linked to one site (for its page): id, name, type, relation."""
    rows = session.execute(
        select(actors.c.public_id, actors.c.name, actors.c.actor_type, actor_sites.c.relation)
        .select_from(
            actor_sites.join(actors, actors.c.id == actor_sites.c.actor_id).join(
                sites, sites.c.id == actor_sites.c.site_id
            )
        )
        .where(sites.c.public_id == site_public_id)
        .order_by(actors.c.name, actors.c.id, actor_sites.c.relation)
    )
    return [
        {"id": public_id, "name": name, "actor_type": kind, "relation": relation}
        for public_id, name, kind, relation in rows
    ]
