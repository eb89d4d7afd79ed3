"""A subscription's criteria on sites: the same filters as ``/collections/sites/items``.

``criteria`` is a JSON object with any of ``filter`` (CQL2, ``filter-lang`` ``cql2-text`` by
default or ``cql2-json``), ``border`` (a pair ``CAF-CMR`` or a country ``CMR``),
``within_km`` (geodesic km to that border, or to any international border), ``country``,
``kind``, ``mineral`` and ``zone`` (zone sets, ``ZS-...`` or their name, or zones,
``ZN-...``: a string, comma-separated, or a list of strings) and ``in_zone`` (true, the
default, or false: sites inside none of those zones). Each is parsed by the very parser of
the items query parameter, so a criterion means exactly what the same query would return,
and an invalid one is a 422 naming it (``criteria.<name>``); a zone that does not exist is
one too. Zone names are resolved when a change is matched, as the items query resolves them
when it runs; a subscription naming a zone deleted since is skipped (as one naming a removed
border is).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy.orm import Session

from app.collections.base import ParseContext
from app.collections.cql2 import parse_filter
from app.collections.parsing import missing_qualified
from app.db import boundaries as boundary_repo
from app.db import subscriptions as subscription_repo
from app.db import zones as zone_repo
from app.db.sites import plan_query, row_filters
from app.errors import InvalidBody, InvalidParameter, ProblemItem
from app.queries import CqlFilter, FeatureQuery, SiteQuery
from geo.countries import read_country_table

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def _bad(name: str, message: str) -> InvalidBody:
    return InvalidBody(
        f"criteria.{name}: {message}",
        code="invalid_criteria",
        items=[ProblemItem("invalid_criteria", message, column=f"criteria.{name}")],
    )


_VALUES = "a string (values comma-separated) or a non-empty list of strings"
#: What each shortcut takes as a JSON value (its items parameter's text is a string too).
SHAPES: dict[str, str] = {
    "border": "a string: a border pair (CAF-CMR) or a country (CMR)",
    "within_km": "a number of km",
    "country": _VALUES,
    "kind": _VALUES,
    "mineral": _VALUES,
    "zone": _VALUES,
    "in_zone": "true or false",
}
SHORTCUTS = tuple(SHAPES)
KNOWN = (*SHORTCUTS, "filter", "filter-lang")
_JSON_TYPES = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}


def _raw(name: str, value: Any) -> str:
    """A criterion as the query parameter's text (lists comma-joined); ``_bad`` naming the
    shape the criterion takes unless ``value`` has it. A boolean is no number (Python's
    ``True`` is an int)."""
    if isinstance(value, str):
        return value
    if name == "in_zone" and isinstance(value, bool):
        return "true" if value else "false"
    if name == "within_km" and isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    is_list = isinstance(value, list) and value and all(isinstance(v, str) for v in value)
    if SHAPES[name] == _VALUES and is_list:
        return ",".join(value)
    given = _JSON_TYPES.get(type(value)) or (
        "null" if value is None else "a list" if isinstance(value, list) else "an object"
    )
    raise _bad(name, f"must be {SHAPES[name]}, not {given}")


def parse(session: Session, criteria: Mapping[str, Any]) -> SiteQuery:
    """The criteria as a ``SiteQuery`` (``InvalidBody`` 422 naming the criterion)."""
    # Imported here: the sites collection imports the site services, which record events
    # through this module (a cycle at import time, none at call time).
    from app.collections.sites import PARAMETERS, PROVIDER

    unknown = sorted(set(criteria) - set(KNOWN))
    if unknown:
        raise _bad(unknown[0][:40], "unknown criterion; known: " + ", ".join(KNOWN))
    context = ParseContext(
        border_pairs=lambda: boundary_repo.border_pairs(session),
        country_codes=lambda: [country.iso3 for country in read_country_table()],
    )
    by_name = {parameter.name: parameter for parameter in PARAMETERS}
    values: dict[str, Any] = {}
    for name in SHORTCUTS:
        if name in criteria:
            try:
                values[name] = by_name[name].parse(_raw(name, criteria[name]), context)
            except InvalidParameter as error:
                raise _bad(name, error.detail) from None
    cql: CqlFilter | None = None
    if "filter-lang" in criteria and "filter" not in criteria:
        raise _bad("filter-lang", missing_qualified("filter-lang", "filter"))
    if "filter" in criteria:
        text = criteria["filter"]
        if not isinstance(text, str | dict):
            raise _bad("filter", "CQL2 text (a string) or CQL2 JSON (an object)")
        lang = criteria.get("filter-lang", "cql2-json" if isinstance(text, dict) else None)
        if isinstance(text, dict):
            text = orjson.dumps(text).decode()
        try:
            parsed = parse_filter(text, lang)
            cql = CqlFilter(parsed.ast, CRS84, parsed.lang)
        except InvalidParameter as error:
            raise _bad("filter", error.detail) from None
    try:
        query = PROVIDER.parse(FeatureQuery(filter=cql), values)
        plan_query(query)  # compiles the CQL2 against the site queryables: errors now
    except InvalidParameter as error:
        raise _bad("filter", error.detail) from None
    if query.zones:
        known = zone_repo.known_zone_refs(session, query.zones)
        unknown_zones = [ref for ref in query.zones if ref not in known]
        if unknown_zones:
            raise _bad("zone", f"no zone set or zone {unknown_zones[0][:80]!r}")
    return query


def _zone_clause(session: Session, query: SiteQuery) -> ColumnElement[bool] | None:
    """The ``zone``/``in_zone`` criteria as SQL on ``sites`` (None: no zone criterion)."""
    if not query.zones and query.in_zone is None:
        return None
    inside = query.in_zone if query.in_zone is not None else True
    return zone_repo.named_zones_clause(session, query.zones, inside)


def matcher(
    session: Session, subscription: subscription_repo.SubscriptionRecord
) -> subscription_repo.Matcher:
    query = parse(session, subscription.criteria)
    zone = _zone_clause(session, query)
    where = row_filters(query) if zone is None else [*row_filters(query), zone]
    return subscription_repo.Matcher(subscription, where)
