"""Rate limits shared across processes: two real uvicorn servers counting in one Redis
(127.0.0.1:6379) spend one budget per key; with memory storage each would have its own."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from app.db.engine import make_engine, make_sessionmaker
from app.services import keys as key_service
from app.settings import PROJECT_ROOT

REDIS_URL = "redis://127.0.0.1:6379/0"
LIMIT = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def start(database_url: str, cache_dir: Path, storage: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BORDERLENS_DATA_DIR": str(cache_dir),
        "BORDERLENS_BOUNDARY_SOURCE": "natural-earth-10m",
        "BORDERLENS_RATE_LIMIT_PER_KEY": f"{LIMIT}/minute",
        "BORDERLENS_RATE_LIMIT_ANONYMOUS": "none",
        "BORDERLENS_RATE_LIMIT_STORAGE_URI": storage,
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app_from_env"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT)
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, "the server exited"
        assert time.monotonic() < deadline, "the server did not start"
        try:
            if get(port, "/health") == 200:
                return process, port
        except OSError:
            time.sleep(0.2)


@pytest.fixture(scope="module")
def database(database_copy: Callable[[str], str]) -> str:
    return database_copy("limits")


@pytest.fixture
def key(database: str) -> Iterator[key_service.CreatedKey]:
    engine = make_engine(database, pool_size=1)
    with make_sessionmaker(engine)() as session:
        created = key_service.create_key(session, name="limits", role="researcher", countries=[])
    engine.dispose()
    # Key ids restart in every database copy: forget counters an earlier run left for this id.
    store = redis.Redis.from_url(REDIS_URL)
    for name in store.scan_iter(match=f"*borderlens/key:{created.id}/*"):
        store.delete(name)
    yield created


@pytest.mark.parametrize(("storage", "shared"), [(REDIS_URL, True), ("memory://", False)])
def test_two_processes_spend_one_budget_through_redis(
    database: str, cache_dir: Path, key: key_service.CreatedKey, storage: str, shared: bool
) -> None:
    servers = [start(database, cache_dir, storage) for _ in range(2)]
    try:
        headers = {"Authorization": f"Bearer {key.key}"}
        statuses = [get(port, "/conformance", headers) for _ in range(15) for _, port in servers]
    finally:
        for process, _ in servers:
            process.kill()  # SIGKILL: nothing to flush that this test reads
            process.wait(timeout=30)
    if shared:
        assert statuses.count(200) == LIMIT and statuses.count(429) == 30 - LIMIT
        assert statuses[:LIMIT] == [200] * LIMIT  # the budget runs out, then only 429
    else:
        assert statuses.count(200) == 30  # 15 each: under the limit of each process
