"""geo.zones: classification equals a brute-force shapely check, edge distances equal an
independent geodesic computation (an azimuthal equidistant projection centred on each point,
where distances from the centre are true geodesic distances), and repairs keep the area."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon

from geo.errors import InvalidCoordinates
from geo.vocab import zone_types
from geo.zones import ZoneIndex, geodesic_area_km2, repair

# A square with a hole, a two-part multipolygon, and an invalid bow-tie (near the CAR-Cameroon
# border, where the KP green zones are).
WITH_HOLE = Polygon(
    [(15.0, 4.0), (15.4, 4.0), (15.4, 4.4), (15.0, 4.4)],
    [[(15.1, 4.1), (15.3, 4.1), (15.3, 4.3), (15.1, 4.3)]],
)
TWO_PARTS = MultiPolygon(
    [
        Polygon([(15.6, 4.0), (15.8, 4.0), (15.7, 4.25)]),
        Polygon([(15.6, 4.5), (15.9, 4.5), (15.9, 4.6), (15.6, 4.6)]),
    ]
)
BOW_TIE = Polygon([(15.0, 4.6), (15.3, 4.9), (15.3, 4.6), (15.0, 4.9), (15.0, 4.6)])
ZONE_IDS = ["hole", "multi", "bowtie"]


def zone_set() -> tuple[ZoneIndex, list[shapely.MultiPolygon]]:
    repaired = [repair(g) for g in (WITH_HOLE, TWO_PARTS, BOW_TIE)]
    geometries = [r.geometry for r in repaired]
    assert all(g is not None for g in geometries)
    return ZoneIndex(ZONE_IDS, geometries), geometries  # type: ignore[arg-type]


def independent_edge_distance_m(lon: float, lat: float, zones: list[shapely.MultiPolygon]) -> float:
    """Distance from the centre of an azimuthal equidistant projection to the zones' edges
    densified every ~22 m: a different method from the index's geodesic segments."""
    aeqd = pyproj.Transformer.from_crs(
        "EPSG:4326",
        pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=WGS84"),
        always_xy=True,
    )
    best = np.inf
    for zone in zones:
        edge = shapely.segmentize(zone.boundary, 0.0002)
        projected = shapely.transform(edge, lambda xy: np.column_stack(aeqd.transform(*xy.T)))
        best = min(best, shapely.distance(Point(0.0, 0.0), projected))
    return float(best)


def test_bow_tie_is_repaired_with_its_reason_and_both_triangles() -> None:
    fixed = repair(BOW_TIE)
    assert fixed.reason is not None and "Self-intersection" in fixed.reason
    assert fixed.geometry is not None and fixed.geometry.is_valid
    assert len(fixed.geometry.geoms) == 2
    assert fixed.geometry.area == pytest.approx(0.3 * 0.3 / 2)


def test_valid_polygon_is_unchanged_and_lines_are_not_zones() -> None:
    fixed = repair(WITH_HOLE)
    assert fixed.reason is None
    assert fixed.geometry is not None and fixed.geometry.equals(MultiPolygon([WITH_HOLE]))
    assert repair(shapely.LineString([(0, 0), (1, 1)])).geometry is None
    assert repair(Polygon([(0, 0), (1, 1), (2, 2), (0, 0)])).geometry is None  # zero area


def test_classification_matches_brute_force_shapely_and_geodesic_distance() -> None:
    index, zones = zone_set()
    rng = np.random.default_rng(13)
    lon = np.concatenate([rng.uniform(14.9, 16.0, 120), [15.0, 15.2, 15.15, 15.7, 15.3]])
    lat = np.concatenate([rng.uniform(3.9, 5.0, 120), [4.2, 4.2, 4.75, 4.55, 4.75]])
    found = index.classify(lon, lat)
    for k in range(lon.size):
        point = Point(lon[k], lat[k])
        containing = [ZONE_IDS[z] for z, zone in enumerate(zones) if zone.covers(point)]
        assert bool(found.inside[k]) == bool(containing), (lon[k], lat[k])
        if containing:
            assert found.zone[k] == containing[0]
        expected = independent_edge_distance_m(lon[k], lat[k], zones)
        assert abs(found.edge_distance_m[k] - expected) < 1.0, (lon[k], lat[k], expected)


def test_a_point_in_the_hole_is_outside_and_measured_to_the_hole() -> None:
    index, _zones = zone_set()
    found = index.classify(np.array([15.2]), np.array([4.2]))
    assert not found.inside[0]
    assert found.zone[0] == "hole"
    # 0.1 degree of latitude or longitude to the hole's edge: about 11 km.
    assert 11_000 < found.edge_distance_m[0] < 11_100


def test_nan_points_and_out_of_range_points() -> None:
    index, _zones = zone_set()
    found = index.classify(np.array([np.nan, 15.2]), np.array([4.0, 4.05]))
    assert not found.inside[0] and found.zone[0] is None and np.isnan(found.edge_distance_m[0])
    assert found.inside[1]
    with pytest.raises(InvalidCoordinates):
        index.classify(np.array([200.0]), np.array([0.0]))


@settings(max_examples=40, deadline=None)
@given(
    lon=st.floats(14.8, 16.1, allow_nan=False),
    lat=st.floats(3.8, 5.1, allow_nan=False),
)
def test_any_point_agrees_with_shapely(lon: float, lat: float) -> None:
    index, zones = zone_set()
    found = index.classify(np.array([lon]), np.array([lat]))
    assert bool(found.inside[0]) == any(zone.covers(Point(lon, lat)) for zone in zones)
    assert found.edge_distance_m[0] >= 0


def test_area_and_zone_type_vocabulary() -> None:
    # 0.4 x 0.4 degrees less a 0.2 x 0.2 hole, near 4.2 N: about 1 475 km².
    area = geodesic_area_km2(WITH_HOLE)
    assert 1_450 < area < 1_500
    vocab = zone_types()
    assert vocab.lookup("Zone verte") == "kp_compliant_zone"
    assert vocab.lookup("aire protégée") == "protected_area"
    assert set(vocab.codes) >= {"kp_compliant_zone", "protected_area", "concession", "other"}
