"""``observations``: every visit of every site — one accepted row of one upload.

Filter by ``site``, ``upload``, ``country`` (the site's), ``bbox`` (the surveyed point) and
``datetime`` (the visit date). Raw survey attributes only for admins and authorities in scope,
except the columns of an upload that declared which of its columns are restricted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.collections import versioned
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
from app.collections.parsing import parse_list
from app.db import observations as observation_repo
from app.db import site_history as history_repo
from app.db.tiles import TileLayer, tile_fields
from app.queries import FeaturePage, FeatureQuery, PageRequest

PUBLIC_ID = {"type": "string", "pattern": "^[A-Z]{2}-[0-9A-Z]{10}$"}


def _public_ids(name: str) -> Parameter:
    def parse(raw: str, _ctx: ParseContext) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.upper() for v in parse_list(name, raw)))

    return Parameter(
        name,
        f"Public ids of the {name}s, comma-separated",
        {"type": "array", "items": PUBLIC_ID, "minItems": 1},
        parse,
    )


@dataclass(frozen=True)
class ObservationQuery(FeatureQuery):
    selection: observation_repo.ObservationFilter = field(
        default_factory=observation_repo.ObservationFilter
    )


@dataclass
class ObservationsProvider(Provider):
    def queryables(self) -> Mapping[str, Queryable]:
        text = {"type": "string"}
        return {
            "geometry": Queryable("geometry", {"format": "geometry-point"}),
            "site": Queryable("site", PUBLIC_ID),
            "upload": Queryable("upload", PUBLIC_ID),
            "row": Queryable("row", {"type": "integer"}),
            "observed_on": Queryable("observed_on", {"type": "string", "format": "date"}),
            "outcome": Queryable("outcome", {"type": "string", "enum": ["created", "matched"]}),
            "name": Queryable("name", text),
            "kind": Queryable("kind", text),
            "minerals": Queryable("minerals", {"type": "array", "items": text}),
            "accuracy_m": Queryable("accuracy_m", {"type": "number"}),
            "country": Queryable("country", {"type": "string", "pattern": "^[A-Z]{3}$"}),
        }

    def schema(self) -> dict[str, Any]:
        return {
            **super().schema(),
            "attributes": {
                "type": "object",
                "description": "The row's other columns: public when its upload declared its "
                "restricted columns, else only for admins and authorities in scope",
            },
            "restricted": {
                "type": "object",
                "description": "The columns its upload declared restricted: only for admins "
                "and authorities in scope",
            },
        }

    def parse(self, base: FeatureQuery, values: Mapping[str, Any]) -> ObservationQuery:
        return ObservationQuery(
            bbox=base.bbox,
            datetime=base.datetime,
            filter=base.filter,
            sortby=base.sortby,
            selection=observation_repo.ObservationFilter(
                sites=values.get("site", ()),
                uploads=values.get("upload", ()),
                countries=values.get("country", ()),
            ),
        )

    def page(self, ctx: ReadContext, query: FeatureQuery, request: PageRequest) -> FeaturePage:
        selection = (
            query.selection
            if isinstance(query, ObservationQuery)
            else observation_repo.ObservationFilter()
        )
        at = versioned.resolve(ctx)
        spec = observation_repo.OBSERVATIONS
        if at is not None:
            spec = history_repo.observations_then(spec, at.version)
        page = observation_repo.page(
            ctx.session, query, selection, request, ctx.caller, ctx.count_cap, ctx.crs, spec
        )
        return versioned.stamped(ctx, page, at)

    def tile_layer(self, ctx: ReadContext, query: FeatureQuery) -> TileLayer:
        del ctx
        selection = (
            query.selection
            if isinstance(query, ObservationQuery)
            else observation_repo.ObservationFilter()
        )
        return observation_repo.tile_layer(query, selection)

    def tile_fields(self) -> dict[str, dict[str, Any]]:
        names = [name for name, _ in observation_repo.OBSERVATION_TILE_PROPERTIES]
        return tile_fields(names, self.schema(), points=True)

    def item(self, ctx: ReadContext, feature_id: str) -> Item | None:
        at = versioned.resolve(ctx)
        spec = observation_repo.OBSERVATIONS
        if at is not None:
            spec = history_repo.observations_then(spec, at.version)
        feature = observation_repo.get_feature(ctx.session, feature_id, ctx.caller, ctx.crs, spec)
        if feature is None:
            return None
        return Item(feature)

    def extent(self, session: Session) -> Extent:
        box, (first, last) = observation_repo.extent(session)
        interval = None
        if first is not None:
            end = f"{last.isoformat()}T23:59:59Z" if last else None
            interval = (f"{first.isoformat()}T00:00:00Z", end)
        return Extent(box, interval)


PROVIDER = ObservationsProvider(
    id="observations",
    title="Observations (site visits)",
    description=(
        "Every visit of every site: the date, the surveyed point, what was recorded, and the "
        "upload and row it came from. Raw survey attributes for admins and authorities only."
    ),
    temporal=True,
    versioned=True,
    parameters=(_public_ids("site"), _public_ids("upload"), COUNTRY),
)
