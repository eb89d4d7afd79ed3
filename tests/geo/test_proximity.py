"""Distances to every border within a radius agree with measuring each border on its own."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import LineString

from geo.borders import BorderIndex
from geo.proximity import neighbour_across, pair_distances

BORDERS = [
    SimpleNamespace(pair_code="AAA-BBB", geometry=LineString([(14, 2), (15, 4), (16, 4.5)])),
    SimpleNamespace(pair_code="BBB-CCC", geometry=LineString([(16, 4.5), (18, 4.0)])),
    SimpleNamespace(pair_code="AAA-CCC", geometry=LineString([(16, 4.5), (16.5, 7.0)])),
]
INDEX = BorderIndex.from_lines(BORDERS)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(12.0, 20.0), st.floats(0.0, 9.0)), min_size=1, max_size=40),
    st.floats(1_000.0, 300_000.0),
)
def test_every_border_within_the_radius_and_no_other(
    points: list[tuple[float, float]], radius_m: float
) -> None:
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    found = pair_distances(INDEX, lon, lat, radius_m=radius_m)
    got = {
        (int(i), str(code)): d
        for i, code, d in zip(found.point, found.pair_code, found.distance_m, strict=True)
    }
    for pair in INDEX.pair_codes:
        exact = INDEX.nearest(lon, lat, pairs={pair}).distance_m
        for i, distance in enumerate(exact):
            if distance <= radius_m:
                assert got[(i, pair)] == distance
            else:
                assert (i, pair) not in got


def test_a_site_near_a_tripoint_is_near_all_three_borders() -> None:
    found = pair_distances(INDEX, [16.05], [4.55], radius_m=25_000)
    assert set(found.pair_code) == {"AAA-BBB", "BBB-CCC", "AAA-CCC"}
    assert (found.distance_m < 25_000).all()


def test_neighbour_across() -> None:
    assert neighbour_across("CAF-CMR", "CMR") == "CAF"
    assert neighbour_across("CAF-CMR", None) is None
    assert neighbour_across(None, "CAF") is None
