"""The ``clusters`` collection: groups of sites within eps_km of one another, largest first.

Parameters: ``eps_km``, ``min_sites``, ``adapt`` (shrink eps when one cluster swallows the
map), ``cross_border_only``, ``border`` (a pair: members in both countries; a country:
cross-border clusters with members there) and ``bbox``. How the clustering was made (eps
asked, eps used, the percolation verdict) comes with every page as ``clustering``.
"""

from __future__ import annotations

import collections.abc as abc
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import shapely

from app.api import params as p
from app.api.reading import ReadContext, parse_border
from app.db.clusters import StoredCluster
from app.queries import BorderFilter, FeaturePage, FeatureQuery, PageRequest
from app.services import clusters as cluster_service

EXTRA_PARAMS = ("eps_km", "min_sites", "adapt", "cross_border_only", "border")
MAX_EPS_KM = 100.0
MAX_MIN_SITES = 10_000


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


def _boolean(params: Mapping[str, list[str]], name: str) -> bool | None:
    raw = p.single(params, name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise p.bad(name, f"must be true or false, not {raw!r}")


def parse_cluster_filters(
    base: FeatureQuery,
    params: Mapping[str, list[str]],
    known_pairs: Callable[[], abc.Collection[str]],
) -> ClusterQuery:
    eps_km = None
    if (raw := p.single(params, "eps_km")) is not None:
        try:
            eps_km = float(raw)
        except ValueError:
            raise p.bad("eps_km", f"must be a number of kilometres, not {raw!r}") from None
        if not (math.isfinite(eps_km) and 0 < eps_km <= MAX_EPS_KM):
            raise p.bad("eps_km", f"must lie in (0, {MAX_EPS_KM:g}] km")
    min_sites = None
    if (raw := p.single(params, "min_sites")) is not None:
        if not raw.isdigit() or not 2 <= int(raw) <= MAX_MIN_SITES:
            raise p.bad("min_sites", f"must be a whole number from 2 to {MAX_MIN_SITES}")
        min_sites = int(raw)
    return ClusterQuery(
        bbox=base.bbox,
        datetime=base.datetime,
        eps_km=eps_km,
        min_sites=min_sites,
        adapt=_boolean(params, "adapt"),
        cross_border_only=bool(_boolean(params, "cross_border_only")),
        border=parse_border(p.single(params, "border"), known_pairs),
    )


def matches(cluster: StoredCluster, query: ClusterQuery) -> bool:
    if query.datetime is not None:
        return False  # clusters have no time of their own
    if query.cross_border_only and not cluster.cross_border:
        return False
    if query.border is not None:
        asked = query.border.asked
        if "-" in asked:
            if not set(asked.split("-")) <= set(cluster.countries):
                return False
        elif not (cluster.cross_border and asked in cluster.countries):
            return False
    if query.bbox is not None:
        box = query.bbox
        min_x, min_y, max_x, max_y = shapely.bounds(cluster.geometry)
        if min_y > box.max_lat or max_y < box.min_lat:
            return False
        if not box.crosses_antimeridian and (min_x > box.max_lon or max_x < box.min_lon):
            return False
    return True


def feature_json(cluster: StoredCluster, view: cluster_service.ClusterView, base: str) -> str:
    properties: dict[str, Any] = {
        "member_count": cluster.count,
        "cross_border": cluster.cross_border,
        "countries": list(cluster.countries),
        "kinds": list(cluster.kinds),
        "minerals": list(cluster.minerals),
        "span_km": round(cluster.span_km, 3),
        "eps_km": round(view.eps_used_m / 1000, 4),
        "min_sites": view.params.min_sites,
        "members": [
            {"id": site, "href": f"{base}/collections/sites/items/{site}"}
            for site in cluster.member_ids
        ],
    }
    geometry: str = shapely.to_geojson(cluster.geometry)
    return (
        '{"type":"Feature","id":'
        + orjson.dumps(cluster.cluster_id).decode()
        + ',"geometry":'
        + geometry
        + ',"properties":'
        + orjson.dumps(properties).decode()
        + "}"
    )


def view_for(context: ReadContext, query: ClusterQuery) -> cluster_service.ClusterView:
    params = query.params
    if params == cluster_service.DEFAULT and context.open_writer is not None:
        cluster_service.ensure_fresh_default(context.session, context.open_writer)
    return cluster_service.clusters_for(context.session, params)


def _sort_key(cluster: StoredCluster) -> tuple[int, str]:
    return (-cluster.count, cluster.cluster_id)


def read_page(context: ReadContext, query: FeatureQuery, request: PageRequest) -> FeaturePage:
    assert isinstance(query, ClusterQuery)
    view = view_for(context, query)
    selected = [c for c in view.clusters if matches(c, query)]  # largest first
    keyset = request.keyset
    if keyset is None:
        window = selected[: request.limit + 1]
        has_more = len(window) > request.limit
        window = window[: request.limit]
    else:
        count, cluster_id = keyset.values
        mark = (-int(str(count)), str(cluster_id))
        if keyset.backwards:
            before = [c for c in selected if _sort_key(c) < mark]
            window = before[-(request.limit + 1) :]
            has_more = len(window) > request.limit
            window = window[-request.limit :]
        else:
            after = [c for c in selected if _sort_key(c) > mark]
            window = after[: request.limit + 1]
            has_more = len(window) > request.limit
            window = window[: request.limit]
    return FeaturePage(
        features_json=",".join(feature_json(c, view, context.base_url) for c in window),
        returned=len(window),
        first_key=(window[0].count, window[0].cluster_id) if window else None,
        last_key=(window[-1].count, window[-1].cluster_id) if window else None,
        has_more=has_more,
        number_matched=len(selected),
        extra={"clustering": view.metadata()},
    )


def read_one(context: ReadContext, cluster_id: str) -> str | None:
    view = view_for(context, ClusterQuery())
    for cluster in view.clusters:
        if cluster.cluster_id == cluster_id:
            return feature_json(cluster, view, context.base_url)
    return None


def key_types(_query: FeatureQuery) -> tuple[type | tuple[type, ...], ...]:
    return (int, str)
