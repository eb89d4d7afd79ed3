"""Upload jobs: a PostgreSQL-backed queue (``upload_jobs``) and fix-and-resend links
(``upload_corrections``). The SQL only; app.services.upload_jobs decides when each runs.

Claiming uses ``FOR UPDATE SKIP LOCKED`` so any number of workers take distinct jobs without
waiting on one another. A running job is *alive* while its worker holds the session-level
advisory lock ``(JOB_LOCK_NAMESPACE, job id)`` on its control connection and its lease has not
expired; a worker killed with SIGKILL loses its connections, PostgreSQL rolls its upload
transaction back and releases the lock, and :func:`reap` marks the job failed.
"""

from __future__ import annotations

import typing
from typing import Any, Final

import orjson
from sqlalchemy import Connection, Table, insert, select, text
from sqlalchemy.orm import Session

from app.db.models import UploadCorrection, UploadJob

jobs = typing.cast(Table, UploadJob.__table__)
corrections = typing.cast(Table, UploadCorrection.__table__)

# Advisory lock class id, "BlJb"; the key is the job id modulo 2^31 - 1 (the two-key form takes
# int4s; two jobs 2^31 apart are never both running).
JOB_LOCK_NAMESPACE: Final = 0x426C4A62

#: What a status read returns (never the file's bytes).
STATUS_COLUMNS = (
    jobs.c.public_id,
    jobs.c.state,
    jobs.c.filename,
    jobs.c.size_bytes,
    jobs.c.options,
    jobs.c.corrects,
    jobs.c.api_key_id,
    jobs.c.uploader,
    jobs.c.stage,
    jobs.c.fraction,
    jobs.c.rows_read,
    jobs.c.rows_estimate,
    jobs.c.attempts,
    jobs.c.created_at,
    jobs.c.started_at,
    jobs.c.heartbeat_at,
    jobs.c.finished_at,
    jobs.c.upload_public_id,
    jobs.c.result,
    jobs.c.problem,
)


def insert_job(session: Session, values: dict[str, Any]) -> None:
    session.execute(insert(jobs).values(values))


def get(session: Session, public_id: str, owner: int | None) -> dict[str, Any] | None:
    """The job ``public_id`` if API key ``owner`` sent it (any job when ``owner`` is None)."""
    statement = select(*STATUS_COLUMNS).where(jobs.c.public_id == public_id)
    if owner is not None:
        statement = statement.where(jobs.c.api_key_id == owner)
    row = session.execute(statement).one_or_none()
    return dict(row._mapping) if row else None


def list_recent(session: Session, owner: int | None, limit: int) -> list[dict[str, Any]]:
    """Newest first, ``owner``'s (everyone's when None)."""
    statement = select(*STATUS_COLUMNS).order_by(jobs.c.id.desc()).limit(limit)
    if owner is not None:
        statement = statement.where(jobs.c.api_key_id == owner)
    return [dict(row._mapping) for row in session.execute(statement)]


def claim(connection: Connection, worker: str, lease_s: float) -> dict[str, Any] | None:
    """Take the oldest queued job (skipping those another worker is taking), mark it running
    and take its advisory lock for ``connection``'s session, in one statement: no reaper can
    see the job running without its lock. None when the queue is empty."""
    row = connection.execute(
        text(
            """
            UPDATE upload_jobs SET state = 'running', worker = :worker,
                attempts = attempts + 1, started_at = now(), heartbeat_at = now(),
                lease_until = now() + make_interval(secs => :lease_s),
                stage = 'queued', fraction = 0, rows_read = 0
            WHERE id = (SELECT id FROM upload_jobs WHERE state = 'queued'
                        ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING id, public_id, filename, data, options, corrects, api_key_id, uploader,
                      role, rows_estimate,
                      pg_advisory_lock(:namespace, (id % 2147483647)::int)::text AS locked
            """
        ),
        {"worker": worker, "lease_s": lease_s, "namespace": JOB_LOCK_NAMESPACE},
    ).one_or_none()
    return None if row is None else dict(row._mapping)


def release(connection: Connection, job_id: int) -> None:
    connection.execute(
        text("SELECT pg_advisory_unlock(:namespace, (CAST(:id AS bigint) % 2147483647)::int)"),
        {"namespace": JOB_LOCK_NAMESPACE, "id": job_id},
    )


def heartbeat(connection: Connection, job_id: int, lease_s: float) -> None:
    connection.execute(
        text(
            "UPDATE upload_jobs SET heartbeat_at = now(), "
            "lease_until = now() + make_interval(secs => :lease_s) "
            "WHERE id = :id AND state = 'running'"
        ),
        {"id": job_id, "lease_s": lease_s},
    )


def set_progress(
    connection: Connection, job_id: int, stage: str, fraction: float, rows_read: int | None
) -> None:
    connection.execute(
        text(
            "UPDATE upload_jobs SET stage = :stage, fraction = :fraction, "
            "rows_read = coalesce(:rows_read, rows_read) WHERE id = :id AND state = 'running'"
        ),
        {"id": job_id, "stage": stage, "fraction": fraction, "rows_read": rows_read},
    )


def finish_stored(session: Session, job_id: int, sha256: str, corrects: str | None) -> None:
    """Inside the upload's own transaction (just before it commits): the job is done, its
    upload is the one with this file's SHA-256, and the correction link is recorded. So the
    upload and the job's state commit together or not at all."""
    session.execute(
        text(
            """
            UPDATE upload_jobs SET state = 'done', stage = 'done', fraction = 1,
                finished_at = clock_timestamp(), data = NULL, lease_until = NULL,
                rows_read = coalesce((u.counts ->> 'rows')::int, rows_read),
                upload_public_id = u.public_id
            FROM uploads u WHERE upload_jobs.id = :id AND u.sha256 = :sha256
            """
        ),
        {"id": job_id, "sha256": sha256},
    )
    if corrects is not None:
        link_correction(session, sha256, corrects)


def link_correction(session: Session, sha256: str, corrects: str) -> None:
    """The upload of this file corrects upload ``corrects`` (ignored if already linked, or if
    it would link an upload to itself)."""
    session.execute(
        text(
            """
            INSERT INTO upload_corrections (upload_public_id, corrects)
            SELECT u.public_id, c.public_id FROM uploads u JOIN uploads c ON c.public_id = :corrects
            WHERE u.sha256 = :sha256 AND u.public_id <> c.public_id
            ON CONFLICT DO NOTHING
            """
        ),
        {"sha256": sha256, "corrects": corrects},
    )


def finish_unstored(
    connection: Connection,
    job_id: int,
    upload_public_id: str | None,
    result: dict[str, Any],
    rows: int | None,
) -> None:
    """A job that stored nothing itself: a dry run (its report kept here) or a repeat of an
    earlier file (``upload_public_id``: that upload)."""
    connection.execute(
        jobs.update()
        .where(jobs.c.id == job_id)
        .values(
            state="done",
            stage="done",
            fraction=1.0,
            finished_at=text("clock_timestamp()"),
            data=None,
            lease_until=None,
            upload_public_id=upload_public_id,
            result=result,
            rows_read=rows if rows is not None else jobs.c.rows_read,
        )
    )


def fail(connection: Connection, job_id: int, problem: dict[str, Any]) -> None:
    connection.execute(
        jobs.update()
        .where(jobs.c.id == job_id, jobs.c.state.in_(("queued", "running")))
        .values(
            state="failed",
            finished_at=text("clock_timestamp()"),
            data=None,
            lease_until=None,
            problem=problem,
        )
    )


def reap(connection: Connection, problem: dict[str, Any]) -> list[str]:
    """Mark failed every running job whose worker is gone: its advisory lock is free (the
    process ended: PostgreSQL released it with the connection) or its lease expired (the
    worker hangs, or its connection is stuck). Returns their public ids."""
    rows = connection.execute(
        text(
            """
            UPDATE upload_jobs SET state = 'failed', finished_at = clock_timestamp(), data = NULL,
                lease_until = NULL, problem = CAST(:problem AS jsonb)
            WHERE state = 'running'
              AND (lease_until < now()
                   OR pg_try_advisory_xact_lock(:namespace, (id % 2147483647)::int))
            RETURNING public_id
            """
        ),
        {"namespace": JOB_LOCK_NAMESPACE, "problem": _json(problem)},
    )
    return [row[0] for row in rows]


def _json(value: dict[str, Any]) -> str:
    return orjson.dumps(value).decode()


# -- fix and resend, and the report page's map ----------------------------------------------


def correction_links(session: Session, public_id: str) -> tuple[str | None, list[str]]:
    """(the upload ``public_id`` corrects, the uploads that correct it, oldest first)."""
    corrects = session.execute(
        select(corrections.c.corrects).where(corrections.c.upload_public_id == public_id)
    ).scalar_one_or_none()
    corrected_by = session.execute(
        select(corrections.c.upload_public_id)
        .where(corrections.c.corrects == public_id)
        .order_by(corrections.c.created_at)
    ).scalars()
    return corrects, list(corrected_by)


def accepted_points(session: Session, public_id: str, limit: int) -> list[dict[str, Any]]:
    """The upload's accepted rows as points: ``{row, outcome, site, name, lon, lat}``
    (EPSG:4326 lon/lat, the surveyed point), by row, at most ``limit``."""
    rows = session.execute(
        text(
            """
            SELECT o.row_number AS row, o.outcome, s.public_id AS site,
                   coalesce(o.name, s.name) AS name, ST_X(o.geom) AS lon, ST_Y(o.geom) AS lat
            FROM observations o JOIN uploads u ON u.id = o.upload_id
            JOIN sites s ON s.id = o.site_id
            WHERE u.public_id = :public_id ORDER BY o.row_number LIMIT :limit
            """
        ),
        {"public_id": public_id, "limit": limit},
    )
    return [dict(row._mapping) for row in rows]
