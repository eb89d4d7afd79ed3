"""``borderlens import`` gives the survey-file field cases their expected results (issue 8).

The case inputs are read in place from ``../shared/cases``: the GeoPackage with an empty point
(case 13) is read with its two empty rows rejected, not a crash; refusals (rel-01, rel-13) end
the command with status 1 and a message naming the file, never a server path.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from app.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

BORDERLENS = str(Path(sys.executable).parent / "borderlens")
CASES = PROJECT_ROOT.parent / "shared" / "cases"


def run_import(url: str, cache_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BORDERLENS_DATA_DIR": str(cache_dir),
        "BORDERLENS_BOUNDARY_SOURCE": "natural-earth-10m",
        "COLUMNS": "250",
    }
    return subprocess.run(
        [BORDERLENS, "import", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_field_cases_through_the_cli(database_copy: Callable[[str], str], cache_dir: Path) -> None:
    gpkg = CASES / "13-gpkg-empty-and-3d-points" / "empty_and_3d.gpkg"
    refused = [
        CASES / "rel-13-error-detail-temp-path" / "not-really.gpkg",
        CASES / "rel-01-kmz-lying-zip-size" / "lying-50mb.kmz",
    ]
    if not gpkg.is_file() or not all(path.is_file() for path in refused):
        pytest.skip(f"field cases absent: {CASES}")
    url = database_copy("cli_cases")
    done = run_import(url, cache_dir, str(gpkg), "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    # rows 4, accepted 2, rejected 2 (the POINT Z EMPTY and the NULL geometry)
    assert re.search(r"empty_and_3d\.gpkg\W+gpkg\W+4\W+2\W+2\b", done.stdout), done.stdout
    for path in refused:
        done = run_import(url, cache_dir, str(path), "--kind", "mine", "--dry-run")
        output = done.stdout + done.stderr
        assert done.returncode == 1, output
        assert path.name in output and "Traceback" not in output
        assert "borderlens-upload" not in output and f"{tempfile.gettempdir()}/" not in output
