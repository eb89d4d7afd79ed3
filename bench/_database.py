"""Which PostgreSQL a benchmark uses, and leaving the machine as the benchmark found it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from app.db.embedded import EmbeddedCluster
from app.settings import Settings


@contextmanager
def bench_database(
    explicit_url: str | None, database: str, *, fresh: bool = False
) -> Iterator[str]:
    """A SQLAlchemy URL: ``explicit_url``, else ``$DATABASE_URL``, else ``database`` in the
    project's embedded cluster (as ``borderlens serve`` runs it).

    A cluster this call had to start is stopped again on exit, so a benchmark leaves no server
    behind; one that was already running (a ``serve`` in another terminal) is left alone.
    ``fresh`` drops and recreates ``database`` in the embedded cluster first.
    """
    url = explicit_url or os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    cluster = EmbeddedCluster(Settings().data_dir)
    try:
        cluster.start("postgres")
        if fresh:
            cluster.drop_database(database)
        yield cluster.start(database)
    finally:
        cluster.stop()


def libpq(url: str) -> str:
    """The same URL for psycopg (which does not take SQLAlchemy's ``+psycopg`` suffix)."""
    return url.replace("postgresql+psycopg://", "postgresql://")
