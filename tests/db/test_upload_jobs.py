"""The upload job queue on a real PostgreSQL: claims skip locked jobs, a job whose worker's
connection is gone (or whose lease ran out) is reaped, a job runs to done in the same
transaction as its upload, and a failing file leaves a failed job with its problem."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from app.db import upload_jobs as job_repo
from app.db.engine import make_engine, make_sessionmaker
from app.queries import Caller
from app.services import upload_jobs
from app.services.boundary_state import BoundaryCache
from app.services.ingest import UploadRequest
from app.settings import PROJECT_ROOT, Settings
from tests.conftest import settings_for

SAMPLE = PROJECT_ROOT / "data" / "samples" / "mixed_bad_rows.csv"
ADMIN = Caller(role="admin", name="test admin")


@pytest.fixture
def queue(
    database_copy: Callable[[str], str], cache_dir: Path
) -> Iterator[tuple[Engine, sessionmaker[Session], Settings]]:
    url = database_copy("jobs")
    engine = make_engine(url, pool_size=4)
    yield engine, make_sessionmaker(engine), settings_for(url, cache_dir)
    engine.dispose()


def submit(sessions: sessionmaker[Session], data: bytes, name: str = "s.csv", **kw: object) -> str:
    with sessions() as session:
        job = upload_jobs.submit(session, UploadRequest(data=data, filename=name), ADMIN, **kw)  # type: ignore[arg-type]
    return str(job["id"])


def state(sessions: sessionmaker[Session], public_id: str) -> dict[str, object]:
    with sessions() as session:
        return upload_jobs.status(session, ADMIN, public_id)


def test_claims_skip_a_job_another_worker_is_taking(
    queue: tuple[Engine, sessionmaker[Session], Settings],
) -> None:
    engine, sessions, _ = queue
    first = submit(sessions, b"a,b\n1,2\n")
    second = submit(sessions, b"a,b\n3,4\n")
    with engine.connect() as taking:
        taking.begin()
        taking.execute(
            text("SELECT 1 FROM upload_jobs WHERE public_id = :p FOR UPDATE"), {"p": first}
        )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as other:
            claimed = job_repo.claim(other, "other", 60)
            assert claimed is not None and claimed["public_id"] == second
            assert job_repo.claim(other, "other", 60) is None, "the first is locked, skipped"
            job_repo.release(other, claimed["id"])
        taking.rollback()


def test_a_job_whose_worker_is_gone_is_reaped(
    queue: tuple[Engine, sessionmaker[Session], Settings],
) -> None:
    engine, sessions, _ = queue
    alive_id = submit(sessions, b"x,y\n1,2\n")
    dead_id = submit(sessions, b"x,y\n3,4\n")
    alive = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    dead = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    assert job_repo.claim(alive, "alive", 60)["public_id"] == alive_id  # type: ignore[index]
    assert job_repo.claim(dead, "dead", 60)["public_id"] == dead_id  # type: ignore[index]
    assert state(sessions, dead_id)["state"] == "running", "its lock is held"
    dead.invalidate()  # the connection is closed, as when the worker's process is killed
    dead.close()
    for _ in range(100):  # the server ends the backend as soon as it reads the closed socket
        lost = state(sessions, dead_id)
        if lost["state"] != "running":
            break
        time.sleep(0.05)
    assert lost["state"] == "failed"
    assert lost["problem"]["code"] == "worker_lost"  # type: ignore[index]
    assert state(sessions, alive_id)["state"] == "running"
    # A worker that still holds its lock but stopped beating (hung) loses the job at lease end.
    alive.execute(text("UPDATE upload_jobs SET lease_until = now() - interval '1 s'"))
    assert state(sessions, alive_id)["state"] == "failed"
    alive.close()


def test_a_job_runs_to_done_with_its_upload_and_correction_link(
    queue: tuple[Engine, sessionmaker[Session], Settings],
) -> None:
    engine, sessions, settings = queue
    data = SAMPLE.read_bytes()
    first = submit(sessions, data, SAMPLE.name)
    assert state(sessions, first)["state"] == "queued"
    assert upload_jobs.run_one(engine, sessions, BoundaryCache(), settings, "test")
    done = state(sessions, first)
    assert done["state"] == "done" and done["progress"] == 1.0
    assert done["rows_read"] == 16
    upload = str(done["upload"])
    assert upload.startswith("UP-")
    with sessions() as session:
        stored = session.execute(
            text("SELECT counts FROM uploads WHERE public_id = :p"), {"p": upload}
        ).scalar_one()
        data_left = session.execute(
            text("SELECT data FROM upload_jobs WHERE public_id = :p"), {"p": first}
        ).scalar_one()
    assert stored["rejected"] == 10 and data_left is None, "the file is dropped once done"
    with sessions() as session:
        started, finished, received = session.execute(
            text(
                "SELECT j.started_at, j.finished_at, "
                "(u.report -> 'upload' ->> 'received_at')::timestamptz FROM upload_jobs j "
                "JOIN uploads u ON u.public_id = j.upload_public_id WHERE j.public_id = :p"
            ),
            {"p": first},
        ).one()
    # finished when its upload was stored, not when the upload's transaction began: the job
    # "finished" before its report says the upload was received (found by a helper)
    assert started <= received <= finished

    fixed = b"id,name,longitude,latitude,kind\n9,Comptoir Gbadolite,21.008044,4.282171,comptoir\n"
    second = submit(sessions, fixed, "fixed.csv", corrects=upload)
    assert upload_jobs.run_one(engine, sessions, BoundaryCache(), settings, "test")
    resent = state(sessions, second)
    assert resent["state"] == "done" and resent["corrects"] == upload
    with sessions() as session:
        links = job_repo.correction_links(session, upload)
    assert links == (None, [resent["upload"]])
    assert not upload_jobs.run_one(engine, sessions, BoundaryCache(), settings, "test")


def test_a_file_with_no_usable_row_fails_with_its_problem(
    queue: tuple[Engine, sessionmaker[Session], Settings],
) -> None:
    engine, sessions, settings = queue
    job = submit(sessions, b"name,longitude,latitude,kind\nZero,0,0,mine\n", "zero.csv")
    assert upload_jobs.run_one(engine, sessions, BoundaryCache(), settings, "test")
    failed = state(sessions, job)
    assert failed["state"] == "failed"
    assert failed["problem"]["code"] == "no_usable_rows"  # type: ignore[index]
    with sessions() as session:
        assert session.execute(text("SELECT count(*) FROM uploads")).scalar_one() == 0


def test_the_loop_stops_when_told(queue: tuple[Engine, sessionmaker[Session], Settings]) -> None:
    _, sessions, settings = queue
    job = submit(sessions, SAMPLE.read_bytes(), SAMPLE.name)
    stop = threading.Event()
    loop = threading.Thread(
        target=upload_jobs.run_upload_jobs,
        args=(settings.model_copy(update={"upload_job_poll_s": 0.05}), stop),
    )
    loop.start()
    try:
        for _ in range(600):
            if state(sessions, job)["state"] == "done":
                break
            threading.Event().wait(0.1)
    finally:
        stop.set()
        loop.join(timeout=30)
    assert not loop.is_alive()
    assert state(sessions, job)["state"] == "done"
