"""Acceptance cross-check: our border distance against PostGIS on the same 2-point segments.

The independent computation is PostGIS's own ``ST_Distance(geography, geography)`` against
the borders split into 2-point segments (never against whole multi-vertex lines, where it
over-estimates by up to 1.5 %), minimised over every segment that can be nearest:

    d0 = ST_Distance to the segment that the GiST index ranks first by ``<->``
    d  = min ST_Distance over the segments with ST_DWithin(segment, point, 1.0001 d0 + 1 m)

``d0`` is a true distance to one segment, so every segment nearer than it passes the
ST_DWithin filter and the minimum is exact, whatever the index's ranking metric.

Acceptance (issue 4): |ours - PostGIS| <= max(0.1 % of the distance, 5 m) for thousands of
random points, including points within 100 m of a border on both sides and points near the
CAF-CMR-TCD and CAF-COD-SSD tripoints.

The query and the segment table are ``bench._postgis_nearest`` (the border benchmark's
baseline is the same computation). Database access lives in the ``pg`` fixture below: a copy
of the suite's test database on the real PostGIS the whole suite uses, TEMP tables only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import psycopg
import pytest

from bench import _synthetic
from bench._postgis_nearest import load_segments, nearest_distance_m
from geo.borders import BorderIndex
from geo.geodesic import WGS84


@pytest.fixture(scope="module")
def pg(database_copy: Callable[[str], str]) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection to the suite's real PostGIS (a throw-away copy of the test template);
    the cross-check uses TEMP tables only."""
    url = database_copy("distance").replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def borders() -> list[_synthetic.SimpleBorder]:
    try:
        countries = _synthetic.load_countries()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    return _synthetic.shared_borders(countries)


@pytest.fixture(scope="module")
def index(borders: list[_synthetic.SimpleBorder]) -> BorderIndex:
    return BorderIndex.from_lines(borders)


def postgis_distance_m(
    conn: psycopg.Connection[tuple[object, ...]], lon: np.ndarray, lat: np.ndarray
) -> np.ndarray:
    distance_m, _seconds = nearest_distance_m(conn, lon, lat)
    return distance_m


def tripoint(index: BorderIndex, a: str, b: str) -> tuple[float, float]:
    """The vertex shared by two borders (e.g. CAF-CMR and CAF-TCD meet at CAF-CMR-TCD)."""
    pair, lon1, lat1, lon2, lat2 = index.segments()
    vertices_a = {(x, y) for p, x, y in zip(pair, lon1, lat1, strict=True) if p == a}
    vertices_a |= {(x, y) for p, x, y in zip(pair, lon2, lat2, strict=True) if p == a}
    vertices_b = {(x, y) for p, x, y in zip(pair, lon1, lat1, strict=True) if p == b}
    vertices_b |= {(x, y) for p, x, y in zip(pair, lon2, lat2, strict=True) if p == b}
    shared = vertices_a & vertices_b
    assert shared, f"{a} and {b} share no vertex"
    return sorted(shared)[0]


def acceptance_points(
    index: BorderIndex, borders: list[_synthetic.SimpleBorder]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """About 4 000 points in named groups (returned as a group label per point)."""
    rng = np.random.default_rng(4)
    groups: list[tuple[str, np.ndarray, np.ndarray]] = []
    groups.append(
        ("within 100 m", *_synthetic.points_near_borders(1200, borders, rng, max_offset_m=100.0))
    )
    groups.append(("near border", *_synthetic.points_near_borders(1000, borders, rng)))
    groups.append(("scattered", *_synthetic.points_in_region(800, rng)))
    for a, b in (("CAF-CMR", "CAF-TCD"), ("CAF-COD", "CAF-SSD")):
        lon0, lat0 = tripoint(index, a, b)
        count = 400
        lon, lat, _ = WGS84.fwd(
            np.full(count, lon0),
            np.full(count, lat0),
            rng.uniform(-180, 180, count),
            rng.exponential(3_000.0, count),
        )
        groups.append((f"tripoint {a}/{b}", np.asarray(lon), np.asarray(lat)))
    label = np.concatenate([np.full(g[1].size, g[0], dtype=object) for g in groups])
    lon = np.concatenate([g[1] for g in groups])
    lat = np.concatenate([g[2] for g in groups])
    return lon, lat, label


@pytest.fixture(scope="module")
def pg_segments(
    pg: psycopg.Connection[tuple[object, ...]], index: BorderIndex
) -> psycopg.Connection[tuple[object, ...]]:
    load_segments(pg, index)
    return pg


def test_border_distance_agrees_with_postgis_on_two_point_segments(
    pg_segments: psycopg.Connection[tuple[object, ...]],
    index: BorderIndex,
    borders: list[_synthetic.SimpleBorder],
) -> None:
    pg = pg_segments
    lon, lat, group = acceptance_points(index, borders)
    ours = index.nearest(lon, lat).distance_m
    theirs = postgis_distance_m(pg, lon, lat)

    error = np.abs(ours - theirs)
    allowed = np.maximum(0.001 * theirs, 5.0)
    report = {
        str(name): (
            int((group == name).sum()),
            float(error[group == name].max()),
            float(theirs[group == name].max()),
        )
        for name in np.unique(group)
    }
    print("group: count, max |ours - PostGIS| (m), max distance (m)", report)
    assert np.all(error <= allowed), report
    # Both sides of the borders and the 100 m band are really exercised.
    assert (theirs[group == "within 100 m"] <= 100.5).all()
    # Where PostGIS's own shortcut is negligible (within 50 km of a border) the two agree
    # to the metre. Farther out PostGIS measures to the sphere-nearest point of each
    # segment, which is not the ellipsoid-nearest one: it over-estimates, roughly with the
    # square of the distance (0.5 m at 50 km, 1.8 m at 100 km, 5 m at 265 km here, checked
    # against dense sampling), so ours may be lower, never higher beyond the 0.11 m by
    # which a geodesic and a great-circle edge differ on this data.
    near = theirs <= 50_000
    assert np.all(error[near] <= 1.0), float(error[near].max())
    assert np.all(ours <= theirs + 0.11)


def unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """PostGIS geography's sphere: geodetic lon/lat taken as spherical coordinates."""
    lon_r, lat_r = np.radians(lon), np.radians(lat)
    return np.stack(
        [np.cos(lat_r) * np.cos(lon_r), np.cos(lat_r) * np.sin(lon_r), np.sin(lat_r)], axis=-1
    )


def postgis_method_m(index: BorderIndex, lon: float, lat: float) -> float:
    """PostGIS's ST_Distance(geography) to 2-point segments, redone in numpy.

    Per segment: the nearest point of the great-circle arc on the unit sphere, then the
    WGS 84 geodesic distance to that point; minimum over the segments.
    """
    _, lon1, lat1, lon2, lat2 = index.segments()
    a, b, p = unit_vectors(lon1, lat1), unit_vectors(lon2, lat2), unit_vectors(lon, lat)
    normal = np.cross(a, b)
    normal /= np.linalg.norm(normal, axis=1)[:, None]
    foot = p - (normal @ p)[:, None] * normal
    foot /= np.linalg.norm(foot, axis=1)[:, None]
    inside = (np.einsum("ij,ij->i", np.cross(a, foot), normal) >= 0) & (
        np.einsum("ij,ij->i", np.cross(foot, b), normal) >= 0
    )
    nearer_end = np.where((a @ p > b @ p)[:, None], a, b)
    foot = np.where(inside[:, None], foot, nearer_end)
    candidates = np.argsort(-(foot @ p))[:40]  # the sphere-nearest ones
    foot_lon = np.degrees(np.arctan2(foot[candidates, 1], foot[candidates, 0]))
    foot_lat = np.degrees(np.arcsin(np.clip(foot[candidates, 2], -1, 1)))
    _, _, distance = WGS84.inv(
        np.full(candidates.size, lon), np.full(candidates.size, lat), foot_lon, foot_lat
    )
    return float(np.min(distance))


def test_the_difference_is_postgis_taking_the_sphere_nearest_point(
    pg_segments: psycopg.Connection[tuple[object, ...]],
    index: BorderIndex,
    borders: list[_synthetic.SimpleBorder],
) -> None:
    """Where ours and PostGIS differ (far from borders), PostGIS's own method explains it.

    Redoing PostGIS's method in numpy reproduces its numbers to the micrometre, and ours is
    never longer: the gap is PostGIS measuring to the point of each segment nearest on a
    sphere instead of on the ellipsoid, not a fault of either implementation.
    """
    lon, lat = _synthetic.points_in_region(150, np.random.default_rng(9))
    theirs = postgis_distance_m(pg_segments, lon, lat)
    redone = np.array([postgis_method_m(index, x, y) for x, y in zip(lon, lat, strict=True)])
    ours = index.nearest(lon, lat).distance_m
    np.testing.assert_allclose(redone, theirs, rtol=0, atol=1e-3)
    assert np.all(ours <= redone + 0.11)
    assert (redone - ours).max() > 1.0  # the effect is real at these distances
