"""``clusters``: groups of sites each within ``eps_km`` (geodesic) of another member.

Parameters: ``eps_km``, ``min_sites``, ``adapt`` (shrink eps when one cluster swallows the
map), ``cross_border_only``, ``border`` (a pair: members in both countries; a country:
cross-border clusters with members there). Every clustering asked for is computed once per
version of the sites and stored, so pages and filters are SQL; how it was made (eps asked,
eps used, the percolation verdict) comes with every page as ``clustering``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

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
from app.collections.parameters import border_parameter
from app.collections.parsing import boolean, integer_in, number_in
from app.db import clusters as cluster_repo
from app.db import sites as site_repo
from app.db.tiles import TileLayer, tile_fields
from app.queries import BorderFilter, FeaturePage, FeatureQuery, PageRequest
from app.services import clusters as cluster_service
from geo.clusters import MIN_EPS_M

MAX_EPS_KM = 100.0
MAX_MIN_SITES = 10_000
ISO3_LIST = {"type": "array", "items": {"type": "string", "pattern": "^[A-Z]{3}$"}}


@dataclass(frozen=True)
class ClusterQuery(FeatureQuery):
    eps_km: float | None = None
    min_sites: int | None = None
    adapt: bool | None = None
    cross_border_only: bool = False
    border: BorderFilter | None = None

    @property
    def params(self) -> cluster_service.ClusterParams:
        default = cluster_service.DEFAULT
        return cluster_service.ClusterParams(
            eps_m=self.eps_km * 1000 if self.eps_km is not None else default.eps_m,
            min_sites=self.min_sites if self.min_sites is not None else default.min_sites,
            adapt=self.adapt if self.adapt is not None else default.adapt,
        )


def _eps_km(raw: str, _ctx: ParseContext) -> float:
    return number_in("eps_km", raw, MIN_EPS_M / 1000, MAX_EPS_KM, "km")


PARAMETERS = (
    Parameter(
        "eps_km",
        "Clustering radius in geodesic km (default 5)",
        {"type": "number", "minimum": MIN_EPS_M / 1000, "maximum": MAX_EPS_KM},
        _eps_km,
    ),
    Parameter(
        "min_sites",
        "Fewest sites in a cluster (default 3)",
        {"type": "integer", "minimum": 2, "maximum": MAX_MIN_SITES},
        lambda raw, _ctx: integer_in("min_sites", raw, 2, MAX_MIN_SITES),
    ),
    Parameter(
        "adapt",
        "Shrink eps when one cluster would swallow the map (default true)",
        {"type": "boolean"},
        lambda raw, _ctx: boolean("adapt", raw),
    ),
    Parameter(
        "cross_border_only",
        "Only clusters with members in two or more countries",
        {"type": "boolean"},
        lambda raw, _ctx: boolean("cross_border_only", raw),
    ),
    border_parameter(
        "A pair (CAF-CMR): clusters with members in both; a country (CMR): cross-border "
        "clusters with members there"
    ),
)


@dataclass
class ClustersProvider(Provider):
    key_types: tuple[type | tuple[type, ...], ...] = (int, str)
    stable_tile_layer: ClassVar[bool] = False  # the layer names the current run

    def queryables(self) -> Mapping[str, Queryable]:
        return {
            "geometry": Queryable("geometry", {"format": "geometry-any"}),
            "member_count": Queryable("member_count", {"type": "integer"}),
            "cross_border": Queryable("cross_border", {"type": "boolean"}),
            "countries": Queryable("countries", ISO3_LIST),
            "kinds": Queryable("kinds", {"type": "array", "items": {"type": "string"}}),
            "minerals": Queryable("minerals", {"type": "array", "items": {"type": "string"}}),
            "span_km": Queryable("span_km", {"type": "number"}),
        }

    def schema(self) -> dict[str, Any]:
        return {
            **super().schema(),
            "eps_km": {"type": "number"},
            "min_sites": {"type": "integer"},
            "members": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "href": {"type": "string"}},
                },
            },
        }

    def parse(self, base: FeatureQuery, values: Mapping[str, Any]) -> ClusterQuery:
        return ClusterQuery(
            bbox=base.bbox,
            datetime=base.datetime,
            filter=base.filter,
            sortby=base.sortby,
            eps_km=values.get("eps_km"),
            min_sites=values.get("min_sites"),
            adapt=values.get("adapt"),
            cross_border_only=bool(values.get("cross_border_only")),
            border=values.get("border"),
        )

    def page(self, ctx: ReadContext, query: FeatureQuery, request: PageRequest) -> FeaturePage:
        asked = query if isinstance(query, ClusterQuery) else ClusterQuery(query.bbox)
        run = cluster_service.current_run(ctx.session, asked.params, ctx.open_writer)
        page = cluster_repo.page(
            ctx.session,
            run,
            asked,
            _selection(run.id, asked),
            request,
            ctx.base_url,
            ctx.count_cap,
            ctx.crs,
        )
        page.extra["clustering"] = cluster_service.run_metadata(run)
        return page

    def tile_layer(self, ctx: ReadContext, query: FeatureQuery) -> TileLayer:
        asked = query if isinstance(query, ClusterQuery) else ClusterQuery(query.bbox)
        run = cluster_service.current_run(ctx.session, asked.params, ctx.open_writer)
        return cluster_repo.tile_layer(run, asked, _selection(run.id, asked))

    def tile_fields(self) -> dict[str, dict[str, Any]]:
        names = [name for name, _ in cluster_repo.CLUSTER_TILE_PROPERTIES]
        return tile_fields(names, self.schema(), points=False)

    def item(self, ctx: ReadContext, feature_id: str) -> Item | None:
        run = cluster_service.current_run(ctx.session, cluster_service.DEFAULT, ctx.open_writer)
        feature = cluster_repo.get_feature(ctx.session, run, feature_id, ctx.base_url, ctx.crs)
        return Item(feature) if feature is not None else None

    def extent(self, session: Session) -> Extent:
        # Clusters lie where the sites are.
        return Extent(site_repo.spatial_extent(session))


def _selection(run_id: int, query: ClusterQuery) -> cluster_repo.ClusterFilter:
    pair = query.border is not None and "-" in query.border.asked
    return cluster_repo.ClusterFilter(
        run_id=run_id,
        cross_border_only=query.cross_border_only,
        countries_all=tuple(query.border.asked.split("-")) if query.border and pair else (),
        cross_border_with=query.border.asked if query.border and not pair else None,
    )


PROVIDER = ClustersProvider(
    id="clusters",
    title="Clusters of sites",
    description=(
        "Groups of sites each within eps_km (geodesic) of another member, at least "
        "min_sites strong; cross-border when members lie in two or more countries. Default "
        "5 km and 3 sites, recomputed when sites change; eps shrinks (and says so) when one "
        "cluster would swallow the map."
    ),
    parameters=PARAMETERS,
)
