"""``borderlens import`` stores every sample at the right place (to 1e-6°, after UTM and DMS)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from app.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

BORDERLENS = str(Path(sys.executable).parent / "borderlens")
SAMPLES = PROJECT_ROOT / "data" / "samples"
EXPECTED = list(csv.DictReader((SAMPLES / "expected.csv").open(encoding="utf-8")))
# Files whose rows do not say mine or sales point get a kind on the command line.
KIND = {
    "handheld.gpx": "mine",
    "my_maps.kml": "mine",
    "dms_coordinates.csv": "mine",
    "decimal_comma.csv": "mine",
    "comptoirs.xlsx": "sales_point",
    "sites_utm34n.zip": "mine",
    "mixed_bad_rows.csv": "sales_point",
}


def test_every_sample_imports_at_the_right_place(
    database_copy: Callable[[str], str], cache_dir: Path
) -> None:
    url = database_copy("cli_import")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BORDERLENS_DATA_DIR": str(cache_dir),
        "BORDERLENS_BOUNDARY_SOURCE": "natural-earth-10m",
        "BORDERLENS_REGION_COUNTRIES": '["CAF", "CMR", "COD", "COG", "TCD"]',
        "COLUMNS": "200",  # the summary table is not cut to 80 columns without a terminal
    }
    files = sorted({row["file"] for row in EXPECTED})
    groups: dict[tuple[str, ...], list[str]] = {}
    for name in files:
        options = ("--kind", KIND[name]) if name in KIND else ()
        if name == "mixed_bad_rows.csv":
            options += ("--country", "COD")
        groups.setdefault(options, []).append(name)
    for options, names in groups.items():
        done = subprocess.run(
            [BORDERLENS, "import", *(str(SAMPLES / n) for n in names), *options],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{names}: {done.stdout}{done.stderr}"
        for name in names:
            assert name in done.stdout
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        stored = {
            (filename, row): (lon, lat, country)
            for filename, row, lon, lat, country in conn.execute(
                "SELECT u.filename, o.row_number, ST_X(o.geom), ST_Y(o.geom), s.country_iso3 "
                "FROM observations o JOIN uploads u ON u.id = o.upload_id "
                "JOIN sites s ON s.id = o.site_id"
            )
        }
    for row in EXPECTED:
        lon, lat, country = stored[(row["file"], int(row["row"]))]
        assert lon == pytest.approx(float(row["lon"]), abs=1e-6), row
        assert lat == pytest.approx(float(row["lat"]), abs=1e-6), row
        assert country == row["iso3"], row
    assert len(stored) == len(EXPECTED), "exactly the good rows, nothing else"
