"""Geodesic buffers are true metres: every point of the outline is at the distance asked."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import shapely

from geo.borders import BorderIndex
from geo.buffers import geodesic_buffer

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
