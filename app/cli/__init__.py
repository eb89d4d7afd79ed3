"""The ``borderlens`` command: the same services the API calls, from a terminal.

One module per group of commands; each registers its commands on :data:`common.cli`.
"""

from __future__ import annotations

from app.cli import service, sites
from app.cli.borders import borders_cli
from app.cli.common import cli
from app.cli.db import db_cli
from app.cli.keys import keys_cli
from app.cli.peers import peers_cli

cli.add_typer(borders_cli, name="borders")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(db_cli, name="db")
cli.add_typer(peers_cli, name="peers")

__all__ = ["cli", "main", "service", "sites"]


def main() -> None:
    cli()
