"""Items benchmark: OGC API items pages of 1 000 features in random 1° boxes, over HTTP.

Fills a database with N synthetic sites (default 1 000 000, reused when already there), starts
``uvicorn`` with 2 workers on 127.0.0.1, and drives a bounded load (a fixed number of
keep-alive clients, each waiting for its answer before the next request) for a fixed time.
Prints features/s and latency percentiles, then the same pages built by PostGIS alone in the
same run (the page SQL the service sends, and a bare ``ST_AsGeoJSON`` page), and the ratios.

    .venv/bin/python -m bench.bench_items [--sites 1000000] [--seconds 20] [--clients 4]
    .venv/bin/python -m bench.bench_items --audit   # audit log on vs off, same run
    .venv/bin/python -m bench.bench_items --tipg --clients 8   # and tipg on the same table

``--tipg``: tipg (installed in a throwaway venv, as ``bench_tiles`` does; never a project
dependency) serves the same table with the same number of workers, asked for the same pages
(the public columns of a site as properties); its run follows the PostGIS baselines and the
ratio borderlens / tipg is printed.

``--audit``: the same pages asked with an API key (so every request is audited) of two
servers on the same database, one with the audit log on and one with it off, in alternating
slices so the load of a shared machine falls on both alike; prints both and the ratio.

Database: ``--database-url``, else ``$DATABASE_URL``, else the project's embedded cluster
(database ``bench_items``).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy import create_engine
from sqlalchemy.dialects import postgresql

from app.db import migrations
from app.db import sites as site_repo
from app.db.features import count_statement, page_statement
from app.queries import ANONYMOUS, BBox, PageRequest, SiteQuery
from app.services import boundaries as boundary_service
from app.services.boundary_state import BoundaryCache
from app.settings import PROJECT_ROOT, Settings
from bench._database import bench_database, libpq

REGION = (8.0, -12.0, 32.0, 14.0)  # lon/lat box the synthetic sites fill
PAGE = 1000

SYNTHETIC_SITES_SQL = """
INSERT INTO sites (public_id, kind, name, minerals, geom, country_iso3, location_status,
                   accuracy_m, first_observed, last_observed, boundary_source_id)
SELECT 'BN-' || lpad(g::text, 10, '0'),
       CASE WHEN random() < 0.7 THEN 'mine' ELSE 'sales_point' END,
       'synthetic site ' || g,
       CASE WHEN random() < 0.5 THEN ARRAY['gold'] ELSE ARRAY['diamond', 'gold'] END,
       ST_SetSRID(ST_MakePoint(%(x0)s + random() * %(dx)s, %(y0)s + random() * %(dy)s), 4326),
       'CAF', 'country', round((random() * 50)::numeric, 1),
       date '2019-01-01' + (random() * 700)::int,
       date '2021-01-01' + (random() * 700)::int,
       'natural-earth-10m'
FROM generate_series(1, %(n)s) AS g
"""

BARE_PAGE_SQL = """
SELECT json_build_object('type', 'FeatureCollection',
                         'features', json_agg(ST_AsGeoJSON(t.*)::json))::text
FROM (SELECT public_id, kind, name, minerals, geom FROM sites
      WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) ORDER BY id LIMIT 1000) AS t
"""


@dataclass
class Run:
    label: str
    pages: int
    features: int
    seconds: float
    latencies_ms: list[float]

    @property
    def features_per_s(self) -> float:
        return self.features / self.seconds

    def plus(self, other: Run) -> Run:
        return Run(
            self.label,
            self.pages + other.pages,
            self.features + other.features,
            self.seconds + other.seconds,
            self.latencies_ms + other.latencies_ms,
        )

    def report(self) -> str:
        q = statistics.quantiles(self.latencies_ms, n=100)
        return (
            f"{self.label:<34} {self.features_per_s:>10,.0f} features/s  "
            f"{self.pages / self.seconds:>7.1f} pages/s  "
            f"p50 {q[49]:6.1f} ms  p95 {q[94]:6.1f} ms  p99 {q[98]:6.1f} ms"
        )


def random_box(rng: random.Random) -> tuple[float, float, float, float]:
    x = rng.randrange(int(REGION[0]), int(REGION[2]))
    y = rng.randrange(int(REGION[1]), int(REGION[3]))
    return (x, y, x + 1, y + 1)


def prepare(url: str, n_sites: int, recluster: bool) -> None:
    engine = create_engine(url)
    migrations.upgrade(engine)
    settings = Settings(database_url=url, boundary_source="natural-earth-10m")
    with engine.connect() as conn:
        from sqlalchemy.orm import Session

        with Session(bind=conn) as session:
            boundary_service.ensure_loaded(session, settings, BoundaryCache())
    engine.dispose()
    regenerated = False
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM sites").fetchone()[0]  # type: ignore[index]
        if have != n_sites:
            print(f"generating {n_sites:,} synthetic sites (have {have:,}) ...", flush=True)
            started = time.perf_counter()
            # The bench database is the benchmark's own: observations and border figures of
            # the sites it replaces go with them.
            conn.execute("TRUNCATE sites CASCADE")
            x0, y0, x1, y1 = REGION
            conn.execute(
                SYNTHETIC_SITES_SQL,
                {"x0": x0, "y0": y0, "dx": x1 - x0, "dy": y1 - y0, "n": n_sites},
            )
            print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
            regenerated = True
    if recluster or regenerated or needs_clustering(url):
        # What `borderlens db optimize` does: neighbours on the same disk pages.
        print("clustering sites on the spatial index ...", flush=True)
        with psycopg.connect(libpq(url), autocommit=True) as conn:
            conn.execute("CLUSTER sites USING idx_sites_geom")
            conn.execute("ANALYZE sites")


def needs_clustering(url: str) -> bool:
    with psycopg.connect(libpq(url)) as conn:
        row = conn.execute(
            "SELECT indisclustered FROM pg_index WHERE indexrelid = 'idx_sites_geom'::regclass"
        ).fetchone()
    return not (row and row[0])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    url: str, workers: int, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BORDERLENS_BOUNDARY_SOURCE": "natural-earth-10m",
        # the benchmark measures pages, not the limiter: one client address asks them all
        "BORDERLENS_RATE_LIMIT_ANONYMOUS": "none",
        "BORDERLENS_RATE_LIMIT_PER_KEY": "none",
        **(extra_env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "app.main:create_app_from_env",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    process = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT)
    deadline = time.monotonic() + 180  # a machine shared by several jobs starts workers slowly
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("the server did not start")


def drive(
    label: str,
    clients: int,
    seconds: float,
    one_page: Callable[[random.Random, object], int],
    make_state: Callable[[], object],
) -> Run:
    """Each client loops: one page, wait for it, next page; until the time is up."""
    latencies: list[float] = []
    totals = {"pages": 0, "features": 0}
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        state = make_state()
        mine: list[float] = []
        pages = features = 0
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            features += one_page(rng, state)
            mine.append((time.perf_counter() - started) * 1000)
            pages += 1
        with lock:
            latencies.extend(mine)
            totals["pages"] += pages
            totals["features"] += features

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Run(label, totals["pages"], totals["features"], time.perf_counter() - started, latencies)


ROUNDS = 5
#: The same question asked with today's parameters and as a CQL2 filter ({box}: the box).
FORMS = {
    "bbox": "bbox={box}",
    "filter: box": "filter=S_INTERSECTS(geometry, BBOX({box}))",
    "bbox, kind, mineral": "bbox={box}&kind=mine&mineral=diamond",
    "filter: box, kind, mineral": "filter=S_INTERSECTS(geometry, BBOX({box})) AND kind = 'mine' "
    "AND A_OVERLAPS(minerals, ('diamond'))",
}


def http_page(
    port: int, form: str = "bbox", headers: dict[str, str] | None = None
) -> tuple[Callable[[random.Random, object], int], Callable[[], object]]:
    """A first page in a random box, asked in one of the ``FORMS``."""

    def path(box: str) -> str:
        name, _, value = FORMS[form].format(box=box).partition("=")
        return (
            f"/collections/sites/items?limit={PAGE}&{name}={urllib.parse.quote(value, safe=',=&')}"
        )

    return _http_pages(port, path, headers)


def _http_pages(
    port: int, path: Callable[[str], str], headers: dict[str, str] | None = None
) -> tuple[Callable[[random.Random, object], int], Callable[[], object]]:
    """Keep-alive connections asking ``path(box)`` for random 1° boxes; each answer's
    ``numberReturned``."""

    def make() -> object:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def page(rng: random.Random, connection: object) -> int:
        assert isinstance(connection, http.client.HTTPConnection)
        box = ",".join(str(v) for v in random_box(rng))
        connection.request("GET", path(box), headers=headers or {})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status} on port {port}: {body[:300]!r}")
        # Read the count from the tail instead of parsing 600 kB of JSON: the load generator
        # shares the 2 cores with the server and must stay cheap (as the SQL baselines are).
        tail = body[body.rfind(b'"numberReturned":') + 17 :]
        return int(tail[: min(i for i in (tail.find(b","), tail.find(b"}")) if i >= 0)])

    return page, make


SqlFor = Callable[[tuple[float, float, float, float]], list[tuple[str, tuple[object, ...]]]]


def sql_page(
    url: str, sql_for: SqlFor
) -> tuple[Callable[[random.Random, object], int], Callable[[], object]]:
    """Run the statements of one page on a plain connection; count the features returned."""

    def make() -> object:
        return psycopg.connect(libpq(url), autocommit=True)

    def page(rng: random.Random, connection: object) -> int:
        assert isinstance(connection, psycopg.Connection)
        statements = sql_for(random_box(rng))
        rows = connection.execute(*statements[0]).fetchall()
        for sql, params in statements[1:]:
            connection.execute(sql, params).fetchall()
        return min(len(rows), PAGE) if len(rows) > 1 else str(rows[0][0]).count('"Feature"')

    return page, make


def service_sql(box: tuple[float, float, float, float]) -> list[tuple[str, tuple[object, ...]]]:
    """What the service sends for a first page: the page rows, then the capped count."""
    query = SiteQuery(bbox=BBox(*box))
    where = site_repo.row_filters(query)
    statements = (
        page_statement(site_repo.SITES, where, PageRequest(PAGE), ANONYMOUS),
        count_statement(site_repo.SITES, where, Settings().count_exact_up_to),
    )
    dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
    compiled = [
        str(s.compile(dialect=dialect, compile_kwargs={"literal_binds": True})) for s in statements
    ]
    return [(sql.replace("%", "%%"), ()) for sql in compiled]


def bare_sql(box: tuple[float, float, float, float]) -> list[tuple[str, tuple[object, ...]]]:
    return [(BARE_PAGE_SQL, box)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sites", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url")
    parser.add_argument(
        "--tipg", action="store_true", help="also run tipg on the same table (a throwaway venv)"
    )
    parser.add_argument("--tipg-venv", type=Path, default=Path("/tmp/borderlens-tipg-venv"))
    parser.add_argument(
        "--recluster", action="store_true", help="CLUSTER the sites table again first"
    )
    parser.add_argument(
        "--audit",
        action="store_true",
        help="only compare the audit log on and off (pages asked with an authority key)",
    )
    parser.add_argument(
        "--filter",
        action="store_true",
        help="also run the same boxes as a CQL2 filter (S_INTERSECTS ... BBOX) and compare",
    )
    args = parser.parse_args()

    with bench_database(args.database_url, "bench_items") as url:
        compare(url, args)


def compare(url: str, args: argparse.Namespace) -> None:
    prepare(url, args.sites, args.recluster)
    print(
        f"{args.sites:,} sites; pages of {PAGE} features in random 1° boxes; "
        f"{args.clients} clients for {args.seconds:.0f} s each; {os.cpu_count()} CPUs\n"
    )
    if args.audit:
        compare_audit(url, args)
        return

    process, port = start_server(url, args.workers)
    try:
        drive("warm-up", args.clients, 3, *http_page(port))
        ours = drive(
            f"borderlens HTTP ({args.workers} workers)",
            args.clients,
            args.seconds,
            *http_page(port),
        )
        forms: dict[str, Run] = {}
        if args.filter:
            # Short slices in turn, so the load of a shared machine falls on every form alike.
            for _ in range(ROUNDS):
                for form in FORMS:
                    piece = drive(
                        f"HTTP {form}", args.clients, args.seconds / ROUNDS, *http_page(port, form)
                    )
                    forms[form] = forms[form].plus(piece) if form in forms else piece
    finally:
        process.terminate()
        process.wait(timeout=60)
    for form, run in forms.items():
        print(run.report())
        if form.startswith("filter: "):
            twin = forms[form.removeprefix("filter: ").replace("box", "bbox")]
            ratio = run.features_per_s / twin.features_per_s
            print(f"ratio CQL2 filter / parameters ({form[8:]}): {ratio:.2f}")
    same_sql = drive(
        "PostGIS: the service's page SQL", args.clients, args.seconds, *sql_page(url, service_sql)
    )
    bare = drive(
        "PostGIS: bare ST_AsGeoJSON page", args.clients, args.seconds, *sql_page(url, bare_sql)
    )

    peers = [same_sql, bare]
    if args.tipg:
        peers.append(tipg_run(url, args))
    for run in (ours, *peers):
        print(run.report())
    for label, baseline in (("same SQL", same_sql), ("bare page", bare)):
        ratio = ours.features_per_s / baseline.features_per_s
        print(f"ratio borderlens / PostGIS {label}: {ratio:.2f}")
    if args.tipg:
        ratio = ours.features_per_s / peers[-1].features_per_s
        print(f"ratio borderlens / tipg {TIPG_VERSION}: {ratio:.2f}")


#: The tipg version the benchmarks install (``bench_tiles.ensure_tipg``).
TIPG_VERSION = "1.6.1"
#: What tipg is asked to put in each feature: the public columns of a borderlens site feature.
TIPG_ITEM_PROPERTIES = (
    "public_id,kind,name,aliases,minerals,status,country_iso3,location_status,claimants,"
    "accuracy_m,location_origin,first_observed,last_observed,source,border_distance_m,"
    "border_pair,neighbour_iso3,side_probability,side_confidence,boundary_source_id"
)


def tipg_run(url: str, args: argparse.Namespace) -> Run:
    """tipg serving the same table (a throwaway venv, see ``bench_tiles``), the same pages."""
    from bench.bench_tiles import ensure_tipg, start_tipg  # bench_tiles imports this module

    process, port = start_tipg(ensure_tipg(args.tipg_venv), url, args.workers)
    try:
        drive("warm-up", args.clients, 3, *tipg_page(port))
        return drive(f"tipg {TIPG_VERSION} HTTP", args.clients, args.seconds, *tipg_page(port))
    finally:
        process.terminate()
        process.wait(timeout=60)


def tipg_page(
    port: int,
) -> tuple[Callable[[random.Random, object], int], Callable[[], object]]:
    """The same first page in a random 1° box, asked of tipg."""

    def path(box: str) -> str:
        return (
            f"/collections/public.sites/items?limit={PAGE}&bbox={box}"
            f"&properties={TIPG_ITEM_PROPERTIES}"
        )

    return _http_pages(port, path)


def bench_key(url: str) -> str:
    """A fresh authority key (it reads restricted attributes: the reveal check runs too)."""
    from sqlalchemy.orm import Session

    from app.services import keys as key_service

    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return key_service.create_key(
                session, name="bench items audit", role="authority", countries=[]
            ).key
    finally:
        engine.dispose()


def compare_audit(url: str, args: argparse.Namespace) -> None:
    headers = {"Authorization": f"Bearer {bench_key(url)}"}
    before = audit_rows(url)
    servers = {
        label: start_server(url, args.workers, {"BORDERLENS_AUDIT_LOG": flag})
        for label, flag in (("audit log on", "true"), ("audit log off", "false"))
    }
    runs: dict[str, Run] = {}
    try:
        for _, port in servers.values():
            drive("warm-up", args.clients, 3, *http_page(port, headers=headers))
        # Short slices in turn, so the load of a shared machine falls on both alike; the
        # order flips every round, so neither always runs first.
        for round_ in range(ROUNDS * 2):
            order = list(servers.items())
            for label, (_, port) in order if round_ % 2 == 0 else reversed(order):
                piece = drive(
                    f"HTTP, key, {label}",
                    args.clients,
                    args.seconds / ROUNDS / 2,
                    *http_page(port, headers=headers),
                )
                runs[label] = runs[label].plus(piece) if label in runs else piece
    finally:
        for process, _ in servers.values():
            process.terminate()  # SIGTERM: the audit log's shutdown writes what is queued
            process.wait(timeout=60)
    for run in runs.values():
        print(run.report())
    on, off = runs["audit log on"], runs["audit log off"]
    print(f"ratio audit on / off: {on.features_per_s / off.features_per_s:.3f}")
    print(f"audit rows written: {audit_rows(url) - before:,} (requests with the log on: ", end="")
    print(f"{on.pages:,} + warm-up)")


def audit_rows(url: str) -> int:
    with psycopg.connect(libpq(url)) as conn:
        return int(conn.execute("SELECT count(*) FROM audit_log").fetchone()[0])  # type: ignore[index]


if __name__ == "__main__":
    main()
