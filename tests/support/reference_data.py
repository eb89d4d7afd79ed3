"""Natural Earth reference files for tests: the shared copies beside the repository when they
are there, else the project's own pinned copy (the very same bytes: the recipe pins the file's
SHA-256, and the shared copy matches it), so the tests run wherever the repository is cloned."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest

from app.services.boundary_sources import NpmUnavailable, default_source, fetch, load_recipes
from app.settings import PROJECT_ROOT
from geo.boundaries import read_country_polygons
from geo.countries import african_iso3, iso3_by_numeric

SHARED_BOUNDARIES = PROJECT_ROOT.parent / "shared" / "data" / "boundaries"
SHARED_NE_10M = SHARED_BOUNDARIES / "world-atlas-2.0.2_countries-10m.topojson.json"
SHARED_AFRICA = SHARED_BOUNDARIES / "africa_countries_ne10m_decoded_from_world-atlas.geojson"
CACHE = PROJECT_ROOT / ".borderlens" / "cache"


def natural_earth_10m() -> Path:
    """world-atlas 2.0.2 ``countries-10m.json`` (TopoJSON, ids are ISO numeric)."""
    if SHARED_NE_10M.is_file():
        return SHARED_NE_10M
    source = next(s for s in load_recipes() if s.id == "natural-earth-10m")
    return fetch(source, CACHE / "boundaries")


def africa_ne10m_geojson() -> Path:
    """The African countries of Natural Earth 1:10m as GeoJSON with ``id`` and ``iso_a3``
    (Mauritius and the Seychelles left out, as in the shared decoded copy)."""
    if SHARED_AFRICA.is_file():
        return SHARED_AFRICA
    derived = CACHE / "test-derived" / "africa_countries_ne10m.geojson"
    if not derived.is_file():
        frame = pyogrio.read_dataframe(natural_earth_10m(), layer="countries").set_crs(4326)
        iso3 = frame["id"].map(iso3_by_numeric())
        keep = iso3.isin(set(african_iso3()) - {"MUS", "SYC"})
        africa = frame[keep].assign(iso_a3=iso3[keep])[["id", "iso_a3", "name", "geometry"]]
        derived.parent.mkdir(parents=True, exist_ok=True)
        pyogrio.write_dataframe(africa, derived, driver="GeoJSON")
    return derived


def shared_africa_geojson() -> Path:
    """The shared decoded copy itself (it carries Natural Earth's own ``iso_a3``); skips when
    it is not beside the repository."""
    if not SHARED_AFRICA.is_file():
        pytest.skip(f"shared reference data not present: {SHARED_AFRICA}")
    return SHARED_AFRICA


def default_source_countries(countries: Sequence[str]) -> gpd.GeoDataFrame:
    """Polygons of ``countries`` from the default (OSM-derived) source, fetched pinned and
    checksummed into the repository's cache; skips when npm cannot fetch it."""
    source = default_source(load_recipes())
    try:
        path = fetch(source, CACHE / "boundaries")
    except NpmUnavailable as exc:
        pytest.skip(f"cannot fetch {source.spec} through npm: {exc}")
    return read_country_polygons(
        path,
        format=source.format,
        id_field=source.id_field,
        id_kind=source.id_kind,
        countries=countries,
        layer=source.layer,
    )
