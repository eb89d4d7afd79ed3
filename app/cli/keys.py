"""``borderlens keys``: API keys."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from app.cli.common import console, database, err, fail
from app.errors import AppError
from app.services import keys as key_service
from app.settings import Settings

keys_cli = typer.Typer(help="API keys.", no_args_is_help=True)


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
        raise fail(error.detail) from error
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
        raise fail(error.detail) from error
    console.print("revoked")
