"""Alembic environment: metadata from app.db.models, URL from the caller or the settings.

The service and the tests run migrations in-process (``app.db.migrations``) and hand over a
connection; the ``alembic`` command line resolves the URL like ``borderlens serve`` does.
"""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import Connection

from app.db.models import Base

config = context.config


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=alembic_helpers.include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    from app.db.engine import make_engine, resolve_database_url
    from app.settings import Settings

    engine = make_engine(resolve_database_url(Settings()))
    with engine.connect() as conn:
        run(conn)
        conn.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
main()
