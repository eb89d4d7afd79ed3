"""Uploads as jobs: a large upload (or one sent with ``Prefer: respond-async``) is answered
``202 Accepted`` at once with a status resource, ``/uploads/JOB-…``, and processed off the
request by a worker loop (:func:`run_upload_jobs`: ``borderlens worker``, and a thread of
``borderlens serve``).

The queue is a PostgreSQL table (``upload_jobs``, see :mod:`app.db.upload_jobs`) rather than a
task-runner library: the job must share the upload's own transaction (the job is marked done
in the very transaction that stores the upload, so a worker killed at any moment leaves either
a stored upload and a done job, or nothing and a job the reaper marks failed), and the service
already depends on PostgreSQL alone (no broker to install for a field deployment). Celery, RQ
or Dramatiq would add a Redis/RabbitMQ broker and could not commit with the upload.

A job's state is ``queued`` -> ``running`` -> ``done`` | ``failed``. Its progress (stage,
fraction 0..1, rows read) is the same :class:`app.services.upload_progress.Tracker` the CLI's
progress bar shows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.collections.parsing import has_control_characters
from app.db import upload_jobs as job_repo
from app.db.engine import make_engine, make_sessionmaker
from app.db.sites import new_public_ids
from app.errors import (
    AppError,
    Forbidden,
    NotFound,
    ProblemItem,
    ServiceUnavailable,
    Unprocessable,
    problem_for,
)
from app.queries import Caller
from app.services import keys as key_service
from app.services import upload_access
from app.services.boundary_state import BoundaryCache
from app.services.ingest import UploadRequest, ingest, sha256_of
from app.services.upload_outcome import UploadOutcome
from app.services.upload_progress import Tracker, estimate_rows
from app.settings import Settings
from geo.errors import GeoError

log = logging.getLogger(__name__)

JOB_PREFIX: Final = "JOB-"
RESPOND_ASYNC: Final = "respond-async"
WORKER_LOST: Final = {
    "status": 503,
    "code": "worker_lost",
    "title": "Upload not processed",
    "detail": "the worker processing this upload stopped before it finished; nothing was "
    "stored. Send the file again.",
}


def wants_job(settings: Settings, size_bytes: int, prefer: str | None) -> bool:
    """Run this upload as a job: larger than ``upload_async_bytes``, or the client asked
    (RFC 7240 ``Prefer: respond-async``)."""
    asked = RESPOND_ASYNC in {p.split("=")[0].strip().lower() for p in (prefer or "").split(",")}
    return asked or size_bytes > settings.upload_async_bytes


def check_corrects(session: Session, caller: Caller, corrects: str | None) -> None:
    """``corrects`` must name an upload the caller may read (a 422 otherwise)."""
    if corrects is None:
        return
    try:
        upload_access.report(session, caller, corrects)
    except NotFound as error:
        raise Unprocessable(
            f"corrects: no upload {corrects!r} of yours to correct",
            code="unknown_upload",
            items=[ProblemItem("unknown_upload", "not one of your uploads", column="corrects")],
        ) from error


def submit(
    session: Session, request: UploadRequest, caller: Caller, corrects: str | None = None
) -> dict[str, Any]:
    """Queue ``request`` (commits) and return the new job's status document."""
    check_corrects(session, caller, corrects)
    public_id = new_public_ids(1, prefix=JOB_PREFIX)[0]
    job_repo.insert_job(
        session,
        {
            "public_id": public_id,
            "filename": request.filename,
            "size_bytes": len(request.data),
            "data": request.data,
            "options": _options(request, caller),
            "corrects": corrects,
            "api_key_id": caller.key_id,
            "uploader": caller.name or "unknown",
            "role": caller.role or "",
            "rows_estimate": estimate_rows(request.data, request.filename),
        },
    )
    session.commit()
    job = job_repo.get(session, public_id, None)
    assert job is not None
    return status_document(job)


def ingest_now(
    session: Session,
    boundaries: Any,
    settings: Settings,
    request: UploadRequest,
    caller: Caller,
    corrects: str | None,
) -> UploadOutcome:
    """A small upload, answered with its report; the correction link (if any) commits in
    the upload's own transaction."""
    check_corrects(session, caller, corrects)
    digest = sha256_of(request.data)

    def link(inner: Session) -> None:
        if corrects is not None:
            job_repo.link_correction(inner, digest, corrects)

    with _before_commit(session, link):
        return ingest(session, boundaries, settings, request, caller)


def status(session: Session, caller: Caller, public_id: str) -> dict[str, Any]:
    """The status document of a job the caller sent (or any job, for an admin)."""
    if has_control_characters(public_id):  # no id holds one; PostgreSQL refuses NUL
        raise NotFound(f"no upload {public_id!r}", code="unknown_upload")
    job_repo.reap(session.connection(), WORKER_LOST)
    job = job_repo.get(session, public_id, upload_access.owner_scope(caller))
    session.commit()
    if job is None:
        raise NotFound(f"no upload {public_id!r}", code="unknown_upload")
    return status_document(job)


def recent_jobs(session: Session, caller: Caller, limit: int = 50) -> list[dict[str, Any]]:
    job_repo.reap(session.connection(), WORKER_LOST)
    jobs = job_repo.list_recent(session, upload_access.owner_scope(caller), limit)
    session.commit()
    return [status_document(job) for job in jobs]


def status_document(job: dict[str, Any]) -> dict[str, Any]:
    """``{id, state, stage, progress (0..1), rows_read, estimate: {rows, seconds_left},
    filename, size_bytes, created_at, started_at, finished_at, upload, corrects, problem,
    report (a dry run's), links}``; times ISO 8601 UTC."""
    started, state = job["started_at"], job["state"]
    fraction = float(job["fraction"])
    seconds_left = None
    if state == "running" and started is not None and fraction > 0.01:
        elapsed = (dt.datetime.now(dt.UTC) - started).total_seconds()
        seconds_left = round(elapsed * (1 - fraction) / fraction, 1)
    upload = job["upload_public_id"]
    links = [{"rel": "self", "href": f"/uploads/{job['public_id']}"}]
    if upload:
        links.append({"rel": "related", "href": f"/uploads/{upload}", "title": "the upload"})
    return {
        "id": job["public_id"],
        "state": state,
        "stage": job["stage"],
        "progress": fraction if state != "done" else 1.0,
        "rows_read": job["rows_read"],
        "estimate": {"rows": job["rows_estimate"], "seconds_left": seconds_left},
        "filename": job["filename"],
        "size_bytes": job["size_bytes"],
        "dry_run": bool(job["options"].get("dry_run")),
        "created_at": job["created_at"].isoformat(),
        "started_at": started.isoformat() if started else None,
        "finished_at": job["finished_at"].isoformat() if job["finished_at"] else None,
        "upload": upload,
        "corrects": job["corrects"],
        "problem": job["problem"],
        "report": job["result"],
        "links": links,
    }


def _options(request: UploadRequest, caller: Caller) -> dict[str, Any]:
    return {
        "kind": request.kind,
        "source": request.source,
        "crs": request.crs,
        "country": request.country,
        "column_map": dict(request.column_map) if request.column_map else None,
        "include_tracks": request.include_tracks,
        "dry_run": request.dry_run,
        "empty_values": sorted(request.empty_values) if request.empty_values else None,
        "countries": list(caller.countries),
    }


@contextlib.contextmanager
def _before_commit(session: Session, hook: Callable[[Session], None]) -> Iterator[None]:
    """Run ``hook`` inside ``session``'s transaction just before it commits (ingest commits
    the upload itself; this puts our rows in that same transaction)."""

    def listener(inner: Session) -> None:
        hook(inner)

    event.listen(session, "before_commit", listener)
    try:
        yield
    finally:
        event.remove(session, "before_commit", listener)


# -- the worker ------------------------------------------------------------------------------


def run_upload_jobs(settings: Settings, stop: threading.Event) -> None:
    """Process queued uploads until ``stop`` is set: reap jobs whose worker died, claim the
    oldest queued one, ingest it, repeat; sleep ``upload_job_poll_s`` when idle.

    ``settings.database_url`` must name the database (the CLI resolves the embedded cluster's
    URL first). Any number of these loops may run, in any processes.
    """
    assert settings.database_url, "run_upload_jobs needs settings.database_url"
    engine = make_engine(settings.database_url, pool_size=3)
    sessions = make_sessionmaker(engine)
    worker = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    boundaries = BoundaryCache()
    try:
        while not stop.is_set():
            try:
                with engine.begin() as connection:
                    for lost in job_repo.reap(connection, WORKER_LOST):
                        log.warning("upload job %s: its worker died; marked failed", lost)
                busy = run_one(engine, sessions, boundaries, settings, worker)
            except Exception:  # the database went away: wait and try again, never exit
                log.exception("upload worker: could not reach the database")
                busy = False
            if not busy:
                stop.wait(settings.upload_job_poll_s)
    finally:
        engine.dispose()


def run_one(
    engine: Engine,
    sessions: sessionmaker[Session],
    boundaries: BoundaryCache,
    settings: Settings,
    worker: str,
) -> bool:
    """Claim and run one queued job; False when there was none."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as control:
        job = job_repo.claim(control, worker, settings.upload_job_lease_s)
        if job is None:
            return False
        log.info(
            "upload job %s: %s (%s bytes)", job["public_id"], job["filename"], len(job["data"])
        )
        guard = threading.Lock()
        done = threading.Event()
        beat = threading.Thread(
            target=_heartbeat, args=(control, guard, done, job["id"], settings), daemon=True
        )
        beat.start()
        try:
            _run(control, guard, sessions, boundaries, settings, job)
        finally:
            done.set()
            beat.join()
            job_repo.release(control, job["id"])
    return True


def _heartbeat(
    control: Connection,
    guard: threading.Lock,
    done: threading.Event,
    job_id: int,
    settings: Settings,
) -> None:
    while not done.wait(settings.upload_job_lease_s / 4):
        with guard:
            job_repo.heartbeat(control, job_id, settings.upload_job_lease_s)


def _run(
    control: Connection,
    guard: threading.Lock,
    sessions: sessionmaker[Session],
    boundaries: BoundaryCache,
    settings: Settings,
    job: dict[str, Any],
) -> None:
    job_id, corrects = job["id"], job["corrects"]

    def record(stage: str, fraction: float, rows: int | None) -> None:
        with guard:
            job_repo.set_progress(control, job_id, stage, fraction, rows)

    tracker = Tracker(record, rows_estimate=job["rows_estimate"])
    digest = sha256_of(job["data"])
    with sessions() as session:
        try:
            request, caller = _request(session, job)
            state = boundaries.current(session)
            if state is None:
                raise ServiceUnavailable(
                    "no boundary dataset is loaded yet", code="boundaries_missing"
                )
            with _before_commit(
                session, lambda inner: job_repo.finish_stored(inner, job_id, digest, corrects)
            ):
                outcome = ingest(session, state, settings, request, caller, progress=tracker)
        except (AppError, GeoError) as error:
            session.rollback()
            with guard:
                job_repo.fail(control, job_id, problem_for(error).as_dict())
            return
        except Exception as error:
            session.rollback()
            log.exception("upload job %s failed", job["public_id"])
            with guard:
                job_repo.fail(control, job_id, problem_for(error).as_dict())
            return
    if not outcome.stored:  # a dry run, or a file already received: nothing committed
        with guard:
            job_repo.finish_unstored(
                control,
                job_id,
                outcome.upload_id,
                outcome.report,
                (outcome.report.get("counts") or {}).get("rows"),
            )


def _request(session: Session, job: dict[str, Any]) -> tuple[UploadRequest, Caller]:
    options = job["options"]
    if job["api_key_id"] is not None:
        caller = key_service.caller_for_id(session, job["api_key_id"])
        if caller is None:
            raise Forbidden(
                "the key this upload was sent with has been revoked", code="revoked_key"
            )
    else:
        caller = Caller(
            role=job["role"], name=job["uploader"], countries=tuple(options.get("countries") or ())
        )
    empty = options.get("empty_values")
    request = UploadRequest(
        data=job["data"],
        filename=job["filename"],
        kind=options.get("kind"),
        source=options.get("source"),
        crs=options.get("crs"),
        country=options.get("country"),
        column_map=options.get("column_map"),
        include_tracks=bool(options.get("include_tracks")),
        dry_run=bool(options.get("dry_run")),
        empty_values=frozenset(empty) if empty else None,
    )
    return request, caller
