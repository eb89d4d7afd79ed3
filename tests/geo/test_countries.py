"""Country vocabulary and the vectorised point-in-country locator."""

from __future__ import annotations

import csv
import pickle
import threading
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, box

from geo.boundaries import (
    BorderLine,
    DisputedArea,
    derive_borders,
    find_disputed_areas,
    read_country_polygons,
)
from geo.countries import (
    COUNTRY_TABLE_PATH,
    CountryLocator,
    african_iso3,
    central_africa_iso3,
    iso3_by_numeric,
    read_country_table,
)
from geo.errors import InvalidCoordinates
from tests.support.reference_data import (
    default_source_countries,
    natural_earth_10m,
    shared_africa_geojson,
)

CENTRAL_AFRICA_BBOX = (8.0, -14.0, 32.0, 24.0)


# --- vocabulary ----------------------------------------------------------------------------


def test_country_table_covers_africa_with_three_languages() -> None:
    table = read_country_table()
    assert len(table) == 55  # 54 states + Western Sahara
    by_iso3 = {country.iso3: country for country in table}
    assert by_iso3["AGO"].iso_numeric == "024"
    assert by_iso3["SSD"].iso_numeric == "728" and by_iso3["SDN"].iso_numeric == "729"
    assert by_iso3["ESH"].iso_numeric == "732"
    assert by_iso3["CAF"].name("fr") == "République centrafricaine"
    assert by_iso3["CMR"].name("pt") == "Camarões"
    for country in table:
        assert len(country.iso3) == 3 and country.iso3.isupper()
        assert len(country.iso_numeric) == 3 and country.iso_numeric.isdigit()
        assert all(country.name(lang) for lang in ("en", "fr", "pt"))


def test_central_africa_region_is_the_action_plan_countries_and_neighbours() -> None:
    assert set(central_africa_iso3()) == {
        "AGO", "CMR", "CAF", "TCD", "COG", "COD", "GAB", "GNQ",
        "NGA", "SSD", "SDN", "UGA", "RWA", "BDI", "ZMB", "TZA",
    }  # fmt: skip


def test_country_csv_has_the_documented_columns() -> None:
    with COUNTRY_TABLE_PATH.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert header == ["iso3", "iso_numeric", "en", "fr", "pt", "region"]


def test_every_natural_earth_african_id_maps_to_its_iso3() -> None:
    # Natural Earth's own ISO_A3 is only in the shared decoded copy; ours would be circular.
    frame = pyogrio.read_dataframe(shared_africa_geojson(), read_geometry=False)
    numeric = iso3_by_numeric()
    for ne_id, ne_iso3 in zip(frame["id"], frame["iso_a3"], strict=True):
        if not isinstance(ne_id, str):  # Somaliland has no ISO code
            continue
        assert numeric[ne_id] == ne_iso3


# --- locator on Natural Earth --------------------------------------------------------------


@pytest.fixture(scope="module")
def ne_africa() -> gpd.GeoDataFrame:
    return read_country_polygons(
        natural_earth_10m(),
        format="topojson",
        id_field="id",
        id_kind="iso_numeric",
        countries=african_iso3(),
    )


@pytest.fixture(scope="module")
def ne_locator(ne_africa: gpd.GeoDataFrame) -> CountryLocator:
    return CountryLocator(ne_africa, find_disputed_areas(ne_africa))


@pytest.fixture(scope="module")
def ne_borders(ne_africa: gpd.GeoDataFrame) -> list[BorderLine]:
    return derive_borders(ne_africa[ne_africa["iso3"].isin(central_africa_iso3())])


def _brute_force(frame: gpd.GeoDataFrame, lon: float, lat: float) -> tuple[str | None, str]:
    point = shapely.Point(lon, lat)
    hits = sorted(
        code
        for code, polygon in zip(frame["iso3"], frame.geometry, strict=True)
        if polygon.intersects(point)
    )
    return (hits[0], "country") if hits else (None, "sea")


lon_lat = st.tuples(
    st.floats(CENTRAL_AFRICA_BBOX[0], CENTRAL_AFRICA_BBOX[2]),
    st.floats(CENTRAL_AFRICA_BBOX[1], CENTRAL_AFRICA_BBOX[3]),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(points=st.lists(lon_lat, min_size=1, max_size=60))
def test_locate_agrees_with_shapely_point_by_point(
    ne_africa: gpd.GeoDataFrame, ne_locator: CountryLocator, points: list[tuple[float, float]]
) -> None:
    lon, lat = np.array(points).T
    found = ne_locator.locate(lon, lat)
    for k, (x, y) in enumerate(points):
        assert (found.iso3[k], found.status[k]) == _brute_force(ne_africa, x, y)
        assert found.claimants[k] == ()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_points_on_a_border_go_to_the_first_iso3_of_the_pair(
    ne_borders: list[BorderLine], ne_locator: CountryLocator, data: st.DataObject
) -> None:
    border = data.draw(st.sampled_from(ne_borders))
    vertices = shapely.get_coordinates(border.geometry)
    # Inner vertices lie exactly on both outlines (the ends may be tripoints).
    k = data.draw(st.integers(1, max(1, len(vertices) - 2)))
    x, y = vertices[k]
    found = ne_locator.locate([x, x], [y, y])
    assert list(found.iso3) == [border.country_a, border.country_a]
    assert list(found.status) == ["country", "country"]


def test_known_places(ne_locator: CountryLocator) -> None:
    places = {
        "Bangui": (18.56, 4.36, "CAF"),
        "Douala": (9.70, 4.05, "CMR"),
        "Kinshasa": (15.31, -4.33, "COD"),
        "Brazzaville": (15.24, -4.27, "COG"),
        "Gulf of Guinea": (3.0, -2.0, None),
        "6 km off the coast south of Douala": (9.55, 3.70, None),  # NE has no territorial sea
    }
    lon, lat, expected = zip(*places.values(), strict=True)
    found = ne_locator.locate(np.array(lon), np.array(lat))
    assert list(found.iso3) == list(expected)
    assert list(found.status) == ["country"] * 4 + ["sea"] * 2


def test_location_arrays_are_object_arrays_aligned_with_input(ne_locator: CountryLocator) -> None:
    found = ne_locator.locate(np.array([18.56, 3.0]), np.array([4.36, -2.0]))
    for column in (found.iso3, found.status, found.claimants):
        assert column.dtype == object and column.shape == (2,)
    empty = ne_locator.locate(np.array([]), np.array([]))
    assert empty.iso3.shape == (0,)


def test_invalid_coordinates_are_refused(ne_locator: CountryLocator) -> None:
    with pytest.raises(InvalidCoordinates, match="index 1"):
        ne_locator.locate([18.5, np.nan], [4.3, 4.3])
    with pytest.raises(InvalidCoordinates):
        ne_locator.locate([18.5, 200.0], [4.3, 4.3])
    with pytest.raises(InvalidCoordinates):
        ne_locator.locate([18.5], [4.3, 4.3])


def test_a_million_points_at_once(ne_locator: CountryLocator) -> None:
    # Vectorised over a million points in one call; its speed is a benchmark's business.
    rng = np.random.default_rng(7)
    lon = rng.uniform(CENTRAL_AFRICA_BBOX[0], CENTRAL_AFRICA_BBOX[2], 1_000_000)
    lat = rng.uniform(CENTRAL_AFRICA_BBOX[1], CENTRAL_AFRICA_BBOX[3], 1_000_000)
    found = ne_locator.locate(lon, lat)
    assert len(found.status) == 1_000_000
    assert (found.status == "country").mean() > 0.8


# --- disputed areas ------------------------------------------------------------------------


def _frame(codes: list[str], boxes: list[shapely.Polygon]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"iso3": codes}, geometry=[MultiPolygon([b]) for b in boxes], crs=4326)


def test_points_in_an_overlap_are_disputed_with_both_claimants() -> None:
    frame = _frame(["BBB", "AAA"], [box(1.5, 0, 3, 1), box(0, 0, 2, 1)])
    locator = CountryLocator(frame, find_disputed_areas(frame))
    found = locator.locate([1.0, 1.75, 2.5, 1.5, 5.0], [0.5, 0.5, 0.5, 0.5, 0.5])
    assert list(found.iso3) == ["AAA", None, "BBB", None, None]
    assert list(found.status) == ["country", "disputed", "country", "disputed", "sea"]
    assert list(found.claimants) == [(), ("AAA", "BBB"), (), ("AAA", "BBB"), ()]


def test_three_way_overlap_merges_claimants() -> None:
    frame = _frame(["AAA", "BBB", "CCC"], [box(0, 0, 2, 2), box(1, 0, 3, 2), box(0, 1, 3, 3)])
    locator = CountryLocator(frame, find_disputed_areas(frame))
    found = locator.locate([1.5, 1.5, 0.5], [1.5, 0.5, 0.5])
    assert list(found.status) == ["disputed", "disputed", "country"]
    assert list(found.claimants) == [("AAA", "BBB", "CCC"), ("AAA", "BBB"), ()]


def test_sliver_overlaps_are_not_disputes() -> None:
    frame = _frame(["AAA", "BBB"], [box(0, 0, 1 + 1e-5, 1), box(1, 0, 2, 1)])
    locator = CountryLocator(frame, find_disputed_areas(frame))
    found = locator.locate([1 + 5e-6], [0.5])
    assert (found.iso3[0], found.status[0]) == ("AAA", "country")


def test_explicit_disputed_areas_are_honoured() -> None:
    frame = _frame(["AAA"], [box(0, 0, 2, 1)])
    claim = DisputedArea(("AAA", "ZZZ"), MultiPolygon([box(0, 0, 1, 1)]), 12_000.0)
    found = CountryLocator(frame, [claim]).locate([0.5, 1.5], [0.5, 0.5])
    assert list(found.status) == ["disputed", "country"]


@pytest.mark.slow
def test_abyei_is_disputed_on_the_default_source() -> None:
    frame = default_source_countries(central_africa_iso3())
    locator = CountryLocator(frame, find_disputed_areas(frame))
    found = locator.locate([28.4, 18.56, 9.55, 3.0], [9.6, 4.36, 3.70, -2.0])
    assert list(found.status) == ["disputed", "country", "country", "sea"]
    assert list(found.iso3) == [None, "CAF", "CMR", None]  # territorial sea counts as CMR
    assert found.claimants[0] == ("SDN", "SSD")


def test_one_locate_at_a_time_uses_the_prepared_geometries(
    ne_locator: CountryLocator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GEOS prepared geometries are not thread-safe (libgeos/geos#825) and one locator
    serves every thread of the service: concurrent calls take turns, and each gets the
    answer it gets alone. (shapely releases the GIL in its array functions, so without the
    turns the threads overlap inside GEOS.)"""

    from geo import countries as countries_module

    real = countries_module._hits  # every use of the prepared geometries goes through it
    inside = 0
    most = 0
    counter = threading.Lock()

    def watched(*args: Any) -> Any:
        nonlocal inside, most
        with counter:
            inside += 1
            most = max(most, inside)
        try:
            return real(*args)
        finally:
            with counter:
                inside -= 1

    monkeypatch.setattr(countries_module, "_hits", watched)
    rng = np.random.default_rng(7)
    batches = [(rng.uniform(8, 32, 5_000), rng.uniform(-14, 24, 5_000)) for _ in range(8)]
    alone = [ne_locator.locate(lon, lat).iso3 for lon, lat in batches]
    together: list[Any] = [None] * len(batches)
    start = threading.Barrier(len(batches))

    def run(i: int) -> None:
        start.wait()
        together[i] = ne_locator.locate(*batches[i]).iso3

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
    for got, expected in zip(together, alone, strict=True):
        assert list(got) == list(expected)


def test_a_locator_travels_by_pickle_and_still_takes_turns(ne_locator: CountryLocator) -> None:
    """The boundary set is pickled to Dask workers: the copy answers as the original."""

    copy = pickle.loads(pickle.dumps(ne_locator))
    lon, lat = np.array([15.5, 13.7]), np.array([4.3, 4.6])
    assert list(copy.locate(lon, lat).iso3) == list(ne_locator.locate(lon, lat).iso3)
