"""Geodesic measures on the WGS 84 ellipsoid, vectorised.

Everything here takes and returns numpy arrays of lon/lat degrees (EPSG:4326, x=lon) and
metres. Two families of tools live side by side:

* **Exact measures** through :data:`WGS84` (``pyproj.Geod``, i.e. Karney's GeographicLib
  algorithms, accurate to nanometres): :func:`inverse_distance_m` and
  :func:`nearest_on_segments`, the distance from points to geodesic segments.
* **Cheap conservative bounds** through Earth-centred Cartesian coordinates
  (:func:`ecef_m`). A straight 3-D chord between two surface points is never longer than the
  geodesic between them, and the geodesic exceeds the chord by a known, tiny amount
  (:func:`geodesic_upper_bound_m`). The border index and the clustering use these bounds to
  discard almost every candidate with plain numpy arithmetic and hand only the few
  undecided ones to the exact solver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import pyproj

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

WGS84: Final = pyproj.Geod(ellps="WGS84")
SEMI_MAJOR_M: Final = 6_378_137.0
FLATTENING: Final = 1 / 298.257_223_563
ECCENTRICITY_SQUARED: Final = FLATTENING * (2 - FLATTENING)
# The ellipsoid is most curved along the meridian at the equator: radius a(1 - e²). Using
# it for every chord-to-arc conversion gives a bound valid everywhere on the ellipsoid.
SMALLEST_RADIUS_OF_CURVATURE_M: Final = SEMI_MAJOR_M * (1 - ECCENTRICITY_SQUARED)
# Radius for the spherical Newton step of the point-to-segment solver. It only steers the
# iteration (convergence is checked on the ellipsoid), so the IUGG mean radius is fine.
MEAN_RADIUS_M: Final = 6_371_008.8
# Slack added to the chord bounds so float rounding can never prune a true answer: Earth-
# centred coordinates are ~6.4e6 m, so a chord carries an absolute error near 1e-9 m.
BOUND_SLACK: Final = 1e-9
BOUND_SLACK_M: Final = 1e-6


def ecef_m(lon_deg: npt.ArrayLike, lat_deg: npt.ArrayLike) -> FloatArray:
    """Earth-centred, Earth-fixed coordinates (metres) of points on the WGS 84 surface.

    Parameters
    ----------
    lon_deg, lat_deg
        Longitudes and latitudes in degrees, broadcastable to one shape ``(n,)``.

    Returns
    -------
    ndarray of shape (n, 3)
        X, Y, Z in metres (height 0). NaN input gives NaN rows.

    Examples
    --------
    >>> ecef_m([0.0], [0.0]).round(3).tolist()
    [[6378137.0, 0.0, 0.0]]
    """
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    sin_lat = np.sin(lat)
    prime_vertical_m = SEMI_MAJOR_M / np.sqrt(1 - ECCENTRICITY_SQUARED * sin_lat**2)
    xyz = np.empty((*np.broadcast(lon, lat).shape, 3), dtype=np.float64)
    xyz[..., 0] = prime_vertical_m * np.cos(lat) * np.cos(lon)
    xyz[..., 1] = prime_vertical_m * np.cos(lat) * np.sin(lon)
    xyz[..., 2] = prime_vertical_m * (1 - ECCENTRICITY_SQUARED) * sin_lat
    return xyz


def geodesic_upper_bound_m(chord_m: npt.ArrayLike) -> FloatArray:
    """Longest geodesic that two WGS 84 surface points ``chord_m`` apart in 3-D can have.

    The geodesic bends away from the chord no more than an arc on the most curved sphere
    that fits the ellipsoid (radius a(1 - e²) ≈ 6 335 km), so ``2 R asin(c / 2R)`` bounds
    it. The excess over the chord is c³/24R²: 0.1 mm at 5 km, 1 m at 100 km.

    Chords longer than the sphere's diameter are clipped (the bound is then meaningless but
    finite); nothing in borderlens gets near that.
    """
    chord = np.asarray(chord_m, dtype=np.float64)
    radius = SMALLEST_RADIUS_OF_CURVATURE_M
    half_angle = np.arcsin(np.clip(chord / (2 * radius), 0.0, 1.0))
    return np.asarray(2 * radius * half_angle * (1 + BOUND_SLACK) + BOUND_SLACK_M, dtype=np.float64)


def chord_within_m(distance_m: float) -> float:
    """Largest 3-D chord that guarantees a geodesic of at most ``distance_m``.

    The inverse of :func:`geodesic_upper_bound_m`: two surface points whose chord is at most
    this far apart are certainly within ``distance_m`` along the ellipsoid. Points whose
    chord lies between this value and ``distance_m`` itself are undecided and need an exact
    :func:`inverse_distance_m` (a band 0.1 mm wide at 5 km).
    """
    radius = SMALLEST_RADIUS_OF_CURVATURE_M
    angle = min(distance_m / (2 * radius), np.pi / 2)
    return float(2 * radius * np.sin(angle) * (1 - BOUND_SLACK) - BOUND_SLACK_M)


def inverse_distance_m(
    lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike
) -> FloatArray:
    """Geodesic distance in metres between point pairs (pyproj.Geod.inv on WGS 84)."""
    _, _, distance = WGS84.inv(
        np.asarray(lon1, dtype=np.float64),
        np.asarray(lat1, dtype=np.float64),
        np.asarray(lon2, dtype=np.float64),
        np.asarray(lat2, dtype=np.float64),
    )
    return np.asarray(distance, dtype=np.float64)


def _wrap_degrees(angle_deg: FloatArray) -> FloatArray:
    return np.asarray((angle_deg + 180.0) % 360.0 - 180.0, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class GeodesicSegments:
    """Geodesic segments between consecutive border vertices, with what the solvers reuse.

    A segment is the shortest path on WGS 84 between its two end vertices. PostGIS's
    ``geography`` draws an edge as a great-circle arc instead; over this region's borders
    (segments up to 54 km) the two curves are at most 0.11 m apart.

    Attributes
    ----------
    lon1, lat1, lon2, lat2
        End vertices in degrees.
    azimuth1_deg, azimuth2_deg
        Direction of travel (A towards B) at the start and at the end of the segment.
    length_m
        Geodesic length; zero-length segments are refused by :meth:`from_endpoints`.
    start_ecef, end_ecef
        The end vertices in Earth-centred coordinates (for the chord bounds).
    sagitta_m
        An upper bound of how far the curved segment strays from the straight 3-D chord
        between its ends (L² / 8R with R the smallest radius of curvature, plus slack).
    """

    lon1: FloatArray
    lat1: FloatArray
    lon2: FloatArray
    lat2: FloatArray
    azimuth1_deg: FloatArray
    azimuth2_deg: FloatArray
    length_m: FloatArray
    start_ecef: FloatArray = field(repr=False)
    end_ecef: FloatArray = field(repr=False)
    sagitta_m: FloatArray = field(repr=False)

    @classmethod
    def from_endpoints(
        cls,
        lon1: npt.ArrayLike,
        lat1: npt.ArrayLike,
        lon2: npt.ArrayLike,
        lat2: npt.ArrayLike,
    ) -> GeodesicSegments:
        """Measure segments once (one ``Geod.inv`` call for all of them).

        Raises
        ------
        ValueError
            If a segment has zero length or a coordinate is not finite: a border index has
            no use for either and they would only hide bugs upstream.
        """
        lon1_a, lat1_a, lon2_a, lat2_a = (
            np.ascontiguousarray(v, dtype=np.float64) for v in (lon1, lat1, lon2, lat2)
        )
        if not all(np.isfinite(v).all() for v in (lon1_a, lat1_a, lon2_a, lat2_a)):
            raise ValueError("segment end points must be finite lon/lat degrees")
        azimuth1, back_azimuth2, length = WGS84.inv(lon1_a, lat1_a, lon2_a, lat2_a)
        length_m = np.asarray(length, dtype=np.float64)
        if (length_m <= 0).any():
            raise ValueError("zero-length segments (repeated vertices) must be removed first")
        sagitta = length_m**2 / (8 * SMALLEST_RADIUS_OF_CURVATURE_M)
        return cls(
            lon1=lon1_a,
            lat1=lat1_a,
            lon2=lon2_a,
            lat2=lat2_a,
            azimuth1_deg=np.asarray(azimuth1, dtype=np.float64),
            azimuth2_deg=_wrap_degrees(np.asarray(back_azimuth2, dtype=np.float64) + 180.0),
            length_m=length_m,
            start_ecef=ecef_m(lon1_a, lat1_a),
            end_ecef=ecef_m(lon2_a, lat2_a),
            sagitta_m=sagitta * (1 + 1e-6) + BOUND_SLACK_M,
        )

    def __len__(self) -> int:
        return int(self.length_m.shape[0])

    def take(self, index: npt.ArrayLike) -> GeodesicSegments:
        """The segments at ``index`` (an integer or boolean array), as a new object."""
        idx = np.asarray(index)
        return GeodesicSegments(
            lon1=self.lon1[idx],
            lat1=self.lat1[idx],
            lon2=self.lon2[idx],
            lat2=self.lat2[idx],
            azimuth1_deg=self.azimuth1_deg[idx],
            azimuth2_deg=self.azimuth2_deg[idx],
            length_m=self.length_m[idx],
            start_ecef=self.start_ecef[idx],
            end_ecef=self.end_ecef[idx],
            sagitta_m=self.sagitta_m[idx],
        )


@dataclass(frozen=True)
class ChordBounds:
    """Bounds of the geodesic distance from points to segments (:func:`chord_bounds_m`)."""

    lower_m: FloatArray
    upper_m: FloatArray
    along_fraction: FloatArray


def chord_bounds_m(
    points_ecef: FloatArray, segments: GeodesicSegments, segment_index: IntArray
) -> ChordBounds:
    """Bracket the geodesic distance from each point to its paired segment, in numpy only.

    Let c be the 3-D distance from the point to the straight chord between the segment's
    ends and s the segment's sagitta. The curved segment lies within s of that chord, and
    a geodesic is never shorter than the 3-D distance it spans, so the true distance is at
    least ``c - s``; it is at most the geodesic over a chord of ``c + s``
    (:func:`geodesic_upper_bound_m`). For border segments of a few km the bracket is a few
    centimetres wide.

    Parameters
    ----------
    points_ecef
        Points, shape (..., 3), from :func:`ecef_m`.
    segments
        The segment table.
    segment_index
        Which segment each point is paired with, same leading shape as ``points_ecef``.

    Returns
    -------
    ChordBounds
        ``lower_m``, ``upper_m`` and ``along_fraction`` (0 at the start vertex, 1 at the end;
        a first guess of where the nearest point lies, for :func:`nearest_on_segments`).
    """
    start = segments.start_ecef[segment_index]
    chord = segments.end_ecef[segment_index] - start
    offset = points_ecef - start
    chord_len2 = np.einsum("...k,...k->...", chord, chord)
    along = np.clip(np.einsum("...k,...k->...", offset, chord) / chord_len2, 0.0, 1.0)
    gap = offset - along[..., None] * chord
    distance = np.sqrt(np.einsum("...k,...k->...", gap, gap))
    sagitta = segments.sagitta_m[segment_index]
    lower = np.maximum(distance - sagitta, 0.0) * (1 - BOUND_SLACK)
    upper = geodesic_upper_bound_m(distance + sagitta)
    return ChordBounds(lower_m=lower, upper_m=upper, along_fraction=along)


@dataclass(frozen=True)
class SegmentFeet:
    """Nearest points on segments: distance and where the nearest point lies."""

    distance_m: FloatArray
    foot_lon: FloatArray
    foot_lat: FloatArray
    along_m: FloatArray
    iterations: int


def _point_on_segments(
    segments: GeodesicSegments, segment_index: IntArray, along_m: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Lon, lat and forward azimuth at ``along_m`` metres from each segment's start.

    The ends are answered from the table (no ``Geod.fwd``): feet that clamp at a vertex,
    which is common on wiggly borders, then cost one ``Geod.inv`` per iteration, not two.
    """
    length = segments.length_m[segment_index]
    lon = segments.lon1[segment_index].copy()
    lat = segments.lat1[segment_index].copy()
    azimuth = segments.azimuth1_deg[segment_index].copy()
    at_end = along_m >= length
    lon[at_end] = segments.lon2[segment_index[at_end]]
    lat[at_end] = segments.lat2[segment_index[at_end]]
    azimuth[at_end] = segments.azimuth2_deg[segment_index[at_end]]
    inside = (along_m > 0) & ~at_end
    if inside.any():
        idx = segment_index[inside]
        fwd_lon, fwd_lat, fwd_azimuth = WGS84.fwd(
            segments.lon1[idx],
            segments.lat1[idx],
            segments.azimuth1_deg[idx],
            along_m[inside],
            return_back_azimuth=False,
        )
        lon[inside] = fwd_lon
        lat[inside] = fwd_lat
        azimuth[inside] = fwd_azimuth
    return lon, lat, azimuth


def nearest_on_segments(
    lon: FloatArray,
    lat: FloatArray,
    segments: GeodesicSegments,
    segment_index: IntArray,
    along_guess_m: FloatArray,
    *,
    tolerance_m: float = 1e-5,
    max_iterations: int = 12,
) -> SegmentFeet:
    """Exact geodesic distance from each point to its paired geodesic segment.

    The nearest point on a geodesic is where the geodesic towards the point leaves it at a
    right angle. Starting from ``along_guess_m``, each iteration stands at the current
    foot X on the segment (``Geod.fwd`` from the start vertex), looks at the point with
    ``Geod.inv`` (distance d, azimuth), and moves along the segment by the spherical
    right-triangle step ``atan(tan(d/R) cos θ)``, θ being the angle between the segment's
    direction and the direction to the point (the method of Baselga & Martínez-Llario,
    2018). Moves are clamped to the segment, so a foot beyond an end settles on the vertex.
    Every evaluated X lies on the segment, so each d is an upper bound of the answer and
    the smallest one is kept; iteration stops once the next move could lower d by less
    than ``tolerance_m`` (moving δ along the segment changes d by about δ²/2d).

    Parameters
    ----------
    lon, lat
        Points, shape (m,), degrees.
    segments, segment_index
        The segment paired with each point.
    along_guess_m
        First guess of the foot, metres from the segment's start (e.g. from
        :func:`chord_bounds_m`); any value in [0, length] converges, a good one in 1-2 steps.
    tolerance_m, max_iterations
        Convergence control. Points that lie on the segment converge to d = 0.

    Returns
    -------
    SegmentFeet
        Distances, the nearest points, their along-track positions, and the number of
        iterations the slowest point needed.
    """
    count = lon.shape[0]
    length = segments.length_m[segment_index]
    along = np.clip(along_guess_m, 0.0, length)
    best_distance = np.full(count, np.inf)
    best_lon = np.full(count, np.nan)
    best_lat = np.full(count, np.nan)
    best_along = np.full(count, np.nan)
    active = np.arange(count)
    iterations = 0
    while active.size and iterations < max_iterations:
        iterations += 1
        seg = segment_index[active]
        foot_lon, foot_lat, line_azimuth = _point_on_segments(segments, seg, along[active])
        azimuth_to_point, _, distance = WGS84.inv(foot_lon, foot_lat, lon[active], lat[active])
        distance = np.asarray(distance, dtype=np.float64)
        better = distance < best_distance[active]
        improved = active[better]
        best_distance[improved] = distance[better]
        best_lon[improved] = foot_lon[better]
        best_lat[improved] = foot_lat[better]
        best_along[improved] = along[active][better]

        angle = np.radians(np.asarray(azimuth_to_point, dtype=np.float64) - line_azimuth)
        ratio = distance / MEAN_RADIUS_M
        step = MEAN_RADIUS_M * np.arctan2(np.sin(ratio) * np.cos(angle), np.cos(ratio))
        new_along = np.clip(along[active] + step, 0.0, length[active])
        moved = new_along - along[active]
        along[active] = new_along
        # A move of δ can lower d by about δ²/2d; at d≈0 (point on the line) the test
        # degenerates gracefully because d itself is below tolerance.
        still = (moved**2 > 2 * tolerance_m * np.maximum(distance, tolerance_m)) & (
            distance > tolerance_m
        )
        active = active[still]
    return SegmentFeet(
        distance_m=best_distance,
        foot_lon=best_lon,
        foot_lat=best_lat,
        along_m=best_along,
        iterations=iterations,
    )


def distance_to_segment_m(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    lon1: npt.ArrayLike,
    lat1: npt.ArrayLike,
    lon2: npt.ArrayLike,
    lat2: npt.ArrayLike,
) -> FloatArray:
    """Geodesic distance (m) from points to the geodesic segments A-B paired with them.

    A convenience wrapper over :func:`nearest_on_segments` for one-off use and tests; the
    border index keeps its segments measured once instead.

    Examples
    --------
    A point 10 km due north of an east-west stretch on the equator:

    >>> lon2, lat2, _ = WGS84.fwd(20.0, 0.0, 0.0, 10_000.0)
    >>> round(float(distance_to_segment_m([lon2], [lat2], [19.5], [0.0], [20.5], [0.0])[0]), 3)
    10000.0
    """
    segments = GeodesicSegments.from_endpoints(lon1, lat1, lon2, lat2)
    lon_a = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    index = np.arange(len(segments))
    bounds = chord_bounds_m(ecef_m(lon_a, lat_a), segments, index)
    feet = nearest_on_segments(
        lon_a, lat_a, segments, index, bounds.along_fraction * segments.length_m
    )
    return feet.distance_m
