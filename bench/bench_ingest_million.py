"""One upload of a million rows: ``borderlens import`` in its own process, wall time and peak RSS.

    .venv/bin/python -m bench.bench_ingest_million [--rows 1000000] [--database-url URL]

Writes a KoBo-style CSV of ``--rows`` rows (the generator of ``bench_ingest``, 190 MB at a
million rows) to a temporary folder, loads the boundaries into a fresh database, then runs
the real CLI on it (same code path as ``POST /uploads``: read, validate, match, measure, store,
report, one transaction) with the row and size limits raised to fit, and prints the child's
rows/s and peak resident memory (``ru_maxrss`` of the child, Linux: KiB).

Database: ``--database-url``, else ``$DATABASE_URL``, else the project's embedded cluster
(database ``bench_ingest_million``, recreated each run). Run it once: it is long on a shared
machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.orm import Session

from app.db import migrations
from app.db.engine import make_engine
from app.services import boundaries as boundary_service
from app.services.boundary_state import BoundaryCache
from app.settings import Settings
from bench._database import bench_database
from bench.bench_read_survey import kobo_csv

BOUNDARY_SOURCE = "natural-earth-10m"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with bench_database(args.database_url, "bench_ingest_million", fresh=True) as url:
        run(url, args.rows)


def run(url: str, rows: int) -> None:
    settings = Settings(database_url=url, boundary_source=BOUNDARY_SOURCE)
    engine = make_engine(url, pool_size=1)
    migrations.upgrade(engine)
    with Session(engine) as session:
        boundary_service.ensure_loaded(session, settings, BoundaryCache())
    engine.dispose()
    data = kobo_csv(rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"kobo_{rows}.csv"
        path.write_bytes(data)
        size = len(data)
        del data
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "BORDERLENS_BOUNDARY_SOURCE": BOUNDARY_SOURCE,
            "BORDERLENS_UPLOAD_MAX_ROWS": str(rows),
            "BORDERLENS_UPLOAD_MAX_BYTES": str(size + 1),
        }
        borderlens = str(Path(sys.executable).parent / "borderlens")
        started = time.perf_counter()
        done = subprocess.run(
            [borderlens, "import", str(path)], env=env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        sys.exit(f"import failed:\n{done.stdout}\n{done.stderr}")
    print(done.stdout.strip())
    print(
        f"\n{rows:,} rows ({size / 1e6:.0f} MB CSV) in one upload: {seconds:.1f} s = "
        f"{rows / seconds:,.0f} rows/s, peak RSS of the import process {peak_kib / 1024:,.0f} MiB "
        f"({os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
