"""``borderlens import --target zones|routes|actors`` goes through the same services as
``POST /uploads`` with ``target=``: a zone set, then a registry, land in the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
import shapely
from shapely.geometry import mapping

pytestmark = pytest.mark.slow

BORDERLENS = str(Path(sys.executable).parent / "borderlens")


def test_zones_and_actors_import_from_the_command_line(
    database_copy: Callable[[str], str], cache_dir: Path, tmp_path: Path
) -> None:
    url = database_copy("cli_targets")
    env = {**os.environ, "DATABASE_URL": url, "BORDERLENS_DATA_DIR": str(cache_dir),
           "BORDERLENS_BOUNDARY_SOURCE": "natural-earth-10m", "COLUMNS": "200"}  # fmt: skip
    zones = tmp_path / "green.geojson"
    zones.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Z"},
         "geometry": mapping(shapely.box(15.0, 4.0, 15.5, 4.5))}]}))  # fmt: skip
    registry = tmp_path / "registry.csv"
    registry.write_text("name,type,registration,country\nSangha,comptoir,BA-7,CAF\n")
    for args in (
        [str(zones), "--target", "zones", "--zone-type", "kp_compliant_zone",
         "--valid-from", "2025-01-01"],
        [str(registry), "--target", "actors"],
    ):  # fmt: skip
        done = subprocess.run(
            [BORDERLENS, "import", *args], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
    bad = subprocess.run(
        [BORDERLENS, "import", str(zones), "--target", "planets"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode != 0 and "--target" in bad.stdout + bad.stderr
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        zone_sets = conn.execute(
            "SELECT name, zone_type, valid_from::text FROM zone_sets"
        ).fetchall()
        actors = conn.execute("SELECT name, actor_type FROM actors").fetchall()
    assert zone_sets == [("green", "kp_compliant_zone", "2025-01-01")]
    assert actors == [("Sangha", "buying_house")]
