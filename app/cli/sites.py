"""Sites in and out: ``borderlens import`` and ``borderlens export``."""

from __future__ import annotations

import datetime as dt
import getpass
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from app.cli.common import cli, console, database, err, fail
from app.errors import AppError
from app.queries import Caller
from app.roles import ADMIN
from app.services import scopes
from app.services.boundary_state import BoundaryCache
from app.services.ingest import UploadRequest, ingest
from app.services.upload_progress import Tracker, estimate_rows
from app.services.upload_targets import TARGETS, TargetFields, dispatch
from app.settings import Settings
from geo.errors import GeoError
from geo.vocab import SITE_KINDS, empty_values_from_text


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
        raise fail(f"--target must be one of {', '.join(TARGETS)}")
    try:
        fields = TargetFields(
            target,
            zone_set,
            zone_type,
            dt.date.fromisoformat(valid_from) if valid_from else None,
            dt.date.fromisoformat(valid_to) if valid_to else None,
        )
    except ValueError as error:
        raise fail(f"--valid-from/--valid-to: {error}") from None
    if kind is not None and kind not in SITE_KINDS:
        raise fail(f"--kind must be one of {', '.join(SITE_KINDS)}")
    settings = Settings()
    caller = Caller(role=ADMIN, name=f"cli:{getpass.getuser()}")
    table = Table("file", "format", "rows", "kept", "rejected", "new sites", "matched", "upload")
    failures = 0
    with database(settings) as (_, session), Progress(console=err) as progress:
        boundaries = BoundaryCache().current(session)
        if boundaries is None:
            raise fail("no boundaries loaded: run `borderlens borders load` first")
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
            raise fail("no boundaries loaded: run `borderlens borders load` first")
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
            raise fail(error.detail) from error
    try:
        shutil.move(written.path, package)
    finally:
        written.close()
    table = Table("layer", "features")
    for layer, count in written.counts.items():
        table.add_row(layer, f"{count:,}")
    console.print(table)
    console.print(f"written: {package}")
