"""The upload field cases through ``borderlens import`` (real processes, committed data):
rel-08's wide file is refused with the reason, and two imports of the same places started at
once (rel-02) store each place once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from bench.bench_upload_memory import wide_csv
from tests.conftest import settings_for
from tests.e2e.test_concurrent_uploads import overlap_csv

pytestmark = pytest.mark.slow

BORDERLENS = str(Path(sys.executable).parent / "borderlens")


@pytest.fixture(scope="module")
def cli_env(database_copy: Callable[[str], str], cache_dir: Path) -> dict[str, str]:
    url = database_copy("cli_uploads")
    return {
        **os.environ,
        "DATABASE_URL": url,
        "BORDERLENS_DATA_DIR": str(cache_dir),
        "BORDERLENS_BOUNDARY_SOURCE": settings_for(url, cache_dir).boundary_source,
        "COLUMNS": "250",  # the summary table is not cut to 80 columns without a terminal
    }


def test_wide_file_is_refused_with_its_reason(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_bytes(wide_csv(columns=10_000, bad_rows=20))
    done = subprocess.run(
        [BORDERLENS, "import", str(path)], env=cli_env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 1
    assert "10,000 columns" in done.stdout and "1,000" in done.stdout
    assert "unavailable" not in done.stdout + done.stderr


def test_two_imports_of_the_same_places_at_once_store_each_place_once(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    paths = []
    for team in ("teamA", "teamB"):
        path = tmp_path / f"ov_{team}.csv"
        path.write_bytes(overlap_csv(team, range(300)).replace(b"Overlap", b"CLI overlap"))
        paths.append(path)
    processes = [
        subprocess.Popen(
            [BORDERLENS, "import", str(path)],
            env=cli_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in paths
    ]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    libpq = cli_env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT geom) FROM sites WHERE name LIKE 'CLI overlap %'"
        ).fetchone()
    assert row == (300, 300)
