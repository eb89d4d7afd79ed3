"""Peak memory of the server process while it writes a large export (issue 10, item 3).

Fills a database with N synthetic sites (default 200 000; the same table as the items
benchmark, reused when already there), then for each format starts a fresh ``uvicorn`` (one
process) on 127.0.0.1, reads its peak RSS (``VmHWM``) after ``/health``, downloads
``/collections/sites/items?f=FORMAT`` (the whole table) to a temporary file, and reads the peak
RSS again. Prints, per format: features, file size, time, peak RSS before and after.

    .venv/bin/python -m bench.bench_export_memory [--sites 200000] [--formats csv,gpkg,...]

Database: ``--database-url``, else ``$DATABASE_URL``, else the project's embedded cluster
(database ``bench_items``). Linux only (reads ``/proc/PID/status``).
"""

from __future__ import annotations

import argparse
import http.client
import tempfile
import time
from pathlib import Path

from bench._database import bench_database
from bench.bench_items import prepare, start_server

FORMATS = ("csv", "gpkg", "fgb", "shp", "kml", "xlsx")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmHWM in /proc (Linux only)")


def download(port: int, fmt: str, target: Path) -> tuple[int, int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    connection.request("GET", f"/collections/sites/items?f={fmt}")
    response = connection.getresponse()
    if response.status != 200:
        raise SystemExit(f"{fmt}: HTTP {response.status} {response.read()[:300]!r}")
    size = 0
    with target.open("wb") as out:
        while chunk := response.read(1 << 20):
            out.write(chunk)
            size += len(chunk)
    return size, int(response.getheader("X-Borderlens-Features") or 0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=200_000)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    with bench_database(args.database_url, "bench_items") as url:
        prepare(url, args.sites, recluster=False)
        print(f"{'format':<6} {'features':>9} {'MiB':>8} {'s':>7} {'RSS idle':>9} {'RSS peak':>9}")
        for fmt in args.formats.split(","):
            process, port = start_server(url, workers=1)
            try:
                idle = peak_rss_mib(process.pid)
                with tempfile.TemporaryDirectory() as folder:
                    started = time.perf_counter()
                    size, features = download(port, fmt, Path(folder) / f"export.{fmt}")
                    seconds = time.perf_counter() - started
                peak = peak_rss_mib(process.pid)
            finally:
                process.terminate()
                process.wait(timeout=30)
            print(
                f"{fmt:<6} {features:>9,} {size / 2**20:>8.1f} {seconds:>7.1f} "
                f"{idle:>8.0f}M {peak:>8.0f}M",
                flush=True,
            )


if __name__ == "__main__":
    main()
