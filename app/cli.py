"""The ``borderlens`` command: the same services the API calls, from a terminal."""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.orm import Session

from app.db import boundaries as boundary_repo
from app.db import maintenance, migrations
from app.db.embedded import EmbeddedClusterError, ensure_postgres_installed
from app.db.engine import database_url, make_engine, make_sessionmaker
from app.errors import AppError
from app.maps.assets import ensure_assets
from app.queries import Caller
from app.roles import ADMIN
from app.services import boundaries as boundary_service
from app.services import boundary_sources, delivery, demo, federation, scopes
from app.services import keys as key_service
from app.services.boundary_state import BoundaryCache
from app.services.ingest import UploadRequest, ingest
from app.services.upload_jobs import run_upload_jobs
from app.services.upload_progress import Tracker, estimate_rows
from app.services.upload_targets import TARGETS, TargetFields, dispatch
from app.settings import Settings, configuration_table
from geo.errors import GeoError
from geo.vocab import SITE_KINDS, empty_values_from_text

cli = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False)
borders_cli = typer.Typer(help="Boundary datasets and derived borders.", no_args_is_help=True)
keys_cli = typer.Typer(help="API keys.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
peers_cli = typer.Typer(help="Peer nodes whose changes this node pulls.", no_args_is_help=True)
cli.add_typer(borders_cli, name="borders")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(db_cli, name="db")
cli.add_typer(peers_cli, name="peers")

console = Console()
err = Console(stderr=True)


@contextmanager
def database(settings: Settings, *, migrate: bool = True) -> Iterator[tuple[str, Session]]:
    """The configured or embedded database, migrated to head, with one session."""
    with database_url(settings) as url:
        engine = make_engine(url, pool_size=2)
        try:
            if migrate:
                migrations.upgrade(engine)
            with make_sessionmaker(engine)() as session:
                yield url, session
        finally:
            engine.dispose()


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


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
                )
            finally:
                stop.set()
                jobs.join(timeout=60)
    except (EmbeddedClusterError, AppError, GeoError) as error:
        raise _fail(str(error)) from error
    except KeyboardInterrupt:
        console.print("stopped")


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
        raise _fail(str(error)) from error
    console.print("worker stopped")


@db_cli.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the schema up (default: to the newest revision)."""
    settings = Settings()
    with database_url(settings) as url:
        engine = make_engine(url, pool_size=1)
        migrations.upgrade(engine, revision)
        console.print(f"schema at {migrations.current_revision(engine)}")
        engine.dispose()


@db_cli.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Migrate the schema down to REVISION (``base`` drops everything)."""
    settings = Settings()
    with database_url(settings) as url:
        engine = make_engine(url, pool_size=1)
        migrations.downgrade(engine, revision)
        console.print(f"schema at {migrations.current_revision(engine)}")
        engine.dispose()


@db_cli.command("optimize")
def db_optimize() -> None:
    """Reorder sites by place (CLUSTER on the spatial index) and refresh planner statistics.

    Map and bbox reads then touch a few disk pages per box instead of one page per site;
    worth running after large imports. Locks the sites table while it runs.
    """
    settings = Settings()
    with database(settings) as (_, session):
        seconds = maintenance.optimize_sites(session)
    console.print(f"sites reordered by place and analysed in {seconds:.1f} s")


@borders_cli.command("load")
def borders_load(
    source: Annotated[
        str | None,
        typer.Option(help="osm-maritime-10m (default) or natural-earth-10m."),
    ] = None,
) -> None:
    """Load (or switch to) a boundary source; sites are re-measured against it."""
    settings = Settings()
    try:
        with database(settings) as (_, session):
            report = boundary_service.load_source(
                session, settings, source or settings.boundary_source
            )
    except (AppError, GeoError) as error:
        raise _fail(str(error)) from error
    table = Table("source", "version", "countries", "borders", "disputed", "sites", "seconds")
    table.add_row(
        report.source_id,
        report.version,
        str(report.countries),
        str(report.borders),
        str(report.disputed_areas),
        str(report.sites_recomputed),
        str(report.seconds),
    )
    console.print(table)


@borders_cli.command("recompute")
def borders_recompute(
    dask: Annotated[
        str | None,
        typer.Option(
            help="Measure on a Dask cluster: its scheduler address (tcp://host:8786), or "
            "'local' for a local cluster of --dask-workers processes. Default: this process."
        ),
    ] = None,
    dask_workers: Annotated[
        int, typer.Option(min=1, help="Worker processes of a local Dask cluster")
    ] = 2,
) -> None:
    """Re-measure every site (country, border distances, side confidence) in bulk."""
    try:
        with database(Settings()) as (_, session):
            if dask is None:
                changed, seconds = boundary_service.recompute(session)
            else:
                from app.services import dask_measure  # distributed takes a second to import

                with dask_measure.dask_client(dask, dask_workers) as client:
                    measurer = dask_measure.measurer_on(client)
                    changed, seconds = boundary_service.recompute(session, measurer=measurer)
    except AppError as error:
        raise _fail(error.detail) from error
    except OSError as error:  # no scheduler at that address, workers that could not start
        raise _fail(f"Dask: {error}") from error
    console.print(f"{changed} sites changed; {seconds:.1f} s")


@borders_cli.command("history")
def borders_history() -> None:
    """Recent boundary loads and switches."""
    with database(Settings()) as (_, session):
        rows = boundary_repo.events_of(session)
    table = Table("when", "source", "event", "detail")
    for row in rows:
        table.add_row(str(row["at"]), row["source_id"], row["event"], str(row["detail"]))
    console.print(table)


@cli.command("import")
def import_files(
    files: Annotated[list[Path], typer.Argument(help="Survey files (any supported format).")],
    kind: Annotated[
        str | None, typer.Option(help=f"{' or '.join(SITE_KINDS)}, for rows without a kind column.")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Survey, team or campaign.")] = None,
    crs: Annotated[
        str | None, typer.Option(help="EPSG code or 'UTM 34N' if not in the file.")
    ] = None,
    country: Annotated[str | None, typer.Option(help="ISO3 of the surveyed country.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate only; store nothing.")
    ] = False,
    include_tracks: Annotated[bool, typer.Option(help="GPX: track points are sites too.")] = False,
    empty_values: Annotated[
        str | None,
        typer.Option(help="Comma-separated 'no answer' words replacing the default list."),
    ] = None,
    restricted: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated attribute columns whose values are restricted (shown to "
            "admins and authorities in scope only), e.g. workers,armed_group; the other "
            "attribute columns become public. Unset: every attribute stays restricted."
        ),
    ] = None,
    target: Annotated[
        str, typer.Option(help="sites (survey files), zones, routes or actors (as POST /uploads).")
    ] = "sites",
    zone_set: Annotated[str | None, typer.Option(help="--target zones: the set's name.")] = None,
    zone_type: Annotated[str | None, typer.Option(help="--target zones: the zone type.")] = None,
    valid_from: Annotated[
        str | None, typer.Option(help="--target zones: first valid day (YYYY-MM-DD).")
    ] = None,
    valid_to: Annotated[
        str | None, typer.Option(help="--target zones: last valid day (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Import survey files, each in its own transaction, with the same checks as POST /uploads."""
    if target not in TARGETS:
        raise _fail(f"--target must be one of {', '.join(TARGETS)}")
    try:
        fields = TargetFields(
            target,
            zone_set,
            zone_type,
            dt.date.fromisoformat(valid_from) if valid_from else None,
            dt.date.fromisoformat(valid_to) if valid_to else None,
        )
    except ValueError as error:
        raise _fail(f"--valid-from/--valid-to: {error}") from None
    if kind is not None and kind not in SITE_KINDS:
        raise _fail(f"--kind must be one of {', '.join(SITE_KINDS)}")
    settings = Settings()
    caller = Caller(role=ADMIN, name=f"cli:{getpass.getuser()}")
    table = Table("file", "format", "rows", "kept", "rejected", "new sites", "matched", "upload")
    failures = 0
    with database(settings) as (_, session), Progress(console=err) as progress:
        boundaries = BoundaryCache().current(session)
        if boundaries is None:
            raise _fail("no boundaries loaded: run `borderlens borders load` first")
        task = progress.add_task("importing", total=len(files) * 100)
        for index, path in enumerate(files):
            data = path.read_bytes()

            # The same progress the upload page shows (app.services.upload_progress).
            def show(
                stage: str,
                fraction: float,
                _rows: int | None,
                name: str = path.name,
                at: int = index,
            ) -> None:
                progress.update(
                    task, completed=(at + fraction) * 100, description=f"{name}: {stage}"
                )

            step = Tracker(show, rows_estimate=estimate_rows(data, path.name))
            request = UploadRequest(
                data=data,
                filename=path.name,
                kind=kind,
                source=source,
                crs=crs,
                country=country.upper() if country else None,
                include_tracks=include_tracks,
                dry_run=dry_run,
                empty_values=empty_values_from_text(empty_values) if empty_values else None,
                restricted_columns=scopes.parse_columns(restricted),
            )
            try:
                outcome = (
                    ingest(session, boundaries, settings, request, caller, progress=step)
                    if target == "sites"
                    else dispatch(fields, session, boundaries, settings, request, caller)
                )
            except (AppError, GeoError) as error:
                session.rollback()
                failures += 1
                detail = error.detail if isinstance(error, AppError) else error.message
                table.add_row(path.name, "-", "-", "-", "-", "-", "-", f"[red]{detail}[/red]")
                continue
            c = outcome.report["counts"]
            status = outcome.upload_id or "dry run"
            if "repeat" in outcome.report:
                status = f"already received ({outcome.upload_id})"
            table.add_row(
                path.name,
                outcome.report["upload"]["format"],
                str(c["rows"]),
                str(c["accepted"]),
                str(c["rejected"]),
                str(c.get("sites_created", "-")),
                str(c.get("sites_matched", "-")),
                status,
            )
    console.print(table)
    if failures:
        raise typer.Exit(code=1)


@cli.command("export")
def export(
    package: Annotated[
        Path, typer.Option("--package", help="The GeoPackage to write (offline package).")
    ],
    kind: Annotated[str | None, typer.Option(help="Site kinds, comma-separated.")] = None,
    mineral: Annotated[str | None, typer.Option(help="Minerals, comma-separated.")] = None,
    country: Annotated[str | None, typer.Option(help="ISO3 codes, comma-separated.")] = None,
    border: Annotated[str | None, typer.Option(help="A border pair (CAF-CMR) or ISO3.")] = None,
    within_km: Annotated[float | None, typer.Option(help="Geodesic km to the border.")] = None,
    q: Annotated[str | None, typer.Option(help="Search names and aliases.")] = None,
    filter: Annotated[str | None, typer.Option(help="CQL2 text filter on the sites.")] = None,
    restricted: Annotated[
        bool, typer.Option(help="Include restricted site values (admin); off: public values.")
    ] = False,
) -> None:
    """Write the offline package (sites, observations, borders, countries, distance bands,
    clusters, zones, QGIS styles) of the sites matching the filters, as GET /package does."""
    from app.api import params
    from app.api.core import parse_context
    from app.api.explore import FILTER_PARAMETERS
    from app.collections import sites as site_collection
    from app.collections.base import ReadContext
    from app.queries import ANONYMOUS
    from app.services import package as package_service

    given = {
        "kind": kind,
        "mineral": mineral,
        "country": country,
        "border": border,
        "within_km": None if within_km is None else repr(within_km),
        "q": q,
        "filter": filter,
    }
    items = [(name, value) for name, value in given.items() if value is not None]
    settings = Settings()
    caller = Caller(role=ADMIN, name=f"cli:{getpass.getuser()}") if restricted else ANONYMOUS
    with database(settings) as (_, session):
        boundaries = BoundaryCache().current(session)
        if boundaries is None:
            raise _fail("no boundaries loaded: run `borderlens borders load` first")
        try:
            values = params.parse_query(items, FILTER_PARAMETERS, parse_context(session))
            query = site_collection.PROVIDER.parse(params.feature_query(values), values)
            chosen = values.get("border")
            written = package_service.write_package(
                ReadContext(session, caller, settings.public_url or "http://localhost"),
                boundaries,
                query,
                "&".join(f"{name}={value}" for name, value in items),
                within_km=values.get("within_km"),
                border_pairs=chosen.pairs if chosen else (),
            )
        except AppError as error:
            raise _fail(error.detail) from error
    try:
        shutil.move(written.path, package)
    finally:
        written.close()
    table = Table("layer", "features")
    for layer, count in written.counts.items():
        table.add_row(layer, f"{count:,}")
    console.print(table)
    console.print(f"written: {package}")


@keys_cli.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin, researcher or authority.")],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")],
    countries: Annotated[
        str | None,
        typer.Option(
            help="Scope, ISO3 codes comma-separated: an authority reads restricted values "
            "there only; a researcher writes there only."
        ),
    ] = None,
    expires: Annotated[
        dt.datetime | None,
        typer.Option(help="When the key stops working (UTC), e.g. 2027-06-30T00:00:00."),
    ] = None,
) -> None:
    """Create an API key; the key is printed once and never stored."""
    scope = [c.strip().upper() for c in countries.split(",") if c.strip()] if countries else []
    expires_at = expires.replace(tzinfo=dt.UTC) if expires and expires.tzinfo is None else expires
    try:
        with database(Settings()) as (_, session):
            created = key_service.create_key(
                session, name=name, role=role, countries=scope, expires_at=expires_at
            )
    except AppError as error:
        raise _fail(error.detail) from error
    err.print(f"created {created.role} key #{created.id} for {created.name!r}; store it now:")
    print(created.key)  # the one place the secret is shown: stdout, for scripts


@keys_cli.command("list")
def keys_list() -> None:
    """List keys (prefix, role, scope, state); secrets are not stored."""
    with database(Settings()) as (_, session):
        records = key_service.list_keys(session)
    table = Table("id", "prefix", "name", "role", "countries", "created", "expires", "revoked")
    for r in records:
        table.add_row(
            str(r.id),
            r.prefix,
            r.name,
            r.role,
            ",".join(r.countries),
            str(r.created_at),
            str(r.expires_at or ""),
            str(r.revoked_at or ""),
        )
    console.print(table)


@keys_cli.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="The key, or its 8-letter prefix.")],
) -> None:
    """Revoke a key: it answers 401 from now on."""
    try:
        with database(Settings()) as (_, session):
            key_service.revoke_key(session, prefix)
    except AppError as error:
        raise _fail(error.detail) from error
    console.print("revoked")


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
        raise _fail(error.detail) from error
    if not ensure_assets(settings.cache_dir):
        raise _fail("map assets could not be fetched (is npm installed?)")
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
        raise _fail(str(error)) from error
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
        raise _fail(f"missing packages; run: sudo apt-get update && sudo {' '.join(command)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(command, check=True, env=env)


def main() -> None:
    cli()


@peers_cli.command("add")
def peers_add(
    url: Annotated[str, typer.Argument(help="The peer's base URL (its landing page).")],
    key: Annotated[str | None, typer.Option(help="An API key the peer gave this node.")] = None,
    collections: Annotated[
        str, typer.Option(help="Collections to pull, comma-separated.")
    ] = "sites",
) -> None:
    """Register (or update) a peer node to pull from."""
    wanted = [c.strip() for c in collections.split(",") if c.strip()]
    try:
        with database(Settings()) as (_, session):
            peer_id = federation.add_peer(session, url, key, wanted)
    except AppError as error:
        raise _fail(error.detail) from error
    console.print(f"peer #{peer_id}: {url.rstrip('/')} ({', '.join(wanted)})")


@peers_cli.command("list")
def peers_list() -> None:
    """List peers, when each was last synced, and the last error."""
    with database(Settings()) as (_, session):
        peers = federation.list_peers(session)
    table = Table("id", "url", "collections", "key", "last synced", "last error")
    for p in peers:
        synced = p.last_synced_at.isoformat(timespec="seconds") if p.last_synced_at else "-"
        key = "yes" if p.api_key else "no"
        table.add_row(str(p.id), p.url, ",".join(p.collections), key, synced, p.last_error or "")
    console.print(table)


@peers_cli.command("remove")
def peers_remove(url: Annotated[str, typer.Argument(help="The peer's base URL.")]) -> None:
    """Forget a peer and the features shared by it."""
    try:
        with database(Settings()) as (_, session):
            federation.remove_peer(session, url)
    except AppError as error:
        raise _fail(error.detail) from error
    console.print(f"removed {url}")


@peers_cli.command("sync")
def peers_sync(
    page_size: Annotated[int, typer.Option(min=1, max=10_000, help="Features per page.")] = 500,
) -> None:
    """Pull what changed on every peer since the last sync (resumes a sync that stopped)."""
    settings = Settings()
    failed = False
    with database(settings) as (url, session):
        session.close()
        engine = make_engine(url, pool_size=2)
        try:
            results = federation.sync_all(make_sessionmaker(engine), settings, page_size)
        finally:
            engine.dispose()
    for result in results:
        if isinstance(result, federation.PeerError):
            failed = True
            err.print(f"[red]error:[/red] {result.detail}")
        else:
            console.print(
                f"{result.peer} {result.collection}: {result.features} features in "
                f"{result.pages} pages, {result.reviews} to review"
            )
    if failed:
        raise typer.Exit(code=1)
