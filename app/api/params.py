"""The common query parameters of OGC API - Features items, declared once.

Each is a ``Parameter``: its OpenAPI schema documents it (per collection, in ``/api``) and its
parser turns the raw text into a value. ``parse_query`` applies the declared parameters of one
request and refuses anything undeclared (/req/core/query-param-unknown), so what ``/api``
says and what the server accepts cannot drift apart.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from app.api import profiles
from app.collections.base import Parameter, ParseContext, Provider
from app.collections.parsing import BIGINT_MAX, bad, has_control_characters, text_value
from app.queries import BBox, FeatureQuery, Interval, Keyset, SortBy
from app.services import exports
from app.settings import Settings

OPEN = ("", "..")
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84_SPELLINGS = (CRS84, "[OGC:CRS84]", "OGC:CRS84", "http://www.opengis.net/def/crs/OGC/0/CRS84")
FORMATS = ("json", "geojson")
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
    parts = text_value("bbox", raw, 300).split(",")
    if len(parts) not in (4, 6):
        raise bad("bbox", f"needs 4 (or 6) comma-separated numbers, got {len(parts)}")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise bad("bbox", f"values must be numbers: {raw[:100]!r}") from None
    if not all(abs(n) < float("inf") for n in numbers):
        raise bad("bbox", "values must be finite numbers")
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
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
    if not _RFC3339.fullmatch(text):
        raise bad(parameter, f"{text[:50]!r} is not an RFC 3339 date-time (or date)")
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
        value = dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise bad(parameter, f"{text[:50]!r} is not a valid date-time") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


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
        backwards = bool(payload["b"])
        matched = payload.get("n")
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeEncodeError):
        raise _cursor_error() from None
    if not values or not all(_cursor_value_ok(v) for v in values):
        raise _cursor_error()
    if matched is not None and not (isinstance(matched, int) and 0 <= matched <= BIGINT_MAX):
        raise _cursor_error()
    return Keyset(values, backwards), matched


def check_keyset_types(types: Sequence[type | tuple[type, ...]], values: Sequence[object]) -> None:
    """A cursor must carry the sort key of this collection and this sort (else: 400)."""
    ok = len(values) == len(types) and all(
        isinstance(v, t) and not isinstance(v, bool) for v, t in zip(values, types, strict=False)
    )
    if not ok:
        raise bad("cursor", "not a cursor of this collection and sort (follow the next/prev links)")


def parse_crs84(parameter: str) -> Parameter:
    """``crs`` / ``bbox-crs`` naming CRS84 (what clients such as GDAL send)."""

    def parse(raw: str, _ctx: ParseContext) -> str:
        if raw.strip() not in CRS84_SPELLINGS:
            raise bad(
                parameter,
                f"only {CRS84} (lon/lat on WGS 84) is offered, not {raw[:100]!r}",
                code="unsupported_crs",
            )
        return CRS84

    return Parameter(
        parameter,
        "Coordinate reference system (CRS84: lon/lat on WGS 84)",
        {"type": "string", "format": "uri", "enum": [CRS84], "default": CRS84},
        parse,
    )


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
            "minLon,minLat,maxLon,maxLat (CRS84; 6 numbers with heights also accepted)",
            {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
            lambda raw, _ctx: parse_bbox(raw),
        ),
        parse_crs84("bbox-crs"),
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
        parse_crs84("crs"),
        profiles.PARAMETER,
    )
    sorting = (parse_sortby(provider),) if provider.sortables() else ()
    return (*common, *sorting, *provider.parameters)


def item_parameters_single(settings: Settings) -> tuple[Parameter, ...]:
    """What one item accepts."""
    del settings
    return (format_parameter(), parse_crs84("crs"), profiles.PARAMETER)


def feature_query(values: Mapping[str, Any]) -> FeatureQuery:
    return FeatureQuery(
        bbox=values.get("bbox"), datetime=values.get("datetime"), sortby=values.get("sortby", ())
    )
