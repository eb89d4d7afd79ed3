"""The coordinate reference systems borderlens serves (OGC API - Features Part 2, 18-058r1).

Pure: CRS identifiers, axis order and box transforms, with pyproj (``always_xy=True``: every
coordinate pair handed to pyproj is x/easting/longitude first). Geometries themselves are
transformed in PostGIS (``ST_Transform``), which uses the same PROJ.

Offered: OGC CRS84 (lon/lat, the default and storage CRS), EPSG:4326 (the same datum with
latitude first, as the EPSG register orders its axes), EPSG:3857 (web mercator, metres), and
WGS 84 / UTM zones 32N-37N (EPSG:32632-32637) and 32S-37S (EPSG:32732-32737), which cover the
Central African borders from Cameroon and Gabon (zone 32) to the eastern DRC (zone 36) and
beyond. Identifiers are accepted as the OGC URI
(``http://www.opengis.net/def/crs/EPSG/0/3857``), as a safe CURIE (``[EPSG:3857]``) or as a
plain ``EPSG:3857``; the URI is what responses carry.
"""

from __future__ import annotations

import math
import re
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from geo.errors import UnsupportedCRS, quoted

CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{code}"

#: Largest magnitude of a coordinate in any CRS offered (degrees, or the metres of EPSG:3857
#: and UTM, stay far below): beyond it a coordinate is out of range, whichever CRS it is in.
MAX_COORDINATE = 1e15
UTM_NORTH = tuple(range(32632, 32638))
UTM_SOUTH = tuple(range(32732, 32738))


@dataclass(frozen=True)
class OfferedCrs:
    """One offered CRS. ``srid`` is the PostGIS/EPSG code (4326 for CRS84 too);
    ``lat_first`` when its first axis is latitude (EPSG:4326); ``metres`` when projected."""

    uri: str
    srid: int
    name: str
    lat_first: bool = False
    metres: bool = False

    @property
    def is_crs84(self) -> bool:
        return self.uri == CRS84_URI

    @property
    def decimals(self) -> int:
        """Decimals that keep coordinates to about a tenth of a millimetre (1e-7 deg is ~1 cm
        at the equator, what the stored features carry)."""
        return 4 if self.metres else 7


def _utm(code: int) -> OfferedCrs:
    zone, hemisphere = code % 100, "N" if code < 32700 else "S"
    return OfferedCrs(
        EPSG_URI.format(code=code), code, f"WGS 84 / UTM zone {zone}{hemisphere}", metres=True
    )


CRS84 = OfferedCrs(CRS84_URI, 4326, "WGS 84 longitude/latitude (OGC CRS84)")
EPSG_4326 = OfferedCrs(
    EPSG_URI.format(code=4326), 4326, "WGS 84 latitude/longitude (EPSG:4326)", lat_first=True
)
EPSG_3857 = OfferedCrs(
    EPSG_URI.format(code=3857), 3857, "WGS 84 / Pseudo-Mercator (EPSG:3857)", metres=True
)
OFFERED: tuple[OfferedCrs, ...] = (
    CRS84,
    EPSG_4326,
    EPSG_3857,
    *(_utm(code) for code in UTM_NORTH + UTM_SOUTH),
)
_BY_URI = {crs.uri: crs for crs in OFFERED}

_CURIE = re.compile(r"^\[?(EPSG|OGC):([A-Za-z0-9.]+)\]?$", re.IGNORECASE)
_OGC_URI = re.compile(
    r"^https?://www\.opengis\.net/def/crs/(EPSG|OGC)/[0-9.]+/([A-Za-z0-9]+)$", re.IGNORECASE
)


def offered_uris() -> list[str]:
    return [crs.uri for crs in OFFERED]


def _canonical_uri(authority: str, code: str) -> str | None:
    if authority.upper() == "OGC":
        return CRS84_URI if code.upper() in ("CRS84", "1.3:CRS84") else None
    return EPSG_URI.format(code=int(code)) if code.isdigit() else None


def parse_crs(text: str, parameter: str = "crs") -> OfferedCrs:
    """The offered CRS named by ``text`` (URI, ``[EPSG:n]``, ``EPSG:n``, ``CRS84``).

    Raises ``UnsupportedCRS`` (naming ``parameter`` and listing the offered URIs) for
    anything else, including valid CRSs borderlens does not offer.
    """
    value = text.strip()
    uri: str | None = None
    if value.upper() in ("CRS84", "[CRS84]"):
        uri = CRS84_URI
    elif match := _OGC_URI.match(value) or _CURIE.match(value):
        uri = _canonical_uri(match.group(1), match.group(2))
    crs = _BY_URI.get(uri or "")
    if crs is None:
        raise UnsupportedCRS(
            f"{parameter}: {quoted(text)} is not an offered CRS; use one of: "
            + ", ".join(offered_uris()),
            parameter=parameter,
        )
    return crs


@cache
def _to_lonlat(srid: int) -> Transformer:
    return Transformer.from_crs(CRS.from_epsg(srid), CRS.from_epsg(4326), always_xy=True)


def to_xy(crs: OfferedCrs, first: float, second: float) -> tuple[float, float]:
    """A coordinate pair in ``crs``'s axis order -> (x/easting/longitude, y/northing/latitude)."""
    return (second, first) if crs.lat_first else (first, second)


def bbox_to_crs84(
    box: tuple[float, float, float, float], crs: OfferedCrs, parameter: str = "bbox-crs"
) -> tuple[float, float, float, float]:
    """A box given in ``crs`` (its corners in that CRS's axis order, lower corner first) as the
    CRS84 box (min lon, min lat, max lon, max lat) that contains it.

    Projected boxes are densified along their edges (``transform_bounds``), so a UTM box's
    curved outline in lon/lat is fully inside the answer. Raises ``UnsupportedCRS`` naming
    ``parameter`` when the box has no image (e.g. outside the projection's domain).
    """
    x0, y0 = to_xy(crs, box[0], box[1])
    x1, y1 = to_xy(crs, box[2], box[3])
    if crs.srid == 4326:
        return (x0, y0, x1, y1)
    if x0 > x1 or y0 > y1:
        raise UnsupportedCRS(
            f"{parameter}: the lower corner of a projected box must come first", parameter=parameter
        )
    bounds = _to_lonlat(crs.srid).transform_bounds(x0, y0, x1, y1, densify_pts=21)
    if not all(math.isfinite(v) for v in bounds):
        raise UnsupportedCRS(
            f"{parameter}: the box lies outside the domain of {crs.uri}", parameter=parameter
        )
    # The box's outline is what PostGIS transforms (densified as here): a vertex without a
    # lon/lat image is a 400 here, where PostGIS would fail the query (a 500), even when
    # the densified bounds above came out finite (a UTM box of 20 000 km).
    corners = (y0, x0, y1, x1) if crs.lat_first else (x0, y0, x1, y1)
    geometry_to_lonlat(shapely.box(*corners), crs, parameter, what="box")
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in bounds)
    return (min_lon, max(min_lat, -90.0), max_lon, min(max_lat, 90.0))


def point_from_lonlat(crs: OfferedCrs, lon: float, lat: float) -> tuple[float, float]:
    """A lon/lat point as coordinates of ``crs`` in that CRS's axis order (used by tests and
    clients that check what PostGIS returned)."""
    if crs.srid == 4326:
        return (lat, lon) if crs.lat_first else (lon, lat)
    x, y = Transformer.from_crs(4326, crs.srid, always_xy=True).transform(lon, lat)
    return (float(x), float(y))


def _densified(geom: BaseGeometry, step: float) -> BaseGeometry:
    """``geom`` with vertices added along its edges at most ``step`` apart (its CRS's units).

    GEOS refuses to densify a line or ring whose points are all one point (a box of zero
    size, a line of no length: ``point array must contain 0 or >1 elements``, a 500 for a
    ``bbox`` of one point in EPSG:3857); such a part has nothing to densify and is kept as
    it is, and the other parts are densified."""
    if geom.geom_type == "Point" or geom.is_empty:
        return geom
    try:
        return shapely.segmentize(geom, step)
    except shapely.errors.GEOSException:
        pass
    if isinstance(geom, shapely.Polygon):
        exterior: Any = _densified(geom.exterior, step)
        holes: Any = [_densified(ring, step) for ring in geom.interiors]
        return shapely.Polygon(exterior, holes)
    parts = getattr(geom, "geoms", None)
    if parts is not None:
        collection: Any = type(geom)
        return typing.cast(BaseGeometry, collection([_densified(part, step) for part in parts]))
    return geom  # a line or ring of one repeated point


def geometry_to_lonlat(
    geom: BaseGeometry, crs: OfferedCrs, parameter: str = "filter-crs", what: str = "geometry"
) -> BaseGeometry:
    """A geometry whose coordinates are in ``crs`` (its axis order) as lon/lat (CRS84).

    Edges are densified first in projected CRSs (about 1/32 of the geometry's extent), so a
    straight edge there stays close to its curved image in lon/lat. Raises ``UnsupportedCRS``
    naming ``parameter`` when a coordinate has no lon/lat image or lies outside lon [-180,
    180] / lat [-90, 90].
    """
    if crs.lat_first:
        geom = shapely.transform(geom, lambda xy: xy[:, ::-1])
    if crs.srid != 4326:
        minx, miny, maxx, maxy = geom.bounds
        step = max(maxx - minx, maxy - miny, 1.0) / 32
        geom = _densified(geom, step)
        transformer = _to_lonlat(crs.srid)

        def to_lonlat(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            lon, lat = transformer.transform(xy[:, 0], xy[:, 1], errcheck=False)
            return np.column_stack((lon, lat))

        geom = shapely.transform(geom, to_lonlat)
    coords = shapely.get_coordinates(geom)
    finite = bool(np.isfinite(coords).all())
    if not finite or (np.abs(coords[:, 0]) > 180).any() or (np.abs(coords[:, 1]) > 90).any():
        raise UnsupportedCRS(
            f"{parameter}: the {what} lies outside the domain of {crs.uri} "
            "(or outside lon [-180, 180], lat [-90, 90])",
            parameter=parameter,
        )
    return geom
