"""geo.borders: the border index must return the exact minimum over every segment.

"Brute force" here is the exact solver applied to every (point, segment) pair, with no
index and no pruning; the solver itself is checked against dense sampling in
test_geodesic.py, and the index's samples once more here on the nearest segments.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiLineString, Point

from bench import _synthetic
from geo.borders import BorderIndex
from geo.errors import BoundaryDataError, InvalidCoordinates
from geo.geodesic import (
    WGS84,
    GeodesicSegments,
    chord_bounds_m,
    ecef_m,
    nearest_on_segments,
)
from tests.geo.test_geodesic import dense_distance_m


def brute_force_m(index: BorderIndex, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Exact distance to every segment, minimum per point (no index, no pruning)."""
    _, lon1, lat1, lon2, lat2 = index.segments()
    segments = GeodesicSegments.from_endpoints(lon1, lat1, lon2, lat2)
    count, n_seg = lon.size, len(segments)
    rows = np.repeat(np.arange(count), n_seg)
    seg = np.tile(np.arange(n_seg), count)
    guess = chord_bounds_m(ecef_m(lon[rows], lat[rows]), segments, seg).along_fraction
    feet = nearest_on_segments(lon[rows], lat[rows], segments, seg, guess * segments.length_m[seg])
    return feet.distance_m.reshape(count, n_seg).min(axis=1)


def border(code: str, *coords: tuple[float, float]) -> SimpleNamespace:
    return SimpleNamespace(pair_code=code, geometry=LineString(coords))


# --------------------------------------------------------------------------- small cases
def test_hand_checked_ten_km_from_a_straight_stretch() -> None:
    """Issue 4: a point 10.000 km (geodesic, Geod.fwd) from a straight stretch reads 10.000 km."""
    start_lon, start_lat = 15.0, 6.0
    end_lon, end_lat, _ = WGS84.fwd(start_lon, start_lat, 30.0, 60_000.0)
    index = BorderIndex.from_lines(
        [border("AAA-BBB", (start_lon, start_lat), (float(end_lon), float(end_lat)))]
    )
    mid_lon, mid_lat, back = WGS84.fwd(start_lon, start_lat, 30.0, 25_000.0)
    lon, lat = [], []
    for side in (90.0, -90.0):
        x, y, _ = WGS84.fwd(mid_lon, mid_lat, back + 180.0 + side, 10_000.0)
        lon.append(x)
        lat.append(y)
    found = index.nearest(np.array(lon), np.array(lat))
    assert found.distance_m == pytest.approx([10_000.0, 10_000.0], abs=5.0)
    assert found.distance_m == pytest.approx([10_000.0, 10_000.0], abs=1e-3)
    assert found.nearest_lon == pytest.approx([mid_lon, mid_lon], abs=1e-6)  # ~0.1 m
    assert found.nearest_lat == pytest.approx([mid_lat, mid_lat], abs=1e-6)
    assert list(found.pair_code) == ["AAA-BBB", "AAA-BBB"]


def test_point_on_a_vertex_and_on_a_segment_is_at_zero() -> None:
    index = BorderIndex.from_lines([border("AAA-BBB", (20, 0), (20, 1), (21, 1))])
    azimuth, _, _ = WGS84.inv(20.0, 1.0, 21.0, 1.0)
    on_lon, on_lat, _ = WGS84.fwd(20.0, 1.0, azimuth, 55_000.0)
    found = index.nearest(np.array([20.0, on_lon, 20.5]), np.array([1.0, on_lat, 1.0]))
    assert found.distance_m[0] == 0.0
    assert found.distance_m[1] < 1e-3
    # A segment is a geodesic, not a parallel: over 1° of longitude at 1°N its middle runs
    # 4.2 m poleward of the parallel, as PostGIS's geography edges do.
    assert found.distance_m[2] == pytest.approx(4.24, abs=0.01)


def test_pairs_restrict_the_search() -> None:
    index = BorderIndex.from_lines(
        [border("AAA-BBB", (20, 0), (20, 1)), border("BBB-CCC", (22, 0), (22, 1))]
    )
    lon, lat = np.array([20.4]), np.array([0.5])
    assert index.nearest(lon, lat).pair_code[0] == "AAA-BBB"
    restricted = index.nearest(lon, lat, pairs={"BBB-CCC"})
    assert restricted.pair_code[0] == "BBB-CCC"
    assert restricted.distance_m[0] == pytest.approx(
        float(dense_distance_m(20.4, 0.5, 22, 0, 22, 1)), abs=1e-3
    )
    assert index.restricted_to({"BBB-CCC"}) is index.restricted_to(["BBB-CCC"])  # cached
    assert index.pairs_of_country("BBB") == {"AAA-BBB", "BBB-CCC"}
    with pytest.raises(BoundaryDataError, match="ZZZ-ZZZ"):
        index.nearest(lon, lat, pairs={"ZZZ-ZZZ"})
    with pytest.raises(BoundaryDataError):
        index.nearest(lon, lat, pairs=set())


def test_nan_rows_pass_through_and_bad_rows_raise() -> None:
    index = BorderIndex.from_lines([border("AAA-BBB", (20, 0), (20, 1))])
    found = index.nearest(np.array([np.nan, 20.1]), np.array([0.5, 0.5]))
    assert np.isnan(found.distance_m[0]) and found.pair_code[0] is None
    assert found.distance_m[1] > 0 and found.pair_code[1] == "AAA-BBB"
    with pytest.raises(InvalidCoordinates):
        index.nearest(np.array([200.0]), np.array([0.0]))
    empty = index.nearest(np.array([]), np.array([]))
    assert len(empty) == 0


def test_bad_border_data_is_refused() -> None:
    with pytest.raises(BoundaryDataError):
        BorderIndex.from_lines([SimpleNamespace(pair_code="AAA-BBB", geometry=LineString())])
    with pytest.raises(BoundaryDataError, match="Point"):
        BorderIndex.from_lines([SimpleNamespace(pair_code="AAA-BBB", geometry=Point(1, 2))])


def test_multilines_repeated_vertices_and_round_trip_through_segments() -> None:
    lines = [
        SimpleNamespace(
            pair_code="AAA-BBB",
            geometry=MultiLineString([[(10, 0), (10, 0), (10, 1)], [(11, 0), (11.5, 0.5)]]),
        )
    ]
    index = BorderIndex.from_lines(lines)
    assert len(index) == 2  # the repeated vertex is dropped
    again = BorderIndex.from_segments(*index.segments())
    lon, lat = np.array([10.3, 11.3, 12.0]), np.array([0.2, 0.1, 2.0])
    np.testing.assert_array_equal(
        index.nearest(lon, lat).distance_m, again.nearest(lon, lat).distance_m
    )


def test_ties_are_broken_reproducibly() -> None:
    # A point exactly between two parallel borders: same answer on every call.
    index = BorderIndex.from_lines(
        [border("BBB-CCC", (21, -1), (21, 1)), border("AAA-BBB", (19, -1), (19, 1))]
    )
    found = index.nearest(np.full(3, 20.0), np.zeros(3))
    assert found.distance_m[0] == pytest.approx(found.distance_m[1])
    assert len(set(found.pair_code)) == 1


def test_far_points_and_long_segments_are_exact() -> None:
    # A wiggly border and points up to 1 500 km away, where many segments are nearly as
    # close as the nearest one and a wide ring of samples must be searched.
    rng = np.random.default_rng(3)
    x = np.linspace(10, 20, 400)
    y = 2 + 0.05 * np.sin(x * 7) + rng.normal(0, 0.01, x.size)
    index = BorderIndex.from_lines(
        [
            SimpleNamespace(pair_code="AAA-BBB", geometry=LineString(np.c_[x, y])),
            border("BBB-CCC", (20, 2), (30, 9)),  # one 1 300 km segment
        ]
    )
    lon = rng.uniform(0, 35, 150)
    lat = rng.uniform(-12, 16, 150)
    np.testing.assert_allclose(
        index.nearest(lon, lat).distance_m, brute_force_m(index, lon, lat), rtol=0, atol=1e-4
    )


@st.composite
def random_borders_and_points(draw: st.DrawFn) -> tuple[BorderIndex, np.ndarray, np.ndarray]:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    lines = []
    for k in range(draw(st.integers(1, 4))):
        n = int(rng.integers(2, 40))
        start = rng.uniform([-20, -30], [40, 30])
        steps = rng.normal(0, draw(st.sampled_from([0.001, 0.05, 0.5])), (n - 1, 2))
        coords = np.vstack([start, start + np.cumsum(steps, axis=0)])
        if np.all(np.ptp(coords, axis=0) == 0):
            coords[-1] += 0.01
        lines.append(SimpleNamespace(pair_code=f"P{k}", geometry=LineString(coords)))
    index = BorderIndex.from_lines(
        lines, sample_spacing_m=draw(st.sampled_from([500.0, 2000.0, 50_000.0]))
    )
    count = 40
    near = rng.random(count) < 0.5
    centre = shapely.get_coordinates(lines[0].geometry).mean(axis=0)
    lon = np.where(near, centre[0] + rng.normal(0, 0.02, count), rng.uniform(-40, 60, count))
    lat = np.where(near, centre[1] + rng.normal(0, 0.02, count), rng.uniform(-50, 50, count))
    return index, lon, lat


@given(random_borders_and_points())
@settings(max_examples=40, deadline=None)
def test_index_equals_brute_force_on_random_borders(
    case: tuple[BorderIndex, np.ndarray, np.ndarray],
) -> None:
    index, lon, lat = case
    np.testing.assert_allclose(
        index.nearest(lon, lat).distance_m, brute_force_m(index, lon, lat), rtol=0, atol=1e-4
    )


# --------------------------------------------------------------------------- real borders
@pytest.fixture(scope="module")
def central_africa() -> tuple[BorderIndex, list[_synthetic.SimpleBorder]]:
    try:
        countries = _synthetic.load_countries()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    borders = _synthetic.shared_borders(countries)
    return BorderIndex.from_lines(borders), borders


def tripoint(index: BorderIndex, a: str, b: str) -> tuple[float, float]:
    pair, lon1, lat1, lon2, lat2 = index.segments()
    ends = {
        code: {
            (x, y)
            for x, y in zip(
                np.r_[lon1[pair == code], lon2[pair == code]],
                np.r_[lat1[pair == code], lat2[pair == code]],
                strict=True,
            )
        }
        for code in (a, b)
    }
    return min(ends[a] & ends[b])


def test_central_africa_equals_brute_force(
    central_africa: tuple[BorderIndex, list[_synthetic.SimpleBorder]],
) -> None:
    """Within 100 m (both sides), near two tripoints, near borders and scattered."""
    index, borders = central_africa
    rng = np.random.default_rng(11)
    parts = [
        _synthetic.points_near_borders(80, borders, rng, max_offset_m=100.0),
        _synthetic.points_near_borders(40, borders, rng),
        _synthetic.points_in_region(40, rng),
    ]
    for a, b in (("CAF-CMR", "CAF-TCD"), ("CAF-COD", "CAF-SSD")):
        lon0, lat0 = tripoint(index, a, b)
        x, y, _ = WGS84.fwd(
            np.full(40, lon0),
            np.full(40, lat0),
            rng.uniform(-180, 180, 40),
            rng.exponential(2_000, 40),
        )
        parts.append((np.asarray(x), np.asarray(y)))
    lon = np.concatenate([p[0] for p in parts])
    lat = np.concatenate([p[1] for p in parts])

    found = index.nearest(lon, lat)
    np.testing.assert_allclose(found.distance_m, brute_force_m(index, lon, lat), rtol=0, atol=1e-4)
    assert (found.distance_m[:80] <= 100.0 + 1e-4).all()
    # Around a tripoint all three borders come out nearest for some points.
    assert {"CAF-CMR", "CAF-TCD", "CMR-TCD"} <= set(found.pair_code[160:200])
    # The reported nearest point really is that far (independent Geod.inv).
    _, _, back = WGS84.inv(found.nearest_lon, found.nearest_lat, lon, lat)
    np.testing.assert_allclose(back, found.distance_m, atol=1e-6)


def test_central_africa_both_sides_of_a_border(
    central_africa: tuple[BorderIndex, list[_synthetic.SimpleBorder]],
) -> None:
    """Points at a right angle from a segment's middle, 1-100 m out, on either side."""
    index, _ = central_africa
    rng = np.random.default_rng(12)
    pair, lon1, lat1, lon2, lat2 = index.segments()
    seg = rng.integers(0, len(pair), 300)
    azimuth, _, length = WGS84.inv(lon1[seg], lat1[seg], lon2[seg], lat2[seg])
    mid_lon, mid_lat, back = WGS84.fwd(lon1[seg], lat1[seg], azimuth, length / 2)
    offset = rng.uniform(1, 100, seg.size)
    side = np.where(np.arange(seg.size) % 2 == 0, 90.0, -90.0)
    lon, lat, _ = WGS84.fwd(mid_lon, mid_lat, back + 180 + side, offset)
    found = index.nearest(np.asarray(lon), np.asarray(lat))
    # Nothing is farther than the offset; usually that segment is the nearest, exactly.
    assert (found.distance_m <= offset + 1e-4).all()
    same = found.pair_code == pair[seg]
    assert same.mean() > 0.95
    np.testing.assert_allclose(
        found.distance_m[same & (found.distance_m > offset - 1e-3)],
        offset[same & (found.distance_m > offset - 1e-3)],
        atol=1e-4,
    )
    # Dense sampling of the segment the point was built from confirms the offset.
    for i in range(0, 300, 30):
        k = seg[i]
        dense = dense_distance_m(lon[i], lat[i], lon1[k], lat1[k], lon2[k], lat2[k])
        assert dense == pytest.approx(offset[i], abs=1e-3)
        assert found.distance_m[i] <= dense + 1e-4


def test_points_in_several_chunks_get_what_one_chunk_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inputs longer than a chunk are measured chunk by chunk (bounded temporaries): the
    answer is the same as in one chunk, row for row, NaN rows included."""
    index = BorderIndex.from_lines(
        [border("AAA-BBB", (20, 0), (20, 1), (21, 1)), border("BBB-CCC", (22, -1), (22, 2))]
    )
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(18, 24, 101), rng.uniform(-2, 3, 101)
    lon[[0, 50, 100]] = np.nan
    whole = index.nearest(lon, lat)
    monkeypatch.setattr("geo.borders._CHUNK_POINTS", 7)
    chunked = index.nearest(lon, lat)
    np.testing.assert_array_equal(chunked.distance_m, whole.distance_m)
    np.testing.assert_array_equal(chunked.nearest_lon, whole.nearest_lon)
    assert chunked.pair_code.tolist() == whole.pair_code.tolist()
