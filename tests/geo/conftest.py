"""Fixtures shared by the geo tests: where the sample files are, and a country lookup.

The shared reference data (``../shared`` next to the repository) is read in place and never
copied; tests that need it skip with the reason when it is absent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES_DIR = REPO / "data" / "samples"
SHARED_DIR = REPO.parent / "shared"
SHARED_SAMPLES_DIR = SHARED_DIR / "data" / "samples"

Locate = Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], npt.NDArray[np.object_]]


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """``data/samples`` of this repository (written by ``data/samples/make_samples.py``)."""
    return SAMPLES_DIR


@pytest.fixture(scope="session")
def shared_samples_dir() -> Path:
    """The real device files of ``../shared/data/samples``, read in place."""
    if not SHARED_SAMPLES_DIR.is_dir():
        pytest.skip(f"shared samples not present: {SHARED_SAMPLES_DIR}")
    return SHARED_SAMPLES_DIR


@pytest.fixture(scope="session")
def africa_locate() -> Locate:
    """ISO3 per lon/lat over Natural Earth 1:10m Africa, as ``validate_survey`` wants it.

    The shared decoded copy is used when present, else the same polygons derived from the
    project's own pinned Natural Earth source.
    """
    from geo.boundaries import find_disputed_areas, read_country_polygons
    from geo.countries import CountryLocator, african_iso3
    from tests.support.reference_data import africa_ne10m_geojson

    # Natural Earth files Mauritius and the Seychelles under "Seven seas", not Africa.
    wanted = sorted(set(african_iso3()) - {"MUS", "SYC"})
    countries = read_country_polygons(
        africa_ne10m_geojson(), format="geojson", id_field="iso_a3", id_kind="iso3",
        countries=wanted,
    )  # fmt: skip
    locator = CountryLocator(countries, find_disputed_areas(countries))

    def locate(
        lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.object_]:
        return locator.locate(lon, lat).iso3

    return locate
