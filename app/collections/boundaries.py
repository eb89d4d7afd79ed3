"""What the boundary collections (borders, countries, disputed areas) have in common: features
of the active boundary dataset, read through ``app.db.boundaries``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.collections.base import Extent, Item, Provider, ReadContext
from app.db import boundaries as boundary_repo
from app.queries import FeaturePage, FeatureQuery, PageRequest

SOURCE_SCHEMA = {"type": "string", "description": "Boundary dataset id (see /health)"}


@dataclass
class BoundaryProvider(Provider):
    """A collection of the active boundary dataset; ``id`` names its table in app.db."""

    key_types: tuple[type | tuple[type, ...], ...] = (str,)

    def page(self, ctx: ReadContext, query: FeatureQuery, request: PageRequest) -> FeaturePage:
        return boundary_repo.page(ctx.session, self.id, query, request, ctx.caller, ctx.count_cap)

    def item(self, ctx: ReadContext, feature_id: str) -> Item | None:
        feature = boundary_repo.get_feature(ctx.session, self.id, feature_id, ctx.caller)
        return Item(feature) if feature is not None else None

    def extent(self, session: Session) -> Extent:
        return Extent(boundary_repo.extent(session, self.id))
