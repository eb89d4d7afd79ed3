"""The common query parameters of OGC API - Features items, declared once.

Each is a ``Parameter``: its OpenAPI schema documents it (per collection, in ``/api``) and its
parser turns the raw text into a value. ``parse_query`` applies the declared parameters of one
request and refuses anything undeclared (/req/core/query-param-unknown), so what ``/api``
says and what the server accepts cannot drift apart.

The other OGC routes (landing page, conformance, collections, queryables, schemas, tiling
schemes, the API definition, writes) refuse undeclared parameters too
(:func:`reject_undeclared_ogc_query`), but take and ignore the item parameters: GDAL sends the
query of the URL it was given (``OAPIF:http://host/collections/sites?kind=mine``) with every
request it makes, QGIS the landing URL's (``http://host/?border=CAF-CMR``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson
from fastapi import Request

from app import collections as registry
from app.api import crs as crs_api
from app.api import profiles
from app.api.deps import SettingsDep, refuse_undeclared
from app.collections.base import Parameter, ParseContext, Provider
from app.collections.cql2 import (
    FILTER_LANGS,
    MAX_FILTER_CHARS,
    parse_filter,
    parse_filter_lang,
)
from app.collections.parsing import (
    BIGINT_MAX,
    bad,
    decimal,
    has_control_characters,
    missing_qualified,
    one_of,
    text_value,
)
from app.queries import AsOf, BBox, CqlFilter, FeatureQuery, Interval, Keyset, ProjectedBox, SortBy
from app.services import exports
from app.settings import Settings
from geo.crs import OfferedCrs, bbox_to_crs84
from geo.errors import UnsupportedCRS

OPEN = ("", "..")
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
FORMATS = ("json", "geojson", "html")
LANGUAGES = ("en", "fr", "pt")
#: 4 numbers, or 6 with heights (OGC API - Features 17-069r4 7.15.3); lists travel as a,b,c.
BBOX_SCHEMA: dict[str, Any] = {
    "type": "array",
    "oneOf": [{"minItems": 4, "maxItems": 4}, {"minItems": 6, "maxItems": 6}],
    "items": {"type": "number"},
}
#: Items as files (app.services.exports), on the items route only.
EXPORT_FORMATS = exports.NAMES


def parse_query(
    items: Iterable[tuple[str, str]], declared: Sequence[Parameter], ctx: ParseContext
) -> dict[str, Any]:
    """Parse the query string with the declared parameters: name -> parsed value.

    Unknown, repeated or unparseable parameters are a 400 naming the parameter.
    """
    by_name = {parameter.name: parameter for parameter in declared}
    values: dict[str, Any] = {}
    for name, raw in items:
        parameter = by_name.get(name)
        if parameter is None:
            raise bad(
                name[:64],
                f"unknown query parameter; this endpoint accepts {', '.join(sorted(by_name))}",
                code="unknown_parameter",
            )
        if name in values:
            raise bad(name, "given more than once")
        values[name] = parameter.parse(raw, ctx)
    return values


# -- parsers ------------------------------------------------------------------------------


def parse_limit(raw: str, maximum: int) -> int:
    """1 or more; above ``maximum`` the maximum is used, not refused (17-069r4
    /req/core/fc-limit-response-1 C)."""
    text = raw.strip()
    if not (text.isascii() and text.lstrip("+-").isdigit()) or len(text) > 30:
        raise bad("limit", f"must be an integer between 1 and {maximum}, not {raw[:50]!r}")
    limit = int(text)
    if limit < 1:
        raise bad("limit", f"must be at least 1 (at most {maximum} are served per page)")
    return min(limit, maximum)


def parse_bbox(raw: str) -> BBox:
    """``minLon,minLat,maxLon,maxLat`` (or 6 numbers with heights, which are ignored)."""
    return lonlat_bbox(bbox_numbers(raw))


def bbox_numbers(raw: str) -> tuple[float, float, float, float]:
    """The 4 numbers of a ``bbox`` (of 6, the heights dropped), in whatever CRS it is."""
    parts = text_value("bbox", raw, 300).split(",")
    if len(parts) not in (4, 6):
        raise bad("bbox", f"needs 4 (or 6) comma-separated numbers, got {len(parts)}")
    try:
        numbers = [decimal(p) for p in parts]
    except ValueError:
        raise bad("bbox", f"values must be numbers: {raw[:100]!r}") from None
    if not all(abs(n) < float("inf") for n in numbers):
        raise bad("bbox", "values must be finite numbers")
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    return (numbers[0], numbers[1], numbers[2], numbers[3])


def lonlat_bbox(numbers: tuple[float, float, float, float]) -> BBox:
    """A lon/lat ``bbox`` checked for range and order."""
    min_lon, min_lat, max_lon, max_lat = numbers
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
        raise bad("bbox", "longitudes must lie in [-180, 180] (the order is lon,lat,lon,lat)")
    if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
        raise bad("bbox", "latitudes must lie in [-90, 90] (the order is lon,lat,lon,lat)")
    if min_lat > max_lat:
        raise bad("bbox", "the lower latitude is larger than the upper one")
    return BBox(min_lon, min_lat, max_lon, max_lat)


# RFC 3339 date-time; ``T``/``Z`` in either case (section 5.6 allows lower case).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?)?")


def _instant(text: str, parameter: str) -> dt.datetime:
    """An RFC 3339 date-time (with its offset) or full date (that day at 00:00 UTC)."""
    if not _RFC3339.fullmatch(text):
        raise bad(parameter, f"{text[:50]!r} is not an RFC 3339 date-time (or date)")
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
        value = dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise bad(parameter, f"{text[:50]!r} is not a valid date-time") from None
    if value.tzinfo is None:
        # RFC 3339 has no local time: taken as UTC, a time of Kinshasa (UTC+1) or of the
        # caller's clock was silently an hour or more off
        raise bad(parameter, f"{text[:50]!r}: a date-time needs its offset (Z or +hh:mm)")
    return value


def parse_datetime(raw: str) -> Interval:
    """An instant, or an interval ``start/end`` with ``..`` (or nothing) for an open end."""
    if "/" not in raw:
        instant = _instant(raw, "datetime")
        return Interval(instant, instant)
    start_text, _, end_text = raw.partition("/")
    if start_text in OPEN and end_text in OPEN:
        raise bad("datetime", "an interval needs at least one closed end")
    start = None if start_text in OPEN else _instant(start_text, "datetime")
    end = None if end_text in OPEN else _instant(end_text, "datetime")
    if start and end and start > end:
        raise bad("datetime", "the interval starts after it ends")
    return Interval(start, end)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(type(value))


def encode_cursor(keyset: Keyset, number_matched: int | None) -> str:
    payload = {"k": list(keyset.values), "b": keyset.backwards, "n": number_matched}
    raw = orjson.dumps(payload, default=_json_default)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _cursor_error() -> Exception:
    return bad("cursor", "not a cursor this server issued (follow the next/prev links)")


def _cursor_value_ok(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -BIGINT_MAX <= value <= BIGINT_MAX
    if isinstance(value, str):
        return len(value) <= 300 and not has_control_characters(value)
    return isinstance(value, float)


def decode_cursor(raw: str) -> tuple[Keyset, int | None]:
    """The opaque ``cursor`` of next/prev links -> (keyset, numberMatched carried over)."""
    try:
        padded = raw + "=" * (-len(raw) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        values = tuple(payload["k"])
        backwards = payload["b"]
        matched = payload.get("n")
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeEncodeError):
        raise _cursor_error() from None
    if not isinstance(backwards, bool):
        raise _cursor_error()
    if not values or not all(_cursor_value_ok(v) for v in values):
        raise _cursor_error()
    if matched is not None and not (isinstance(matched, int) and 0 <= matched <= BIGINT_MAX):
        raise _cursor_error()
    return Keyset(values, backwards), matched


def _key_ok(value: object, expected: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return False
    if expected is dt.date:  # a date key travels as ISO text: it must be a real date
        if not isinstance(value, str) or len(value) != 10:
            return False
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return False
        return True
    return isinstance(value, expected)


def check_keyset_types(types: Sequence[type | tuple[type, ...]], values: Sequence[object]) -> None:
    """A cursor must carry the sort key of this collection and this sort (else: 400)."""
    ok = len(values) == len(types) and all(
        _key_ok(v, t) for v, t in zip(values, types, strict=False)
    )
    if not ok:
        raise bad("cursor", "not a cursor of this collection and sort (follow the next/prev links)")


def parse_sortby(provider: Provider) -> Parameter:
    sortables = provider.sortables()

    def parse(raw: str, _ctx: ParseContext) -> tuple[SortBy, ...]:
        terms: list[SortBy] = []
        for field in text_value("sortby", raw, 500).split(","):
            name = field.strip().lstrip("+")
            descending = name.startswith("-")
            name = name.lstrip("-").strip()
            if name not in sortables:
                choice = ", ".join(sortables) or "nothing"
                raise bad("sortby", f"{name[:64]!r} is not sortable here; sortables: {choice}")
            terms.append(SortBy(name, descending))
        if len({t.descending for t in terms}) > 1:
            raise bad("sortby", "all terms must sort in the same direction")
        return tuple(terms)

    return Parameter(
        "sortby",
        "Sort by sortable queryables, comma-separated; '-' prefix for descending: "
        + (", ".join(sortables) or "(none)"),
        {"type": "array", "items": {"type": "string", "pattern": r"^[+-]?[A-Za-z_][\w]*$"}},
        parse,
    )


def format_parameter(formats: Sequence[str] = FORMATS) -> Parameter:
    def parse(raw: str, _ctx: ParseContext) -> str:
        if raw not in formats:
            raise bad("f", f"this endpoint serves {', '.join(formats)}, not {raw[:50]!r}")
        return raw

    return Parameter("f", "Response format", {"type": "string", "enum": list(formats)}, parse)


def language_parameter() -> Parameter:
    return Parameter(
        "lang",
        "Language of the HTML page (f=html or Accept: text/html): en, fr or pt; without it, "
        "Accept-Language, then English",
        {"type": "string", "enum": list(LANGUAGES)},
        lambda raw, _ctx: one_of("lang", raw, LANGUAGES),
    )


def filter_parameters() -> tuple[Parameter, ...]:
    """``filter`` (kept as text until ``filter-lang`` is known) and ``filter-lang`` (Part 3)."""
    return (
        Parameter(
            "filter",
            "CQL2 filter over the queryables (see /collections/{collectionId}/queryables), "
            "e.g. ACCENTI(CASEI(name)) = ACCENTI(CASEI('betare oya')) AND "
            "A_CONTAINS(minerals, ('diamond'))",
            {"type": "string"},
            lambda raw, _ctx: text_value("filter", raw, MAX_FILTER_CHARS),
        ),
        Parameter(
            "filter-lang",
            "Language of filter",
            {"type": "string", "enum": list(FILTER_LANGS), "default": FILTER_LANGS[0]},
            lambda raw, _ctx: parse_filter_lang(raw),
        ),
    )


def item_parameters(settings: Settings, provider: Provider) -> tuple[Parameter, ...]:
    """Every parameter the items of ``provider`` accept: the common ones, then its own."""
    maximum = settings.items_max_limit
    common = (
        Parameter(
            "limit",
            f"Features per page (1 to {maximum}; larger values are served as {maximum})",
            {
                "type": "integer",
                "minimum": 1,
                "maximum": maximum,
                "default": settings.items_default_limit,
            },
            lambda raw, _ctx: parse_limit(raw, maximum),
        ),
        Parameter(
            "bbox",
            "minLon,minLat,maxLon,maxLat (CRS84, or in bbox-crs and its axis order; "
            "6 numbers with heights also accepted)",
            BBOX_SCHEMA,
            lambda raw, _ctx: bbox_numbers(raw),
        ),
        crs_api.bbox_crs(),
        Parameter(
            "datetime",
            "RFC 3339 instant or interval (a/b, ../b, a/..)",
            {"type": "string"},
            lambda raw, _ctx: parse_datetime(text_value("datetime", raw, 100)),
        ),
        Parameter(
            "cursor",
            "Opaque paging token from next/prev links",
            {"type": "string"},
            lambda raw, _ctx: decode_cursor(text_value("cursor", raw, 2000)),
        ),
        format_parameter((*FORMATS, *EXPORT_FORMATS)),
        language_parameter(),
        crs_api.output_crs(),
        profiles.PARAMETER,
        *filter_parameters(),
        crs_api.filter_crs(),
    )
    sorting = (parse_sortby(provider),) if provider.sortables() else ()
    versioned = (AS_OF,) if provider.versioned else ()
    return (*common, *sorting, *versioned, *provider.parameters)


def reject_undeclared_ogc_query(request: Request, settings: SettingsDep) -> None:
    """A dependency of the OGC routes other than items and tiles: what the route does not
    declare is a 400 naming it, except the item parameters of its collection (of any
    collection at the root, the landing page's query being QGIS's for every layer), which GIS
    clients send with every request and which are ignored here (see the module docstring)."""
    collection_id = request.path_params.get("collectionId")
    providers = registry.PROVIDERS if collection_id is None else (registry.get(collection_id),)
    carried = {
        parameter.name
        for provider in providers
        for parameter in item_parameters(settings, provider)
    }
    whose = "any collection" if collection_id is None else f"collection {collection_id!r}"
    refuse_undeclared(
        request,
        carried,
        f"and ignores the items parameters of {whose}, which GIS clients repeat on every request",
    )


#: Item parameters that shape a page or its encoding, not which features: not taken by tiles.
#: as_of, zone and in_zone: tiles are drawn from the current data and do not join the zone
#: classification yet, so they are refused (400) rather than silently ignored.
NOT_FOR_TILES = frozenset(
    {"limit", "cursor", "f", "lang", "crs", "profile", "sortby", "as_of", "zone", "in_zone"}
)


def tile_parameters(settings: Settings, provider: Provider) -> tuple[Parameter, ...]:
    """What a tile (and its tileset metadata) accepts: the filters of the collection's items
    (bbox, datetime, CQL2 filter, the collection's own parameters), declared once there."""
    return tuple(
        parameter
        for parameter in item_parameters(settings, provider)
        if parameter.name not in NOT_FOR_TILES
    )


def item_parameters_single(
    settings: Settings, provider: Provider | None = None
) -> tuple[Parameter, ...]:
    """What one item accepts (``as_of`` where the collection is versioned)."""
    del settings
    versioned = (AS_OF,) if provider is not None and provider.versioned else ()
    return (
        format_parameter(),
        language_parameter(),
        crs_api.output_crs(),
        profiles.PARAMETER,
        *versioned,
    )


def without_carried(
    items: Sequence[tuple[str, str]], settings: Settings, provider: Provider
) -> list[tuple[str, str]]:
    """One item's query without the items parameters of its collection that an item does not
    take (``kind``, ``bbox``, ``filter``...): GIS clients repeat a layer's query on every
    request, a single feature's too; ignored there as on the other OGC routes
    (:func:`reject_undeclared_ogc_query`). Anything else is left for the item to refuse."""
    own = {parameter.name for parameter in item_parameters_single(settings, provider)}
    carried = {parameter.name for parameter in item_parameters(settings, provider)} - own
    return [(name, value) for name, value in items if name not in carried]


def parse_as_of(raw: str, _ctx: ParseContext | None = None) -> AsOf:
    """``as_of``: a dataset version (a whole number) or an RFC 3339 date-time (or date)."""
    value = text_value("as_of", raw, 64).strip()
    if value.isascii() and value.isdigit():
        number = int(value)
        if number > BIGINT_MAX:
            raise bad("as_of", "a dataset version is at most 9223372036854775807")
        return AsOf(version=number)
    return AsOf(at=_instant(value, "as_of"))


AS_OF = Parameter(
    "as_of",
    "Read the data as it was at this dataset version (a whole number, as in the "
    "Dataset-Version header) or RFC 3339 time: the same answer, byte for byte, every time",
    {"type": "string", "pattern": "^([0-9]{1,19}|[0-9]{4}-[0-9]{2}-[0-9]{2}.*)$"},
    parse_as_of,
)


#: Parameters that only say how another is read (OGC API - Features Part 2: bbox-crs; Part
#: 3: filter-lang and filter-crs qualify filter): alone they mean nothing, and a user who
#: sends one has forgotten the other (they were accepted silently, and every feature came).
QUALIFIERS = {"filter-lang": "filter", "filter-crs": "filter", "bbox-crs": "bbox"}


def feature_query(values: Mapping[str, Any]) -> FeatureQuery:
    for qualifier, qualified in QUALIFIERS.items():
        if qualifier in values and qualified not in values:
            raise bad(qualifier, missing_qualified(qualifier, qualified))
    return FeatureQuery(
        bbox=_bbox(values),
        datetime=values.get("datetime"),
        filter=_filter(values),
        sortby=values.get("sortby", ()),
    )


def _bbox(values: Mapping[str, Any]) -> BBox | None:
    """``bbox`` read in ``bbox-crs``: a lon/lat box, or the lon/lat envelope of a projected
    box that remembers the box itself (features are matched against its outline)."""
    numbers: tuple[float, float, float, float] | None = values.get("bbox")
    if numbers is None:
        return None
    crs: OfferedCrs | None = values.get("bbox-crs")
    if crs is None or crs.is_crs84:
        return lonlat_bbox(numbers)
    try:
        bounds = bbox_to_crs84(numbers, crs, "bbox")
    except UnsupportedCRS as error:
        raise bad("bbox", error.message.removeprefix("bbox: ")) from None
    if crs.srid == 4326:  # EPSG:4326: the same box, latitude first
        return lonlat_bbox(bounds)
    return replace(lonlat_bbox(bounds), projected=ProjectedBox(numbers, crs.uri))


def _filter(values: Mapping[str, Any]) -> CqlFilter | None:
    text: str | None = values.get("filter")
    if text is None:
        return None
    parsed = parse_filter(text, values.get("filter-lang"))
    crs: OfferedCrs | None = values.get("filter-crs")
    return CqlFilter(parsed.ast, crs.uri if crs else CRS84, parsed.lang)
