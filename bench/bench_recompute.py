"""Whole-dataset recompute: how measuring every site scales with Dask workers and sites.

    .venv/bin/python -m bench.bench_recompute [--sites 1000000 5000000] [--workers 1 2]

For each size, N points uniform over the region of ``bench_items`` are measured against the
active boundaries (country, nearest border, side confidence, distances to every border within
300 km) three ways, in the same run: in this process (``site_geography.measure``, what
``borderlens borders recompute`` runs), and on a local ``dask.distributed`` cluster of 1 and
of 2 worker processes (``app.services.dask_measure``, what ``--dask local`` runs; the cluster
is started before the clock starts, the boundary set is sent inside the timed part). Every
Dask result is checked against the in-process one (same figures), else the run stops. Only
the measuring is timed: reading the points and writing the results are the same SQL either
way and stay on the primary.

Database (for the boundaries only): ``--database-url``, else ``$DATABASE_URL``, else the
project's embedded cluster (database ``bench_recompute``; boundaries loaded on first use).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from sqlalchemy.orm import Session

from app.db import migrations
from app.db.engine import make_engine
from app.services import boundaries as boundary_service
from app.services import dask_measure, site_geography
from app.services.boundary_state import BoundaryCache, BoundarySet
from app.settings import Settings
from bench._database import bench_database
from bench.bench_items import REGION


def boundaries(url: str) -> BoundarySet:
    engine = make_engine(url)
    try:
        migrations.upgrade(engine)
        with Session(engine) as session:
            state = BoundaryCache().current(session)
            if state is None:
                settings = Settings(database_url=url, boundary_source="natural-earth-10m")
                boundary_service.load_source(session, settings, settings.boundary_source)
                session.commit()
                state = BoundaryCache().current(session)
        assert state is not None
        return state
    finally:
        engine.dispose()


def same(a: site_geography.SiteGeography, b: site_geography.SiteGeography) -> bool:
    return (
        np.array_equal(a.border_distance_m, b.border_distance_m, equal_nan=True)
        and np.array_equal(a.side_probability, b.side_probability, equal_nan=True)
        and a.country_iso3.tolist() == b.country_iso3.tolist()
        and a.border_pair.tolist() == b.border_pair.tolist()
        and len(a.near_borders) == len(b.near_borders)
        and np.isclose(a.near_borders.distance_m.sum(), b.near_borders.distance_m.sum(), rtol=0)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sites", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with bench_database(args.database_url, "bench_recompute") as url:
        state = boundaries(url)
    print(f"boundaries {state.source.id}; {os.cpu_count()} CPUs; points uniform over {REGION}")
    rng = np.random.default_rng(2026)
    west, south, east, north = REGION
    for n in args.sites:
        lon, lat = rng.uniform(west, east, n), rng.uniform(south, north, n)
        accuracy = np.full(n, np.nan)
        started = time.perf_counter()
        here = site_geography.measure(state, lon, lat, accuracy)
        single = time.perf_counter() - started
        print(f"{n:>11,} sites  in process        {single:7.1f} s  {n / single:>9,.0f} sites/s")
        for workers in args.workers:
            with dask_measure.dask_client("local", workers) as client:
                started = time.perf_counter()
                there = dask_measure.measurer_on(client)(state, lon, lat, accuracy)
                seconds = time.perf_counter() - started
            if not same(here, there):
                raise SystemExit(f"Dask with {workers} workers measured {n} sites differently")
            print(
                f"{n:>11,} sites  Dask, {workers} worker{'s' if workers > 1 else ' '}   "
                f"{seconds:7.1f} s  {n / seconds:>9,.0f} sites/s  ({single / seconds:.2f}x)",
                flush=True,
            )


if __name__ == "__main__":
    main()
