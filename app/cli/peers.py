"""``borderlens peers``: peer nodes whose changes this node pulls."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from app.cli.common import console, database, err, fail
from app.db.engine import make_engine, make_sessionmaker
from app.errors import AppError
from app.services import federation
from app.settings import Settings

peers_cli = typer.Typer(help="Peer nodes whose changes this node pulls.", no_args_is_help=True)


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
        raise fail(error.detail) from error
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
        raise fail(error.detail) from error
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
