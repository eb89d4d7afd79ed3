"""What every ``borderlens`` command shares: the top-level command, the consoles, the
database of a command, how a command fails."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from app.db import migrations
from app.db.engine import database_url, make_engine, make_sessionmaker
from app.settings import Settings

cli = typer.Typer(
    help="The ``borderlens`` command: the same services the API calls, from a terminal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

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


def fail(message: str) -> typer.Exit:
    """Print ``message`` as an error; the exit (code 1) to raise."""
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)
