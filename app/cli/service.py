"""Running the service: ``serve``, ``worker``, ``config``, ``fetch``, ``setup``."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import threading
from typing import Annotated

import typer

from app.cli.common import cli, console, database, fail
from app.db import boundaries as boundary_repo
from app.db.embedded import EmbeddedClusterError, ensure_postgres_installed
from app.errors import AppError
from app.maps.assets import ensure_assets
from app.services import boundaries as boundary_service
from app.services import boundary_sources, delivery, demo
from app.services.boundary_state import BoundaryCache
from app.services.upload_jobs import run_upload_jobs
from app.settings import Settings, configuration_table
from geo.errors import GeoError


@cli.callback()
def main_options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    demo_data: Annotated[
        bool, typer.Option("--demo", help="Load the demo sites when the database has none.")
    ] = False,
) -> None:
    """Run the service (embedded PostGIS when DATABASE_URL is unset): migrate, load
    boundaries on first start, serve; stop the embedded cluster on exit."""
    import uvicorn

    settings = Settings()
    # uvicorn shuts down gracefully, then re-raises the signal it caught; SIGTERM's default
    # action would end the process before the embedded cluster is stopped, so turn it into
    # an exit that unwinds through `database()`.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        with database(settings) as (url, session):
            report = boundary_service.ensure_loaded(session, settings, BoundaryCache())
            if report:
                console.print(f"boundaries loaded: {report.as_dict()}")
            if demo_data:
                loaded = demo.load_demo_sites(session, settings, BoundaryCache())
                console.print(f"demo sites loaded: {loaded}" if loaded else "demo: sites exist")
            source = boundary_repo.active_source(session)
            session.close()
            os.environ["DATABASE_URL"] = url
            console.print(
                f"borderlens on http://{host}:{port}/ (boundaries: "
                f"{source.id if source else 'none'}; Ctrl-C stops)"
            )
            # Upload jobs (202 Accepted) are processed by a thread of this process; more
            # `borderlens worker` processes may share the queue.
            stop = threading.Event()
            jobs = threading.Thread(
                target=run_upload_jobs, args=(Settings(), stop), name="upload-jobs", daemon=True
            )
            jobs.start()
            try:
                uvicorn.run(
                    "app.main:create_app_from_env",
                    factory=True,
                    host=host,
                    port=port,
                    workers=workers,
                    log_level="info",
                    proxy_headers=True,
                    # a request still running after SIGTERM (a recomputation of minutes) is
                    # cancelled after this long: serve waited for it, a second Ctrl-C too
                    timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
                )
            finally:
                stop.set()
                jobs.join(timeout=60)
    except (EmbeddedClusterError, AppError, GeoError) as error:
        raise fail(str(error)) from error
    except KeyboardInterrupt:
        console.print("stopped")


#: Seconds ``serve`` waits for requests in flight after SIGTERM or Ctrl-C.
GRACEFUL_SHUTDOWN_S = 30


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum if signum != signal.SIGTERM else 0)


@cli.command()
def worker() -> None:
    """Run the background jobs apart from `serve`: queued uploads (those answered 202
    Accepted) and webhook delivery (set BORDERLENS_DELIVERY_WORKER=false for `serve` then).
    Several may run at once; SIGTERM or Ctrl-C stops after the upload and deliveries in
    flight."""
    settings = Settings()
    stop = threading.Event()

    def request_stop(_signum: int, _frame: object) -> None:
        # Set from another thread: Event.set() takes a lock the interrupted main thread may hold.
        threading.Thread(target=stop.set).start()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        with database(settings) as (url, session):
            session.close()
            background = delivery.start_background(settings, url)
            console.print("borderlens worker: processing queued uploads, delivering webhooks")
            try:
                run_upload_jobs(settings.model_copy(update={"database_url": url}), stop)
            finally:
                background.stop()
    except (EmbeddedClusterError, AppError, GeoError) as error:
        raise fail(str(error)) from error
    console.print("worker stopped")


@cli.command()
def config() -> None:
    """Print the configuration variables with their defaults (a Markdown table)."""
    print(configuration_table())


@cli.command()
def fetch() -> None:
    """Fetch the pinned boundary datasets and map assets into the cache (for offline use)."""
    settings = Settings()
    try:
        for source in boundary_sources.load_recipes():
            path = boundary_sources.fetch(source, settings.cache_dir / "boundaries")
            console.print(f"{source.id}: {path}")
    except AppError as error:
        raise fail(error.detail) from error
    if not ensure_assets(settings.cache_dir):
        raise fail("map assets could not be fetched (is npm installed?)")
    console.print(f"map assets: {settings.cache_dir / 'web'}")


@cli.command()
def setup(
    test: Annotated[
        bool,
        typer.Option("--test", help="Also install what the test suite needs (Chromium, QGIS)."),
    ] = False,
) -> None:
    """Install the system packages borderlens needs (Debian, as root); print them otherwise."""
    packages = []
    try:
        ensure_postgres_installed()
    except EmbeddedClusterError as error:
        raise fail(str(error)) from error
    if test and not (shutil.which("chromium") and shutil.which("chromedriver")):
        packages += ["chromium", "chromium-driver"]
    if test and shutil.which("npm") is None:
        packages.append("npm")
    # QGIS's own OGC API client, for the export tests (tests/e2e/test_qgis_export.py).
    if test and shutil.which("qgis_process.bin") is None:
        packages.append("qgis")
    if not packages:
        console.print("system packages: all present")
        return
    command = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    if os.geteuid() != 0:
        raise fail(f"missing packages; run: sudo apt-get update && sudo {' '.join(command)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(command, check=True, env=env)
