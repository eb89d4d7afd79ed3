"""The feature collections the service publishes, and how each one is read.

Collection ids use ``[a-z0-9_-]`` only (clients such as QGIS have tripped over dots).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.api import params as p
from app.db import boundaries as boundary_repo
from app.db import sites as site_repo
from app.errors import InvalidParameter, NotFound
from app.queries import Caller, FeaturePage, FeatureQuery, PageRequest, SiteQuery
from geo.countries import read_country_table
from geo.vocab import minerals

SITE_KINDS = ("mine", "sales_point")
COMMON_ITEM_PARAMS = ("limit", "bbox", "datetime", "cursor", "f", "crs", "bbox-crs")


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    key_types: tuple[type, ...]
    temporal: bool
    read_page: Callable[[Session, FeatureQuery, PageRequest, Caller, int | None], FeaturePage]
    read_count: Callable[[Session, FeatureQuery, int], int | None]
    read_one: Callable[[Session, str, Caller], str | None]
    extra_params: tuple[str, ...] = ()
    parse_extra: Callable[[FeatureQuery, Mapping[str, list[str]]], FeatureQuery] | None = None

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


def parse_site_filters(base: FeatureQuery, params: Mapping[str, list[str]]) -> SiteQuery:
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
    )


def _site_query(query: FeatureQuery) -> SiteQuery:
    return query if isinstance(query, SiteQuery) else SiteQuery(query.bbox, query.datetime)


def _boundary_collection(collection_id: str, title: str, description: str) -> Collection:
    return Collection(
        id=collection_id,
        title=title,
        description=description,
        key_types=(str,),
        temporal=False,
        read_page=lambda s, q, r, c, cap: boundary_repo.page(s, collection_id, q, r, c, cap),
        read_count=lambda s, q, cap: boundary_repo.count(s, collection_id, q, cap),
        read_one=lambda s, fid, c: boundary_repo.get_feature(s, collection_id, fid, c),
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
        extra_params=("kind", "mineral", "country"),
        parse_extra=parse_site_filters,
        read_page=lambda s, q, r, c, cap: site_repo.page(s, _site_query(q), r, c, count_cap=cap),
        read_count=lambda s, q, cap: site_repo.count(s, _site_query(q), cap),
        read_one=lambda s, fid, c: site_repo.get_feature(s, fid, c),
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


def check_keyset_types(collection: Collection, values: tuple[Any, ...]) -> None:
    ok = len(values) == len(collection.key_types) and all(
        isinstance(v, t) and not isinstance(v, bool)
        for v, t in zip(values, collection.key_types, strict=False)
    )
    if not ok:
        raise InvalidParameter(
            "cursor: not a cursor of this collection (follow the next/prev links)",
            code="invalid_parameter",
        )
