"""Reads through a real PostgreSQL streaming replica; a client's own writes read back at once.

A private primary (the embedded cluster, in a temporary root) gets a real standby: a
``pg_basebackup -R`` copy streaming over loopback, started with ``pg_ctl`` as the cluster's
unprivileged owner. The service runs with ``BORDERLENS_DATABASE_REPLICA_URLS`` pointing at it.
Replay on the standby is paused around a write, so where each read went shows in its answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.db import migrations
from app.db.embedded import EmbeddedCluster, ensure_postgres_installed, free_port
from app.db.engine import make_engine
from app.main import create_app
from app.services import boundaries as boundary_service
from app.services import keys as key_service
from app.services.boundary_state import BoundaryCache
from tests.conftest import TEST_CLIENT_HOST, settings_for
from tests.support.sites import BERBERATI_CAF, site_feature

pytestmark = pytest.mark.slow

URL = "/collections/sites/items"


@dataclass
class Pair:
    primary_url: str
    replica_url: str
    key: str

    def replica(self) -> psycopg.Connection:
        return psycopg.connect(self.replica_url.replace("+psycopg", ""), autocommit=True)

    def primary(self) -> psycopg.Connection:
        return psycopg.connect(self.primary_url.replace("+psycopg", ""), autocommit=True)


@pytest.fixture(scope="module")
def pair(cache_dir: Path) -> Iterator[Pair]:
    root = Path(tempfile.mkdtemp(prefix="bl-replica-", dir="/tmp"))
    root.chmod(0o755)  # the cluster's owner must reach the standby's directory
    primary = EmbeddedCluster(root / "primary")
    install = ensure_postgres_installed()
    standby = root / "standby"
    standby.mkdir(mode=0o700)
    log_dir = root / "standby-log"
    log_dir.mkdir(mode=0o700)
    owner = primary.account
    if owner is not None:
        for path in (standby, log_dir):
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def as_owner(argv: list[str], password: str = "") -> None:
        env_prefix = ["env", f"PGPASSWORD={password}"] if password else []
        command = [*env_prefix, *argv]
        if owner is not None:
            command = ["runuser", "-u", owner.pw_name, "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True)

    standby_started = False
    try:
        url = primary.start("borderlens")
        settings = settings_for(url, cache_dir)
        engine = make_engine(url, pool_size=1)
        migrations.upgrade(engine)
        with Session(engine) as session:
            boundary_service.ensure_loaded(session, settings, BoundaryCache())
            key = key_service.create_key(
                session, name="replica test", role="researcher", countries=[]
            ).key
            session.commit()
        engine.dispose()
        parsed = make_url(url)
        port = free_port()
        as_owner(
            [
                install.tool("pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(parsed.port),
                "-U",
                str(parsed.username),
                "-D",
                str(standby),
                "-R",  # standby.signal + primary_conninfo: a streaming replica
                "-X",
                "stream",
                "-c",
                "fast",
            ],
            password=str(parsed.password),
        )
        as_owner(
            [
                install.tool("pg_ctl"),
                "start",
                "-D",
                str(standby),
                "-l",
                str(log_dir / "postgres.log"),
                "-o",
                f"-p {port}",
                "-w",
                "-t",
                "60",
            ]
        )
        standby_started = True
        replica_url = parsed.set(port=port).render_as_string(hide_password=False)
        yield Pair(url, replica_url, key)
    finally:
        if standby_started:
            as_owner([install.tool("pg_ctl"), "stop", "-D", str(standby), "-m", "fast", "-w"])
        primary.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(primary.root, ignore_errors=True)


def wait_for_replay(pair: Pair, lsn: str) -> None:
    deadline = time.monotonic() + 60
    with pair.replica() as conn:
        while not conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[
            0
        ]:  # type: ignore[index]
            assert time.monotonic() < deadline, "the replica never replayed the write"
            time.sleep(0.1)


def test_reads_go_to_the_replica_and_own_writes_to_the_primary(pair: Pair, cache_dir: Path) -> None:
    with pair.replica() as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True  # type: ignore[index]
        sender = None
    with pair.primary() as conn:
        deadline = time.monotonic() + 60
        while sender is None:
            row = conn.execute("SELECT state FROM pg_stat_replication").fetchone()
            sender = row[0] if row and row[0] == "streaming" else None
            assert time.monotonic() < deadline, "the standby never started streaming"
            time.sleep(0.1)

    settings = settings_for(pair.primary_url, cache_dir).model_copy(
        update={"database_replica_urls": [pair.replica_url]}
    )
    with (
        TestClient(create_app(settings), base_url=f"http://{TEST_CLIENT_HOST}") as writer,
        TestClient(create_app(settings), base_url=f"http://{TEST_CLIENT_HOST}") as stranger,
    ):
        with pair.replica() as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
        created = writer.post(
            URL,
            json=site_feature(*BERBERATI_CAF, name="Comptoir R", kind="sales_point"),
            headers={"Authorization": f"Bearer {pair.key}"},
        )
        assert created.status_code == 201, created.text
        lsn = created.headers["x-borderlens-lsn"]
        assert writer.cookies.get("borderlens_lsn") == lsn
        item = f"{URL}/{created.json()['id']}"

        # Replay is paused: the replica lacks the site, the writer reads its write anyway.
        assert writer.get(item).status_code == 200, "read-your-writes went to the primary"
        assert stranger.get(item).status_code == 404, "a plain read went to the replica"
        as_api_client = stranger.get(item, headers={"X-Borderlens-Min-Lsn": lsn})
        assert as_api_client.status_code == 200

        with pair.replica() as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
        wait_for_replay(pair, lsn)
        assert stranger.get(item).status_code == 200, "the replica has it now"
        with pair.replica() as conn:
            readers = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'borderlens'"
            ).fetchone()[0]  # type: ignore[index]
        assert readers >= 1, "the service holds connections to the replica"
        assert stranger.get(item, headers={"X-Borderlens-Min-Lsn": "not an lsn"}).status_code == 200
