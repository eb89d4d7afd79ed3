"""``borderlens db``: the database schema and its upkeep."""

from __future__ import annotations

import typer

from app.cli.common import console, database
from app.db import maintenance, migrations
from app.db.engine import database_url, make_engine
from app.settings import Settings

db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)


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
