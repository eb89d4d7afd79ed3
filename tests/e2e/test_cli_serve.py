"""The README's run command end to end: ``borderlens serve`` with DATABASE_URL unset starts a
private PostGIS cluster, loads boundaries (and the demo), serves, stops the cluster on exit,
and finds its data again on the next start."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from app.db.embedded import EmbeddedCluster
from app.settings import PROJECT_ROOT
from tests.support.sites import BATOURI_CMR, site_feature

BORDERLENS = str(Path(sys.executable).parent / "borderlens")
DEMO_SITES = 30

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str, headers: dict[str, str] | None = None, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/geo+json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wait_healthy(process: subprocess.Popen[bytes], url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, f"serve exited with {process.returncode}"
        try:
            return dict(get_json(f"{url}/health"))
        except OSError:
            time.sleep(0.25)
    raise AssertionError("serve did not become healthy")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def data_dir(tmp_path: Path) -> Any:
    directory = tmp_path / "borderlens-data"
    directory.mkdir()
    # Reuse the checksummed downloads; everything else (the cluster) starts from nothing.
    (directory / "cache").symlink_to(PROJECT_ROOT / ".borderlens" / "cache")
    yield directory
    cluster = EmbeddedCluster(directory)
    shutil.rmtree(cluster.root, ignore_errors=True)


def test_serve_embedded_then_restart_keeps_data(data_dir: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BORDERLENS_DATABASE_URL")
    }
    env |= {
        "BORDERLENS_DATA_DIR": str(data_dir),
        "BORDERLENS_BOUNDARY_SOURCE": "natural-earth-10m",
        "BORDERLENS_MAP_TILES": "none",
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [BORDERLENS, "serve", "--port", str(port), "--demo"]

    first = subprocess.Popen(command, env=env)
    try:
        health = wait_healthy(first, url)
        assert health["status"] == "ok"
        assert health["database"]["postgis"].startswith("3.")
        assert health["boundaries"]["source"] == "natural-earth-10m"
        assert "Natural Earth" in health["boundaries"]["attribution"]
        items = get_json(f"{url}/collections/sites/items")
        assert items["numberMatched"] == DEMO_SITES

        key = subprocess.run(
            [BORDERLENS, "keys", "create", "--role", "researcher", "--name", "restart test"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        created = get_json(
            f"{url}/collections/sites/items",
            headers={"Authorization": f"Bearer {key}"},
            body=site_feature(*BATOURI_CMR, name="survives a restart"),
        )
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(timeout=120)
    cluster_port = json.loads((EmbeddedCluster(data_dir).state_file).read_text())["port"]
    assert not port_open(cluster_port), "the embedded cluster stops with the service"

    second = subprocess.Popen(command, env=env)
    try:
        wait_healthy(second, url)
        items = get_json(f"{url}/collections/sites/items?limit=100")
        assert items["numberMatched"] == DEMO_SITES + 1, "no data lost, demo not loaded twice"
        again = get_json(f"{url}/collections/sites/items/{created['id']}")
        assert again["properties"]["name"] == "survives a restart"
        assert again["properties"]["country"] == "CMR"
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=120) == 0
    assert not port_open(cluster_port), "SIGTERM stops the cluster too"
