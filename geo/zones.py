"""Zones: repair zone polygons, and classify points against a zone set (inside, edge distance).

A *zone set* is a named collection of polygons (KP-compliant "green zones", protected areas,
concessions, security incident areas). For every point it answers, in one vectorised call:

- ``inside``: whether the point lies in (or on the edge of) one of the set's polygons, by
  shapely's planar test in lon/lat degrees (a polygon's edges are straight lines in lon/lat,
  as GeoJSON, KML and Shapefile draw them and as every GIS client shows them);
- ``zone``: the containing zone (the first listed when zones overlap), else the zone whose edge
  is nearest;
- ``edge_distance_m``: the geodesic distance on WGS 84, in metres, to the nearest edge of any
  zone of the set (exterior rings and holes alike), whether the point is inside or not.

The edge distance reuses the border machinery (:class:`geo.borders.BorderIndex`): every ring is
densified in lon/lat (vertices at most ``densify_deg`` apart, so that the geodesic between two
consecutive vertices departs from the straight lon/lat edge by millimetres), exploded into
2-point geodesic segments, and queried through the Earth-centred k-d tree with exact geodesic
refinement. The zone id plays the role of the border's pair code.

Repair: an invalid polygon (a bow-tie, a self-touching ring, a hole outside its shell) is
repaired with ``shapely.make_valid(method="structure")`` and kept with the reason; what is not
polygonal after repair (a ring of zero area) cannot be a zone and is refused by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import shapely
import shapely.geometry.polygon
from shapely.geometry.base import BaseGeometry

from geo.borders import BorderIndex
from geo.errors import InvalidCoordinates
from geo.geodesic import WGS84, FloatArray

#: Largest lon/lat step between edge vertices before geodesic measurement (~550 m at the equator).
DENSIFY_DEG: Final = 0.005
#: Sample spacing of the edge index (metres); any value is exact, this one is quick here.
SAMPLE_SPACING_M: Final = 1_000.0

ObjectArray = npt.NDArray[np.object_]


@dataclass(frozen=True)
class Repaired:
    """A zone geometry as stored: a MultiPolygon, or None when nothing polygonal is left.

    ``reason`` is shapely's validity reason of the input (``"Self-intersection[20 0]"``)
    when it had to be repaired, else None.
    """

    geometry: shapely.MultiPolygon | None
    reason: str | None


def repair(geometry: BaseGeometry) -> Repaired:
    """The polygonal part of ``geometry`` as one valid MultiPolygon (lon/lat, EPSG:4326).

    Valid polygons pass unchanged (as a one-part MultiPolygon); invalid ones go through
    ``make_valid(method="structure")``, which keeps the area a user means by a bow-tie (both
    triangles) and drops zero-area slivers. Lines and points are not polygonal: None.
    """
    if geometry is None or geometry.is_empty:
        return Repaired(None, None)
    reason = None
    if not shapely.is_valid(geometry):
        reason = str(shapely.is_valid_reason(geometry))
        geometry = shapely.make_valid(geometry, method="structure", keep_collapsed=False)
    polygons = [
        part
        for part in shapely.get_parts(geometry)
        if part.geom_type in ("Polygon", "MultiPolygon") and not part.is_empty
    ]
    flat = [p for part in polygons for p in shapely.get_parts(part)]
    if not flat:
        return Repaired(None, reason)
    multi = shapely.MultiPolygon(flat)
    if not multi.is_valid:  # parts that touch along an edge after repair: merge them
        merged = shapely.union_all(flat)
        multi = shapely.MultiPolygon(list(shapely.get_parts(merged)))
    return Repaired(multi, reason)


def geodesic_area_km2(geometry: BaseGeometry) -> float:
    """Area on WGS 84 in km² (pyproj ``Geod.geometry_area_perimeter``, holes subtracted)."""
    # Counter-clockwise shells and clockwise holes: pyproj signs areas by orientation.
    oriented = shapely.MultiPolygon(
        [shapely.geometry.polygon.orient(part, 1.0) for part in shapely.get_parts(geometry)]
    )
    area_m2, _ = WGS84.geometry_area_perimeter(oriented)
    return abs(float(area_m2)) / 1e6


@dataclass(frozen=True)
class ZoneClassification:
    """Per-point answer of :meth:`ZoneIndex.classify`, as parallel arrays.

    ``inside``: bool; ``zone``: object array of zone ids (containing zone, else the zone of
    the nearest edge; None for NaN points); ``edge_distance_m``: geodesic metres to the
    nearest zone edge (NaN for NaN points).
    """

    inside: npt.NDArray[np.bool_]
    zone: ObjectArray
    edge_distance_m: FloatArray

    def __len__(self) -> int:
        return int(self.inside.shape[0])


@dataclass(frozen=True)
class _Edge:
    pair_code: str
    geometry: BaseGeometry


class ZoneIndex:
    """Classify points against one zone set (lon/lat, EPSG:4326).

    >>> square = shapely.box(20.0, 4.0, 20.1, 4.1)
    >>> index = ZoneIndex(["Z1"], [square])
    >>> found = index.classify(np.array([20.05, 20.2]), np.array([4.05, 4.05]))
    >>> found.inside.tolist(), found.zone.tolist()
    ([True, False], ['Z1', 'Z1'])
    >>> [round(float(d)) for d in found.edge_distance_m]
    [5529, 11104]
    """

    def __init__(
        self,
        zone_ids: Sequence[str],
        geometries: Sequence[BaseGeometry],
        *,
        densify_deg: float = DENSIFY_DEG,
    ) -> None:
        if len(zone_ids) != len(geometries):
            raise ValueError("one id per zone geometry is required")
        if not zone_ids:
            raise ValueError("a zone set needs at least one zone")
        self._ids: ObjectArray = np.asarray(list(zone_ids), dtype=object)
        self._geoms = np.asarray(list(geometries), dtype=object)
        self._tree = shapely.STRtree(self._geoms)
        rings = shapely.segmentize(shapely.boundary(self._geoms), densify_deg)
        edges = [_Edge(str(i), g) for i, g in zip(self._ids, rings, strict=True)]
        self._edges = BorderIndex.from_lines(edges, sample_spacing_m=SAMPLE_SPACING_M)

    @property
    def zone_ids(self) -> tuple[str, ...]:
        return tuple(str(z) for z in self._ids)

    def classify(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> ZoneClassification:
        """Inside/outside, zone and geodesic edge distance (m) of each lon/lat point.

        Raises :class:`~geo.errors.InvalidCoordinates` for points outside the lon/lat range;
        NaN points get ``inside=False``, ``zone=None`` and a NaN distance.
        """
        lon_a = np.asarray(lon, dtype=np.float64)
        lat_a = np.asarray(lat, dtype=np.float64)
        if lon_a.shape != lat_a.shape or lon_a.ndim != 1:
            raise ValueError("lon and lat must be 1-D arrays of the same length")
        finite = np.isfinite(lon_a) & np.isfinite(lat_a)
        if np.any((np.abs(lon_a[finite]) > 180) | (np.abs(lat_a[finite]) > 90)):
            raise InvalidCoordinates("points outside the lon/lat range")
        n = lon_a.shape[0]
        inside = np.zeros(n, dtype=bool)
        zone = np.full(n, None, dtype=object)
        distance = np.full(n, np.nan, dtype=np.float64)
        if n == 0 or not finite.any():
            return ZoneClassification(inside, zone, distance)
        rows = np.flatnonzero(finite)
        points = shapely.points(lon_a[rows], lat_a[rows])
        point_k, zone_k = self._tree.query(points, predicate="intersects")
        # The first listed zone wins where zones overlap: sort hits by (point, zone).
        order = np.lexsort((zone_k, point_k))
        point_k, zone_k = point_k[order], zone_k[order]
        first = np.unique(point_k, return_index=True)[1]
        hit_rows = rows[point_k[first]]
        inside[hit_rows] = True
        nearest = self._edges.nearest(lon_a[rows], lat_a[rows])
        distance[rows] = nearest.distance_m
        zone[rows] = nearest.pair_code
        zone[hit_rows] = self._ids[zone_k[first]]
        return ZoneClassification(inside, zone, distance)
