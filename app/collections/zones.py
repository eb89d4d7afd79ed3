"""``zones``: the polygons of every zone set (KP-compliant zones, protected areas, concessions,
security incident areas), uploaded with ``POST /uploads`` and ``target=zones``.

Parameters: ``zone_type`` (codes or EN/FR/PT labels), ``zone_set`` (public ids or names),
``active`` (within the set's validity dates today). ``datetime`` matches the validity interval.
Each zone says whether it was repaired (and why) and how many sites lie inside it.
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
from app.collections.parsing import boolean, known_values, parse_list
from app.db import zones as zone_repo
from app.db.tiles import TileLayer, tile_fields
from app.queries import FeaturePage, FeatureQuery, PageRequest
from geo.vocab import zone_types

TEXT = {"type": "string"}
DATE = {"type": "string", "format": "date"}


@dataclass(frozen=True)
class ZoneQuery(FeatureQuery):
    zone_types: tuple[str, ...] = ()
    zone_sets: tuple[str, ...] = ()
    active: bool | None = None


def _types(raw: str, _ctx: ParseContext) -> tuple[str, ...]:
    return known_values("zone_type", raw, zone_types().lookup, "zone type")


PARAMETERS = (
    Parameter(
        "zone_type",
        "Zone types, comma-separated: " + ", ".join(zone_types().codes),
        {"type": "array", "items": {"type": "string", "minLength": 1}},
        _types,
    ),
    Parameter(
        "zone_set",
        "Zone sets by public id (ZS-...) or name, comma-separated",
        {"type": "array", "items": {"type": "string", "minLength": 1}},
        lambda raw, _ctx: tuple(parse_list("zone_set", raw)),
    ),
    Parameter(
        "active",
        "true: zones of sets valid today; false: the others",
        {"type": "boolean"},
        lambda raw, _ctx: boolean("active", raw),
    ),
)


@dataclass
class ZonesProvider(Provider):
    def queryables(self) -> Mapping[str, Queryable]:
        return {
            "geometry": Queryable("geometry", {"format": "geometry-multipolygon"}),
            "name": Queryable("name", TEXT),
            "zone_set": Queryable("zone_set", TEXT),
            "zone_set_name": Queryable("zone_set_name", TEXT),
            "zone_type": Queryable(
                "zone_type", {"type": "string", "enum": list(zone_types().codes)}
            ),
            "valid_from": Queryable("valid_from", DATE),
            "valid_to": Queryable("valid_to", DATE),
            "area_km2": Queryable("area_km2", {"type": "number"}),
        }

    def schema(self) -> dict[str, Any]:
        return {
            **super().schema(),
            "active": {"type": "boolean", "description": "Within the validity dates today"},
            "repaired": {"type": "boolean", "description": "Repaired with make_valid"},
            "repair_reason": {"type": "string", "description": "Why the polygon was invalid"},
            "sites_inside": {"type": "integer"},
            "attributes": {"type": "object", "description": "The file's own fields"},
            "updated_at": {"type": "string", "format": "date-time"},
        }

    def parse(self, base: FeatureQuery, values: Mapping[str, Any]) -> ZoneQuery:
        return ZoneQuery(
            bbox=base.bbox,
            datetime=base.datetime,
            filter=base.filter,
            sortby=base.sortby,
            zone_types=values.get("zone_type", ()),
            zone_sets=values.get("zone_set", ()),
            active=values.get("active"),
        )

    def page(self, ctx: ReadContext, query: FeatureQuery, request: PageRequest) -> FeaturePage:
        asked = query if isinstance(query, ZoneQuery) else ZoneQuery(query.bbox)
        selection = zone_repo.ZoneFilter(asked.zone_types, asked.zone_sets, asked.active)
        return zone_repo.page(
            ctx.session, query, selection, request, ctx.caller, ctx.count_cap, ctx.crs
        )

    def item(self, ctx: ReadContext, feature_id: str) -> Item | None:
        feature = zone_repo.get_feature(ctx.session, feature_id, ctx.caller, ctx.crs)
        return Item(feature) if feature is not None else None

    def tile_layer(self, ctx: ReadContext, query: FeatureQuery) -> TileLayer:
        del ctx
        asked = query if isinstance(query, ZoneQuery) else ZoneQuery(query.bbox)
        selection = zone_repo.ZoneFilter(asked.zone_types, asked.zone_sets, asked.active)
        return zone_repo.tile_layer(query, selection)

    def tile_fields(self) -> dict[str, dict[str, Any]]:
        return tile_fields(zone_repo.tile_names(), self.schema(), points=False)

    def extent(self, session: Session) -> Extent:
        first, last = zone_repo.validity_extent(session)
        interval = None
        if first is not None or last is not None:
            interval = (
                f"{first.isoformat()}T00:00:00Z" if first else None,
                f"{last.isoformat()}T23:59:59Z" if last else None,
            )
        return Extent(zone_repo.extent(session), interval)

    def item_links(self, base_url: str, feature_id: str) -> list[Link]:
        inside = f"{base_url}/collections/sites/items?zone={feature_id}"
        return [Link(inside, "related", "application/geo+json", "Sites inside this zone")]


PROVIDER = ZonesProvider(
    id="zones",
    title="Zones",
    description=(
        "Polygons of named zone sets (KP-compliant zones, protected areas, concessions, "
        "security incident areas) with their validity dates; invalid polygons are repaired "
        "(make_valid) and say so. Every site is classified against every zone set (inside, "
        "and the geodesic distance to the nearest zone edge): see zone= and in_zone= on sites."
    ),
    temporal=True,
    parameters=PARAMETERS,
    keywords=("Kimberley Process", "green zone", "protected area", "concession"),
)
