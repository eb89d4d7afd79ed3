"""Geodesic buffers are true metres: every point of the outline is at the distance asked."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Transformer
from pyproj.enums import TransformDirection

from geo.borders import BorderIndex
from geo.buffers import GEOD, _aeqd, _pieces, geodesic_buffer

LINES = {
    "north-south at the equator": shapely.LineString([(15, -1), (15, 1)]),
    "east-west at 10N": shapely.LineString([(14, 10), (18, 10)]),
    "a long wiggly border": shapely.LineString(
        [(14.5, 2.2), (15.0, 3.5), (15.6, 4.2), (14.8, 5.5), (15.4, 6.8), (16.3, 7.5)]
    ),
}


@pytest.mark.parametrize("line", LINES.values(), ids=LINES.keys())
@pytest.mark.parametrize("distance_m", [2_000.0, 25_000.0])
def test_outline_is_at_the_distance(line: shapely.LineString, distance_m: float) -> None:
    band = geodesic_buffer(line, distance_m)
    assert band.is_valid
    outline = np.asarray(shapely.get_coordinates(band.exterior))
    index = BorderIndex.from_lines([SimpleNamespace(pair_code="AAA-BBB", geometry=line)])
    measured = index.nearest(outline[:, 0], outline[:, 1]).distance_m
    # Buffers draw arcs as chords (16 segments a quarter circle): at worst 0.5 % short.
    assert measured.max() <= distance_m * 1.001
    assert measured.min() >= distance_m * 0.995


def test_the_line_is_inside() -> None:
    line = LINES["a long wiggly border"]
    assert geodesic_buffer(line, 1_000.0).contains(line)


def test_distance_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        geodesic_buffer(LINES["east-west at 10N"], 0)
    with pytest.raises(ValueError, match="negative"):
        geodesic_buffer(LINES["east-west at 10N"], 10.0, tolerance_m=-1)


@pytest.mark.parametrize("line", LINES.values(), ids=LINES.keys())
def test_a_simplified_band_is_within_its_tolerance(line: shapely.LineString) -> None:
    wiggly = shapely.segmentize(line, 0.01)  # ~1 km steps: something to simplify
    wiggly = shapely.LineString(
        [(x + 0.002 * (i % 2), y) for i, (x, y) in enumerate(wiggly.coords)]
    )
    distance_m, tolerance_m = 25_000.0, 500.0
    band = geodesic_buffer(wiggly, distance_m, tolerance_m=tolerance_m)
    assert band.is_valid
    outline = np.asarray(shapely.get_coordinates(band.exterior))
    index = BorderIndex.from_lines([SimpleNamespace(pair_code="AAA-BBB", geometry=wiggly)])
    measured = index.nearest(outline[:, 0], outline[:, 1]).distance_m
    assert measured.max() <= distance_m * 1.001 + tolerance_m
    assert measured.min() >= distance_m * 0.995 - tolerance_m
    assert shapely.get_num_coordinates(band) < shapely.get_num_coordinates(
        geodesic_buffer(wiggly, distance_m)
    )


def test_the_projection_is_the_crs_transformation() -> None:
    """The PROJ pipeline of each stretch gives what Transformer.from_crs of the same
    azimuthal equidistant CRS gives (from_crs took 7 ms a stretch), both ways."""
    lon0, lat0 = 15.25, 4.5
    local = CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m")
    reference = Transformer.from_crs("EPSG:4326", local, always_xy=True)
    projection = _aeqd(lon0, lat0)
    lon = np.array([14.0, 15.25, 16.9, 15.3])
    lat = np.array([3.1, 4.5, 6.0, 2.2])
    x, y = projection.transform(lon, lat)
    x_ref, y_ref = reference.transform(lon, lat)
    np.testing.assert_allclose(x, x_ref, atol=1e-6)
    np.testing.assert_allclose(y, y_ref, atol=1e-6)
    back = projection.transform(x, y, direction=TransformDirection.INVERSE)
    np.testing.assert_allclose(back, (lon, lat), atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(10, 20), st.floats(-5, 10)), min_size=2, max_size=60, unique=True),
    st.floats(1, 300),
)
def test_pieces_cover_the_line_in_order(points: list[tuple[float, float]], piece_km: float) -> None:
    """The stretches, joined end to start, are the line's vertices in order, and each is at
    most ``piece_km`` plus its last segment long."""
    line = shapely.LineString(points)
    pieces = _pieces(line, piece_km)
    joined = [tuple(c) for c in pieces[0].coords]
    for piece in pieces[1:]:
        coords = [tuple(c) for c in piece.coords]
        assert coords[0] == joined[-1]
        joined.extend(coords[1:])
    assert joined == [tuple(c) for c in line.coords]
    for piece in pieces:
        if len(piece.coords) > 2:
            without_last = shapely.LineString(list(piece.coords)[:-1])
            assert GEOD.geometry_length(without_last) < piece_km * 1000
