"""The exact PostGIS answer to "how far is the nearest border": the baseline of the border
benchmark and the independent reference of the acceptance test (``tests/db``).

PostGIS's own ``ST_Distance(geography, geography)`` against the borders split into 2-point
segments (never against whole multi-vertex lines, where it over-estimates by up to 1.5 %),
minimised over every segment that can be nearest (see :data:`NEAREST_SQL`). Everything lives
in TEMP tables of the given connection (psycopg, autocommit).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench._synthetic import copy_columns
from geo.borders import BorderIndex

NEAREST_SQL = """
WITH first AS (
    SELECT p.id, p.geog,
           (SELECT ST_Distance(p.geog, s.geog) FROM bench_border_segment s
             ORDER BY s.geog <-> p.geog LIMIT 1) AS d0
      FROM bench_site p
)
SELECT f.id,
       (SELECT min(ST_Distance(f.geog, s.geog)) FROM bench_border_segment s
         WHERE ST_DWithin(s.geog, f.geog, f.d0 * 1.0001 + 1.0)) AS distance_m
  FROM first f
 ORDER BY f.id
"""
# d0 is a true distance to one segment (the one the index ranks first), so every segment
# nearer than d0 passes ST_DWithin and the minimum is exact whatever the index's ranking.


def load_segments(conn: Any, index: BorderIndex, segmentize_m: float = 0.0) -> None:
    """The index's own segments as geography LINESTRINGs with a GiST index; with
    ``segmentize_m`` > 0 each is first cut along its great circle into pieces no longer than
    that (PostGIS measures each segment to its sphere-nearest point, an error that grows with
    the segment's length: up to 8.7 m on the raw vertex pairs)."""
    _, lon1, lat1, lon2, lat2 = index.segments()
    conn.execute("DROP TABLE IF EXISTS bench_vertex_pair")
    conn.execute(
        "CREATE TEMP TABLE bench_vertex_pair"
        " (id int, lon1 float8, lat1 float8, lon2 float8, lat2 float8)"
    )
    copy_columns(conn, "bench_vertex_pair", [lon1, lat1, lon2, lat2])
    conn.execute("DROP TABLE IF EXISTS bench_border_segment")
    edge = "ST_MakeLine(ST_Point(lon1, lat1, 4326), ST_Point(lon2, lat2, 4326))::geography"
    if segmentize_m > 0:
        edge = (
            f"(ST_DumpSegments(ST_Segmentize({edge}, {float(segmentize_m)})::geometry))"
            ".geom::geography"
        )
    conn.execute(
        f"CREATE TEMP TABLE bench_border_segment AS SELECT row_number() OVER () AS id,"
        f" {edge} AS geog FROM bench_vertex_pair"
    )
    conn.execute("CREATE INDEX ON bench_border_segment USING gist (geog)")
    conn.execute("ANALYZE bench_border_segment")


def nearest_distance_m(conn: Any, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, float]:
    """PostGIS's distance from each point to the loaded segments, and the seconds the query
    took (loading the points not included)."""
    conn.execute("DROP TABLE IF EXISTS bench_site_lon_lat")
    conn.execute("CREATE TEMP TABLE bench_site_lon_lat (id int, lon float8, lat float8)")
    copy_columns(conn, "bench_site_lon_lat", [lon, lat])
    conn.execute("DROP TABLE IF EXISTS bench_site")
    conn.execute(
        "CREATE TEMP TABLE bench_site AS"
        " SELECT id, ST_Point(lon, lat, 4326)::geography AS geog FROM bench_site_lon_lat"
    )
    conn.execute("ANALYZE bench_site")
    start = time.perf_counter()
    rows = conn.execute(NEAREST_SQL).fetchall()
    elapsed = time.perf_counter() - start
    return np.array([r[1] for r in rows], dtype=np.float64), elapsed
