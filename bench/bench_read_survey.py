"""Time reading and validating a large KoBo-style CSV survey (issue 3: 100 000 rows).

Run: ``.venv/bin/python bench/bench_read_survey.py [rows]`` (default 100 000). It writes a
KoBo export in memory (``;``, quoted, group paths, geopoint string and split columns, French
minerals, ISO submission times), then times ``read_survey`` and ``validate_survey`` separately
with the country locator over Natural Earth 1:10m Africa from the shared data folder, and prints
rows per second for each step and for both.
"""

from __future__ import annotations

import csv
import io
import sys
import time
from pathlib import Path

import numpy as np

from geo.boundaries import find_disputed_areas, read_country_polygons
from geo.countries import CountryLocator, african_iso3, central_africa_iso3
from geo.readers import ReadOptions, read_survey
from geo.validate import ValidationRules, validate_survey

REPO = Path(__file__).resolve().parents[1]
NE_AFRICA = (
    REPO.parent
    / "shared"
    / "data"
    / "boundaries"
    / "africa_countries_ne10m_decoded_from_world-atlas.geojson"
)
MINERALS = ("diamant", "or", "diamant or", "cassitérite", "coltan", "or coltan")
KINDS = ("chantier", "comptoir", "site minier", "point de vente")


def kobo_csv(rows: int, seed: int = 3) -> bytes:
    """A KoBo-style export of ``rows`` sites scattered over CAR and its neighbours."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(14.5, 27.0, rows).round(6)
    lat = rng.uniform(2.3, 10.5, rows).round(6)
    accuracy = rng.gamma(2.0, 8.0, rows).round(1)
    day = rng.integers(0, 365, rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    group = "groupe_site"
    writer.writerow([
        "start", "today", f"{group}/nom_site", f"{group}/type_site", f"{group}/minerais",
        f"{group}/gps", f"{group}/_gps_latitude", f"{group}/_gps_longitude",
        f"{group}/_gps_altitude", f"{group}/_gps_precision", "_id", "_submission_time", "_index",
    ])  # fmt: skip
    dates = np.datetime64("2024-01-01") + day
    for i in range(rows):
        today = str(dates[i])
        writer.writerow([
            f"{today}T08:00:00.000+01:00", today, f"Site {i}", KINDS[i % len(KINDS)],
            MINERALS[i % len(MINERALS)], f"{lat[i]} {lon[i]} 520 {accuracy[i]}",
            lat[i], lon[i], 520, accuracy[i], 81_000_000 + i, f"{today}T14:{i % 60:02d}:00", i,
        ])  # fmt: skip
    return buffer.getvalue().encode("utf-8")


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    if not NE_AFRICA.is_file():
        sys.exit(f"needs the shared Natural Earth file: {NE_AFRICA}")
    # Natural Earth files Mauritius and the Seychelles under "Seven seas", not Africa.
    wanted = sorted(set(african_iso3()) - {"MUS", "SYC"})
    countries = read_country_polygons(
        NE_AFRICA, format="geojson", id_field="iso_a3", id_kind="iso3", countries=wanted
    )
    locator = CountryLocator(countries, find_disputed_areas(countries))

    def locate(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        return locator.locate(lon, lat).iso3

    data = kobo_csv(rows)
    rules = ValidationRules(declared_country="CAF", region=frozenset(central_africa_iso3()))
    started = time.perf_counter()
    survey = read_survey(data, "kobo.csv", options=ReadOptions(max_rows=rows))
    read_s = time.perf_counter() - started
    result = validate_survey(survey, rules=rules, locate=locate)
    total_s = time.perf_counter() - started
    validate_s = total_s - read_s
    print(f"{rows:,} KoBo CSV rows, {len(data) / 1e6:.1f} MB")
    print(f"read_survey     {read_s:6.2f} s  {rows / read_s:10,.0f} rows/s")
    print(f"validate_survey {validate_s:6.2f} s  {rows / validate_s:10,.0f} rows/s")
    print(f"both            {total_s:6.2f} s  {rows / total_s:10,.0f} rows/s")
    print(f"accepted {len(result.accepted):,}, issues {len(result.issues):,}")


if __name__ == "__main__":
    main()
