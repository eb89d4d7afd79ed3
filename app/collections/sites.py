"""``sites``: mine sites and sales points, with the border figures stored for each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.collections import site_writer, versioned, zone_sites
from app.collections.base import (
    Extent,
    Item,
    Link,
    Parameter,
    ParseContext,
    Provider,
    Queryable,
    ReadContext,
    Writer,
)
from app.collections.parameters import COUNTRY, IN_ZONE, ZONE, border_parameter
from app.collections.parsing import bad, known_values, number_in, text_value
from app.db import site_history as history_repo
from app.db import sites as site_repo
from app.db.features import filter_clause
from app.db.models import LOCATION_STATUSES, RETIRED, SITE_STATUSES
from app.db.search import MAX_QUERY_CHARS
from app.db.tiles import TileLayer, tile_fields
from app.queries import FeaturePage, FeatureQuery, PageRequest, SiteQuery
from app.services import site_history
from app.services.site_geography import STORED_RADIUS_KM
from geo.vocab import minerals, site_kinds

GEOJSON = "application/geo+json"
# Beyond this no border is "near": the widest band the maps draw and the API accepts.
MAX_WITHIN_KM = 20_000.0

DATE = {"type": "string", "format": "date"}
DATE_TIME = {"type": "string", "format": "date-time"}
TEXT = {"type": "string"}
NUMBER = {"type": "number"}
ISO3_SCHEMA = {"type": "string", "pattern": "^[A-Z]{3}$"}


def _kinds(raw: str, _ctx: ParseContext) -> tuple[str, ...]:
    return known_values("kind", raw, site_kinds().lookup, "kind")


def _minerals(raw: str, _ctx: ParseContext) -> tuple[str, ...]:
    return known_values("mineral", raw, minerals().lookup, "mineral")


def _statuses(raw: str, _ctx: ParseContext) -> tuple[str, ...]:
    known = (*SITE_STATUSES, RETIRED)
    return known_values("status", raw, lambda value: value if value in known else None, "status")


def _flag(raw: str, _ctx: ParseContext) -> bool:
    if raw not in ("true", "false"):
        raise bad("include_retired", f"must be true or false, not {raw[:20]!r}")
    return raw == "true"


def _within_km(raw: str, _ctx: ParseContext) -> float:
    value = number_in("within_km", raw, 0, MAX_WITHIN_KM, "km")
    if value <= 0:
        raise bad("within_km", "must be a positive number of kilometres")
    return value


def _search(raw: str, _ctx: ParseContext) -> str:
    text = text_value("q", raw, MAX_QUERY_CHARS).strip()
    if not text:
        raise bad("q", "empty search")
    return text


PARAMETERS = (
    Parameter(
        "q",
        "Search names and aliases: accents, case and a typo do not matter "
        "(q=betare finds Bétaré Oya); best matches first unless sortby is given",
        {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS},
        _search,
    ),
    Parameter(
        "kind",
        "Site kinds, comma-separated: " + ", ".join(site_kinds().codes),
        {"type": "array", "items": {"type": "string", "enum": list(site_kinds().codes)}},
        _kinds,
    ),
    Parameter(
        "mineral",
        "Minerals in any language, comma-separated (diamond, diamant, or, gold)",
        {"type": "array", "items": {"type": "string", "minLength": 1}},
        _minerals,
    ),
    COUNTRY,
    Parameter(
        "status",
        "Site statuses, comma-separated: "
        + ", ".join((*SITE_STATUSES, RETIRED))
        + ". Retired sites (DELETE retires) are left out unless named here or "
        "include_retired=true",
        {"type": "array", "items": {"type": "string", "enum": [*SITE_STATUSES, RETIRED]}},
        _statuses,
    ),
    Parameter(
        "include_retired",
        "true: list retired sites too (default false)",
        {"type": "boolean", "default": False},
        _flag,
    ),
    border_parameter(
        "A border pair (CAF-CMR) or a country (CMR): with within_km, the distance to that "
        "border; alone, sites whose nearest border it is"
    ),
    Parameter(
        "within_km",
        "Geodesic km to the border (or to the nearest international border without "
        f"`border`); with `border`, at most {STORED_RADIUS_KM:g} km",
        {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_WITHIN_KM},
        _within_km,
    ),
    ZONE,
    IN_ZONE,
)


def _queryables() -> dict[str, Queryable]:
    kinds = {"type": "string", "enum": list(site_kinds().codes)}
    return {
        "geometry": Queryable("geometry", {"format": "geometry-point"}),
        "kind": Queryable("kind", kinds, sortable=True),
        "name": Queryable("name", TEXT, sortable=True),
        "aliases": Queryable("aliases", {"type": "array", "items": TEXT}),
        "minerals": Queryable(
            "minerals",
            {"type": "array", "items": {"type": "string", "enum": list(minerals().codes)}},
        ),
        "status": Queryable("status", {"type": "string", "enum": [*SITE_STATUSES, RETIRED]}),
        "country": Queryable("country", ISO3_SCHEMA, sortable=True),
        "location_status": Queryable(
            "location_status", {"type": "string", "enum": list(LOCATION_STATUSES)}
        ),
        "claimants": Queryable("claimants", {"type": "array", "items": ISO3_SCHEMA}),
        "accuracy_m": Queryable("accuracy_m", NUMBER, sortable=True),
        "location_origin": Queryable("location_origin", TEXT),
        "first_observed": Queryable("first_observed", DATE, sortable=True),
        "last_observed": Queryable("last_observed", DATE, sortable=True),
        "source": Queryable("source", TEXT),
        "border_distance_m": Queryable("border_distance_m", NUMBER, sortable=True),
        "border_distance_km": Queryable("border_distance_km", NUMBER),
        "border_pair": Queryable("border_pair", {"type": "string"}),
        "neighbour_country": Queryable("neighbour_country", ISO3_SCHEMA),
        "side_confidence": Queryable("side_confidence", TEXT),
        "side_probability": Queryable("side_probability", NUMBER),
        "boundary_source": Queryable("boundary_source", TEXT),
    }


@dataclass
class SitesProvider(Provider):
    def queryables(self) -> Mapping[str, Queryable]:
        return _queryables()

    def schema(self) -> dict[str, Any]:
        return {
            **super().schema(),
            "attributes": {"type": "object"},
            "created_at": DATE_TIME,
            "updated_at": DATE_TIME,
            "retired_at": {**DATE_TIME, "description": "When the site was retired (DELETE)"},
            "retired_reason": {**TEXT, "description": "Why the site was retired"},
            "restricted": {
                "type": "object",
                "description": "Only for admins and authorities in scope",
            },
            "query_border": {
                "type": "string",
                "description": "The border asked for (only with border and within_km)",
            },
            "query_border_distance_m": {
                "type": "number",
                "description": "Geodesic metres to that border (only with border and within_km)",
            },
        }

    def parse(self, base: FeatureQuery, values: Mapping[str, Any]) -> SiteQuery:
        return SiteQuery(
            bbox=base.bbox,
            datetime=base.datetime,
            filter=base.filter,
            sortby=base.sortby,
            kinds=values.get("kind", ()),
            minerals=values.get("mineral", ()),
            countries=values.get("country", ()),
            statuses=values.get("status", ()),
            include_retired=values.get("include_retired", False),
            border=values.get("border"),
            within_km=self._within(values),
            q=values.get("q"),
            zones=values.get("zone", ()),
            in_zone=values.get("in_zone"),
        )

    @staticmethod
    def _within(values: Mapping[str, Any]) -> float | None:
        within: float | None = values.get("within_km")
        if within is not None and values.get("border") is not None and within > STORED_RADIUS_KM:
            raise bad(
                "within_km",
                f"with a border filter, at most {STORED_RADIUS_KM:g} km "
                "(distances to every border are kept that far)",
            )
        return within

    def check_filter(self, query: FeatureQuery) -> None:
        """400 (``invalid_filter``) for a ``filter`` the sites' fields cannot answer (an
        unknown property, a type mismatch, a geometry GEOS refuses): a page that only passes
        the filter on (the explore map, to its tiles) refuses it up front."""
        if query.filter is not None:
            filter_clause(site_repo.SITES, query)

    def key_types_for(self, query: FeatureQuery) -> tuple[type | tuple[type, ...], ...]:
        if isinstance(query, SiteQuery) and query.q is not None and not query.sortby:
            return ((int, float), int)  # search rank, then id
        sort_types: dict[str, type | tuple[type, ...]] = {
            "border_distance_m": (int, float),
            "accuracy_m": (int, float),
            # carried as ISO text: checked as a date (a made-up "2021-02-30" was a 500)
            "first_observed": dt.date,
            "last_observed": dt.date,
        }
        return (*(sort_types.get(term.name, str) for term in query.sortby), int)

    def page(self, ctx: ReadContext, query: FeatureQuery, request: PageRequest) -> FeaturePage:
        at = versioned.resolve(ctx)
        asked = _as_sites(query)
        if asked.zones or asked.in_zone is not None:  # zones (issue 13)
            if at is not None:
                raise bad(
                    "as_of",
                    "as_of cannot be combined with zone or in_zone: zone classifications are "
                    "kept for the current dataset only",
                )
            return zone_sites.page(ctx, asked, request)
        if at is not None:
            page = history_repo.sites_page(
                ctx.session, asked, request, ctx.caller, ctx.count_cap, ctx.crs, at.version
            )
        else:
            page = site_repo.page(ctx.session, asked, request, ctx.caller, ctx.count_cap, ctx.crs)
        return versioned.stamped(ctx, page, at)

    def item(self, ctx: ReadContext, feature_id: str) -> Item | None:
        """The site (retired ones too) with its ETag (see ``site_writer.site_etag``); as of a
        version, the site then (tagged by its content, as a read of no current row version:
        ``app.api.etags.content_tag``). A merged site's id answers 308 with the survivor."""
        at = versioned.resolve(ctx)
        if at is not None:
            then = history_repo.site_feature(
                ctx.session, feature_id, ctx.caller, ctx.crs, at.version
            )
            return None if then is None else Item(then)
        site_history.check_not_merged(
            ctx.session, feature_id, f"{ctx.base_url}/collections/sites/items/{{id}}"
        )
        read = site_repo.get_feature_and_version(ctx.session, feature_id, ctx.caller, ctx.crs)
        if read is None:
            return None
        return Item(read[0], site_writer.site_etag(read[1], ctx.caller))

    def writer(self) -> Writer:
        return site_writer.WRITER

    def tile_layer(self, ctx: ReadContext, query: FeatureQuery) -> TileLayer:
        del ctx
        return site_repo.tile_layer(_as_sites(query), site_kinds().codes)

    def tile_fields(self) -> dict[str, dict[str, Any]]:
        names = [name for name, _ in site_repo.SITE_TILE_PROPERTIES]
        return tile_fields(names, self.schema(), points=True)

    def extent(self, session: Session) -> Extent:
        box = site_repo.spatial_extent(session)
        first, last = site_repo.temporal_extent(session)
        interval = None
        if first is not None:
            interval = (
                f"{first.isoformat()}T00:00:00Z",
                f"{last.isoformat()}T23:59:59Z" if last else None,
            )
        return Extent(box, interval)

    def links(self, base_url: str) -> list[Link]:
        return [Link(f"{base_url}/maps/sites", "alternate", "text/html", "Map of the sites")]

    def item_links(self, base_url: str, feature_id: str) -> list[Link]:
        visits = f"{base_url}/collections/observations/items?site={feature_id}"
        history = f"{base_url}/collections/sites/items/{feature_id}/history"
        actors = f"{base_url}/collections/actors/items?site={feature_id}"
        return [
            Link(visits, "related", GEOJSON, "Observations (visits) of this site"),
            Link(history, "version-history", "application/json", "History of this site"),
            Link(actors, "related", GEOJSON, "Supply-chain actors of this site"),
        ]


def _as_sites(query: FeatureQuery) -> SiteQuery:
    if isinstance(query, SiteQuery):
        return query
    return SiteQuery(query.bbox, query.datetime, query.filter, query.sortby)


PROVIDER = SitesProvider(
    id="sites",
    title="Mine sites and sales points",
    description=(
        "Artisanal mine sites and mineral sales points (comptoirs, buying houses, markets) "
        "with the country that contains each point, computed from the active boundaries, and "
        "the geodesic distance to the nearest international border."
    ),
    temporal=True,
    versioned=True,
    parameters=PARAMETERS,
    keywords=("Kimberley Process", "artisanal mining", "comptoir", "border"),
)
