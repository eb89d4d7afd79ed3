"""``routes``: trade routes from a source site (a mine) to a destination (a sales point, a town,
a buying house), uploaded with ``POST /uploads`` and ``target=routes``.

Each route has its geodesic length, the countries at both ends, ``cross_border`` when they
differ, the border its straight line crosses first (pair code) and where. Parameters:
``cross_border``, ``border`` (a pair, or a country: any of its borders), ``mineral``, ``site``
(routes from or to these sites).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.collections.base import (
    Extent,
    Item,
    Link,
    Parameter,
    ParseContext,
    Provider,
    Queryable,
    ReadContext,
)
from app.collections.parameters import border_parameter
from app.collections.parsing import boolean, known_values, parse_list
from app.db import routes as route_repo
from app.db.tiles import TileLayer, tile_fields
from app.queries import BorderFilter, FeaturePage, FeatureQuery, PageRequest
from geo.vocab import minerals

TEXT = {"type": "string"}
ISO3 = {"type": "string", "pattern": "^[A-Z]{3}$"}


@dataclass(frozen=True)
class RouteQuery(FeatureQuery):
    cross_border: bool | None = None
    border: BorderFilter | None = None
    minerals: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()

    @property
    def selection(self) -> route_repo.RouteFilter:
        return route_repo.RouteFilter(
            self.cross_border, self.border.pairs if self.border else (), self.minerals, self.sites
        )


def _minerals(raw: str, _ctx: ParseContext) -> tuple[str, ...]:
    return known_values("mineral", raw, minerals().lookup, "mineral")


PARAMETERS = (
    Parameter(
        "cross_border",
        "true: routes whose ends lie in different countries; false: the others",
        {"type": "boolean"},
        lambda raw, _ctx: boolean("cross_border", raw),
    ),
    border_parameter("The border crossed: a pair (CAF-CMR) or a country (CMR: any of its borders)"),
    Parameter(
        "mineral",
        "Minerals in any language, comma-separated",
        {"type": "array", "items": {"type": "string", "minLength": 1}},
        _minerals,
    ),
    Parameter(
        "site",
        "Site ids, comma-separated: routes from or to them",
        {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 32}},
        lambda raw, _ctx: tuple(parse_list("site", raw)),
    ),
)


@dataclass
class RoutesProvider(Provider):
    def queryables(self) -> Mapping[str, Queryable]:
        return {
            "geometry": Queryable("geometry", {"format": "geometry-linestring"}),
            "source": Queryable("source", TEXT),
            "destination": Queryable("destination", TEXT),
            "source_country": Queryable("source_country", ISO3),
            "destination_country": Queryable("destination_country", ISO3),
            "cross_border": Queryable("cross_border", {"type": "boolean"}),
            "border_pair": Queryable("border_pair", TEXT),
            "mineral": Queryable("mineral", {"type": "string", "enum": list(minerals().codes)}),
            "period": Queryable("period", TEXT),
            "volume": Queryable("volume", {"type": "number"}),
            "length_km": Queryable("length_km", {"type": "number"}),
        }

    def schema(self) -> dict[str, Any]:
        return {
            **super().schema(),
            "source_name": TEXT,
            "destination_name": TEXT,
            "crossing": {
                "type": "array",
                "items": {"type": "number"},
                "description": "Where the straight line crosses the border: [lon, lat]",
            },
            "volume_unit": TEXT,
            "attributes": {"type": "object"},
            "created_at": {"type": "string", "format": "date-time"},
        }

    def parse(self, base: FeatureQuery, values: Mapping[str, Any]) -> RouteQuery:
        return RouteQuery(
            bbox=base.bbox,
            datetime=base.datetime,
            filter=base.filter,
            sortby=base.sortby,
            cross_border=values.get("cross_border"),
            border=values.get("border"),
            minerals=values.get("mineral", ()),
            sites=values.get("site", ()),
        )

    def page(self, ctx: ReadContext, query: FeatureQuery, request: PageRequest) -> FeaturePage:
        asked = query if isinstance(query, RouteQuery) else RouteQuery(query.bbox)
        return route_repo.page(
            ctx.session, query, asked.selection, request, ctx.caller, ctx.count_cap, ctx.crs
        )

    def item(self, ctx: ReadContext, feature_id: str) -> Item | None:
        feature = route_repo.get_feature(ctx.session, feature_id, ctx.caller, ctx.crs)
        return Item(feature) if feature is not None else None

    def tile_layer(self, ctx: ReadContext, query: FeatureQuery) -> TileLayer:
        del ctx
        asked = query if isinstance(query, RouteQuery) else RouteQuery(query.bbox)
        return route_repo.tile_layer(query, asked.selection)

    def tile_fields(self) -> dict[str, dict[str, Any]]:
        return tile_fields(route_repo.tile_names(), self.schema(), points=False)

    def extent(self, session: Session) -> Extent:
        return Extent(route_repo.extent(session))

    def links(self, base_url: str) -> list[Link]:
        return [Link(f"{base_url}/maps/routes", "alternate", "text/html", "Map of the flows")]


PROVIDER = RoutesProvider(
    id="routes",
    title="Trade routes",
    description=(
        "Links from a source site (a mine) to a destination (a sales point, a town, a buying "
        "house), with mineral, period and volume when known, the geodesic length, the "
        "countries at both ends and, for cross-border flows, the border crossed and where."
    ),
    parameters=PARAMETERS,
    keywords=("trade route", "supply chain", "cross-border flow"),
)
