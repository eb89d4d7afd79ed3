"""What the boundary collections (borders, countries, disputed areas) have in common: features
of the active boundary dataset, read through ``app.db.boundaries``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.collections.base import Extent, Item, Provider, ReadContext
from app.db import boundaries as boundary_repo
from app.db.tiles import TileLayer, tile_fields
from app.queries import FeaturePage, FeatureQuery, PageRequest

SOURCE_SCHEMA = {"type": "string", "description": "Boundary dataset id (see /health)"}


@dataclass
class BoundaryProvider(Provider):
    """A collection of the active boundary dataset; ``id`` names its table in app.db."""

    key_types: tuple[type | tuple[type, ...], ...] = (str,)

    def page(self, ctx: ReadContext, query: FeatureQuery, request: PageRequest) -> FeaturePage:
        return boundary_repo.page(
            ctx.session, self.id, query, request, ctx.caller, ctx.count_cap, ctx.crs
        )

    def item(self, ctx: ReadContext, feature_id: str) -> Item | None:
        feature = boundary_repo.get_feature(ctx.session, self.id, feature_id, ctx.caller, ctx.crs)
        return Item(feature) if feature is not None else None

    def tile_layer(self, ctx: ReadContext, query: FeatureQuery) -> TileLayer:
        del ctx
        return boundary_repo.tile_layer(self.id, query)

    def tile_fields(self) -> dict[str, dict[str, Any]]:
        return tile_fields(boundary_repo.tile_names(self.id), self.schema(), points=False)

    def extent(self, session: Session) -> Extent:
        return Extent(boundary_repo.extent(session, self.id))
