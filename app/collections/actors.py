"""``actors``: the registry of supply-chain actors (cooperatives, diggers' teams, collectors and
traders, buying houses and comptoirs, exporters, transporters), uploaded with ``POST /uploads``
and ``target=actors``. The point is the actor's office when known, else the first site it works
or buys at (an empty geometry when neither is known). Contact points are restricted.

Parameters: ``actor_type`` (codes or EN/FR/PT labels), ``country``, ``site`` (actors linked to
these sites).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.collections.base import (
    Extent,
    Item,
    Parameter,
    ParseContext,
    Provider,
    Queryable,
    ReadContext,
)
from app.collections.parameters import COUNTRY
from app.collections.parsing import known_values, parse_list
from app.db import actors as actor_repo
from app.queries import FeaturePage, FeatureQuery, PageRequest
from geo.vocab import actor_types

TEXT = {"type": "string"}
SITE_LIST = {"type": "array", "items": TEXT}


@dataclass(frozen=True)
class ActorQuery(FeatureQuery):
    selection: actor_repo.ActorFilter = field(default_factory=actor_repo.ActorFilter)


def _types(raw: str, _ctx: ParseContext) -> tuple[str, ...]:
    return known_values("actor_type", raw, actor_types().lookup, "actor type")


PARAMETERS = (
    Parameter(
        "actor_type",
        "Actor types, comma-separated: " + ", ".join(actor_types().codes),
        {"type": "array", "items": {"type": "string", "minLength": 1}},
        _types,
    ),
    COUNTRY,
    Parameter(
        "site",
        "Site ids, comma-separated: actors that work or buy there",
        {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 32}},
        lambda raw, _ctx: tuple(parse_list("site", raw)),
    ),
)


@dataclass
class ActorsProvider(Provider):
    def queryables(self) -> Mapping[str, Queryable]:
        return {
            "geometry": Queryable("geometry", {"format": "geometry-point"}),
            "name": Queryable("name", TEXT),
            "actor_type": Queryable(
                "actor_type", {"type": "string", "enum": list(actor_types().codes)}
            ),
            "registration": Queryable("registration", TEXT),
            "licence_valid_to": Queryable("licence_valid_to", {"type": "string", "format": "date"}),
            "country": Queryable("country", {"type": "string", "pattern": "^[A-Z]{3}$"}),
        }

    def schema(self) -> dict[str, Any]:
        return {
            **super().schema(),
            "works_at": {**SITE_LIST, "description": "Sites the actor works at"},
            "buys_at": {**SITE_LIST, "description": "Sites the actor buys at"},
            "supplies": {**SITE_LIST, "description": "Actors this one supplies"},
            "attributes": {"type": "object"},
            "contact": {
                "type": "object",
                "description": "Only for admins and authorities in scope",
            },
        }

    def parse(self, base: FeatureQuery, values: Mapping[str, Any]) -> ActorQuery:
        return ActorQuery(
            bbox=base.bbox,
            datetime=base.datetime,
            filter=base.filter,
            sortby=base.sortby,
            selection=actor_repo.ActorFilter(
                values.get("actor_type", ()), values.get("country", ()), values.get("site", ())
            ),
        )

    def page(self, ctx: ReadContext, query: FeatureQuery, request: PageRequest) -> FeaturePage:
        selection = query.selection if isinstance(query, ActorQuery) else actor_repo.ActorFilter()
        return actor_repo.page(
            ctx.session, query, selection, request, ctx.caller, ctx.count_cap, ctx.crs
        )

    def item(self, ctx: ReadContext, feature_id: str) -> Item | None:
        feature = actor_repo.get_feature(ctx.session, feature_id, ctx.caller, ctx.crs)
        return Item(feature) if feature is not None else None

    def extent(self, session: Session) -> Extent:
        return Extent(actor_repo.extent(session))


PROVIDER = ActorsProvider(
    id="actors",
    title="Supply-chain actors",
    description=(
        "Cooperatives, diggers' teams, collectors and traders (négociants, collecteurs), "
        "buying houses (bureaux d'achat, comptoirs), exporters and transporters, with their "
        "registration, the sites they work or buy at and whom they supply; contact points "
        "for admins and authorities only."
    ),
    parameters=PARAMETERS,
    keywords=("supply chain", "comptoir", "cooperative", "Kimberley Process"),
)
