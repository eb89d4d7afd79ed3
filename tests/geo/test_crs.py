"""The offered CRSs: identifiers in every accepted spelling, axis order, boxes to CRS84."""

from __future__ import annotations

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from geo import crs
from geo.errors import UnsupportedCRS

PROJECTED = [c for c in crs.OFFERED if c.metres]


@pytest.mark.parametrize("offered", crs.OFFERED, ids=lambda c: c.uri.rsplit("/", 1)[-1])
def test_every_spelling_names_the_same_crs(offered: crs.OfferedCrs) -> None:
    code = offered.uri.rsplit("/", 1)[-1]
    authority = "OGC" if code == "CRS84" else "EPSG"
    spellings = [offered.uri, f"[{authority}:{code}]", f"{authority}:{code}", f" {offered.uri} "]
    spellings.append(offered.uri.replace("http://", "https://"))
    assert {crs.parse_crs(s) for s in spellings} == {offered}


def test_region_zones_and_axis_order() -> None:
    srids = {c.srid for c in crs.OFFERED}
    assert set(range(32632, 32638)) | set(range(32732, 32738)) | {4326, 3857} == srids
    assert crs.parse_crs("EPSG:4326").lat_first
    assert not crs.parse_crs("CRS84").lat_first
    assert crs.OFFERED[0] is crs.CRS84


@pytest.mark.parametrize(
    "text",
    [
        "EPSG:2154",
        "EPSG:32631",
        "EPSG:32638",
        "[EPSG:abc]",
        "",
        "WGS84",
        "EPSG:4326x",
        "http://www.opengis.net/def/crs/EPSG/0/9999999",
        "http://example.org/crs/4326",
    ],
)
def test_anything_not_offered_is_refused_naming_the_parameter(text: str) -> None:
    with pytest.raises(UnsupportedCRS) as raised:
        crs.parse_crs(text, "bbox-crs")
    assert raised.value.parameter == "bbox-crs"
    assert raised.value.message.startswith("bbox-crs:")
    assert crs.CRS84_URI in raised.value.message


def test_epsg_4326_box_is_read_latitude_first() -> None:
    assert crs.bbox_to_crs84((2.0, 14.0, 5.0, 16.0), crs.EPSG_4326) == (14.0, 2.0, 16.0, 5.0)
    assert crs.bbox_to_crs84((14.0, 2.0, 16.0, 5.0), crs.CRS84) == (14.0, 2.0, 16.0, 5.0)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(PROJECTED),
    st.floats(0.05, 0.95),
    st.floats(0.05, 0.95),
    st.just(0.0) | st.floats(1_000, 200_000),
    st.just(0.0) | st.floats(1_000, 200_000),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_projected_box_contains_every_point_of_it(
    target: crs.OfferedCrs, fx: float, fy: float, width: float, height: float, u: float, v: float
) -> None:
    """A box around a regional point in a projected CRS: every point of the box, transformed
    to lon/lat by pyproj, lies in the CRS84 box the function returns; also a box of no
    width or height, or both (one point: GEOS refused to densify its outline)."""
    lon = 8.0 + fx * 24.0  # 8..32 E: the region of the offered UTM zones
    lat = -12.0 + fy * 24.0
    if target.srid != 3857:
        zone = target.srid % 100
        lon = (zone - 31) * 6 - 3 + (fx - 0.5) * 6  # inside the zone's 6-degree band
        lat = abs(lat) if target.srid < 32700 else -abs(lat)
    x, y = Transformer.from_crs(4326, target.srid, always_xy=True).transform(lon, lat)
    box = (x, y, x + width, y + height)
    result = crs.bbox_to_crs84(box, target)
    px, py = x + u * width, y + v * height
    plon, plat = Transformer.from_crs(target.srid, 4326, always_xy=True).transform(px, py)
    assert result[0] - 1e-9 <= plon <= result[2] + 1e-9
    assert result[1] - 1e-9 <= plat <= result[3] + 1e-9


def test_upside_down_projected_box_is_refused() -> None:
    with pytest.raises(UnsupportedCRS, match="bbox-crs"):
        crs.bbox_to_crs84((600_000, 0, 500_000, 100_000), crs.parse_crs("EPSG:32633"))


def test_point_from_lonlat_follows_axis_order() -> None:
    assert crs.point_from_lonlat(crs.EPSG_4326, 15.5, 4.25) == (4.25, 15.5)
    x, y = crs.point_from_lonlat(crs.EPSG_3857, 15.5, 4.25)
    assert x == pytest.approx(15.5 * 6378137 * 3.141592653589793 / 180, abs=1e-3)
    assert y > 0


@pytest.mark.parametrize("offered", PROJECTED, ids=lambda c: str(c.srid))
def test_geometry_to_lonlat_matches_pyproj_and_densifies(offered: crs.OfferedCrs) -> None:
    to_crs = Transformer.from_crs(4326, offered.srid, always_xy=True)
    x0, y0 = to_crs.transform(15.2, 3.1)
    x1, y1 = to_crs.transform(15.9, 3.8)
    square = shapely.box(x0, y0, x1, y1)
    lonlat = crs.geometry_to_lonlat(square, offered)
    assert len(shapely.get_coordinates(lonlat)) > 5 * 4  # edges densified
    back = Transformer.from_crs(offered.srid, 4326, always_xy=True)
    for x, y in shapely.get_coordinates(square):
        lon, lat = back.transform(x, y)
        assert lonlat.exterior.distance(shapely.Point(lon, lat)) < 1e-9


def test_geometry_to_lonlat_reads_epsg_4326_latitude_first() -> None:
    point = crs.geometry_to_lonlat(shapely.Point(4.25, 15.5), crs.EPSG_4326)
    assert (point.x, point.y) == (15.5, 4.25)


@pytest.mark.parametrize(
    ("geom", "name"),
    [
        (shapely.Point(200, 95), "CRS84"),
        (shapely.Point(95, 10), "EPSG:4326"),  # latitude 95
        (shapely.Point(1e9, 1e9), "EPSG:32633"),
    ],
)
def test_geometry_without_a_lonlat_image_is_refused(geom: shapely.Point, name: str) -> None:
    with pytest.raises(UnsupportedCRS, match="filter-crs"):
        crs.geometry_to_lonlat(geom, crs.parse_crs(name))


@pytest.mark.parametrize(
    "wkt",
    [
        "POLYGON ((1 1, 1 1, 1 1, 1 1))",
        "LINESTRING (1 1, 1 1)",
        "MULTIPOLYGON (((1 1, 1 1, 1 1, 1 1)), ((0 0, 90000 0, 90000 90000, 0 0)))",
        "POLYGON ((0 0, 90000 0, 90000 90000, 0 0), (1 1, 1 1, 1 1, 1 1))",
        "GEOMETRYCOLLECTION (LINESTRING (1 1, 1 1), POINT (2 2))",
    ],
)
def test_a_geometry_with_parts_of_one_point_converts(wkt: str) -> None:
    """A line or ring whose points are all one point has nothing to densify: it is kept, and
    the other parts are densified (GEOS refused the whole geometry)."""
    geom = shapely.from_wkt(wkt)
    lonlat = crs.geometry_to_lonlat(geom, crs.EPSG_3857)
    back = Transformer.from_crs(3857, 4326, always_xy=True)
    for x, y in shapely.get_coordinates(geom):
        lon, lat = back.transform(x, y)
        assert shapely.Point(lon, lat).distance(lonlat) < 1e-9
    if geom.area > 0:
        assert shapely.get_num_coordinates(lonlat) > shapely.get_num_coordinates(geom)
