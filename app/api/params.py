"""Parsing and validation of OGC API query parameters into ``app.queries`` values.

Every failure is an ``InvalidParameter`` (HTTP 400 problem detail) naming the parameter.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import orjson

from app.errors import InvalidParameter, ProblemItem
from app.queries import BBox, Interval, Keyset

OPEN = ("", "..")
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84_SPELLINGS = (CRS84, "[OGC:CRS84]", "OGC:CRS84", "http://www.opengis.net/def/crs/OGC/0/CRS84")


def bad(parameter: str, message: str, code: str = "invalid_parameter") -> InvalidParameter:
    return InvalidParameter(
        f"{parameter}: {message}",
        code=code,
        items=[ProblemItem(code=code, message=message, column=parameter)],
    )


def reject_unknown(params: Iterable[str], allowed: Collection[str]) -> None:
    """OGC API Features /req/core/query-param-unknown: unknown parameters are a 400."""
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise bad(
            unknown[0],
            f"unknown query parameter; this endpoint accepts {', '.join(sorted(allowed))}",
            code="unknown_parameter",
        )


def single(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise bad(name, "given more than once")
    return values[0]


def check_crs(params: Mapping[str, list[str]]) -> None:
    """Accept ``crs`` / ``bbox-crs`` naming CRS84 (what clients such as GDAL send); other CRSs
    (OGC API Features Part 2) are not offered yet and are refused by name."""
    for name in ("crs", "bbox-crs"):
        value = single(params, name)
        if value is not None and value.strip() not in CRS84_SPELLINGS:
            raise bad(
                name,
                f"only {CRS84} (lon/lat on WGS 84) is offered, not {value!r}",
                code="unsupported_crs",
            )


def parse_limit(raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise bad("limit", f"must be an integer between 1 and {maximum}, not {raw!r}") from None
    if not 1 <= limit <= maximum:
        raise bad("limit", f"must be between 1 and {maximum}, not {limit}")
    return limit


def parse_bbox(raw: str | None) -> BBox | None:
    """``minLon,minLat,maxLon,maxLat`` (or 6 numbers with heights, which are ignored)."""
    if raw is None:
        return None
    parts = raw.split(",")
    if len(parts) not in (4, 6):
        raise bad("bbox", f"needs 4 (or 6) comma-separated numbers, got {len(parts)}")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise bad("bbox", f"values must be numbers: {raw!r}") from None
    if not all(math.isfinite(n) for n in numbers):
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


def _instant(text: str, parameter: str) -> dt.datetime:
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise bad(parameter, f"{text!r} is not an RFC 3339 date-time (or date)") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def parse_datetime(raw: str | None) -> Interval | None:
    """An instant, or an interval ``start/end`` with ``..`` (or nothing) for an open end."""
    if raw is None:
        return None
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


def parse_list(raw: str | None) -> list[str]:
    if raw is None:
        return []
    values = [v.strip() for v in raw.split(",")]
    if any(not v for v in values):
        raise bad("list", "empty value in a comma-separated list")
    return values


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(type(value))


def encode_cursor(keyset: Keyset, number_matched: int | None) -> str:
    payload = {"k": list(keyset.values), "b": keyset.backwards, "n": number_matched}
    raw = orjson.dumps(payload, default=_json_default)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(raw: str | None) -> tuple[Keyset | None, int | None]:
    """The opaque ``cursor`` of next/prev links -> (keyset, numberMatched carried over)."""
    if raw is None:
        return None, None
    try:
        padded = raw + "=" * (-len(raw) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        values = tuple(payload["k"])
        backwards = bool(payload["b"])
        matched = payload.get("n")
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeEncodeError):
        raise bad(
            "cursor", "not a cursor this server issued (follow the next/prev links)"
        ) from None
    if not values or (matched is not None and not isinstance(matched, int)):
        raise bad("cursor", "not a cursor this server issued (follow the next/prev links)")
    return Keyset(values, backwards), matched
