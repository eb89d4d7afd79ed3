"""``borderlens borders``: boundary datasets and the borders derived from them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from app.cli.common import console, database, fail
from app.db import boundaries as boundary_repo
from app.errors import AppError
from app.services import boundaries as boundary_service
from app.settings import Settings
from geo.errors import GeoError

borders_cli = typer.Typer(help="Boundary datasets and derived borders.", no_args_is_help=True)


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
        raise fail(str(error)) from error
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
        raise fail(error.detail) from error
    except OSError as error:  # no scheduler at that address, workers that could not start
        raise fail(f"Dask: {error}") from error
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
