"""A killed import leaves the database as it was: one transaction, no partial rows.

A real ``borderlens import`` of 100 000 rows runs in its own process and is killed (SIGKILL,
no chance to clean up) once it holds write locks on ``observations``, i.e. after the upload row
and the new sites are written inside its transaction. PostgreSQL then rolls everything back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from bench.bench_read_survey import kobo_csv
from tests.conftest import settings_for

pytestmark = pytest.mark.slow

BORDERLENS = str(Path(sys.executable).parent / "borderlens")
TABLES = ("uploads", "sites", "observations", "site_border_distances")
WRITING_OBSERVATIONS = """
SELECT a.pid FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE c.relname = 'observations' AND l.mode = 'RowExclusiveLock' AND a.pid <> pg_backend_pid()
"""


def counts(conn: psycopg.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # type: ignore[index]


def test_killed_import_leaves_no_trace(
    database_copy: Callable[[str], str], cache_dir: Path, tmp_path: Path
) -> None:
    url = database_copy("kill")
    libpq = url.replace("postgresql+psycopg://", "postgresql://")
    survey = tmp_path / "big_kobo_export.csv"
    survey.write_bytes(kobo_csv(100_000))
    settings = settings_for(url, cache_dir)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BORDERLENS_DATA_DIR": str(cache_dir),
        "BORDERLENS_BOUNDARY_SOURCE": settings.boundary_source,
    }

    with psycopg.connect(libpq, autocommit=True) as conn:
        before = counts(conn)
        process = subprocess.Popen(
            [BORDERLENS, "import", str(survey)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 300
        writer = None
        while writer is None:
            assert process.poll() is None, "the import ended before it was killed"
            assert time.monotonic() < deadline, "the import never started writing"
            row = conn.execute(WRITING_OBSERVATIONS).fetchone()
            writer = row[0] if row else None
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        # The server notices the dead client and rolls its transaction back.
        while conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (writer,)).fetchone():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert counts(conn) == before

    done = subprocess.run(
        [BORDERLENS, "import", str(survey)], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert "already received" not in done.stdout, "the killed attempt left no upload behind"
    with psycopg.connect(libpq, autocommit=True) as conn:
        after = counts(conn)
    assert after["uploads"] == before["uploads"] + 1
    assert after["observations"] > before["observations"]
