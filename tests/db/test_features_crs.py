"""Features in the offered CRSs (Part 2), as PostGIS writes them, against pyproj."""

from __future__ import annotations

import json
import random

import pytest
from pyproj import Transformer
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import features
from app.db import sites as site_repo
from app.queries import ANONYMOUS, BBox
from geo import crs as crs_module


@pytest.fixture
def points(session: Session) -> dict[int, tuple[float, float]]:
    rng = random.Random(7)
    lonlat = [
        (round(rng.uniform(12.5, 18.5), 6), round(rng.uniform(0.5, 7.5), 6)) for _ in range(60)
    ]
    new = [
        site_repo.NewSite(kind="mine", name=f"s{i}", lon=lon, lat=lat, location_status="country")
        for i, (lon, lat) in enumerate(lonlat)
    ]
    ids = site_repo.insert_sites(session, new)
    return dict(zip(ids, lonlat, strict=True))


def read(
    session: Session, ids: list[int], offered: crs_module.OfferedCrs | None
) -> dict[str, dict]:
    table = site_repo.sites
    texts = session.execute(
        select(features.feature_json(site_repo.SITES, ANONYMOUS, offered)).where(
            table.c.id.in_(ids)
        )
    ).scalars()
    return {f["properties"]["name"]: f for f in map(json.loads, texts)}


@pytest.mark.parametrize("offered", crs_module.OFFERED, ids=lambda c: c.uri.rsplit("/", 1)[-1])
def test_coordinates_equal_pyproj_within_a_millimetre(
    session: Session, points: dict[int, tuple[float, float]], offered: crs_module.OfferedCrs
) -> None:
    stored = read(session, list(points), None)
    moved = read(session, list(points), offered)
    assert set(moved) == set(stored)
    for name, feature in moved.items():
        assert feature["properties"] == stored[name]["properties"]
        assert feature["id"] == stored[name]["id"]
        lon, lat = stored[name]["geometry"]["coordinates"]
        x, y = feature["geometry"]["coordinates"]
        if offered.metres:
            ex, ey = Transformer.from_crs(4326, offered.srid, always_xy=True).transform(lon, lat)
            assert abs(x - ex) < 1e-3 and abs(y - ey) < 1e-3
        elif offered.lat_first:
            assert (x, y) == (lat, lon)
        else:
            assert (x, y) == (lon, lat)


def test_utm_box_selects_what_its_lonlat_outline_selects(
    session: Session, points: dict[int, tuple[float, float]]
) -> None:
    """A UTM 33N box and the CRS84 box of the same corners select the same sites, when no site
    lies in the thin slivers where the two outlines differ (checked)."""
    utm = crs_module.parse_crs("EPSG:32633")
    to_utm = Transformer.from_crs(4326, 32633, always_xy=True)
    x0, y0 = to_utm.transform(13.5, 1.5)
    x1, y1 = to_utm.transform(16.5, 5.5)
    box = (x0, y0, x1, y1)
    bounds = crs_module.bbox_to_crs84(box, utm)
    table = site_repo.sites

    def chosen(clause: object) -> set[int]:
        return set(
            session.execute(select(table.c.id).where(table.c.id.in_(points), clause)).scalars()
        )

    in_utm = chosen(features.bbox_in_crs_clause(table.c.geom, box, utm, bounds))
    in_envelope = chosen(features.bbox_clause(table.c.geom, BBox(*bounds)))
    expected = set()
    for site_id, (lon, lat) in points.items():
        x, y = to_utm.transform(lon, lat)
        if x0 <= x <= x1 and y0 <= y <= y1:
            expected.add(site_id)
    assert in_utm == expected
    assert 5 < len(expected) < len(points)
    sliver = in_envelope - expected  # in the lon/lat envelope, outside the UTM box
    assert in_utm <= in_envelope
    # the envelope over-selects exactly the sites in the slivers, which the exact clause drops
    assert all(site_id not in in_utm for site_id in sliver)
