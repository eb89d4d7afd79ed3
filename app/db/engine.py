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
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"application_name": "borderlens"},
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
