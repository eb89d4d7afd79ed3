"""Ingest benchmark: a 100 000-row KoBo CSV through the whole upload service, and the floor.

    .venv/bin/python -m bench.bench_ingest [--rows 100000] [--database-url URL]

Times ``app.services.ingest.ingest`` end to end, as ``POST /uploads`` runs it: read (GDAL /
csv), validate every row (coordinates, country, dates, minerals), match against the sites
already stored, measure the new sites (country, nearest border, distances to every border
within 300 km, side confidence), COPY sites, border distances and observations, one commit.
Then uploads a second file observing the same places (every row matches an existing site).

Peers, same run, same file: ``ogr2ogr -f PostgreSQL`` of the CSV (what a GIS user would type:
no validation, no matching, no border figures; GDAL's COPY path), and a bare COPY of the same
rows (lon, lat, name, raw JSON) into a table with a geometry column, the least any ingest into
PostGIS can cost. The ratios printed are rows/s of the upload over rows/s of each peer.

The database is recreated for each run; the repeat visit follows the first upload on it.

Database: ``--database-url``, else ``$DATABASE_URL``, else the project's embedded cluster
(database ``bench_ingest``, recreated each run).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy.orm import Session

from app.db import migrations
from app.db.engine import make_engine
from app.queries import Caller
from app.services import boundaries as boundary_service
from app.services.boundary_state import BoundaryCache
from app.services.ingest import UploadRequest, ingest
from app.settings import Settings
from bench._database import bench_database, libpq
from bench.bench_read_survey import kobo_csv

CALLER = Caller(role="admin", name="bench")


def timed_ingest(session: Session, settings: Settings, data: bytes, name: str) -> float:
    stages: list[tuple[str, float]] = [("start", time.perf_counter())]
    state = BoundaryCache().current(session)
    assert state is not None
    outcome = ingest(
        session,
        state,
        settings,
        UploadRequest(data=data, filename=name),
        CALLER,
        progress=lambda stage: stages.append((stage, time.perf_counter())),
    )
    total = stages[-1][1] - stages[0][1]
    counts = outcome.report["counts"]
    steps = ", ".join(
        f"{stages[i][0]} {stages[i + 1][1] - stages[i][1]:.2f} s" for i in range(1, len(stages) - 1)
    )
    print(
        f"{name}: {counts['rows']:,} rows, {counts['sites_created']:,} new sites, "
        f"{counts['sites_matched']:,} matched, {counts['rejected']:,} rejected"
    )
    print(f"  {total:.2f} s = {counts['rows'] / total:,.0f} rows/s  ({steps})")
    return total


def copy_floor(url: str, data: bytes) -> float:
    """COPY the same rows into a bare PostGIS table: seconds."""
    rows = list(csv.DictReader(io.StringIO(data.decode()), delimiter=";"))
    started = time.perf_counter()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("CREATE TEMP TABLE floor (name text, geom geometry(Point, 4326), raw jsonb)")
        with conn.cursor() as cursor, cursor.copy("COPY floor (name, geom, raw) FROM STDIN") as c:
            for row in rows:
                lon, lat = row["groupe_site/_gps_longitude"], row["groupe_site/_gps_latitude"]
                c.write_row(
                    (row["groupe_site/nom_site"], f"SRID=4326;POINT({lon} {lat})", Jsonb(row))
                )
        conn.commit()
    return time.perf_counter() - started


def ogr2ogr_floor(url: str, data: bytes) -> float:
    """``ogr2ogr -f PostgreSQL`` of the same CSV into a new table (points from the KoBo
    latitude/longitude columns, EPSG:4326): seconds, the process's start included."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "first_survey.csv"
        path.write_bytes(data)
        started = time.perf_counter()
        subprocess.run(
            [
                "ogr2ogr",
                "-f",
                "PostgreSQL",
                f"PG:{libpq(url)}",
                str(path),
                "-nln",
                "ogr2ogr_floor",
                "-overwrite",
                "-a_srs",
                "EPSG:4326",
                "-oo",
                "X_POSSIBLE_NAMES=groupe_site/_gps_longitude",
                "-oo",
                "Y_POSSIBLE_NAMES=groupe_site/_gps_latitude",
                "-lco",
                "GEOMETRY_NAME=geom",
            ],
            check=True,
        )
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with bench_database(args.database_url, "bench_ingest", fresh=True) as url:
        compare(url, args.rows)


def compare(url: str, rows: int) -> None:
    settings = Settings(
        database_url=url,
        boundary_source="natural-earth-10m",
        upload_max_rows=max(rows, 200_000),
    )
    engine = make_engine(url, pool_size=1)
    migrations.upgrade(engine)
    data = kobo_csv(rows)
    repeat = kobo_csv(rows, seed=3).replace(b'"Site ', b'"Site revisit ')
    with Session(engine) as session:
        boundary_service.ensure_loaded(session, settings, BoundaryCache())
        print(f"{rows:,}-row KoBo CSV ({len(data) / 1e6:.1f} MB), {os.cpu_count()} CPUs\n")
        first = timed_ingest(session, settings, data, "first_survey.csv")
        repeat_s = timed_ingest(session, settings, repeat, "second_visit.csv")
    engine.dispose()
    ogr = ogr2ogr_floor(url, data)
    floor = copy_floor(url, data)
    print(f"\nogr2ogr -f PostgreSQL of the same file: {ogr:.2f} s = {rows / ogr:,.0f} rows/s")
    print(f"bare COPY of the same rows: {floor:.2f} s = {rows / floor:,.0f} rows/s")
    print(f"ratio upload / ogr2ogr (rows/s): {ogr / first:.2f}  (target >= 0.2)")
    print(f"ratio upload / bare COPY (rows/s): {floor / first:.2f}")
    print(f"ratio repeat visit / ogr2ogr (rows/s): {ogr / repeat_s:.2f}")


if __name__ == "__main__":
    main()
