"""Benchmark: distance to the nearest border, ours against PostGIS's own, same data, same run.

    python -m bench.bench_border_distance --sites 100000 --sites 1000000 \
        [--baseline-sample 100000] [--database-url postgresql://...]

Ours: ``geo.borders.BorderIndex.nearest`` over Natural Earth 1:10m borders of Central
Africa (7 494 segments), timed from lon/lat arrays to the answer (the index is built once,
its build time printed apart).

Baseline: PostGIS ``ST_Distance(geography)`` against the same borders cut into 2-point
segments no longer than ``--segmentize-m`` (250 m by default; 0 keeps the raw vertex pairs)
in a TEMP table with a GiST index, minimised over every segment that can be nearest (exact;
see ``bench._postgis_nearest``). Only the query is timed, not loading the sites.
``--baseline-sample N`` times the baseline on a random sample of N sites when there are
more, and extrapolates its sites/s (the output says so); errors are compared on that
sample.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench import _synthetic
from bench._database import bench_database, libpq
from bench._postgis_nearest import load_segments, nearest_distance_m
from geo.borders import BorderIndex


@dataclass(frozen=True)
class Row:
    sites: int
    ours_s: float
    ours_peak_mib: float
    baseline_sites: int
    baseline_s: float
    max_error_m: float
    p99_error_m: float
    max_error_within_10km_m: float
    max_error_within_50km_m: float
    lower_by_over_1m: int


def measure_ours(
    index: BorderIndex, lon: np.ndarray, lat: np.ndarray
) -> tuple[np.ndarray, float, float]:
    """Our distances, seconds (untraced run) and peak traced MiB (a second, traced run)."""
    start = time.perf_counter()
    distance = index.nearest(lon, lat).distance_m
    elapsed = time.perf_counter() - start
    tracemalloc.start()
    index.nearest(lon, lat)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return distance, elapsed, peak / 2**20


def run(
    sites: int,
    index: BorderIndex,
    borders: list[_synthetic.SimpleBorder],
    conn: Any,
    sample: int | None,
    seed: int,
) -> Row:
    lon, lat = _synthetic.synthetic_sites(sites, borders, seed=seed)
    ours, ours_s, peak_mib = measure_ours(index, lon, lat)
    rng = np.random.default_rng(seed + 7)
    chosen = (
        np.sort(rng.choice(sites, sample, replace=False))
        if sample and sample < sites
        else np.arange(sites)
    )
    theirs, baseline_s = nearest_distance_m(conn, lon[chosen], lat[chosen])
    error = np.abs(ours[chosen] - theirs)

    def worst_within(limit_m: float) -> float:
        near = theirs <= limit_m
        return float(error[near].max()) if near.any() else 0.0

    return Row(
        sites=sites,
        ours_s=ours_s,
        ours_peak_mib=peak_mib,
        baseline_sites=chosen.size,
        baseline_s=baseline_s,
        max_error_m=float(error.max()),
        p99_error_m=float(np.percentile(error, 99)),
        max_error_within_10km_m=worst_within(10_000),
        max_error_within_50km_m=worst_within(50_000),
        lower_by_over_1m=int((ours[chosen] < theirs - 1.0).sum()),
    )


def report(row: Row) -> None:
    ours_rate = row.sites / row.ours_s
    base_rate = row.baseline_sites / row.baseline_s
    extrapolated = row.baseline_sites < row.sites
    print(f"\n== border distance, {row.sites:,} sites ==")
    print(
        f"ours     {row.ours_s:8.2f} s  {ours_rate:12,.0f} sites/s"
        f"  peak traced memory {row.ours_peak_mib:,.0f} MiB"
    )
    sampled = (
        f"  (timed on a random sample of {row.baseline_sites:,} sites;"
        f" full run extrapolated to {row.sites / base_rate:,.0f} s)"
    )
    print(
        f"PostGIS  {row.baseline_s:8.2f} s  {base_rate:12,.0f} sites/s"
        + (sampled if extrapolated else "")
    )
    print(f"ratio    {ours_rate / base_rate:8.1f} x faster than the exact PostGIS query")
    print(
        f"|ours - PostGIS| on {row.baseline_sites:,} sites: max {row.max_error_m:.3f} m,"
        f" p99 {row.p99_error_m:.3f} m; max within 10 km of a border"
        f" {row.max_error_within_10km_m:.3f} m, within 50 km {row.max_error_within_50km_m:.3f} m"
    )
    print(
        f"sites where PostGIS is longer by over 1 m: {row.lower_by_over_1m:,}"
        " (PostGIS measures to the sphere-nearest point of each segment and over-estimates"
        " far from borders; ours is the ellipsoidal minimum: see bench/README.md)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, action="append", help="number of sites (repeatable)")
    parser.add_argument(
        "--baseline-sample", type=int, default=None, help="time PostGIS on N sites at most"
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--segmentize-m",
        type=float,
        default=250.0,
        help="baseline segments at most this long (0: the raw vertex pairs)",
    )
    parser.add_argument("--seed", type=int, default=_synthetic.DEFAULT_SEED)
    args = parser.parse_args(argv)

    borders = _synthetic.shared_borders(_synthetic.load_countries())
    start = time.perf_counter()
    index = BorderIndex.from_lines(borders)
    built_s = time.perf_counter() - start
    print(
        f"border index: {len(index):,} segments, {len(index.pair_codes)} borders, {built_s:.2f} s"
    )
    with bench_database(args.database_url, "postgres") as url:
        conn = _synthetic.postgis_scratch(libpq(url))
        try:
            compare(args, index, borders, conn)
        finally:
            conn.close()
    print(
        f"\nprocess peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB"
    )


def compare(args: argparse.Namespace, index: BorderIndex, borders: Any, conn: Any) -> None:
    load_segments(conn, index, args.segmentize_m)
    segments = conn.execute("SELECT count(*) FROM bench_border_segment").fetchone()[0]
    print(
        f"PostGIS baseline: {segments:,} 2-point geography segments"
        f" (split to <= {args.segmentize_m:g} m)"
        if args.segmentize_m > 0
        else ""
    )
    for sites in args.sites or [100_000]:
        report(run(sites, index, borders, conn, args.baseline_sample, args.seed))


if __name__ == "__main__":
    main()
