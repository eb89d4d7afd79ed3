"""Countries: the ISO 3166 vocabulary of African countries and "which country is this point in".

The vocabulary (``data/vocab/countries.csv``) maps Natural Earth's ISO numeric ids to alpha-3
and carries English, French and Portuguese names. ``CountryLocator`` answers, for many points at
once, the country a point lies in, or that it lies at sea, or in an area two countries claim.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import shapely

from geo.errors import BoundaryDataError, InvalidCoordinates
from geo.vocab import LANGUAGES, VOCAB_DIR

if TYPE_CHECKING:
    import geopandas as gpd

    # Only for annotations: geo.boundaries imports this module (the ISO table), so importing
    # it back at run time would be circular.
    from geo.boundaries import DisputedArea

COUNTRY_TABLE_PATH = VOCAB_DIR / "countries.csv"

Region = Literal["central", "africa"]
ObjectArray = npt.NDArray[np.object_]


@dataclass(frozen=True)
class Country:
    """One row of the country vocabulary."""

    iso3: str
    iso_numeric: str
    names: dict[str, str]
    region: Region

    def name(self, lang: str = "en") -> str:
        return self.names.get(lang) or self.names["en"]


@cache
def read_country_table(path: Path = COUNTRY_TABLE_PATH) -> tuple[Country, ...]:
    """Read ``iso3,iso_numeric,en,fr,pt,region`` rows (numeric codes stay zero-padded strings)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    table = tuple(
        Country(
            iso3=row["iso3"],
            iso_numeric=row["iso_numeric"],
            names={lang: row[lang] for lang in LANGUAGES if row.get(lang)},
            region="central" if row["region"] == "central" else "africa",
        )
        for row in rows
    )
    for code, seen in (
        ("iso3", [c.iso3 for c in table]),
        ("iso_numeric", [c.iso_numeric for c in table]),
    ):
        if len(set(seen)) != len(seen):
            raise BoundaryDataError(f"{path.name}: duplicate {code} codes")
    return table


def iso3_by_numeric(table: Sequence[Country] | None = None) -> dict[str, str]:
    """``{"024": "AGO", ...}``: Natural Earth / world-atlas ids are ISO numeric strings."""
    return {c.iso_numeric: c.iso3 for c in table or read_country_table()}


def central_africa_iso3(table: Sequence[Country] | None = None) -> tuple[str, ...]:
    """ISO3 codes of the action-plan countries and named neighbours (``region == central``)."""
    return tuple(c.iso3 for c in table or read_country_table() if c.region == "central")


#: What a country lookup answers for a point on land outside the loaded countries (the
#: validation protocol speaks ISO3 codes; this is not one).
ELSEWHERE = "elsewhere"


def african_iso3(table: Sequence[Country] | None = None) -> tuple[str, ...]:
    return tuple(c.iso3 for c in table or read_country_table())


@dataclass(frozen=True)
class Location:
    """Per-point answers of ``CountryLocator.locate``, aligned with the input arrays.

    ``iso3``: the country's code, or None at sea, outside the loaded countries and in disputed
    areas.
    ``status``: ``"country"``, ``"sea"``, ``"outside"`` (on land, in no loaded country) or
    ``"disputed"``.
    ``claimants``: sorted ISO3 codes of the claimants where disputed, else an empty tuple.
    ``shared_by``: sorted ISO3 codes of every country polygon the point lies in or on where
    that is more than one (a point exactly on a border line or at a tripoint: ``iso3`` is the
    first of them; or inside an overlap), else an empty tuple. Such a point belongs to each of
    them as much as to ``iso3``.
    """

    iso3: ObjectArray
    status: ObjectArray
    claimants: ObjectArray
    shared_by: ObjectArray


class CountryLocator:
    """Vectorised point-in-country lookup over country polygons and disputed areas.

    Rules, in order (all deterministic, independent of row order):

    1. A point inside or on the edge of a disputed area is ``disputed``: ``iso3`` None and
       ``claimants`` the sorted claimants (the union, where disputed areas overlap).
    2. A point in or on one or more country polygons is ``country``. Where it touches more than
       one (exactly on a shared border line, or inside an overlap smaller than the disputed-area
       tolerance, i.e. numerical noise) it goes to the country whose ISO3 code sorts first:
       a point on the CAF-CMR line is CAF, and ``shared_by`` says it is CMR's as well.
    3. Anything else is ``sea``, unless a world ``land`` mask is given and the point is on
       land: then it is ``outside`` (in a country that is not loaded, e.g. in Europe). With a
       dataset whose polygons include the territorial sea (the OSM-derived maritime source), a
       point within 12 nautical miles of a coast belongs to that coastal country, not to the
       sea; with Natural Earth it is sea.

    One locator serves every thread of the service (it is built once per boundary set), and
    GEOS prepared geometries are not thread-safe (libgeos/geos#825: their indexes are built
    lazily and their intersectors keep state): :meth:`locate` runs one call at a time.
    Concurrent uploads shared it unguarded, and a live server died once of
    ``malloc(): unaligned tcache chunk detected`` during 4-6 concurrent CSV uploads.
    """

    def __init__(
        self,
        countries: gpd.GeoDataFrame,
        disputed_areas: Sequence[DisputedArea],
        land: shapely.Geometry | None = None,
    ) -> None:
        ordered = countries.sort_values("iso3")
        self._iso3: ObjectArray = np.asarray(ordered["iso3"].to_numpy(), dtype=object)
        self._polygons = _prepared(ordered.geometry.to_numpy())
        self._polygon_tree = shapely.STRtree(self._polygons)

        self._disputed = _prepared(np.array([area.geometry for area in disputed_areas]))
        self._disputed_tree = shapely.STRtree(self._disputed)
        self._claimants = np.empty(len(disputed_areas), dtype=object)
        for i, area in enumerate(disputed_areas):
            self._claimants[i] = tuple(sorted(area.claimants))

        land_parts = shapely.get_parts(land) if land is not None else np.array([], dtype=object)
        self._land = _prepared(land_parts)
        self._land_tree = shapely.STRtree(self._land)
        # held around every use of the prepared geometries (see the class docstring)
        self._geos = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # pickled for Dask workers (the boundary set is scattered): a lock does not travel
        state = self.__dict__.copy()
        del state["_geos"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._geos = threading.Lock()

    def locate(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> Location:
        """Locate points given as parallel lon/lat arrays (degrees, WGS 84). Thread-safe:
        one call at a time uses the prepared geometries."""
        points = _points(lon, lat)
        with self._geos:
            return self._locate(points)

    def _locate(self, points: npt.NDArray[Any]) -> Location:
        n = len(points)

        point_idx, polygon_idx = _hits(self._polygon_tree, self._polygons, points)
        first_polygon = _first(point_idx, polygon_idx, n, len(self._polygons))
        in_country = first_polygon >= 0
        iso3 = np.full(n, None, dtype=object)
        iso3[in_country] = self._iso3[first_polygon[in_country]]
        # shared strings, not one copy per point (a million points: 60 MB)
        status = np.empty(n, dtype=object)
        status.fill("sea")
        status[in_country] = "country"
        unplaced = np.flatnonzero(~in_country)
        if len(unplaced) and len(self._land):
            on_land = _first_hit(self._land_tree, self._land, points[unplaced]) >= 0
            status[unplaced[on_land]] = "outside"
        claimants = np.empty(n, dtype=object)
        claimants.fill(())
        shared_by = _shared(point_idx, self._iso3[polygon_idx], n)

        point_idx, area_idx = _hits(self._disputed_tree, self._disputed, points)
        if len(point_idx):
            disputed_points, claims = _claimants_per_point(point_idx, self._claimants[area_idx])
            iso3[disputed_points] = None
            status[disputed_points] = "disputed"
            claimants[disputed_points] = claims
        return Location(iso3=iso3, status=status, claimants=claimants, shared_by=shared_by)


def _prepared(geometries: npt.NDArray[Any]) -> npt.NDArray[Any]:
    # Prepared polygons index their edges, making each point-in-polygon test logarithmic
    # instead of a scan over hundreds of thousands of vertices.
    geometries = np.asarray(geometries, dtype=object)
    shapely.prepare(geometries)
    return geometries


def _points(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[Any]:
    x = np.asarray(lon, dtype=float).ravel()
    y = np.asarray(lat, dtype=float).ravel()
    if x.shape != y.shape:
        raise InvalidCoordinates(f"{x.size} longitudes but {y.size} latitudes")
    bad = ~(np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InvalidCoordinates(
            f"{int(bad.sum())} points are not valid lon/lat, first at index {first}: "
            f"({x[first]}, {y[first]})"
        )
    return np.asarray(shapely.points(x, y), dtype=object)


def _hits(
    tree: shapely.STRtree, prepared: npt.NDArray[Any], points: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(point index, geometry index) of every point that intersects a geometry.

    The tree gives bounding-box candidates; the exact test then runs with the *polygon*
    prepared. (``STRtree.query(points, predicate=...)`` would prepare the points instead and
    scan every polygon edge per point: about 25 times slower on these polygons.)
    """
    point_idx, geom_idx = tree.query(points)
    exact = shapely.intersects(prepared[geom_idx], points[point_idx])
    return point_idx[exact], geom_idx[exact]


def _first_hit(
    tree: shapely.STRtree, prepared: npt.NDArray[Any], points: npt.NDArray[Any]
) -> npt.NDArray[np.intp]:
    """Per point, the lowest index of a geometry it intersects, or -1."""
    point_idx, geom_idx = _hits(tree, prepared, points)
    return _first(point_idx, geom_idx, len(points), len(prepared))


def _first(
    point_idx: npt.NDArray[np.intp], geom_idx: npt.NDArray[np.intp], points: int, geometries: int
) -> npt.NDArray[np.intp]:
    """Per point, the lowest geometry index among its hits, or -1."""
    first = np.full(points, geometries, dtype=np.intp)
    np.minimum.at(first, point_idx, geom_idx)
    first[first == geometries] = -1
    return first


def _shared(point_idx: npt.NDArray[np.intp], codes: ObjectArray, points: int) -> ObjectArray:
    """Per point, the sorted codes of the countries it hits where more than one, else ().

    ``codes``: the country of each hit. Grouped as arrays, not point by point: every point of a
    disputed area hits two polygons. Points with the same countries share one tuple.
    """
    shared = np.empty(points, dtype=object)
    shared.fill(())
    several = (np.bincount(point_idx, minlength=points) > 1)[point_idx]
    if not several.any():
        return shared
    owner, code = point_idx[several], codes[several].astype(str)
    order = np.lexsort((code, owner))
    owner, code = owner[order], code[order]
    owners, starts, sizes = np.unique(owner, return_index=True, return_counts=True)
    # one row per point, its codes sorted and padded: rows alike are the same countries
    table = np.full((len(owners), int(sizes.max())), "", dtype=code.dtype)
    row = np.repeat(np.arange(len(owners)), sizes)
    column = np.arange(len(owner)) - np.repeat(starts, sizes)
    table[row, column] = code
    combos, inverse = np.unique(table, axis=0, return_inverse=True)
    named = np.empty(len(combos), dtype=object)
    for k, row in enumerate(combos.tolist()):
        named[k] = tuple(sorted({c for c in row if c}))
    shared[owners] = named[np.ravel(inverse)]
    return shared


def _claimants_per_point(
    point_idx: npt.NDArray[np.intp], claims: ObjectArray
) -> tuple[npt.NDArray[np.intp], ObjectArray]:
    """Unique points with their claimants, merging claims where disputed areas overlap."""
    unique_points, first, counts = np.unique(point_idx, return_index=True, return_counts=True)
    merged: ObjectArray = claims[first]
    # Points inside two disputed areas at once are rare (three-way overlaps); only those
    # are merged one by one.
    for k in np.flatnonzero(counts > 1):
        together = claims[point_idx == unique_points[k]]
        merged[k] = tuple(sorted({code for claim in together for code in claim}))
    return unique_points, merged
