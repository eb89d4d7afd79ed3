"""Trade routes: geodesic paths between a source and a destination, their length, and where the
straight (geodesic) line between the two ends first crosses an international border.

All coordinates are lon/lat on WGS 84 (EPSG:4326); lengths in metres. A geodesic between two
ends is drawn as a LineString with vertices every ``step_m`` (``pyproj.Geod.npts``), so that
intersecting it with border lines in lon/lat finds the crossing to within metres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from geo.geodesic import WGS84

STEP_M: Final = 1_000.0


def geodesic_line(
    lon1: float, lat1: float, lon2: float, lat2: float, step_m: float = STEP_M
) -> LineString:
    """The geodesic from (lon1, lat1) to (lon2, lat2) as a LineString, a vertex every ``step_m``.

    >>> line = geodesic_line(15.0, 4.0, 16.0, 4.0)
    >>> round(path_length_m(line))
    111050
    """
    _, _, distance = WGS84.inv(lon1, lat1, lon2, lat2)
    inner = max(int(distance // step_m) - 1, 0)
    middle = WGS84.npts(lon1, lat1, lon2, lat2, inner) if inner else []
    return LineString([(lon1, lat1), *middle, (lon2, lat2)])


def path_length_m(line: BaseGeometry) -> float:
    """Geodesic length in metres along the vertices (``Geod.geometry_length``)."""
    return float(WGS84.geometry_length(line))


@dataclass(frozen=True)
class Crossing:
    """Where a path first crosses a border: the border's pair code, the point (lon, lat), and
    the geodesic metres from the path's start to it (along the path)."""

    pair_code: str
    point: Point
    from_start_m: float


def first_crossing(
    path: LineString, borders: Sequence[tuple[str, BaseGeometry]]
) -> Crossing | None:
    """The first crossing of ``path`` (from its first vertex) with any of ``borders``
    ((pair code, line geometry) in lon/lat); None when it crosses none.

    >>> border = ("AAA-BBB", LineString([(15.5, 3.0), (15.5, 5.0)]))
    >>> found = first_crossing(geodesic_line(15.0, 4.0, 16.0, 4.0), [border])
    >>> found.pair_code, round(found.point.x, 6), round(found.from_start_m / 1000, 1)
    ('AAA-BBB', 15.5, 55.5)
    """
    best: tuple[float, str, Point] | None = None
    for pair_code, geometry in borders:
        if not shapely.intersects(path, geometry):
            continue
        hits = shapely.get_parts(shapely.intersection(path, geometry))
        for hit in hits:
            for point in _points_of(hit):
                along = path.project(point)
                if best is None or along < best[0]:
                    best = (along, pair_code, point)
    if best is None:
        return None
    along, pair_code, point = best
    cut = substring(path, 0, along) if along > 0 else None
    distance = path_length_m(cut) if cut is not None and not cut.is_empty else 0.0
    return Crossing(pair_code, Point(point.x, point.y), distance)


def _points_of(geometry: BaseGeometry) -> list[Point]:
    """Points of an intersection: a point as is; a shared stretch by its first point."""
    if geometry.is_empty:
        return []
    first = shapely.get_coordinates(geometry)[0]
    return [Point(first[0], first[1])]
