"""The feature collections the service publishes, and how each one is read.

Collection ids use ``[a-z0-9_-]`` only (clients such as QGIS have tripped over dots).
"""

from __future__ import annotations

import collections.abc as abc
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.api import params as p
from app.db import boundaries as boundary_repo
from app.db import sites as site_repo
from app.errors import InvalidParameter, NotFound
from app.queries import BorderFilter, Caller, FeaturePage, FeatureQuery, PageRequest, SiteQuery
from app.services.site_geography import STORED_RADIUS_KM
from geo.countries import read_country_table
from geo.vocab import minerals

SITE_KINDS = ("mine", "sales_point")
PAIR = re.compile(r"[A-Z]{3}-[A-Z]{3}")
ISO3 = re.compile(r"[A-Z]{3}")
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
    parse_extra: (
        Callable[
            [FeatureQuery, Mapping[str, list[str]], Callable[[], abc.Collection[str]]], FeatureQuery
        ]
        | None
    ) = None

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


def _border(raw: str | None, known_pairs: Callable[[], abc.Collection[str]]) -> BorderFilter | None:
    """``CAF-CMR`` (either order) or ``CMR``, checked against the active borders."""
    if raw is None:
        return None
    asked = raw.strip().upper()
    pairs = set(known_pairs())
    if PAIR.fullmatch(asked):
        pair = "-".join(sorted(asked.split("-")))
        if pair not in pairs:
            raise p.bad(
                "border",
                f"no border {asked!r} in the active boundaries",
                code="unknown_filter_value",
            )
        return BorderFilter(pair, (pair,))
    if ISO3.fullmatch(asked):
        own = tuple(sorted(code for code in pairs if asked in code.split("-")))
        if not own:
            raise p.bad(
                "border",
                f"{asked!r} has no international border in the active boundaries",
                code="unknown_filter_value",
            )
        return BorderFilter(asked, own)
    raise p.bad("border", "give a border pair such as CAF-CMR, or one country such as CMR")


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
    border = _border(p.single(params, "border"), known_pairs)
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
        border=border,
        within_km=_within_km(p.single(params, "within_km"), border is not None),
        sort_by_border_distance=sort,
        sort_descending=descending,
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
        extra_params=("kind", "mineral", "country", "border", "within_km", "sortby"),
        parse_extra=parse_site_filters,
        read_page=lambda s, q, r, c, cap: site_repo.page(s, _site_query(q), r, c, cap),
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


def check_keyset_types(
    collection: Collection, values: tuple[Any, ...], query: FeatureQuery
) -> None:
    types: tuple[type | tuple[type, ...], ...] = collection.key_types
    if isinstance(query, SiteQuery) and query.sort_by_border_distance:
        types = ((int, float), *types)
    ok = len(values) == len(types) and all(
        isinstance(v, t) and not isinstance(v, bool) for v, t in zip(values, types, strict=False)
    )
    if not ok:
        raise InvalidParameter(
            "cursor: not a cursor of this collection (follow the next/prev links)",
            code="invalid_parameter",
        )
