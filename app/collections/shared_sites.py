"""``shared_sites``: sites of peer nodes, pulled by ``borderlens peers sync``, each with its
origin (node, origin id, origin version, fetched at). A layer of its own: never merged into
(or overwriting) local ``sites``; a shared site that looks like a local one is put in the
review queue instead."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.collections.base import Extent, Item, Queryable, ReadContext
from app.collections.base import Provider as BaseProvider
from app.db import federation
from app.queries import FeaturePage, FeatureQuery, PageRequest

TEXT = {"type": "string"}


@dataclass
class SharedSitesProvider(BaseProvider):
    def queryables(self) -> Mapping[str, Queryable]:
        return {
            "geometry": Queryable("geometry", {"format": "geometry-point"}),
            "name": Queryable("name", TEXT),
            "kind": Queryable("kind", TEXT),
            "country": Queryable("country", {"type": "string", "pattern": "^[A-Z]{3}$"}),
            "origin_node": Queryable("origin_node", {"type": "string", "format": "uri"}),
            "origin_id": Queryable("origin_id", TEXT),
        }

    def page(self, ctx: ReadContext, query: FeatureQuery, request: PageRequest) -> FeaturePage:
        return federation.shared_page(ctx.session, query, request, ctx.caller, ctx.count_cap)

    def item(self, ctx: ReadContext, feature_id: str) -> Item | None:
        feature = federation.shared_feature(ctx.session, feature_id, ctx.caller)
        return Item(feature) if feature is not None else None

    def extent(self, session: Session) -> Extent:
        return Extent(federation.shared_extent(session))


PROVIDER = SharedSitesProvider(
    id="shared_sites",
    title="Sites shared by peer nodes",
    description=(
        "Mine sites and sales points published by other borderlens nodes (or OGC API - "
        "Features servers) this node pulls from, with their origin: node, id there, version "
        "and when fetched. Kept apart from this node's own sites."
    ),
    keywords=("federation", "shared"),
)
