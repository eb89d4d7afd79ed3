"""Coordinate parsing (decimal, DMS, DDM, geopoints), CRS resolution and transforms."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.coords import (
    crs_label,
    format_ddm,
    format_dms,
    looks_like_geopoint,
    parse_angle,
    parse_coordinates,
    parse_geopoints,
    parse_numbers,
    resolve_crs,
    to_wgs84,
)
from geo.errors import InvalidCRS

LATITUDES = st.floats(min_value=-90, max_value=90, allow_nan=False)
LONGITUDES = st.floats(min_value=-180, max_value=180, allow_nan=False)


@pytest.mark.parametrize(
    ("text", "axis", "expected"),
    [
        ("4°21'33\"N", "lat", 4 + 21 / 60 + 33 / 3600),
        ("4 21 33 N", "lat", 4 + 21 / 60 + 33 / 3600),
        ("N 4°21.55'", "lat", 4 + 21.55 / 60),
        ("4 21.55 N", "lat", 4 + 21.55 / 60),
        ("-4.3592", "lat", -4.3592),
        ("18°33'20\"E", "lon", 18 + 33 / 60 + 20 / 3600),
        ("18°33'20\"O", "lon", -(18 + 33 / 60 + 20 / 3600)),  # ouest
        ("18°33'20\"W", "lon", -(18 + 33 / 60 + 20 / 3600)),
        ("4°21'33\"S", "lat", -(4 + 21 / 60 + 33 / 3600)),
        ("4\u00ba21\u203233\u2033 N", "lat", 4 + 21 / 60 + 33 / 3600),  # typographic marks
        ("4°21'33''N", "lat", 4 + 21 / 60 + 33 / 3600),
        ("4.3592 S", "lat", -4.3592),
        ("sud 4,3592", "lat", -4.3592),
        ("18E", "lon", 18.0),
        ("Est 18 33,5", "lon", 18 + 33.5 / 60),
    ],
)
def test_parse_angle_reads_field_notations(text: str, axis: str, expected: float) -> None:
    assert parse_angle(text, axis=axis) == pytest.approx(expected, abs=1e-12)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "axis", "reason"),
    [
        ("4°61'N", "lat", "61 minutes"),
        ("4°21'75\"N", "lat", "75 seconds"),
        ("-4°21'S", "lat", "both a minus sign and a hemisphere"),
        ("18°33'20\"E", "lat", "swapped"),
        ("4°21'N", "lon", "swapped"),
        ("4.5 21 N", "lat", "decimal degrees followed by minutes"),
        ("N 4 S", "lat", "two hemisphere"),
        ("near the river", "lat", "not a coordinate"),
        ("", "lat", "not a coordinate"),
    ],
)
def test_parse_angle_refuses_with_a_reason(text: str, axis: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_angle(text, axis=axis)  # type: ignore[arg-type]


def test_parse_coordinates_keeps_good_cells_and_reports_bad_ones() -> None:
    parsed = parse_coordinates(["4.5", "", None, "4°21'33\"N", "x", "  -1.25 "], axis="lat")
    assert parsed.values[0] == 4.5
    assert np.isnan(parsed.values[1]) and np.isnan(parsed.values[2])
    assert parsed.values[3] == pytest.approx(4.359166667, abs=1e-9)
    assert np.isnan(parsed.values[4])
    assert parsed.values[5] == -1.25
    assert set(parsed.errors) == {4}


def test_parse_numbers_treats_nan_text_as_empty_and_inf_as_an_error() -> None:
    parsed = parse_numbers(["NaN", "inf", "3"])
    assert np.isnan(parsed.values[0]) and np.isnan(parsed.values[1])
    assert parsed.values[2] == 3.0
    assert set(parsed.errors) == {1}


@given(LATITUDES)
def test_dms_written_then_read_gives_the_value_back(lat: float) -> None:
    assert parse_angle(format_dms(lat, axis="lat"), axis="lat") == pytest.approx(lat, abs=1e-6)


@given(LONGITUDES)
def test_ddm_written_then_read_gives_the_value_back(lon: float) -> None:
    assert parse_angle(format_ddm(lon, axis="lon"), axis="lon") == pytest.approx(lon, abs=1e-6)


@given(st.lists(st.decimals(min_value=-180, max_value=180, places=6), max_size=30))
def test_decimal_comma_and_decimal_point_read_the_same(values: list[object]) -> None:
    dotted = [str(v) for v in values]
    with_commas = [text.replace(".", ",") for text in dotted]
    by_point = parse_coordinates(dotted, axis="lon")
    by_comma = parse_coordinates(with_commas, axis="lon", decimal_comma=True)
    np.testing.assert_array_equal(by_point.values, by_comma.values)
    assert not by_point.errors and not by_comma.errors


def test_a_comma_in_degrees_is_decimal_but_in_plain_numbers_only_when_told() -> None:
    # Degrees never need a thousands separator; metres (UTM) and accuracies might.
    assert parse_coordinates(["-3,4567"], axis="lat").values[0] == -3.4567
    assert parse_numbers(["523,456"]).errors
    assert parse_numbers(["523,456"], decimal_comma=True).values[0] == 523.456


def test_geopoints_with_two_to_four_parts() -> None:
    points = parse_geopoints(["4.36 18.55 512 4.5", "4.36 18.55", "4.36 18.55 512", "", "x y"])
    np.testing.assert_array_equal(points.lat[:3], [4.36, 4.36, 4.36])
    np.testing.assert_array_equal(points.lon[:3], [18.55, 18.55, 18.55])
    assert points.accuracy_m[0] == 4.5 and np.isnan(points.accuracy_m[1])
    assert np.isnan(points.lat[3]) and set(points.errors) == {4}
    assert looks_like_geopoint("4.36 18.55 512 4.5") and not looks_like_geopoint("4.36")


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("UTM 34N", "EPSG:32634"),
        ("34N", "EPSG:32634"),
        ("utm34s", "EPSG:32734"),
        ("UTM zone 34 south", "EPSG:32734"),
        ("UTM 35 sud", "EPSG:32735"),
        ("35M", "EPSG:32735"),  # latitude band M lies south of the equator
        ("33P", "EPSG:32633"),
        ("WGS 84 / UTM zone 34N", "EPSG:32634"),
        ("32634", "EPSG:32634"),
        ("EPSG:4326", "EPSG:4326"),
        ("epsg:32733", "EPSG:32733"),
    ],
)
def test_resolve_crs(text: str, label: str) -> None:
    assert crs_label(resolve_crs(text)) == label


@pytest.mark.parametrize("text", ["UTM 34", "zone 61N", "EPSG:999999", "somewhere"])
def test_resolve_crs_refuses_what_it_cannot_know(text: str) -> None:
    with pytest.raises(InvalidCRS):
        resolve_crs(text)


@settings(deadline=None)  # building a pyproj transformer can take longer than hypothesis' 200 ms
@given(
    st.floats(min_value=18.0, max_value=24.0),
    st.floats(min_value=-10.0, max_value=12.0),
)
def test_utm_forward_then_read_back(lon: float, lat: float) -> None:
    zone = 32634 if lat >= 0 else 32734
    forward = pyproj.Transformer.from_crs(4326, zone, always_xy=True)
    x, y = forward.transform(lon, lat)
    back_lon, back_lat = to_wgs84([x], [y], resolve_crs(f"UTM 34{'N' if lat >= 0 else 'S'}"))
    assert back_lon[0] == pytest.approx(lon, abs=1e-9)
    assert back_lat[0] == pytest.approx(lat, abs=1e-9)


def test_to_wgs84_keeps_nan_and_leaves_degrees_alone() -> None:
    lon, lat = to_wgs84([500_000.0, np.nan], [0.0, np.nan], resolve_crs("UTM 34N"))
    assert lon[0] == pytest.approx(21.0) and lat[0] == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(lon[1]) and np.isnan(lat[1])
    same_lon, same_lat = to_wgs84([18.5], [4.3], resolve_crs("EPSG:4326"))
    assert same_lon[0] == 18.5 and same_lat[0] == 4.3
