"""Coordinate parsing and transforms: decimal, DMS, DDM, geopoint strings, UTM zones, CRS.

Survey teams write coordinates as ``-4.3592``, ``-4,3592`` (French Excel), ``4°21'33"N``,
``4 21.55 N``, ``N 4°21.55'``, ``18°33'20"O`` (ouest), as ODK/KoBo geopoints
``"4.3592 18.5556 512 4.5"``, or as UTM eastings/northings. Columns are parsed as whole arrays:
the common all-decimal case is one numpy conversion; only cells that fail it go through the
DMS/DDM grammar, one by one.

Nothing here guesses: a projected coordinate needs a CRS (an EPSG code, WKT, or a UTM zone with
its hemisphere), because a wrong zone moves a point by hundreds of kilometres.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pyproj
from pyproj.exceptions import CRSError

from geo.errors import InvalidCRS, quoted
from geo.vocab import empty_value_test

Axis: TypeAlias = Literal["lon", "lat"]
FloatArray: TypeAlias = npt.NDArray[np.float64]
Cell: TypeAlias = str | float | int | None

WGS84 = pyproj.CRS.from_epsg(4326)

# The one normalisation table of coordinate typography: every look-alike of the degree, minute
# and second marks that phones, GPS screens, word processors and keyboards produce becomes the
# ASCII-ish symbol the grammar knows (°, ', "). Letters (d/deg, m/min, s/sec) and the ``:``
# separator are read by the grammar itself; every Unicode space is a space.
DEGREE_MARKS = (
    "\u00b0",  # degree sign
    "\u00ba",  # masculine ordinal, typed for a degree sign
    "\u02da",  # ring above
    "\u1d52",  # modifier letter small o
    "\u2070",  # superscript zero
    "\u2218",  # ring operator
    "\u25e6",  # white bullet
    "\u00f8",  # o with stroke: the degree sign of DOS code pages 437/850 read as Latin-1
)
MINUTE_MARKS = (
    "'",
    "\u2032",  # prime
    "\u2019",  # right single quotation mark
    "\u2018",  # left single quotation mark
    "\u201b",  # single high-reversed-9 quotation mark
    "\u00b4",  # acute accent
    "`",  # accent
    "\u02b9",  # modifier letter prime
    "\u02bc",  # modifier letter apostrophe
    "\u02ca",  # modifier letter acute accent
    "\u2035",  # reversed prime
    "\uff07",  # fullwidth apostrophe
    "\ua78c",  # latin small letter saltillo
)
SECOND_MARKS = (
    '"',
    "\u2033",  # double prime
    "\u201d",  # right double quotation mark
    "\u201c",  # left double quotation mark
    "\u201e",  # double low-9 quotation mark
    "\u201f",  # double high-reversed-9 quotation mark
    "\u02ba",  # modifier letter double prime
    "\u02dd",  # double acute accent
    "\u2036",  # reversed double prime
    "\u3003",  # ditto mark
    "\uff02",  # fullwidth quotation mark
)
_SYMBOLS = str.maketrans(
    {
        **dict.fromkeys(DEGREE_MARKS, "°"),
        **dict.fromkeys(MINUTE_MARKS, "'"),
        **dict.fromkeys(SECOND_MARKS, '"'),
    }
)
# Hemisphere words and letters, English and French (O = ouest = west).
_HEMISPHERES = {
    "n": ("lat", 1.0),
    "north": ("lat", 1.0),
    "nord": ("lat", 1.0),
    "s": ("lat", -1.0),
    "south": ("lat", -1.0),
    "sud": ("lat", -1.0),
    "e": ("lon", 1.0),
    "east": ("lon", 1.0),
    "est": ("lon", 1.0),
    "w": ("lon", -1.0),
    "west": ("lon", -1.0),
    "o": ("lon", -1.0),
    "ouest": ("lon", -1.0),
}
_HEMISPHERE_WORD = "north|nord|south|sud|east|est|west|ouest|[nsewo]"
_LEADING_HEMISPHERE = re.compile(rf"^({_HEMISPHERE_WORD})(?![a-z])\s*", re.IGNORECASE)
# A trailing hemisphere follows a digit, a mark, a blank, or a letter mark ("15d07m24.24sE").
_TRAILING_HEMISPHERE = re.compile(
    rf"(?:(?<![a-z])|(?<=\d[dms])|(?<=\d(?:deg|min|sec)))\s*({_HEMISPHERE_WORD})\.?$",
    re.IGNORECASE,
)
_NUMBER = r"\d+(?:[.,]\d+)?"
_MINUTES_THEN_MORE = re.compile(r"\d\s*(?:m(?:in)?(?![a-z])|'|:)\s*\d", re.IGNORECASE)
_STUCK_S = re.compile(r"\ds$")  # lower-case: "S" stays South
_DMS_BODY = re.compile(
    rf"""^(?P<sign>[+-])?\s*
    (?P<deg>{_NUMBER})\s*(?:°|degr[eé]s?|degrees?|deg|d(?![a-z])|:)?\s*
    (?:(?P<min>{_NUMBER})\s*(?:'|minutes?|min|mn|m(?![a-z])|:)?\s*
       (?:(?P<sec>{_NUMBER})\s*(?:"|''|seconds?|secondes?|sec|s(?![a-z]))?\s*)?
    )?$""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True)
class ParsedColumn:
    """A parsed coordinate (or number) column.

    ``values`` holds NaN for empty and for unparseable cells; ``errors`` maps the index of each
    unparseable cell to a sentence saying why, so readers can report it with row and column.
    """

    values: FloatArray
    errors: dict[int, str]


def _as_text(cells: Sequence[Cell]) -> list[str]:
    return ["" if cell is None else str(cell).strip() for cell in cells]


def parse_numbers(cells: Sequence[Cell], *, decimal_comma: bool = False) -> ParsedColumn:
    """Parse plain decimal numbers; ``decimal_comma`` reads ``-3,4567`` as ``-3.4567``.

    Empty cells give NaN without an error. The whole column is converted by numpy in one call;
    only when that fails are the cells retried one by one to find the culprits.
    """
    text = _as_text(cells)
    if decimal_comma:
        text = [t.replace(",", ".") for t in text]
    as_array = np.array(text, dtype=str) if text else np.array([], dtype=str)
    empty = as_array == ""
    try:
        values = np.where(empty, "nan", as_array).astype(np.float64)
    except ValueError:
        values = np.array([_float_or_nan(t) for t in text], dtype=np.float64)
    errors = {
        i: f"{quoted(text[i])} is not a number"
        for i in np.flatnonzero(~np.isfinite(values) & ~empty).tolist()
        if not _is_nan_word(text[i])
    }
    for i in errors:
        values[i] = np.nan
    return ParsedColumn(values, errors)


def _float_or_nan(text: str) -> float:
    try:
        return float(text) if text else np.nan
    except ValueError:
        return np.nan


def _is_nan_word(text: str) -> bool:
    # "NaN"/"nan" cells are how pandas and some exports write an empty number.
    return text.casefold() == "nan"


def parse_coordinates(
    cells: Sequence[Cell], *, axis: Axis, decimal_comma: bool = False
) -> ParsedColumn:
    """Parse a longitude or latitude column holding decimal degrees, DMS or DDM strings.

    Parameters
    ----------
    cells
        The column's cells; None and blank cells are empty.
    axis
        ``"lat"`` or ``"lon"``: a hemisphere letter must belong to it (``E`` in a latitude
        column is an error, usually a sign the columns are swapped).
    decimal_comma
        Read ``-4,3592`` as ``-4.3592`` (set for ``;``-delimited CSV and for XLSX text cells).

    Returns
    -------
    ParsedColumn
        Signed decimal degrees (S and W/O negative), NaN where empty or unparseable.
    """
    numbers = parse_numbers(cells, decimal_comma=decimal_comma)
    if not numbers.errors:
        return numbers
    text = _as_text(cells)
    values = numbers.values
    errors: dict[int, str] = {}
    for i in numbers.errors:
        try:
            values[i] = parse_angle(text[i], axis=axis)
        except ValueError as exc:
            errors[i] = str(exc)
    return ParsedColumn(values, errors)


def parse_angle(text: str, *, axis: Axis) -> float:
    """Parse one angle written as DMS, DDM or decimal degrees, with an optional hemisphere.

    Accepts ``4°21'33"N``, ``4 21 33 N``, ``N 4°21.55'``, ``4 21.55 N``, ``-4.3592``,
    ``18°33'20"E``, ``18°33'20"O`` (ouest) and ``4.3592 S``.

    Raises
    ------
    ValueError
        With a message fit for the sender: wrong hemisphere for the axis, minutes or seconds of
        60 or more, a sign together with a hemisphere, or text that is no angle at all.
    """
    original = text
    text = text.translate(_SYMBOLS).strip()
    hemisphere: str | None = None
    # "4d 46m 45.84s", "4°46'45.84s": a lower-case "s" stuck to the seconds is their mark.
    letter_seconds = bool(_MINUTES_THEN_MORE.search(text) and _STUCK_S.search(text))
    for pattern in (_LEADING_HEMISPHERE, _TRAILING_HEMISPHERE):
        if letter_seconds and pattern is _TRAILING_HEMISPHERE:
            continue
        match = pattern.search(text)
        if match:
            if hemisphere is not None:
                raise ValueError(f"{quoted(original)} has two hemisphere letters")
            hemisphere = match.group(1).casefold()
            text = (text[: match.start()] + text[match.end() :]).strip()
    body = _DMS_BODY.match(text)
    if body is None:
        raise ValueError(f"{quoted(original)} is not a coordinate (decimal degrees, DMS or DDM)")
    degrees, minutes, seconds = (_number(body.group(part)) for part in ("deg", "min", "sec"))
    if minutes is not None and not float(degrees or 0).is_integer():
        raise ValueError(f"{quoted(original)} has decimal degrees followed by minutes")
    if seconds is not None and not float(minutes or 0).is_integer():
        raise ValueError(f"{quoted(original)} has decimal minutes followed by seconds")
    for part, amount in (("minutes", minutes), ("seconds", seconds)):
        if amount is not None and amount >= 60:
            raise ValueError(f"{quoted(original)} has {amount:g} {part} (must be under 60)")
    value = (degrees or 0.0) + (minutes or 0.0) / 60 + (seconds or 0.0) / 3600
    sign = -1.0 if body.group("sign") == "-" else 1.0
    if hemisphere is not None:
        hemisphere_axis, hemisphere_sign = _HEMISPHERES[hemisphere]
        if hemisphere_axis != axis:
            kind = "latitude" if axis == "lat" else "longitude"
            raise ValueError(
                f"{quoted(original)} has hemisphere {quoted(hemisphere.upper())} in a "
                f"{kind} column "
                "(are latitude and longitude swapped?)"
            )
        if body.group("sign") == "-":
            raise ValueError(f"{quoted(original)} has both a minus sign and a hemisphere")
        sign = hemisphere_sign
    return sign * value


def _number(text: str | None) -> float | None:
    return None if text is None else float(text.replace(",", "."))


def format_dms(value: float, *, axis: Axis, seconds_decimals: int = 4) -> str:
    """Write ``value`` as ``4°21'33.1200"N`` (the inverse of :func:`parse_angle`)."""
    hemisphere = ("N", "S") if axis == "lat" else ("E", "W")
    letter = hemisphere[0] if value >= 0 else hemisphere[1]
    total = round(abs(value) * 3600, seconds_decimals)
    degrees, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{int(degrees)}°{int(minutes)}'{seconds:.{seconds_decimals}f}\"{letter}"


def format_ddm(value: float, *, axis: Axis, minutes_decimals: int = 6) -> str:
    """Write ``value`` as degrees and decimal minutes, ``4 21.552000 N``."""
    hemisphere = ("N", "S") if axis == "lat" else ("E", "W")
    letter = hemisphere[0] if value >= 0 else hemisphere[1]
    total = round(abs(value) * 60, minutes_decimals)
    degrees, minutes = divmod(total, 60)
    return f"{int(degrees)} {minutes:.{minutes_decimals}f} {letter}"


@dataclass(frozen=True)
class ParsedGeopoints:
    """Split ODK/KoBo geopoint strings ``"lat lon [alt] [accuracy]"``."""

    lat: FloatArray
    lon: FloatArray
    accuracy_m: FloatArray
    errors: dict[int, str]


def parse_geopoints(
    cells: Sequence[Cell], *, is_empty: Callable[[object], bool] | None = None
) -> ParsedGeopoints:
    """Parse geopoint strings; 2, 3 or 4 space-separated numbers, as formpack accepts.

    A part that is an empty-value token (``is_empty``, by default :data:`geo.vocab.EMPTY_VALUES`:
    Ona writes ``"3.9455 17.1688 n/a n/a"``) is unknown; without latitude or longitude the
    cell is empty, not an error.
    """
    empty = is_empty or empty_value_test()
    n = len(cells)
    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    accuracy = np.full(n, np.nan)
    errors: dict[int, str] = {}
    for i, text in enumerate(_as_text(cells)):
        if not text:
            continue
        parts = text.split()
        try:
            numbers = [np.nan if empty(part) else float(part) for part in parts]
        except ValueError:
            numbers = []
        if not 2 <= len(numbers) <= 4:
            errors[i] = f"{quoted(text)} is not a geopoint ('lat lon [altitude] [accuracy]')"
            continue
        if not (math.isfinite(numbers[0]) and math.isfinite(numbers[1])):
            continue
        lat[i], lon[i] = numbers[0], numbers[1]
        if len(numbers) == 4:
            accuracy[i] = numbers[3]
    return ParsedGeopoints(lat, lon, accuracy, errors)


_GEOPOINT_TEXT = re.compile(r"^\s*-?\d+(?:\.\d+)?(?:\s+-?\d+(?:\.\d+)?){1,3}\s*$")


def looks_like_geopoint(text: str) -> bool:
    """True for ``"4.3592 18.5556 512 4.5"``-like text (used to find an unnamed geopoint column)."""
    return bool(_GEOPOINT_TEXT.match(text))


_UTM = re.compile(
    r"^(?:wgs\s*84\s*/?\s*)?(?:utm)?\s*(?:zone)?\s*(?P<zone>\d{1,2})\s*"
    r"(?P<hemisphere>north|nord|south|sud|[c-x])?$"
)


def utm_epsg(zone: int, *, south: bool) -> int:
    """EPSG code of WGS 84 / UTM ``zone`` (326xx north, 327xx south)."""
    if not 1 <= zone <= 60:
        raise InvalidCRS(f"UTM zone {zone} does not exist (zones run from 1 to 60)")
    return (32700 if south else 32600) + zone


def resolve_crs(text: str) -> pyproj.CRS:
    """Resolve an uploader's CRS: ``EPSG:32634``, ``32634``, ``UTM 34N``, ``34S``, WKT, PROJ.

    A UTM zone needs its hemisphere (``N``/``S``, ``north``/``south``, ``nord``/``sud``, or a
    latitude band letter: C-M south, N-X north; ``S`` is read as south, as GIS software does).

    Raises
    ------
    InvalidCRS
        When the text names no CRS pyproj knows, or a UTM zone without hemisphere.
    """
    folded = " ".join(text.strip().casefold().split())
    if folded.isdigit():
        folded = f"epsg:{folded}"
    utm = _UTM.match(folded)
    if utm and ("utm" in folded or utm.group("hemisphere")):
        hemisphere = utm.group("hemisphere")
        if hemisphere is None:
            raise InvalidCRS(
                f"{quoted(text)} gives a UTM zone without its hemisphere: write e.g. 'UTM 34N' "
                "or 'UTM 34S' (or an EPSG code such as 32634)"
            )
        south = hemisphere in ("south", "sud", "s") or (len(hemisphere) == 1 and hemisphere < "n")
        return pyproj.CRS.from_epsg(utm_epsg(int(utm.group("zone")), south=south))
    try:
        return pyproj.CRS.from_user_input(text.strip())
    except CRSError as exc:
        raise InvalidCRS(
            f"{quoted(text)} is not a coordinate reference system pyproj knows"
        ) from exc


def crs_label(crs: pyproj.CRS) -> str:
    """``"EPSG:32634"`` when the CRS has an authority code, else its WKT."""
    authority = crs.to_authority(min_confidence=90)
    return f"{authority[0]}:{authority[1]}" if authority else crs.to_wkt()


def is_wgs84(crs: pyproj.CRS) -> bool:
    """True when coordinates in ``crs`` are already EPSG:4326 lon/lat (axis order aside)."""
    return bool(crs.equals(WGS84, ignore_axis_order=True))


@lru_cache(maxsize=32)
def _transformer(crs_wkt: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(pyproj.CRS.from_wkt(crs_wkt), WGS84, always_xy=True)


def to_wgs84(x: npt.ArrayLike, y: npt.ArrayLike, crs: pyproj.CRS) -> tuple[FloatArray, FloatArray]:
    """Transform x/y arrays in ``crs`` to lon/lat on WGS 84 in one call (``always_xy``).

    NaN stays NaN; a point the transform cannot handle comes back as NaN too (pyproj says inf).
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if is_wgs84(crs):
        return xs.copy(), ys.copy()
    lon, lat = _transformer(crs.to_wkt()).transform(xs, ys, errcheck=False)
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    lon[bad] = np.nan
    lat[bad] = np.nan
    return lon, lat
