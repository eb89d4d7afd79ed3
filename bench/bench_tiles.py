"""Tiles benchmark: Mapbox Vector Tiles of 1 000 000 sites at z6, z8 and z10, borderlens against
tipg serving the same table in the same run.

Fills a database with N synthetic sites (default 1 000 000, uniform over the region, as
``bench_items``; reused when already there), starts ``uvicorn`` with 2 workers for borderlens
and for tipg on 127.0.0.1, and drives the load of the items benchmark (a fixed number of
keep-alive clients, each waiting for its tile before asking the next) for a fixed time per
zoom, in alternating slices so the load of a shared machine falls on both alike. Tiles are
drawn from a fixed sample of Web Mercator tiles whose centre lies in the region; the number of
sites in each (``geom && tile box``) is counted by SQL first, so every answer is checked:

* borderlens: the points a tile stands for (``X-Borderlens-Points``, the sum of
  ``point_count``) must equal that count, else the run stops (a silently truncated tile);
* tipg: a tile with fewer features than sites in its box was cut at its
  ``TIPG_MAX_FEATURES_PER_TILE`` (10 000 by default): counted and printed as truncated.

Each distinct tile body is scanned once (later answers byte-identical to it, by digest, take its
count): scanning in Python costs the clients about 4 ms per z8 tile, on the cores the servers
share, which charged both alike and pulled the ratio towards 1.

Printed per zoom and server: tiles/s, features/s (features in the MVT, counted by scanning
the protobuf), points/s (sites the tiles stand for: for tipg, its features), latency
percentiles, truncated tiles; then the ratios borderlens / tipg.

tipg is a benchmark-only dependency: it is installed in a throwaway virtual environment
(``--tipg-venv``, default ``/tmp/borderlens-tipg-venv``; created with ``python3 -m venv`` and
``pip install tipg==1.6.1 uvicorn`` on first use), never in the project's environment. It
serves the ``sites`` table as collection ``public.sites``, started as::

    DATABASE_URL=postgresql://... TIPG_DB_TABLES='["public.sites"]' \\
        /tmp/borderlens-tipg-venv/bin/python -m uvicorn tipg.main:app --workers 2 --port P

and asked for the same properties as borderlens puts in a site tile.

    .venv/bin/python -m bench.bench_tiles [--sites 1000000] [--seconds 20] [--clients 4]
        [--zooms 6 8 10]

Database: ``--database-url``, else ``$DATABASE_URL``, else the project's embedded cluster
(database ``bench_tiles``).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import morecantile
import psycopg

from bench._database import bench_database, libpq
from bench.bench_items import REGION, free_port, prepare, start_server

ZOOMS = (6, 8, 10)
SAMPLE_TILES = 200
ROUNDS = 4
TIPG_VERSION = "1.6.1"
MERCATOR = morecantile.tms.get("WebMercatorQuad")
#: What tipg is asked to put in each feature: the columns borderlens puts in a site tile.
TIPG_PROPERTIES = "public_id,name,kind,country_iso3,border_pair,border_distance_m,minerals,status"


@dataclass(frozen=True)
class SampleTile:
    z: int
    x: int
    y: int
    sites: int  # sites in the tile's box, counted by SQL


@dataclass
class Run:
    label: str
    tiles: int = 0
    features: int = 0
    points: int = 0
    truncated: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def plus(self, other: Run) -> Run:
        return Run(
            self.label,
            self.tiles + other.tiles,
            self.features + other.features,
            self.points + other.points,
            self.truncated + other.truncated,
            self.seconds + other.seconds,
            self.latencies_ms + other.latencies_ms,
        )

    def per_s(self, value: int) -> float:
        return value / self.seconds if self.seconds else 0.0

    def p(self, percent: int) -> float:
        return statistics.quantiles(self.latencies_ms, n=100)[percent - 1]

    def report(self) -> str:
        return (
            f"{self.label:<26} {self.per_s(self.tiles):>7.1f} tiles/s "
            f"{self.per_s(self.features):>10,.0f} features/s {self.per_s(self.points):>10,.0f} "
            f"points/s  p50 {self.p(50):7.1f} ms  p99 {self.p(99):7.1f} ms  "
            f"truncated {self.truncated}/{self.tiles}"
        )


# -- MVT feature count without decoding ---------------------------------------------------


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def _fields(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """(field number, start, end) of each length-delimited field; others skipped."""
    found = []
    at = start
    while at < end:
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, at = _varint(data, at)
        elif wire == 2:
            length, at = _varint(data, at)
            found.append((number, at, at + length))
            at += length
        elif wire == 1:
            at += 8
        elif wire == 5:
            at += 4
        else:
            raise ValueError(f"wire type {wire}")
    return found


#: Feature counts of the tile bodies already scanned, by digest (see :func:`features_in`).
_COUNTED: dict[bytes, int] = {}
_COUNTED_LOCK = threading.Lock()


def features_in(tile: bytes) -> int:
    """:func:`count_features` of a tile body, scanned once per distinct body.

    Every answer is still checked: a body byte-identical (BLAKE2b digest) to one already
    scanned has that one's count. Scanning in Python costs about 4 ms for a z8 tile of
    3 200 points, on the same two cores as the servers, under the clients' shared GIL;
    rescanning every repeat of the 200 sample tiles charged that to both servers and
    pulled their ratio towards 1.
    """
    digest = hashlib.blake2b(tile, digest_size=20).digest()
    with _COUNTED_LOCK:
        known = _COUNTED.get(digest)
    if known is None:
        known = count_features(tile)
        with _COUNTED_LOCK:
            _COUNTED[digest] = known
    return known


def count_features(tile: bytes) -> int:
    """Features of every layer of an MVT (Tile.layers = 3, Layer.features = 2)."""
    total = 0
    for number, start, end in _fields(tile, 0, len(tile)):
        if number == 3:
            total += sum(1 for n, _, _ in _fields(tile, start, end) if n == 2)
    return total


# -- the sample ---------------------------------------------------------------------------


def sample_tiles(url: str, zoom: int, seed: int) -> list[SampleTile]:
    """Random tiles whose centre lies in the region, with their site counts."""
    rng = random.Random(seed + zoom)
    west, south, east, north = REGION
    chosen: dict[tuple[int, int], SampleTile] = {}
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        attempts = 0
        while len(chosen) < SAMPLE_TILES and attempts < SAMPLE_TILES * 20:
            attempts += 1
            tile = MERCATOR.tile(rng.uniform(west, east), rng.uniform(south, north), zoom)
            if (tile.x, tile.y) in chosen:
                continue
            b = MERCATOR.bounds(tile)
            count = conn.execute(
                "SELECT count(*) FROM sites WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) "
                "AND status <> 'retired'",
                (b.left, b.bottom, b.right, b.top),
            ).fetchone()
            assert count is not None
            chosen[(tile.x, tile.y)] = SampleTile(zoom, tile.x, tile.y, int(count[0]))
    return list(chosen.values())


# -- servers ------------------------------------------------------------------------------


def ensure_tipg(venv: Path) -> Path:
    """The python of a throwaway venv with tipg (created on first use)."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", f"import tipg; assert tipg.__version__ == '{TIPG_VERSION}'"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"installing tipg {TIPG_VERSION} in {venv} (benchmark only) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"tipg=={TIPG_VERSION}", "uvicorn"],
        check=True,
    )
    return python


def start_tipg(python: Path, url: str, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": libpq(url),
        "TIPG_DB_TABLES": '["public.sites"]',
        "TIPG_DB_SPATIAL_EXTENT": "false",
        "TIPG_DB_DATETIME_EXTENT": "false",
    }
    command = [
        str(python),
        "-m",
        "uvicorn",
        "tipg.main:app",
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
    process = subprocess.Popen(command, env=env, cwd="/tmp")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/collections/public.sites")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("tipg did not start")


# -- load ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    features: int
    points: int
    truncated: bool


def ask_borderlens(connection: http.client.HTTPConnection, tile: SampleTile) -> Answer:
    connection.request(
        "GET", f"/collections/sites/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}"
    )
    response = connection.getresponse()
    body = response.read()
    if response.status not in (200, 204):
        raise SystemExit(f"borderlens HTTP {response.status}: {body[:300]!r}")
    points = int(response.headers["X-Borderlens-Points"])
    if points != tile.sites:
        raise SystemExit(f"borderlens tile {tile} stands for {points} points, not {tile.sites}")
    features = features_in(body) if body else 0
    if features != int(response.headers["X-Borderlens-Features"]):
        raise SystemExit(f"borderlens tile {tile}: the header does not count the features")
    return Answer(features, points, False)


def ask_tipg(connection: http.client.HTTPConnection, tile: SampleTile) -> Answer:
    connection.request(
        "GET",
        f"/collections/public.sites/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}"
        f"?properties={TIPG_PROPERTIES}",
    )
    response = connection.getresponse()
    body = response.read()
    if response.status not in (200, 204):
        raise SystemExit(f"tipg HTTP {response.status}: {body[:300]!r}")
    features = features_in(body) if body else 0
    return Answer(features, features, features < tile.sites)


Ask = Callable[[http.client.HTTPConnection, SampleTile], "Answer"]


def drive(
    label: str, port: int, ask: Ask, tiles: list[SampleTile], clients: int, seconds: float
) -> Run:
    """Each client loops: one random tile of the sample, wait for it, next; until time is up."""
    run = Run(label)
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine = Run(label)
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            answer = ask(connection, rng.choice(tiles))
            mine.latencies_ms.append((time.perf_counter() - started) * 1000)
            mine.tiles += 1
            mine.features += answer.features
            mine.points += answer.points
            mine.truncated += answer.truncated
        with lock:
            run.latencies_ms.extend(mine.latencies_ms)
            run.tiles += mine.tiles
            run.features += mine.features
            run.points += mine.points
            run.truncated += mine.truncated

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.seconds = time.perf_counter() - started
    return run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sites", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="per zoom and server")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url")
    parser.add_argument("--tipg-venv", type=Path, default=Path("/tmp/borderlens-tipg-venv"))
    parser.add_argument("--recluster", action="store_true")
    parser.add_argument(
        "--zooms", type=int, nargs="+", default=list(ZOOMS), help="zoom levels (default 6 8 10)"
    )
    args = parser.parse_args()
    python = ensure_tipg(args.tipg_venv)
    with bench_database(args.database_url, "bench_tiles") as url:
        compare(url, python, args)


def compare(url: str, python: Path, args: argparse.Namespace) -> None:
    prepare(url, args.sites, args.recluster)
    samples = {zoom: sample_tiles(url, zoom, seed=2026) for zoom in args.zooms}
    print(
        f"{args.sites:,} sites uniform over {REGION}; {SAMPLE_TILES} random Web Mercator tiles "
        f"per zoom; {args.clients} clients, {args.seconds:.0f} s per zoom and server; "
        f"{args.workers} workers each; {os.cpu_count()} CPUs"
    )
    for zoom, tiles in samples.items():
        counts = [t.sites for t in tiles]
        print(
            f"  z{zoom}: sites per tile min {min(counts):,} median "
            f"{int(statistics.median(counts)):,} max {max(counts):,}"
        )
    ours_process, ours_port = start_server(url, args.workers)
    tipg_process, tipg_port = start_tipg(python, url, args.workers)
    results: dict[int, tuple[Run, Run]] = {}
    try:
        for zoom, tiles in samples.items():
            drive("warm-up", ours_port, ask_borderlens, tiles, args.clients, 2)
            drive("warm-up", tipg_port, ask_tipg, tiles, args.clients, 2)
            ours, theirs = Run(f"borderlens z{zoom}"), Run(f"tipg {TIPG_VERSION} z{zoom}")
            for _ in range(ROUNDS):
                piece = args.seconds / ROUNDS
                ours = ours.plus(
                    drive(ours.label, ours_port, ask_borderlens, tiles, args.clients, piece)
                )
                theirs = theirs.plus(
                    drive(theirs.label, tipg_port, ask_tipg, tiles, args.clients, piece)
                )
            results[zoom] = (ours, theirs)
            print(ours.report(), flush=True)
            print(theirs.report(), flush=True)
    finally:
        for process in (ours_process, tipg_process):
            process.terminate()
            process.wait(timeout=60)
    print()
    for zoom, (ours, theirs) in results.items():
        print(
            f"z{zoom}: ratio borderlens / tipg: features/s "
            f"{ours.per_s(ours.features) / theirs.per_s(theirs.features):.2f}, points/s "
            f"{ours.per_s(ours.points) / theirs.per_s(theirs.points):.2f}, tiles/s "
            f"{ours.per_s(ours.tiles) / theirs.per_s(theirs.tiles):.2f}; p99 "
            f"{ours.p(99):.0f} ms vs {theirs.p(99):.0f} ms; truncated tiles "
            f"{ours.truncated} vs {theirs.truncated}"
        )


if __name__ == "__main__":
    main()
