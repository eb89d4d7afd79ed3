"""A point in no single country is still a place: in a disputed area it is kept with a
``disputed_area`` warning naming the claimants, and it is where the survey says when the
declared country (or the region) is one of its claimants; exactly on a border line it is in
each country whose outline runs there. Never taken for a point at sea whose minus sign was
lost (Kafia Kingi and Abyei were rejected as ``dropped_minus_sign``: negated, they lie in the
DRC)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, box

from geo.boundaries import derive_borders, find_disputed_areas
from geo.countries import CountryLocator, central_africa_iso3
from geo.validate import ValidationResult, ValidationRules, validate_survey
from tests.geo.test_validate import survey_of
from tests.support.reference_data import default_source_countries

# Four box countries: AAA and BBB overlap on lon 1.5..2 (a disputed area); CCC is the mirror
# image of both across the equator (where a negated latitude lands); DDD shares the line
# lon = 4 with BBB.
BOXES = {
    "AAA": box(0, 1, 2, 3),
    "BBB": box(1.5, 1, 4, 3),
    "CCC": box(0, -3, 4, -1),
    "DDD": box(4, 1, 6, 3),
}
REGION = frozenset(BOXES)


@pytest.fixture(scope="module")
def boxes() -> CountryLocator:
    frame = gpd.GeoDataFrame(
        {"iso3": list(BOXES)}, geometry=[MultiPolygon([b]) for b in BOXES.values()], crs=4326
    )
    return CountryLocator(frame, find_disputed_areas(frame))


def validated(
    locator: CountryLocator, lon: list[float], lat: list[float], **rules: object
) -> ValidationResult:
    return validate_survey(
        survey_of(lon, lat),
        rules=ValidationRules(**rules),  # type: ignore[arg-type]
        locate=locator.locate,
    )


def test_the_disputed_area_is_the_overlap(boxes: CountryLocator) -> None:
    found = boxes.locate([1.75, 1.5, 1.0, 4.0, 3.0], [2.0, 2.0, 2.0, 2.0, 2.0])
    assert list(found.status) == ["disputed", "disputed", "country", "country", "country"]
    assert list(found.claimants) == [("AAA", "BBB"), ("AAA", "BBB"), (), (), ()]
    # On the overlap's edge the point touches both polygons; on lon = 4 it touches BBB and
    # DDD and is filed under the first.
    assert list(found.shared_by) == [("AAA", "BBB"), ("AAA", "BBB"), (), ("BBB", "DDD"), ()]
    assert list(found.iso3) == [None, None, "AAA", "BBB", "BBB"]


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cells=st.lists(st.tuples(st.integers(-2, 14), st.integers(-8, 8)), min_size=1, max_size=200))
def test_shared_by_names_every_country_a_point_touches(
    boxes: CountryLocator, cells: list[tuple[int, int]]
) -> None:
    """Points on a half-degree grid (most on an edge, a corner or in the overlap): ``shared_by``
    is every box the point lies in or on, where more than one, as shapely says point by point;
    points alike share one tuple."""
    lon, lat = [x / 2 for x, _ in cells], [y / 2 for _, y in cells]
    found = boxes.locate(lon, lat)
    for k, (x, y) in enumerate(zip(lon, lat, strict=True)):
        hits = tuple(sorted(c for c, b in BOXES.items() if b.intersects(shapely.Point(x, y))))
        assert found.shared_by[k] == (hits if len(hits) > 1 else ()), (x, y)
    assert len({id(t) for t in found.shared_by}) <= len(set(found.shared_by.tolist()))


def test_a_disputed_point_is_kept_with_its_claimants_not_corrected(
    boxes: CountryLocator,
) -> None:
    result = validated(boxes, [1.75], [2.0], region=REGION, declared_country="AAA")
    [warning] = result.issues
    assert (warning.code, warning.severity, warning.column) == (
        "disputed_area",
        "warning",
        "lon, lat",
    )
    assert "disputed by AAA and BBB" in warning.message
    assert "lon 1.750000, lat 2.000000" in warning.message
    assert result.accepted.tolist() == [0]
    assert result.iso3.tolist() == [None]


@pytest.mark.parametrize("declared", [None, "AAA", "BBB"])
def test_a_claimant_declared_counts_as_placed(boxes: CountryLocator, declared: str | None) -> None:
    for rules in ({"region": REGION}, {}):
        result = validated(boxes, [1.75], [2.0], declared_country=declared, **rules)
        assert [i.code for i in result.issues] == ["disputed_area"], result.issues
        assert result.accepted.tolist() == [0]


def test_another_declared_country_is_a_mismatch_naming_the_dispute(
    boxes: CountryLocator,
) -> None:
    result = validated(boxes, [1.75], [2.0], region=REGION, declared_country="DDD")
    assert [i.code for i in result.issues] == ["country_mismatch", "disputed_area"]
    mismatch = result.issues[0]
    assert "lies in an area disputed by AAA and BBB, not in DDD" in mismatch.message
    assert result.accepted.tolist() == [0]


def test_a_dispute_outside_the_region_is_outside_the_region(boxes: CountryLocator) -> None:
    result = validated(boxes, [1.75], [2.0], region=frozenset({"DDD"}))
    [error] = result.issues
    assert error.code == "outside_region"
    assert "in an area disputed by AAA and BBB, outside DDD" in error.message
    # ... and with a claimant in the region, it is in the region.
    result = validated(boxes, [1.75], [2.0], region=frozenset({"BBB", "DDD"}))
    assert [i.code for i in result.issues] == ["disputed_area"]


def test_a_correction_into_a_disputed_area_says_so(boxes: CountryLocator) -> None:
    # The point lost its minus sign: as given it is in the sea south of CCC's mirror image.
    result = validated(boxes, [1.75], [-5.0], region=frozenset({"AAA"}))
    assert [i.code for i in result.issues] == ["at_sea"]
    result = validated(boxes, [1.75], [-2.0], region=frozenset({"AAA"}))
    [error] = result.issues
    assert error.code == "dropped_minus_sign"
    assert "it lies in an area disputed by AAA and BBB" in error.message


def test_lone_outliers_count_a_disputed_point_in_each_claimant(boxes: CountryLocator) -> None:
    # Three rows in BBB near lon 3.5 and one in the dispute a little away: nothing to flag
    # however far the limit is set (the disputed point is in BBB too).
    lon, lat = [3.5, 3.6, 3.7, 1.75], [2.0, 2.1, 2.2, 2.0]
    result = validated(boxes, lon, lat, outlier_distance_km=100)
    assert [i.code for i in result.issues] == ["disputed_area"]


def test_a_plain_array_lookup_still_works(boxes: CountryLocator) -> None:
    """A lookup answering codes only (None in a dispute) keeps its old meaning."""
    result = validate_survey(
        survey_of([1.0], [2.0]),
        rules=ValidationRules(region=REGION),
        locate=lambda lon, lat: boxes.locate(lon, lat).iso3,
    )
    assert not result.issues and result.iso3.tolist() == ["AAA"]


inside_dispute = st.tuples(st.floats(1.5, 2.0), st.floats(1.0, 3.0))
declared_claimant = st.sampled_from([None, "AAA", "BBB"])


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    points=st.lists(inside_dispute, min_size=1, max_size=20),
    declared=declared_claimant,
    with_region=st.booleans(),
)
def test_every_point_of_a_disputed_area_is_a_place(
    boxes: CountryLocator,
    points: list[tuple[float, float]],
    declared: str | None,
    with_region: bool,
) -> None:
    """Anywhere in the overlap, edges included, whatever the claimant declared: kept, one
    ``disputed_area`` warning per row, never a correction."""
    lon, lat = [p[0] for p in points], [p[1] for p in points]
    result = validated(
        boxes,
        lon,
        lat,
        declared_country=declared,
        region=REGION if with_region else frozenset(),
    )
    assert result.accepted.tolist() == list(range(len(points)))
    assert [(i.row, i.code) for i in result.issues] == [
        (row, "disputed_area") for row in range(2, len(points) + 2)
    ]
    assert all("disputed by AAA and BBB" in i.message for i in result.issues)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lat=st.floats(1.0, 3.0), declared=st.sampled_from(["BBB", "DDD"]), region=st.booleans())
def test_a_point_on_a_border_line_is_in_both_countries(
    boxes: CountryLocator, lat: float, declared: str, region: bool
) -> None:
    """lon = 4 is BBB's and DDD's: declared either, the point is where the survey says."""
    result = validated(
        boxes, [4.0], [lat], declared_country=declared, region=REGION if region else frozenset()
    )
    assert not result.issues, result.issues
    assert result.iso3.tolist() == ["BBB"]
    elsewhere = validated(boxes, [4.0], [lat], declared_country="AAA", region=REGION)
    [mismatch] = elsewhere.issues
    assert mismatch.code == "country_mismatch"
    assert "on the border of BBB and DDD, not in AAA" in mismatch.message


# --- on the default (OSM-derived) boundaries ----------------------------------------------

KAFIA_KINGI = (24.2889, 8.7369)
ABYEI = (28.4, 9.6)
CENTRAL = frozenset(central_africa_iso3())


@pytest.fixture(scope="module")
def central_countries() -> gpd.GeoDataFrame:
    return default_source_countries(sorted(CENTRAL))


@pytest.fixture(scope="module")
def osm(central_countries: gpd.GeoDataFrame) -> CountryLocator:
    return CountryLocator(central_countries, find_disputed_areas(central_countries))


@pytest.mark.slow
@pytest.mark.parametrize("declared", [None, "SDN", "SSD"])
def test_kafia_kingi_and_abyei_are_kept(osm: CountryLocator, declared: str | None) -> None:
    (lon1, lat1), (lon2, lat2) = KAFIA_KINGI, ABYEI
    result = validated(osm, [lon1, lon2], [lat1, lat2], region=CENTRAL, declared_country=declared)
    assert [(i.row, i.code, i.severity) for i in result.issues] == [
        (2, "disputed_area", "warning"),
        (3, "disputed_area", "warning"),
    ]
    assert all("disputed by SDN and SSD" in i.message for i in result.issues)
    assert result.accepted.tolist() == [0, 1]


@pytest.mark.slow
def test_kafia_kingi_declared_by_a_neighbour_is_a_mismatch_not_a_lost_sign(
    osm: CountryLocator,
) -> None:
    result = validated(
        osm, [KAFIA_KINGI[0]], [KAFIA_KINGI[1]], region=CENTRAL, declared_country="CAF"
    )
    assert [i.code for i in result.issues] == ["country_mismatch", "disputed_area"]
    assert result.accepted.tolist() == [0]


@pytest.fixture(scope="module")
def sudan_dispute(central_countries: gpd.GeoDataFrame) -> np.ndarray:
    """The SDN-SSD disputed area (Abyei, Kafia Kingi) as triangles: corners ``(n, 3, 2)``."""
    [area] = [a for a in find_disputed_areas(central_countries) if a.claimants == ("SDN", "SSD")]
    triangles = shapely.get_parts(shapely.constrained_delaunay_triangles(area.geometry))
    corners = np.array([shapely.get_coordinates(t)[:3] for t in triangles])
    assert len(corners) > 100
    return corners


@pytest.mark.slow
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_point_of_the_sudan_dispute_is_kept(
    osm: CountryLocator, sudan_dispute: np.ndarray, data: st.DataObject
) -> None:
    """Points drawn anywhere in the area (a triangle of it, then a point of the triangle,
    edges included): kept, a ``disputed_area`` warning each, whichever claimant declared;
    never an error."""
    picks = data.draw(
        st.lists(
            st.tuples(st.integers(0, len(sudan_dispute) - 1), st.floats(0, 1), st.floats(0, 1)),
            min_size=1,
            max_size=10,
        )
    )
    points = []
    for k, u, v in picks:
        if u + v > 1:
            u, v = 1 - u, 1 - v
        a, b, c = sudan_dispute[k]
        points.append(a + u * (b - a) + v * (c - a))
    declared = data.draw(st.sampled_from([None, "SDN", "SSD"]))
    lon, lat = [float(p[0]) for p in points], [float(p[1]) for p in points]
    result = validated(osm, lon, lat, region=CENTRAL, declared_country=declared)
    assert not result.errors, result.errors
    assert result.accepted.tolist() == list(range(len(points)))
    # A point drawn on an edge of the area may round to just outside it, into a country.
    disputed = np.flatnonzero(osm.locate(lon, lat).status == "disputed") + 2
    flagged = [i for i in result.issues if i.code == "disputed_area"]
    assert [i.row for i in flagged] == disputed.tolist()
    assert all("disputed by SDN and SSD" in i.message for i in flagged)


@pytest.fixture(scope="module")
def border_points(central_countries: gpd.GeoDataFrame) -> list[tuple[float, float, str, str]]:
    """Vertices of the central African border lines that lie on both countries' polygons:
    exactly on the line, as the data draws it (``lon, lat, a, b``)."""
    polygons = dict(zip(central_countries["iso3"], central_countries.geometry, strict=True))
    found = []
    for line in derive_borders(central_countries):
        xy = shapely.get_coordinates(line.geometry)
        points = shapely.points(xy)
        on_both = shapely.intersects(polygons[line.country_a], points) & shapely.intersects(
            polygons[line.country_b], points
        )
        found += [(x, y, line.country_a, line.country_b) for x, y in xy[on_both].tolist()]
    assert len(found) > 10_000
    return found


@pytest.mark.slow
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_point_exactly_on_a_border_line_is_in_either_country(
    osm: CountryLocator, border_points: list[tuple[float, float, str, str]], data: st.DataObject
) -> None:
    """Declared as either side, with or without the region: no error, no mismatch, whatever
    the line (a disputed area's edge included)."""
    lon, lat, a, b = data.draw(st.sampled_from(border_points))
    declared = data.draw(st.sampled_from([a, b]))
    for region in (CENTRAL, frozenset()):
        result = validated(osm, [lon], [lat], region=region, declared_country=declared)
        assert {i.code for i in result.issues} <= {"disputed_area"}, (lon, lat, result.issues)
        assert result.accepted.tolist() == [0]


@pytest.mark.slow
def test_the_border_points_cover_the_region(
    border_points: list[tuple[float, float, str, str]],
) -> None:
    pairs = {f"{a}-{b}" for _, _, a, b in border_points}
    assert {"CAF-CMR", "CAF-SSD", "SDN-SSD", "AGO-COG"} <= pairs
    assert np.isfinite(np.array([p[:2] for p in border_points])).all()
