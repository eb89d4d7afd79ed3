"""Benchmark: geodesic DBSCAN against PostGIS ST_ClusterDBSCAN, same sites, same run.

    python -m bench.bench_clusters --sites 100000 --sites 1000000 \
        [--eps-m 5000] [--min-samples 5] [--database-url postgresql://...]

Ours: ``geo.clusters.dbscan_geodesic`` (exact geodesic eps on WGS 84), timed from lon/lat
arrays to labels; then the percolation verdict, ``summarise`` (members, countries, spans,
hull polygons) and the adaptive run (``cluster_sites(adapt=True)``), each timed apart.

Baseline: ``ST_ClusterDBSCAN(geom, eps, minpoints) OVER ()`` on the same sites projected
to one azimuthal equidistant projection centred on the region (20°E, 5°N; distances from
the centre are true, across them stretched by up to 1.6 % at the region's edge), loaded
into a TEMP table before timing; only the query is timed. The labels are compared with
the adjusted Rand index; they differ only where the projection moves a pair across eps.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from typing import Any

import numpy as np
import pyproj
from sklearn.metrics import adjusted_rand_score

from bench import _synthetic
from bench._database import bench_database, libpq
from geo.clusters import cluster_sites, dbscan_geodesic, detect_percolation, summarise

REGION_AEQD = "+proj=aeqd +lat_0=5 +lon_0=20 +datum=WGS84 +units=m +no_defs"


def postgis_dbscan(
    conn: Any, lon: np.ndarray, lat: np.ndarray, eps_m: float, min_samples: int
) -> tuple[np.ndarray, float]:
    to_plane = pyproj.Transformer.from_crs("EPSG:4326", REGION_AEQD, always_xy=True)
    x, y = to_plane.transform(lon, lat)
    conn.execute("DROP TABLE IF EXISTS bench_cluster_xy")
    conn.execute("CREATE TEMP TABLE bench_cluster_xy (id int, x float8, y float8)")
    _synthetic.copy_columns(conn, "bench_cluster_xy", [np.asarray(x), np.asarray(y)])
    conn.execute("DROP TABLE IF EXISTS bench_cluster_site")
    conn.execute(
        "CREATE TEMP TABLE bench_cluster_site AS"
        " SELECT id, ST_Point(x, y) AS geom FROM bench_cluster_xy"
    )
    conn.execute("ANALYZE bench_cluster_site")
    start = time.perf_counter()
    rows = conn.execute(
        "SELECT id, ST_ClusterDBSCAN(geom, %s, %s) OVER () FROM bench_cluster_site",
        (eps_m, min_samples),
    ).fetchall()
    elapsed = time.perf_counter() - start
    labels = np.full(lon.size, -1, dtype=np.intp)
    ids = np.array([r[0] for r in rows], dtype=np.intp)
    labels[ids] = [-1 if r[1] is None else r[1] for r in rows]
    return labels, elapsed


def timed(label: str, action: Any) -> Any:
    start = time.perf_counter()
    result = action()
    print(f"{label:<34}{time.perf_counter() - start:8.2f} s")
    return result


def run(
    sites: int,
    borders: list[_synthetic.SimpleBorder],
    countries: dict[str, Any],
    conn: Any,
    eps_m: float,
    min_samples: int,
    seed: int,
) -> None:
    print(f"\n== clustering, {sites:,} sites, eps {eps_m:,.0f} m, min_samples {min_samples} ==")
    lon, lat = _synthetic.synthetic_sites(sites, borders, seed=seed)
    ids, kinds, minerals = _synthetic.site_attributes(sites, seed=seed)
    country = _synthetic.country_of(lon, lat, countries)

    start = time.perf_counter()
    ours = dbscan_geodesic(lon, lat, eps_m=eps_m, min_samples=min_samples)
    ours_s = time.perf_counter() - start
    tracemalloc.start()
    dbscan_geodesic(lon, lat, eps_m=eps_m, min_samples=min_samples)
    peak_mib = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    theirs, base_s = postgis_dbscan(conn, lon, lat, eps_m, min_samples)
    print(
        f"ours     {ours_s:8.2f} s  {sites / ours_s:12,.0f} sites/s"
        f"  peak traced memory {peak_mib:,.0f} MiB"
    )
    print(
        f"PostGIS  {base_s:8.2f} s  {sites / base_s:12,.0f} sites/s"
        "  (ST_ClusterDBSCAN on AEQD 20°E 5°N)"
    )
    print(f"ratio    {base_s / ours_s:8.1f} x faster than ST_ClusterDBSCAN")
    both = (ours >= 0) & (theirs >= 0)
    print(
        f"agreement: adjusted Rand index {adjusted_rand_score(theirs, ours):.4f}"
        " (noise as one label),"
        f" {adjusted_rand_score(theirs[both], ours[both]):.4f} on sites clustered by both;"
        f" noise/clustered status equal for {np.mean((ours < 0) == (theirs < 0)):.4%} of sites"
    )
    print(
        f"clusters: ours {ours.max() + 1:,}, PostGIS {theirs.max() + 1:,};"
        f" noise: ours {(ours < 0).sum():,}, PostGIS {(theirs < 0).sum():,}"
    )

    verdict = timed("percolation check", lambda: detect_percolation(ours, lon, lat, eps_m=eps_m))
    print(
        f"  percolated: {verdict.percolated} ({verdict.reason});"
        f" largest {verdict.largest_count:,} sites, {verdict.largest_span_km:,.0f} km across"
    )
    summaries = timed(
        "summarise (all clusters)",
        lambda: summarise(ours, lon, lat, country, kinds, minerals, ids, buffer_m=eps_m / 2),
    )
    print(f"  {len(summaries):,} clusters, {sum(s.cross_border for s in summaries):,} cross-border")
    adapted = timed(
        "adaptive run (cluster_sites)",
        lambda: cluster_sites(lon, lat, eps_m=eps_m, min_samples=min_samples, adapt=True),
    )
    sizes = np.bincount(adapted.labels[adapted.labels >= 0])
    print(
        f"  eps tried {', '.join(f'{e:,.0f}' for e in adapted.eps_tried_m)} m;"
        f" used {adapted.eps_m:,.0f} m: {sizes.size:,} clusters, largest {sizes.max():,} sites"
        f" ({adapted.percolation.largest_span_km:,.0f} km),"
        f" percolated: {adapted.percolation.percolated}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, action="append", help="number of sites (repeatable)")
    parser.add_argument("--eps-m", type=float, default=5_000.0)
    parser.add_argument("--min-samples", type=int, default=5)
    parser.add_argument(
        "--database-url", help="PostgreSQL with PostGIS (default: $DATABASE_URL, else embedded)"
    )
    parser.add_argument("--seed", type=int, default=_synthetic.DEFAULT_SEED)
    args = parser.parse_args(argv)

    countries = _synthetic.load_countries()
    borders = _synthetic.shared_borders(countries)
    with bench_database(args.database_url, "postgres") as url:
        conn = _synthetic.postgis_scratch(libpq(url))
        try:
            for sites in args.sites or [100_000]:
                run(sites, borders, countries, conn, args.eps_m, args.min_samples, args.seed)
        finally:
            conn.close()
    print(
        f"\nprocess peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
