"""Engine and session factory; the database URL comes from settings or the embedded cluster."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from app.db.embedded import EmbeddedCluster
from app.db.replicas import ReadRouter
from app.settings import Settings


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The configured URL, or the embedded cluster's (started for the duration, if we start it)."""
    if settings.database_url:
        yield settings.database_url
        return
    cluster = EmbeddedCluster(settings.data_dir)
    url = cluster.start()
    try:
        yield url
    finally:
        cluster.stop()


def resolve_database_url(settings: Settings) -> str:
    """The configured URL, or the embedded cluster's, started if needed and left running."""
    if settings.database_url:
        return settings.database_url
    return EmbeddedCluster(settings.data_dir).start()


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine whose statements are each planned for their own parameter values.

    psycopg prepares a statement on the server once a connection has run it five times
    (``prepare_threshold``), and PostgreSQL then plans a prepared statement once for any
    values (a generic plan) when that plan looks no dearer. On skewed columns the generic
    estimate can be absurd: with every site of one status, ``status <> $2`` was taken to keep
    one row, so an upload's spatial match (10 000 points against 440 000 sites) became a
    nested loop over every pair, still running after minutes while it held the upload lock
    and every other upload waited (found in the alerts benchmark, the twelfth round).
    ``prepare_threshold=None`` sends each statement unnamed, planned with its values, as
    also suits transaction-mode poolers; only the parse of a statement is repeated."""
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"application_name": "borderlens", "prepare_threshold": None},
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def read_router(primary: Engine, settings: Settings) -> ReadRouter | None:
    """Replicas for read-only requests (``BORDERLENS_DATABASE_REPLICA_URLS``), or None."""
    if not settings.database_replica_urls:
        return None
    autocommit = {"isolation_level": "AUTOCOMMIT"}
    replicas = [
        make_engine(url, pool_size=settings.db_pool_size).execution_options(**autocommit)
        for url in settings.database_replica_urls
    ]
    return ReadRouter(primary.execution_options(**autocommit), replicas)
