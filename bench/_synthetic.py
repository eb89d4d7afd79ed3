"""Shared helpers for the benchmarks (and the border tests): borders and synthetic sites.

Borders come from the Natural Earth 1:10m countries (world-atlas TopoJSON), the copy kept
read-only in the shared data folder: a border is the intersection of two neighbours'
polygon boundaries, exactly how the service derives its own. Nothing here is copied into
the repository; callers that cannot find the file skip (tests) or stop with a message
(benchmarks).

Synthetic sites mimic where artisanal mine sites and sales points are: most of them close
to a border (offsets from a random point of a random border, exponentially distributed, on
both sides), some in dense mining districts, the rest scattered over the region. Every
generator takes a seed, so a benchmark run is reproducible.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from geo.geodesic import WGS84

FloatArray = npt.NDArray[np.float64]


def _shared_dir() -> Path:
    """``$BORDERLENS_SHARED_DIR``, else the ``shared`` folder beside the repository."""
    if "BORDERLENS_SHARED_DIR" in os.environ:
        return Path(os.environ["BORDERLENS_SHARED_DIR"])
    return Path(__file__).resolve().parents[2] / "shared"


SHARED_DIR: Final = _shared_dir()
COUNTRIES_10M: Final = (
    SHARED_DIR / "data" / "boundaries" / "world-atlas-2.0.2_countries-10m.topojson.json"
)

# ISO 3166-1 numeric (the TopoJSON ``id``) to alpha-3, for Central Africa and neighbours.
CENTRAL_AFRICA_ISO: Final = {
    "140": "CAF",
    "120": "CMR",
    "180": "COD",
    "178": "COG",
    "148": "TCD",
    "728": "SSD",
    "729": "SDN",
    "266": "GAB",
    "226": "GNQ",
    "566": "NGA",
    "024": "AGO",
    "800": "UGA",
    "646": "RWA",
    "108": "BDI",
    "894": "ZMB",
    "834": "TZA",
    "562": "NER",
    "434": "LBY",
}
# lon_min, lat_min, lon_max, lat_max of the scattered background sites.
REGION_BBOX: Final = (8.0, -14.0, 32.0, 24.0)
DEFAULT_SEED: Final = 20_261_122

MINERALS: Final = ("gold", "diamond", "cassiterite", "coltan", "wolframite", "copper")
KINDS: Final = ("mine", "sales_point")


@dataclass(frozen=True)
class SimpleBorder:
    """A border line as the index wants it (same attributes as geo.boundaries.BorderLine)."""

    pair_code: str
    country_a: str
    country_b: str
    geometry: BaseGeometry


def countries_10m_path() -> Path:
    """The shared copy when present, else the project's pinned copy (the same bytes)."""
    if COUNTRIES_10M.is_file():
        return COUNTRIES_10M
    from app.services.boundary_sources import fetch, load_recipes
    from app.settings import Settings

    source = next(s for s in load_recipes() if s.id == "natural-earth-10m")
    return fetch(source, Settings().cache_dir / "boundaries")


def load_countries(path: Path | None = None) -> dict[str, BaseGeometry]:
    """Country polygons (lon/lat) of Central Africa and its neighbours, by ISO alpha-3.

    ``path`` defaults to Natural Earth 1:10m (:func:`countries_10m_path`).

    Raises
    ------
    FileNotFoundError
        When the boundaries file is not there.
    """
    import pyogrio

    path = path or countries_10m_path()
    if not path.exists():
        raise FileNotFoundError(f"boundary file not found: {path}")
    frame = pyogrio.read_dataframe(path, layer="countries")
    frame = frame[frame["id"].isin(CENTRAL_AFRICA_ISO)]
    return {
        CENTRAL_AFRICA_ISO[code]: shapely.make_valid(geometry)
        for code, geometry in zip(frame["id"], frame.geometry, strict=True)
    }


def shared_borders(countries: Mapping[str, BaseGeometry]) -> list[SimpleBorder]:
    """The shared boundary line of every pair of neighbours, pair codes sorted (``CAF-CMR``)."""
    borders = []
    for code_a, code_b in itertools.combinations(sorted(countries), 2):
        poly_a, poly_b = countries[code_a], countries[code_b]
        if not poly_a.intersects(poly_b):
            continue
        common = shapely.intersection(poly_a.boundary, poly_b.boundary)
        lines = [
            part
            for part in shapely.get_parts(common)
            if part.geom_type in ("LineString", "MultiLineString")
        ]
        if not lines:
            continue  # touching at a single point is not a border
        merged = shapely.line_merge(shapely.union_all(lines))
        borders.append(SimpleBorder(f"{code_a}-{code_b}", code_a, code_b, merged))
    return borders


def segment_table(
    borders: list[SimpleBorder],
) -> tuple[list[str], FloatArray, FloatArray, FloatArray, FloatArray]:
    """Borders cut into 2-point segments: (pair codes, lon1, lat1, lon2, lat2)."""
    codes: list[str] = []
    rows: list[FloatArray] = []
    for border in borders:
        for part in shapely.get_parts(border.geometry):
            xy = shapely.get_coordinates(part)
            keep = np.r_[True, (xy[1:] != xy[:-1]).any(axis=1)]
            xy = xy[keep]
            rows.append(np.hstack([xy[:-1], xy[1:]]))
            codes.extend([border.pair_code] * (len(xy) - 1))
    table = np.vstack(rows)
    return codes, table[:, 0], table[:, 1], table[:, 2], table[:, 3]


def points_near_borders(
    count: int,
    borders: list[SimpleBorder],
    rng: np.random.Generator,
    *,
    scale_m: float = 8_000.0,
    max_offset_m: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Points at random offsets from random points of the borders (both sides).

    The border point is drawn uniformly along the total length (segments weighted by
    geodesic length), the offset direction uniformly, the offset distance exponentially
    with mean ``scale_m`` (or uniformly up to ``max_offset_m`` when that is given).
    """
    _, lon1, lat1, lon2, lat2 = segment_table(borders)
    azimuth, _, length = WGS84.inv(lon1, lat1, lon2, lat2)
    length = np.asarray(length)
    segment = rng.choice(length.size, size=count, p=length / length.sum())
    along = rng.uniform(0, 1, count) * length[segment]
    base_lon, base_lat, _ = WGS84.fwd(
        lon1[segment], lat1[segment], np.asarray(azimuth)[segment], along
    )
    if max_offset_m is None:
        offset = rng.exponential(scale_m, count)
    else:
        offset = rng.uniform(0, max_offset_m, count)
    lon, lat, _ = WGS84.fwd(base_lon, base_lat, rng.uniform(-180, 180, count), offset)
    return np.asarray(lon), np.asarray(lat)


def points_in_region(count: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """Points uniform on the sphere over :data:`REGION_BBOX` (uniform in area, not degrees)."""
    lon_min, lat_min, lon_max, lat_max = REGION_BBOX
    lon = rng.uniform(lon_min, lon_max, count)
    sin_lat = rng.uniform(np.sin(np.radians(lat_min)), np.sin(np.radians(lat_max)), count)
    return lon, np.degrees(np.arcsin(sin_lat))


def points_in_districts(
    count: int,
    rng: np.random.Generator,
    *,
    districts: int = 400,
    sigma_m: float = 4_000.0,
) -> tuple[FloatArray, FloatArray]:
    """Points in Gaussian mining districts scattered over the region."""
    centre_lon, centre_lat = points_in_region(districts, rng)
    which = rng.integers(0, districts, count)
    radius = np.abs(rng.normal(0, sigma_m, count)) * np.sqrt(2)
    lon, lat, _ = WGS84.fwd(
        centre_lon[which], centre_lat[which], rng.uniform(-180, 180, count), radius
    )
    return np.asarray(lon), np.asarray(lat)


def synthetic_sites(
    count: int,
    borders: list[SimpleBorder],
    *,
    seed: int = DEFAULT_SEED,
    near_border_share: float = 0.6,
    district_share: float = 0.2,
) -> tuple[FloatArray, FloatArray]:
    """``count`` site positions: near borders, in mining districts, and scattered.

    Shuffled, so any prefix or random sample has the same mix.
    """
    rng = np.random.default_rng(seed)
    near = int(count * near_border_share)
    district = int(count * district_share)
    parts = [
        points_near_borders(near, borders, rng),
        points_in_districts(district, rng),
        points_in_region(count - near - district, rng),
    ]
    lon = np.concatenate([p[0] for p in parts])
    lat = np.concatenate([p[1] for p in parts])
    order = rng.permutation(count)
    return lon[order], lat[order]


def country_of(
    lon: FloatArray, lat: FloatArray, countries: Mapping[str, BaseGeometry]
) -> npt.NDArray[np.object_]:
    """ISO alpha-3 of the country containing each point (None outside all of them)."""
    result: npt.NDArray[np.object_] = np.full(lon.shape[0], None, dtype=object)
    for code, polygon in countries.items():
        shapely.prepare(polygon)
        inside = shapely.contains_xy(polygon, lon, lat)
        result[inside & (result == None)] = code  # noqa: E711 (element-wise on an object array)
    return result


def site_attributes(
    count: int, *, seed: int = DEFAULT_SEED
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Synthetic site ids, kinds and mineral tuples."""
    rng = np.random.default_rng(seed + 1)
    ids: npt.NDArray[np.object_] = np.array([f"S{i:07d}" for i in range(count)], dtype=object)
    kinds: npt.NDArray[np.object_] = np.array(KINDS, dtype=object)[
        (rng.random(count) < 0.15).astype(int)
    ]
    first = rng.integers(0, len(MINERALS), count)
    second = rng.integers(0, len(MINERALS), count)
    has_second = rng.random(count) < 0.3
    minerals: npt.NDArray[np.object_] = np.empty(count, dtype=object)
    minerals[:] = [
        (MINERALS[a], MINERALS[b]) if two and a != b else (MINERALS[a],)
        for a, b, two in zip(first, second, has_second, strict=True)
    ]
    return ids, kinds, minerals


# --------------------------------------------------------------------------- PostGIS
SCRATCH_DB: Final = "borderlens_scratch"


def postgis_scratch(dsn: str) -> Any:
    """A connection (autocommit) to a scratch database with PostGIS, created if needed.

    Benchmarks only create TEMP tables there, so nothing outlives the connection.
    """
    import contextlib

    import psycopg

    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (SCRATCH_DB,)
        ).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                admin.execute(f'CREATE DATABASE "{SCRATCH_DB}"')
    conn = psycopg.connect(psycopg.conninfo.make_conninfo(dsn, dbname=SCRATCH_DB), autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return conn


def copy_columns(conn: Any, table: str, columns: list[npt.NDArray[Any]]) -> None:
    """COPY an ``id`` column (0, 1, ...) followed by the given columns into ``table``.

    Floats are written with ``repr`` so PostGIS sees exactly the doubles Python has.
    """
    count = len(columns[0])
    with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
        for start in range(0, count, 200_000):
            block = [c[start : start + 200_000].tolist() for c in columns]
            lines = (
                "\t".join([str(start + k), *map(repr, values)])
                for k, values in enumerate(zip(*block, strict=True))
            )
            copy.write("\n".join(lines) + "\n")
