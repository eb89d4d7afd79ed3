"""Peak memory of ``borderlens import`` on uploads at the size limit (issue 8, item 8).

Run: ``.venv/bin/python -m bench.bench_upload_memory [--database-url URL]``. It writes two
files at the 50 MB upload limit into a temporary folder and imports each with the real CLI in
its own process, after a one-row file for the process's fixed cost (same code path as
``POST /uploads``: read, validate, match, store the report and the rejected rows), then
prints the child's peak RSS (``ru_maxrss``), its wall time, and the stored sizes of the
report and of the packed rejected rows:

- ``wide``: field case rel-08 (10 000 columns, 1 good row, 2 000 rows with bad coordinates),
  padded to the limit: refused before its rows are read (413 ``too_many_columns``);
- ``rejected``: 190 000 rows of 24 columns (50.4 MB), 99 % rejected for bad coordinates: the report
  keeps the first issues and the totals, the rejected rows are stored once, compressed.

Also the generators the tests use to rebuild these inputs at small sizes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import migrations
from app.db.engine import make_engine
from app.services import boundaries as boundary_service
from app.services.boundary_state import BoundaryCache
from app.settings import Settings
from bench._database import bench_database, libpq

LIMIT_BYTES = 50 * 1024 * 1024
BORDERLENS = str(Path(sys.executable).parent / "borderlens")


def wide_csv(columns: int = 10_000, bad_rows: int = 2_000, target_bytes: int = 0) -> bytes:
    """Field case rel-08: ``columns`` columns, one good row, ``bad_rows`` with bad coordinates
    (``x``/``y``); more bad rows are added until ``target_bytes`` when given."""
    header = ["name", "lat", "lon", "kind"] + [f"c{i}" for i in range(columns - 4)]
    filler = ",".join(["v"] * (columns - 4))
    lines = [",".join(header), f"Chantier amp,4.71,16.71,mine,{filler}"]
    size = sum(len(line) + 1 for line in lines)
    i = 0
    while i < bad_rows or size < target_bytes:
        line = f"bad {i},x,y,mine,{filler}"
        lines.append(line)
        size += len(line) + 1
        i += 1
    return ("\n".join(lines) + "\n").encode()


def rejected_heavy_csv(rows: int, columns: int = 20, good_every: int = 100) -> bytes:
    """``rows`` survey rows of ``columns`` columns; one in ``good_every`` is a good mine in CAR,
    the others have unparseable coordinates (two errors each)."""
    extra = [f"field_{j}" for j in range(columns - 4)]
    lines = [",".join(["name", "lat", "lon", "kind", *extra])]
    for i in range(rows):
        cells = [f"value {i % 97} {j}" for j in range(columns - 4)]
        if i % good_every == 0:
            lat, lon = f"{4.0 + (i % 4000) * 0.001:.4f}", f"{17.0 + (i // 4000) * 0.01:.4f}"
        else:
            lat, lon = f"lat?{i}", f"lon?{i}"
        lines.append(",".join([f"Site {i}", lat, lon, "mine", *cells]))
    return ("\n".join(lines) + "\n").encode()


def run_import(path: Path, url: str) -> tuple[int, float, int, str]:
    """(peak RSS in bytes, seconds, exit code, last lines of output) of one CLI import."""
    env = {**os.environ, "DATABASE_URL": url, "COLUMNS": "200"}
    start = time.perf_counter()
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            [BORDERLENS, "import", str(path)], env=env, stdout=output, stderr=subprocess.STDOUT
        )
        _pid, status, usage = os.wait4(process.pid, 0)  # this child's own rusage
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        output.seek(0)
        lines = output.read().decode(errors="replace").strip().splitlines()
    return usage.ru_maxrss * 1024, seconds, process.returncode, "\n".join(lines[-6:])


def prepare(url: str) -> None:
    """Migrate and load the Natural Earth boundaries once (as ``serve`` does); empty the
    survey tables (this database is the benchmark's own), so every run starts alike."""
    settings = Settings(database_url=url, boundary_source="natural-earth-10m")
    engine = make_engine(url, pool_size=1)
    try:
        migrations.upgrade(engine)
        with Session(engine) as session:
            boundary_service.ensure_loaded(session, settings, BoundaryCache())
            session.execute(text("TRUNCATE uploads, observations, sites CASCADE"))
            session.commit()
    finally:
        engine.dispose()


def stored_sizes(url: str, filename: str) -> tuple[int, int] | None:
    with psycopg.connect(libpq(url)) as conn:
        row = conn.execute(
            "SELECT pg_column_size(report), coalesce(octet_length(rejected_rows), 0) "
            "FROM uploads WHERE filename = %s ORDER BY id DESC LIMIT 1",
            (filename,),
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--only", choices=("baseline", "wide", "rejected"))
    args = parser.parse_args()
    with (
        bench_database(args.database_url, "bench_upload_memory", fresh=True) as url,
        tempfile.TemporaryDirectory(prefix="bl-bench-mem-") as folder,
    ):
        prepare(url)
        cases: dict[str, Callable[[], bytes]] = {
            "baseline": lambda: b"name,lat,lon,kind\nChantier seul,4.71,16.71,mine\n",
            "wide": lambda: wide_csv(target_bytes=LIMIT_BYTES - 200_000),
            "rejected": lambda: rejected_heavy_csv(190_000, columns=24),  # 50.4 MB
        }
        for name, make in cases.items():
            if args.only and name != args.only:
                continue
            path = Path(folder) / f"bench_{name}_{time.time_ns()}.csv"
            path.write_bytes(make())
            size = path.stat().st_size
            peak, seconds, code, tail = run_import(path, url)
            print(f"{name}: {size / 1e6:.1f} MB, exit {code}, {seconds:.1f} s, peak RSS "
                  f"{peak / 2**20:.0f} MiB")  # fmt: skip
            print("  " + tail.replace("\n", "\n  "))
            sizes = stored_sizes(url, path.name)
            if sizes:
                report_kb, rejected_mb = sizes[0] / 1e3, sizes[1] / 1e6
                print(f"  stored report {report_kb:.0f} kB, rejected rows {rejected_mb:.2f} MB")
            path.unlink()


if __name__ == "__main__":
    main()
