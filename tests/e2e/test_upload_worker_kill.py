"""A real ``borderlens worker`` killed with SIGKILL in the middle of a 200 000-row upload job:
the job is marked failed (the reaper sees its advisory lock released with the dead
connection), nothing of the upload is stored, and sending the file again succeeds."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from app.services import keys as key_service
from bench.bench_read_survey import kobo_csv
from tests.e2e.conftest import LiveServer
from tests.e2e.test_upload_atomicity import WRITING_OBSERVATIONS
from tests.e2e.test_upload_pages_browser import BORDERLENS, worker_env

pytestmark = pytest.mark.slow

ROWS = 200_000  # the size the page test sends (test_upload_pages_browser)
TABLES = ("uploads", "sites", "observations", "site_border_distances")


def counts(url: str) -> dict[str, int]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # type: ignore[index]


def start_worker(server: LiveServer) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [BORDERLENS, "worker"],
        env=worker_env(server),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the worker finishes its current job), then SIGKILL if it is still busy."""
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout=30)


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.timeout(1800)  # two ingests of the file on a shared 2-core machine
def test_kill_9_of_the_worker_fails_the_job_and_leaves_nothing(
    live_server: LiveServer, tmp_path: Path
) -> None:
    with live_server.sessions() as session:
        key = key_service.create_key(session, name="Kill test", role="researcher", countries=[])
    auth = {"Authorization": f"Bearer {key.key}"}
    data = kobo_csv(ROWS, seed=9)
    url = live_server.settings.database_url or ""
    before = counts(url)
    http = httpx.Client(base_url=live_server.url, headers=auth, timeout=120)

    def post() -> str:
        started = time.monotonic()
        response = http.post("/uploads", files={"file": ("kobo_big.csv", data, "text/csv")})
        assert response.status_code == 202, response.text
        assert time.monotonic() - started < 60, "answered without processing the file"
        return str(response.headers["Location"]).rsplit("/", 1)[1]

    worker = start_worker(live_server)
    try:
        job = post()
        status = lambda: http.get(f"/uploads/{job}").json()  # noqa: E731
        # Killed once it is writing the observations: the upload row and its new sites are
        # already written inside its transaction.
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as watch:
            watch.autocommit = True
            wait_for(lambda: watch.execute(WRITING_OBSERVATIONS).fetchone(), 900, "the writes")
        assert status()["state"] == "running" and status()["stage"] == "storing"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        failed = wait_for(
            lambda: (s := status())["state"] != "running" and s, 120, "the job to be reaped"
        )
        assert failed["state"] == "failed", failed
        assert failed["problem"]["code"] == "worker_lost"
        assert counts(url) == before, "nothing of the killed job is stored"
    finally:
        if worker.poll() is None:
            worker.kill()

    # What autovacuum may do next (it did in CI): vacuum the killed rows away without giving
    # the pages back, so the planner believes `sites` empty while it is large. Plans made on
    # that (the foreign-key checks of the resend) once read a whole index per row.
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as vacuum:
        vacuum.autocommit = True
        for table in ("sites", "observations", "site_border_distances"):
            vacuum.execute(f"VACUUM (TRUNCATE false) {table}")
    worker = start_worker(live_server)
    try:
        again = post()
        done = wait_for(
            lambda: (
                (s := http.get(f"/uploads/{again}").json())["state"] in ("done", "failed") and s
            ),
            900,
            "the resent job",
        )
        assert done["state"] == "done", done
        assert done["upload"] and done["rows_read"] == ROWS
        report = http.get(f"/uploads/{done['upload']}").json()
        assert "repeat" not in report, "the killed attempt left no upload behind"
        after = counts(url)
        assert after["uploads"] == before["uploads"] + 1
        assert after["observations"] - before["observations"] == report["counts"]["observations"]
    finally:
        stop(worker)
