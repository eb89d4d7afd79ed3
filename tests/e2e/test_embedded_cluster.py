"""The embedded PostgreSQL cluster as a real process: its log is its owner's alone and holds no
value a failed statement carried; its memory is modest; after ``serve`` is killed with
SIGKILL the next ``serve`` adopts the cluster and stops it when it exits."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from app.db.embedded import SHARED_BUFFERS_MAX_MB, EmbeddedCluster
from app.settings import PROJECT_ROOT
from tests.e2e.test_cli_serve import BORDERLENS, free_port, port_open, wait_healthy

pytestmark = pytest.mark.slow

SECRETS = ("s3cret-CAF-4471", "hidden-claimant-9921", "7777.125", "restricted-note-0456")


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "borderlens-data"
    directory.mkdir()
    (directory / "cache").symlink_to(PROJECT_ROOT / ".borderlens" / "cache")
    yield directory
    cluster = EmbeddedCluster(directory)
    for pid in postmasters_of(cluster.pgdata):  # a failed test's leftover: immediate stop
        os.kill(pid, signal.SIGQUIT)
    shutil.rmtree(cluster.root, ignore_errors=True)


def postmasters_of(pgdata: Path) -> list[int]:
    """Pids of the postgres processes started with ``-D pgdata`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"postgres") and str(pgdata).encode() in argv:
            found.append(int(entry.name))
    return found


def test_log_is_private_and_holds_no_statement_values(data_dir: Path) -> None:
    cluster = EmbeddedCluster(data_dir)
    url = cluster.start("leaktest")
    try:
        libpq = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(libpq, autocommit=True) as conn:
            shared = conn.execute(
                "SELECT setting::int * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'"
            ).fetchone()
            assert shared is not None and shared[0] <= SHARED_BUFFERS_MAX_MB
            conn.execute(
                "CREATE TABLE sites (id int PRIMARY KEY, name text NOT NULL, "
                "restricted text CHECK (restricted NOT LIKE '%secret%'), accuracy_m float8)"
            )
            conn.execute("INSERT INTO sites VALUES (1, 'ok', 'fine', 1.0)")
            failing = [
                # COPY with a value of the wrong type: the ERROR itself quotes it
                ("COPY", f"1\tname\tx\t{SECRETS[0]}\n"),
                # a CHECK violation: DETAIL "Failing row contains (...)"
                ("INSERT", (2, "x", f"secret {SECRETS[1]}", 1.0)),
                # NOT NULL violation with bound parameters
                ("INSERT", (3, None, SECRETS[3], float(SECRETS[2]))),
                # unique violation: DETAIL "Key (id)=(1) already exists"
                ("INSERT", (1, SECRETS[3], "x", 1.0)),
                # a type error on a bound parameter
                ("CAST", SECRETS[0]),
            ]
            for kind, values in failing:
                with pytest.raises(psycopg.Error):
                    if kind == "COPY":
                        with conn.cursor().copy("COPY sites FROM STDIN") as copy:
                            copy.write(str(values))
                    elif kind == "CAST":
                        conn.execute("SELECT %s::text::int", (values,))
                    else:
                        conn.execute("INSERT INTO sites VALUES (%s, %s, %s, %s)", values)
    finally:
        cluster.stop()
    log_text = cluster.log_file.read_text(errors="replace")
    assert "database system is ready to accept connections" in log_text, "the log is written"
    for secret in (*SECRETS, "Failing row", "COPY sites"):
        assert secret not in log_text, secret
    assert stat.S_IMODE(cluster.log_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(cluster.log_file.stat().st_mode) == 0o600
    owner = cluster.account.pw_uid if cluster.account else os.getuid()
    assert cluster.log_file.stat().st_uid == owner == cluster.log_dir.stat().st_uid


def _env(data_dir: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BORDERLENS_DATABASE_URL")
    }
    return env | {
        "BORDERLENS_DATA_DIR": str(data_dir),
        "BORDERLENS_BOUNDARY_SOURCE": "natural-earth-10m",
        "BORDERLENS_MAP_TILES": "none",
    }


def test_serve_after_sigkill_adopts_the_cluster_and_stops_it(data_dir: Path) -> None:
    env = _env(data_dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [BORDERLENS, "serve", "--port", str(port)]
    cluster = EmbeddedCluster(data_dir)

    first = subprocess.Popen(command, env=env)
    try:
        wait_healthy(first, url)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    orphans = postmasters_of(cluster.pgdata)
    assert orphans, "SIGKILL leaves the cluster running (pg_ctl daemonised it)"
    owner = json.loads(cluster.owner_file.read_text())
    assert owner["pid"] == first.pid and owner["postmaster_pid"] in orphans

    second = subprocess.Popen(command, env=env)
    try:
        wait_healthy(second, url)
        assert postmasters_of(cluster.pgdata) == orphans, "the same cluster, adopted"
        owner = json.loads(cluster.owner_file.read_text())
        assert owner["pid"] == second.pid, "the new serve owns it now"
        # A command run next to serve reuses the cluster and leaves it to its owner.
        subprocess.run(
            [BORDERLENS, "keys", "list"], env=env, check=True, capture_output=True, timeout=120
        )
        assert postmasters_of(cluster.pgdata) == orphans
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=120) == 0
    cluster_port = json.loads(cluster.state_file.read_text())["port"]
    deadline = time.monotonic() + 30
    while postmasters_of(cluster.pgdata) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert postmasters_of(cluster.pgdata) == [], "no postgres of this data dir remains"
    assert not port_open(cluster_port)
    assert not cluster.owner_file.exists()


def test_a_cluster_borderlens_did_not_start_is_left_running(data_dir: Path) -> None:
    """Started by hand (no owner record): reused, never stopped by borderlens."""
    cluster = EmbeddedCluster(data_dir)
    cluster.start()
    cluster.owner_file.unlink()  # as if someone had started it with pg_ctl
    cluster.started_here = False
    running = postmasters_of(cluster.pgdata)
    other = EmbeddedCluster(data_dir)
    other.start()
    other.stop()
    assert postmasters_of(cluster.pgdata) == running, "not ours: left running"
    cluster.started_here = True
    cluster.stop()
    assert postmasters_of(cluster.pgdata) == []
