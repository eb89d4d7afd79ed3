"""The dataset version: one number per committed change, in commit order (migration 0011).

A writing service takes its number with :func:`take_version` at the end of its work; the row
lock this takes on ``dataset_state`` is held until the transaction ends, so numbers are handed
out in the order the changes commit and "everything up to version N" never changes once N is
visible. Writers that do not take a number get one at commit from a deferred trigger.
"""

from __future__ import annotations

import datetime as dt
import typing
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from app.db.models import DatasetState, DatasetVersion

state = typing.cast(Table, DatasetState.__table__)
versions = typing.cast(Table, DatasetVersion.__table__)

#: What the current request read or wrote: ``version`` (the dataset version, sent as the
#: ``Dataset-Version`` header) and ``request_id`` (kept with history entries). A mutable box
#: per request, set by the API's middleware, so code in worker threads can fill it in.
REQUEST: ContextVar[dict[str, object] | None] = ContextVar("borderlens_request", default=None)


def _note(version: int) -> int:
    box = REQUEST.get()
    if box is not None:
        box["version"] = version
    return version


def note_version(version: int) -> int:
    """Say which dataset version the current request's answer shows (for its header)."""
    return _note(version)


def request_id() -> str | None:
    box = REQUEST.get()
    value = None if box is None else box.get("request_id")
    return value if isinstance(value, str) else None


def dataset_version(session: Session) -> int:
    """The current dataset version (0 before any change)."""
    value = session.execute(select(state.c.sites_version).where(state.c.id == 1)).scalar_one()
    return _note(int(value))


def take_version(session: Session) -> int:
    """Take the next dataset version for the caller's transaction (its row lock is held until
    the transaction ends: call this last, just before committing)."""
    return _note(int(session.execute(select(func.borderlens_take_dataset_version())).scalar_one()))


@dataclass(frozen=True)
class VersionAt:
    """A dataset version and the time it was taken (UTC)."""

    version: int
    committed_at: dt.datetime


def version_info(session: Session, version: int) -> VersionAt | None:
    """The version if it exists (history begins with migration 0011's version)."""
    row = session.execute(
        select(versions.c.version, versions.c.committed_at).where(versions.c.version == version)
    ).one_or_none()
    return None if row is None else VersionAt(int(row[0]), row[1])


def version_at_time(session: Session, at: dt.datetime) -> VersionAt | None:
    """The last version taken at or before ``at`` (None: before history began)."""
    row = session.execute(
        select(versions.c.version, versions.c.committed_at)
        .where(versions.c.committed_at <= at)
        .order_by(versions.c.committed_at.desc(), versions.c.version.desc())
        .limit(1)
    ).one_or_none()
    return None if row is None else VersionAt(int(row[0]), row[1])


def first_version(session: Session) -> int | None:
    value = session.execute(select(func.min(versions.c.version))).scalar_one()
    return None if value is None else int(value)
