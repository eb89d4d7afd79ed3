"""The PostgreSQL server the tests use: the embedded cluster, or one given by URL.

``BORDERLENS_TEST_DATABASE_URL`` (a URL whose user may create databases) points the suite at
an existing server; unset, the suite starts its own private cluster, as ``serve`` does.
"""

from __future__ import annotations

import os
import re
from typing import Protocol

import psycopg
from sqlalchemy.engine import make_url

from app.db.embedded import EmbeddedCluster
from app.settings import PROJECT_ROOT

TEST_CLUSTER_ROOT = PROJECT_ROOT / ".borderlens" / "test-cluster"


class Server(Protocol):
    def url(self, database: str) -> str: ...
    def create_database(self, database: str, *, template: str | None = None) -> None: ...
    def drop_database(self, database: str) -> None: ...
    def stop(self) -> None: ...


class ExternalServer:
    def __init__(self, url: str) -> None:
        self._url = make_url(url).set(drivername="postgresql+psycopg")

    def url(self, database: str) -> str:
        return self._url.set(database=database).render_as_string(hide_password=False)

    def _admin(self) -> psycopg.Connection:
        libpq = self._url.set(drivername="postgresql", database="postgres")
        return psycopg.connect(libpq.render_as_string(hide_password=False), autocommit=True)

    def create_database(self, database: str, *, template: str | None = None) -> None:
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", database)
        with self._admin() as conn:
            clause = f" TEMPLATE {template}" if template else ""
            conn.execute(f"CREATE DATABASE {database}{clause}")
        with psycopg.connect(self.url(database).replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def drop_database(self, database: str) -> None:
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", database)
        with self._admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")

    def stop(self) -> None:
        return None


def start_server() -> Server:
    url = os.environ.get("BORDERLENS_TEST_DATABASE_URL")
    if url:
        return ExternalServer(url)
    cluster = EmbeddedCluster(TEST_CLUSTER_ROOT)
    cluster.start("postgres")
    return cluster
