"""The feature collections the service publishes, and how each one is read.

Collection ids use ``[a-z0-9_-]`` only (clients such as QGIS have tripped over dots).
"""

from __future__ import annotations

import collections.abc as abc
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.api import cluster_collection
from app.api import params as p
from app.api.etags import site_etag
from app.api.reading import ReadContext, parse_border
from app.db import boundaries as boundary_repo
from app.db import sites as site_repo
from app.db.models import RETIRED, SITE_STATUSES
from app.errors import InvalidParameter, NotFound
from app.queries import FeaturePage, FeatureQuery, PageRequest, SiteQuery
from app.services.site_geography import STORED_RADIUS_KM
from geo.countries import read_country_table
from geo.vocab import minerals

SITE_KINDS = ("mine", "sales_point")
STATUS_DOC = (
    "sites: active, inactive, abandoned, unknown, retired (comma-separated); retired sites "
    "are left out unless named here or include_retired=true"
)
INCLUDE_RETIRED_DOC = "sites: true lists retired sites too (default false)"
COMMON_ITEM_PARAMS = ("limit", "bbox", "datetime", "cursor", "f", "crs", "bbox-crs")


ExtraParser = Callable[
    [FeatureQuery, Mapping[str, list[str]], Callable[[], abc.Collection[str]]], FeatureQuery
]


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    key_types: tuple[type, ...]
    temporal: bool
    read_page: Callable[[ReadContext, FeatureQuery, PageRequest], FeaturePage]
    read_one: Callable[[ReadContext, str], str | None]
    extra_params: tuple[str, ...] = ()
    parse_extra: ExtraParser | None = None
    key_types_for: Callable[[FeatureQuery], tuple[type | tuple[type, ...], ...]] | None = None
    # (feature text, its ETag) for collections whose items carry one (writable ones)
    read_tagged: Callable[[ReadContext, str], tuple[str, str] | None] | None = None

    @property
    def item_params(self) -> tuple[str, ...]:
        return COMMON_ITEM_PARAMS + self.extra_params


def _known(
    parameter: str, values: list[str], resolve: Callable[[str], str | None], what: str
) -> tuple[str, ...]:
    resolved: list[str] = []
    for value in values:
        code = resolve(value)
        if code is None:
            raise p.bad(parameter, f"unknown {what} {value!r}", code="unknown_filter_value")
        if code not in resolved:
            resolved.append(code)
    return tuple(resolved)


def _country_code(value: str) -> str | None:
    codes = {country.iso3 for country in read_country_table()}
    return value.upper() if value.upper() in codes else None


def _kind(value: str) -> str | None:
    return value if value in SITE_KINDS else None


def _within_km(raw: str | None, with_border: bool) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise p.bad("within_km", f"must be a number of kilometres, not {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise p.bad("within_km", "must be a positive number of kilometres")
    if with_border and value > STORED_RADIUS_KM:
        raise p.bad(
            "within_km",
            f"with a border filter, at most {STORED_RADIUS_KM:g} km "
            "(distances to every border are kept that far)",
        )
    return value


def _status(value: str) -> str | None:
    return value if value in (*SITE_STATUSES, RETIRED) else None


def _flag(parameter: str, raw: str | None) -> bool:
    if raw is None or raw == "false":
        return False
    if raw == "true":
        return True
    raise p.bad(parameter, f"must be true or false, not {raw!r}")


def _sortby(raw: str | None) -> tuple[bool, bool]:
    """``sortby=border_distance_m`` (or ``+``/``-`` prefixed): (sort?, descending?)."""
    if raw is None:
        return False, False
    field = raw.strip()
    descending = field.startswith("-")
    if field.lstrip("+-") != "border_distance_m":
        raise p.bad("sortby", "sites can be sorted by border_distance_m (or -border_distance_m)")
    return True, descending


def parse_site_filters(
    base: FeatureQuery,
    params: Mapping[str, list[str]],
    known_pairs: Callable[[], abc.Collection[str]],
) -> SiteQuery:
    border = parse_border(p.single(params, "border"), known_pairs)
    sort, descending = _sortby(p.single(params, "sortby"))
    return SiteQuery(
        bbox=base.bbox,
        datetime=base.datetime,
        kinds=_known("kind", p.parse_list(p.single(params, "kind")), _kind, "kind"),
        minerals=_known(
            "mineral", p.parse_list(p.single(params, "mineral")), minerals().lookup, "mineral"
        ),
        countries=_known(
            "country", p.parse_list(p.single(params, "country")), _country_code, "country"
        ),
        statuses=_known("status", p.parse_list(p.single(params, "status")), _status, "status"),
        include_retired=_flag("include_retired", p.single(params, "include_retired")),
        border=border,
        within_km=_within_km(p.single(params, "within_km"), border is not None),
        sort_by_border_distance=sort,
        sort_descending=descending,
    )


def _site_key_types(query: FeatureQuery) -> tuple[type | tuple[type, ...], ...]:
    if isinstance(query, SiteQuery) and query.sort_by_border_distance:
        return ((int, float), int)
    return (int,)


def _site_query(query: FeatureQuery) -> SiteQuery:
    return query if isinstance(query, SiteQuery) else SiteQuery(query.bbox, query.datetime)


def _tagged_site(context: ReadContext, public_id: str) -> tuple[str, str] | None:
    """A site's feature text and its strong ETag (the row version, see app/api/etags.py)."""
    read = site_repo.get_feature_and_version(context.session, public_id, context.caller)
    return None if read is None else (read[0], site_etag(read[1], context.caller))


def _boundary_collection(collection_id: str, title: str, description: str) -> Collection:
    return Collection(
        id=collection_id,
        title=title,
        description=description,
        key_types=(str,),
        temporal=False,
        read_page=lambda ctx, q, r: boundary_repo.page(
            ctx.session, collection_id, q, r, ctx.caller, ctx.count_cap
        ),
        read_one=lambda ctx, fid: boundary_repo.get_feature(
            ctx.session, collection_id, fid, ctx.caller
        ),
    )


COLLECTIONS: dict[str, Collection] = {
    "sites": Collection(
        id="sites",
        title="Mine sites and sales points",
        description=(
            "Artisanal mine sites and mineral sales points (comptoirs, buying houses, markets) "
            "with the country that contains each point, computed from the active boundaries."
        ),
        key_types=(int,),
        temporal=True,
        extra_params=(
            "kind",
            "mineral",
            "country",
            "status",
            "include_retired",
            "border",
            "within_km",
            "sortby",
        ),
        parse_extra=parse_site_filters,
        read_page=lambda ctx, q, r: site_repo.page(
            ctx.session, _site_query(q), r, ctx.caller, ctx.count_cap
        ),
        read_one=lambda ctx, fid: site_repo.get_feature(ctx.session, fid, ctx.caller),
        read_tagged=_tagged_site,
        key_types_for=_site_key_types,
    ),
    "borders": _boundary_collection(
        "borders",
        "International borders",
        "The shared boundary line of every pair of neighbouring countries (pair code of sorted "
        "ISO 3166-1 alpha-3 codes, e.g. CAF-CMR) with its geodesic length in km.",
    ),
    "countries": _boundary_collection(
        "countries",
        "Countries",
        "Country polygons of the active boundary dataset, with English, French and "
        "Portuguese names.",
    ),
    "clusters": Collection(
        id="clusters",
        title="Clusters of sites",
        description=(
            "Groups of sites each within eps_km (geodesic) of another member, at least "
            "min_sites strong; cross-border when members lie in two or more countries. Default "
            "5 km and 3 sites, recomputed when sites change; eps shrinks (and says so) when one "
            "cluster would swallow the map."
        ),
        key_types=(int, str),
        temporal=False,
        extra_params=cluster_collection.EXTRA_PARAMS,
        parse_extra=cluster_collection.parse_cluster_filters,
        read_page=cluster_collection.read_page,
        read_one=cluster_collection.read_one,
        key_types_for=cluster_collection.key_types,
    ),
    "disputed-areas": _boundary_collection(
        "disputed-areas",
        "Disputed areas",
        "Areas two countries' polygons both cover in the active boundary dataset (e.g. Abyei). "
        "Sites inside are reported as disputed, never silently given to one side.",
    ),
}


def get(collection_id: str) -> Collection:
    try:
        return COLLECTIONS[collection_id]
    except KeyError:
        raise NotFound(
            f"no collection {collection_id!r}; see /collections", code="unknown_collection"
        ) from None


def check_keyset_types(
    collection: Collection, values: tuple[Any, ...], query: FeatureQuery
) -> None:
    types: tuple[type | tuple[type, ...], ...] = (
        collection.key_types_for(query) if collection.key_types_for else collection.key_types
    )
    ok = len(values) == len(types) and all(
        isinstance(v, t) and not isinstance(v, bool) for v, t in zip(values, types, strict=False)
    )
    if not ok:
        raise InvalidParameter(
            "cursor: not a cursor of this collection (follow the next/prev links)",
            code="invalid_parameter",
        )
