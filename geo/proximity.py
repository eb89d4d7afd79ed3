"""Distances from sites to every border near them, not only the nearest one.

"Which sales points lie within 25 km of the CAR-Cameroon border?" is not answered by each
site's *nearest* border: near a tripoint a site can be 10 km from Cameroon-Congo and 20 km
from CAR-Cameroon. So each site also gets its distance to every border within a radius,
stored and indexed, and border queries read those figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from geo.borders import BorderIndex

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
ObjectArray = npt.NDArray[np.object_]

# Shortest a degree of latitude gets on WGS 84 (at the equator), in metres; a degree of
# longitude is shorter by cos(latitude). Boxes built with these are never too small.
METRES_PER_DEGREE_LAT_MIN = 110_574.0
METRES_PER_DEGREE_LON_EQUATOR = 111_320.0


@dataclass(frozen=True)
class PairDistances:
    """One entry per (site, border within the radius): parallel arrays."""

    point: IntArray
    pair_code: ObjectArray
    distance_m: FloatArray

    def __len__(self) -> int:
        return len(self.point)


def _margin_deg(radius_m: float, max_abs_lat: float) -> tuple[float, float]:
    lat_margin = radius_m / METRES_PER_DEGREE_LAT_MIN
    widest = min(89.0, max_abs_lat + lat_margin)
    lon_margin = radius_m / (METRES_PER_DEGREE_LON_EQUATOR * math.cos(math.radians(widest)))
    return lon_margin, lat_margin


def pair_distances(
    index: BorderIndex, lon: npt.ArrayLike, lat: npt.ArrayLike, *, radius_m: float
) -> PairDistances:
    """Geodesic distance from each point to each border within ``radius_m``.

    Each border is searched only for the points inside its bounding box widened by the
    radius (a vectorised test), then measured exactly with the index of that border alone.

    >>> from types import SimpleNamespace
    >>> from shapely import LineString
    >>> borders = [SimpleNamespace(pair_code="AAA-BBB", geometry=LineString([(20, -1), (20, 1)])),
    ...            SimpleNamespace(pair_code="BBB-CCC", geometry=LineString([(21, -1), (21, 1)]))]
    >>> found = pair_distances(BorderIndex.from_lines(borders), [20.2], [0.0], radius_m=50_000)
    >>> list(found.pair_code), [round(d) for d in found.distance_m]
    (['AAA-BBB'], [22264])
    """
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    points: list[IntArray] = []
    codes: list[ObjectArray] = []
    distances: list[FloatArray] = []
    for pair in index.pair_codes:
        border = index.restricted_to({pair})
        _, lon1, lat1, lon2, lat2 = border.segments()
        max_abs_lat = float(max(np.abs(lat1).max(), np.abs(lat2).max()))
        lon_margin, lat_margin = _margin_deg(radius_m, max_abs_lat)
        near = np.flatnonzero(
            (lon_a >= min(lon1.min(), lon2.min()) - lon_margin)
            & (lon_a <= max(lon1.max(), lon2.max()) + lon_margin)
            & (lat_a >= min(lat1.min(), lat2.min()) - lat_margin)
            & (lat_a <= max(lat1.max(), lat2.max()) + lat_margin)
        )
        if near.size == 0:
            continue
        distance = border.nearest(lon_a[near], lat_a[near]).distance_m
        within = distance <= radius_m
        points.append(near[within])
        distances.append(distance[within])
        # one string shared by the rows (np.full would make a copy of it for each)
        pair_codes = np.empty(int(within.sum()), dtype=object)
        pair_codes.fill(pair)
        codes.append(pair_codes)
    if not points:
        return PairDistances(
            np.array([], dtype=np.intp), np.array([], dtype=object), np.array([], dtype=float)
        )
    return PairDistances(np.concatenate(points), np.concatenate(codes), np.concatenate(distances))


def neighbour_across(pair_code: str | None, country: str | None) -> str | None:
    """The country on the other side of ``pair_code`` seen from ``country``.

    >>> neighbour_across("CAF-CMR", "CAF"), neighbour_across("CAF-CMR", "TCD")
    ('CMR', None)
    """
    if not pair_code or not country:
        return None
    a, _, b = pair_code.partition("-")
    if country == a:
        return b
    if country == b:
        return a
    return None
