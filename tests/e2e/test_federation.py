"""Two nodes on loopback, each a real ``borderlens serve`` on its own database: B pulls A's
changes feed (``borderlens peers sync``), keeps them as shared sites with their origin,
follows A's edits and retirements, never touches its own sites, resumes a sync killed
half-way without duplicates, and says clearly when A wants a key it does not have."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from app.db.engine import make_engine, make_sessionmaker
from app.queries import Caller
from app.services import keys as key_service
from app.services import site_edits
from app.services.boundary_state import BoundaryCache
from app.services.site_edits import Precondition
from app.services.sites import SiteDraft, create_sites
from tests.conftest import TEST_BOUNDARY_SOURCE

pytestmark = pytest.mark.slow

BORDERLENS = str(Path(sys.executable).parent / "borderlens")
ADMIN = Caller(role="admin", name="tests")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServedNode:
    url: str
    env: dict[str, str]
    sessions: sessionmaker[Session]
    process: subprocess.Popen[bytes]

    def key(self, role: str) -> str:
        with self.sessions() as session:
            return key_service.create_key(session, name=role, role=role, countries=[]).key

    def create(self, names: list[str], lon: float = 20.0, lat: float = 5.0, **kw: Any) -> list[str]:
        with self.sessions() as session:
            boundaries = BoundaryCache().current(session)
            assert boundaries is not None
            drafts = [
                SiteDraft(kind="mine", name=n, lon=lon + i * 0.01, lat=lat, **kw)
                for i, n in enumerate(names)
            ]
            return [c.public_id for c in create_sites(session, boundaries, drafts, ADMIN)]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BORDERLENS, *args], env=self.env, capture_output=True, text=True, timeout=300
        )

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.sessions() as session:
            return session.execute(text(sql), params).scalar_one()


@pytest.fixture
def serve_node(
    database_copy: Callable[[str], str], cache_dir: Path
) -> Iterator[Callable[..., ServedNode]]:
    started: list[ServedNode] = []

    def start(label: str, serve: bool = True, **settings: str) -> ServedNode:
        """A node: a database copy and (``serve``) a real ``borderlens serve`` on it."""
        database_url = database_copy(label)
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "BORDERLENS_DATA_DIR": str(cache_dir),
            "BORDERLENS_BOUNDARY_SOURCE": TEST_BOUNDARY_SOURCE,
            "BORDERLENS_MAP_TILES": "none",
            "BORDERLENS_PEER_SYNC_INTERVAL_S": "0",
            **settings,
        }
        command = [BORDERLENS, "serve", "--port", str(port)] if serve else ["sleep", "3600"]
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 600  # a loaded machine starts slowly
        while serve:
            assert process.poll() is None, "serve exited"
            assert time.monotonic() < deadline, "serve did not start"
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        engine = make_engine(database_url, pool_size=2)
        node = ServedNode(url, env, make_sessionmaker(engine), process)
        started.append(node)
        return node

    yield start
    for node in started:
        node.process.send_signal(signal.SIGTERM)
        node.process.wait(timeout=60)


def shared_items(node: ServedNode, headers: dict[str, str] | None = None) -> dict[str, Any]:
    answer = httpx.get(
        f"{node.url}/collections/shared_sites/items?limit=1000", headers=headers or {}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return {f["properties"]["origin_id"]: f for f in answer.json()["features"]}


def test_sites_edits_and_retirements_flow_from_a_to_b(
    serve_node: Callable[..., ServedNode],
) -> None:
    a = serve_node("fed_a", BORDERLENS_CHANGES_FEED_REQUIRES_KEY="true")
    b = serve_node("fed_b")
    a_key = a.key("authority")
    secret = {"armed_group": "yes"}
    on_a = a.create([f"A site {i}" for i in range(30)], restricted=secret)
    b_own = b.create(["B own far", "B own twin"], lon=21.0)
    # B's twin stands 20 m from A's site 0: the same place, maybe; for people to decide.
    with b.sessions() as session:
        session.execute(
            text(
                "UPDATE sites SET geom = ST_SetSRID(ST_MakePoint(20.00018, 5.0), 4326) "
                "WHERE public_id = :p"
            ),
            {"p": b_own[1]},
        )
        session.commit()
    b_before = b.scalar("SELECT string_agg(feature_json, '' ORDER BY id) FROM sites")

    assert b.cli("peers", "add", a.url, "--key", a_key).returncode == 0
    synced = b.cli("peers", "sync")
    assert synced.returncode == 0, synced.stderr
    assert "30 features" in synced.stdout and "1 to review" in synced.stdout
    items = shared_items(b)
    assert set(items) == set(on_a)
    origin = items[on_a[0]]["properties"]
    assert origin["origin_node"] == a.url and origin["origin_version"] == 1
    assert origin["fetched_at"] and origin["name"] == "A site 0"
    assert "restricted" not in origin  # B's anonymous callers do not see A's restricted data
    admin = {"Authorization": f"Bearer {b.key('admin')}"}
    assert shared_items(b, admin)[on_a[0]]["properties"]["restricted"] == secret
    assert b.scalar("SELECT count(*) FROM shared_site_reviews") == 1

    # An edit and a retirement on A travel; nothing else is sent again.
    with a.sessions() as session:
        boundaries = BoundaryCache().current(session)
        assert boundaries is not None
        site_edits.edit_site(
            session,
            boundaries,
            on_a[1],
            Precondition(any_version=True),
            lambda c: c.draft.__class__(**{**c.draft.__dict__, "name": "Renamed on A"}),
            ADMIN,
        )
        site_edits.retire_site(session, on_a[2], Precondition(any_version=True), "gone", ADMIN)
    again = b.cli("peers", "sync")
    assert again.returncode == 0, again.stderr
    assert "2 features" in again.stdout
    items = shared_items(b)
    assert items[on_a[1]]["properties"]["name"] == "Renamed on A"
    assert items[on_a[1]]["properties"]["origin_version"] == 2
    assert on_a[2] not in items  # retired there: out of the layer here
    assert b.scalar(
        "SELECT retired_at IS NOT NULL FROM shared_sites WHERE origin_id = :p", p=on_a[2]
    )
    # B's own sites: untouched, and still only B's in its sites collection.
    assert b.scalar("SELECT string_agg(feature_json, '' ORDER BY id) FROM sites") == b_before
    own = httpx.get(f"{b.url}/collections/sites/items", timeout=30).json()["features"]
    assert {f["id"] for f in own} == set(b_own)


def test_a_sync_killed_half_way_resumes_without_duplicates(
    serve_node: Callable[..., ServedNode],
) -> None:
    a = serve_node("fed_kill_a")
    b = serve_node("fed_kill_b", serve=False)
    on_a = a.create([f"Many {i}" for i in range(2000)], lon=18.0)
    assert b.cli("peers", "add", a.url).returncode == 0
    process = subprocess.Popen(
        [BORDERLENS, "peers", "sync", "--page-size", "10"],
        env=b.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while b.scalar("SELECT count(*) FROM shared_sites") < 200:
        assert process.poll() is None, "the sync ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    half = b.scalar("SELECT count(*) FROM shared_sites")
    assert 0 < half < 2000
    assert b.scalar("SELECT next_url IS NOT NULL FROM peer_cursors")  # stopped mid-way
    done = b.cli("peers", "sync", "--page-size", "100")
    assert done.returncode == 0, done.stderr
    assert b.scalar("SELECT count(*) FROM shared_sites") == 2000
    assert b.scalar("SELECT count(DISTINCT origin_id) FROM shared_sites") == 2000
    assert set(shared_items_all(b)) == set(on_a)
    assert b.scalar("SELECT next_url IS NULL FROM peer_cursors")
    nothing = b.cli("peers", "sync")
    assert "0 features" in nothing.stdout


def shared_items_all(node: ServedNode) -> set[str]:
    with node.sessions() as session:
        return set(session.execute(text("SELECT origin_id FROM shared_sites")).scalars())


def test_a_node_behind_a_key_it_does_not_have(serve_node: Callable[..., ServedNode]) -> None:
    a = serve_node("fed_key_a", BORDERLENS_CHANGES_FEED_REQUIRES_KEY="true")
    b = serve_node("fed_key_b", serve=False)
    assert b.cli("peers", "add", a.url).returncode == 0
    without = b.cli("peers", "sync")
    assert without.returncode == 1
    assert "needs an API key" in without.stderr and "peers add" in without.stderr
    assert b.cli("peers", "add", a.url, "--key", "blk_aaaaaaaa_" + "x" * 43).returncode == 0
    wrong = b.cli("peers", "sync")
    assert wrong.returncode == 1
    assert "refused" in wrong.stderr and "401" in wrong.stderr
    assert b.scalar("SELECT count(*) FROM shared_sites") == 0
    listed = b.cli("peers", "list")
    assert "401" in listed.stdout  # the last error is kept for the operator
