"""geo.geodesic: chord bounds and the exact point-to-geodesic-segment solver.

The solver is checked against an independent brute force: dense sampling of the segment
with ``Geod.fwd`` and ``Geod.inv``, then a golden-section search around the best sample.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.geodesic import (
    WGS84,
    GeodesicSegments,
    chord_bounds_m,
    chord_within_m,
    distance_to_segment_m,
    ecef_m,
    geodesic_upper_bound_m,
    inverse_distance_m,
    nearest_on_segments,
)

lons = st.floats(-180, 180, allow_nan=False)
lats = st.floats(-80, 80, allow_nan=False)
azimuths = st.floats(-180, 180, allow_nan=False)


def dense_distance_m(
    lon: float, lat: float, lon1: float, lat1: float, lon2: float, lat2: float
) -> float:
    """Brute force: 4 001 samples along the segment, then golden-section refinement."""
    azimuth, _, length = WGS84.inv(lon1, lat1, lon2, lat2)

    def distance_at(along: np.ndarray) -> np.ndarray:
        n = along.size
        x, y, _ = WGS84.fwd(np.full(n, lon1), np.full(n, lat1), np.full(n, azimuth), along)
        return inverse_distance_m(np.full(n, lon), np.full(n, lat), x, y)

    along = np.linspace(0.0, length, 4001)
    samples = distance_at(along)
    best = int(np.argmin(samples))
    low, high = along[max(best - 1, 0)], along[min(best + 1, along.size - 1)]
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(80):
        a = high - ratio * (high - low)
        b = low + ratio * (high - low)
        da, db = distance_at(np.array([a, b]))
        if da < db:
            high = b
        else:
            low = a
    return float(min(samples.min(), distance_at(np.array([(low + high) / 2]))[0]))


def test_ecef_known_points() -> None:
    xyz = ecef_m([0.0, 90.0, 0.0], [0.0, 0.0, 90.0])
    assert xyz[0] == pytest.approx([6_378_137.0, 0.0, 0.0])
    assert xyz[1] == pytest.approx([0.0, 6_378_137.0, 0.0], abs=1e-6)
    assert xyz[2] == pytest.approx([0.0, 0.0, 6_356_752.314245], abs=1e-5)


@given(lons, lats, azimuths, st.floats(1.0, 2_000_000.0))
@settings(max_examples=300, deadline=None)
def test_chord_brackets_the_geodesic(lon: float, lat: float, azimuth: float, dist: float) -> None:
    lon2, lat2, _ = WGS84.fwd(lon, lat, azimuth, dist)
    chord = float(np.linalg.norm(ecef_m([lon], [lat])[0] - ecef_m([lon2], [lat2])[0]))
    geodesic = float(inverse_distance_m(lon, lat, lon2, lat2))
    assert chord <= geodesic + 1e-8  # float rounding of ~6e6 m coordinates
    assert geodesic <= float(geodesic_upper_bound_m(chord))
    if chord <= chord_within_m(dist):
        assert geodesic <= dist


def test_chord_bound_is_tight_at_cluster_scales() -> None:
    # The undecided band between "certainly within" and "certainly not" is sub-millimetre.
    assert 5_000.0 - chord_within_m(5_000.0) < 1e-3
    assert float(geodesic_upper_bound_m(100_000.0)) - 100_000.0 < 1.1


@st.composite
def point_and_segment(draw: st.DrawFn) -> tuple[float, float, float, float, float, float]:
    lon1, lat1 = draw(st.floats(-30, 50)), draw(st.floats(-40, 40))
    azimuth = draw(azimuths)
    length = draw(st.floats(1.0, 120_000.0))
    lon2, lat2, _ = WGS84.fwd(lon1, lat1, azimuth, length)
    along = draw(st.floats(-0.5, 1.5)) * length
    base_lon, base_lat, _ = WGS84.fwd(lon1, lat1, azimuth, along)
    offset = draw(st.one_of(st.floats(0.0, 100.0), st.floats(0.0, 800_000.0)))
    lon, lat, _ = WGS84.fwd(base_lon, base_lat, draw(azimuths), offset)
    return float(lon), float(lat), lon1, lat1, float(lon2), float(lat2)


@given(point_and_segment())
@settings(max_examples=150, deadline=None)
def test_solver_matches_dense_brute_force(
    case: tuple[float, float, float, float, float, float],
) -> None:
    ours = float(distance_to_segment_m(*([v] for v in case))[0])
    brute = dense_distance_m(*case)
    # The brute force only ever over-estimates (each sample lies on the segment).
    assert ours <= brute + 1e-4  # on the line itself the solver stops within ~20 µm of 0
    assert ours == pytest.approx(brute, abs=1e-3)


@given(point_and_segment())
@settings(max_examples=200, deadline=None)
def test_chord_bounds_bracket_the_exact_distance(
    case: tuple[float, float, float, float, float, float],
) -> None:
    lon, lat, *ends = case
    segments = GeodesicSegments.from_endpoints(*([v] for v in ends))
    bounds = chord_bounds_m(ecef_m([lon], [lat]), segments, np.array([0]))
    exact = float(distance_to_segment_m([lon], [lat], *([v] for v in ends))[0])
    assert float(bounds.lower_m[0]) <= exact + 1e-9
    assert exact <= float(bounds.upper_m[0]) + 1e-4  # the solver converges to 0.1 mm


def test_ten_km_from_a_straight_stretch_reads_ten_km() -> None:
    """The hand-checked case of issue 4: built with Geod.fwd, read back to the millimetre."""
    lon1, lat1 = 18.0, 4.0
    lon2, lat2, _ = WGS84.fwd(lon1, lat1, 60.0, 80_000.0)
    mid_lon, mid_lat, back_azimuth = WGS84.fwd(lon1, lat1, 60.0, 40_000.0)
    heading = back_azimuth + 180.0  # direction of the stretch at its middle
    for side in (+90.0, -90.0):
        lon, lat, _ = WGS84.fwd(mid_lon, mid_lat, heading + side, 10_000.0)
        distance = float(distance_to_segment_m([lon], [lat], [lon1], [lat1], [lon2], [lat2])[0])
        assert distance == pytest.approx(10_000.0, abs=5.0)
        assert distance == pytest.approx(10_000.0, abs=1e-3)


def test_feet_lie_on_the_segment_and_clamp_at_vertices() -> None:
    segments = GeodesicSegments.from_endpoints([20.0], [0.0], [20.0], [1.0])
    lon = np.array([20.1, 20.1, 19.9])
    lat = np.array([0.5, -0.5, 1.5])
    feet = nearest_on_segments(lon, lat, segments, np.zeros(3, dtype=np.intp), np.zeros(3))
    assert feet.foot_lon == pytest.approx([20.0, 20.0, 20.0])
    assert feet.foot_lat[0] == pytest.approx(0.5, abs=1e-4)
    assert feet.foot_lat[1:] == pytest.approx([0.0, 1.0])
    assert feet.along_m[1] == 0.0
    assert feet.distance_m[1] == pytest.approx(float(inverse_distance_m(20.1, -0.5, 20.0, 0.0)))


def test_point_on_the_segment_is_at_zero() -> None:
    azimuth, _, _ = WGS84.inv(25.0, -3.0, 25.1, -2.9)
    lon, lat, _ = WGS84.fwd(25.0, -3.0, azimuth, 1234.5)
    assert distance_to_segment_m([lon], [lat], [25.0], [-3.0], [25.1], [-2.9])[0] < 1e-3


def test_segment_across_the_antimeridian() -> None:
    lon, lat, _ = WGS84.fwd(180.0, 0.0, 0.0, 5_000.0)
    distance = distance_to_segment_m([lon], [lat], [179.9], [0.0], [-179.9], [0.0])[0]
    assert distance == pytest.approx(5_000.0, abs=1e-3)


def test_zero_length_segments_are_refused() -> None:
    with pytest.raises(ValueError, match="zero-length"):
        GeodesicSegments.from_endpoints([10.0], [1.0], [10.0], [1.0])
    with pytest.raises(ValueError, match="finite"):
        GeodesicSegments.from_endpoints([np.nan], [1.0], [10.0], [1.0])
