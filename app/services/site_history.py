"""The history of every site and reads ``as_of`` a dataset version (issue 11, parts 1-2).

Each service that changes sites calls :func:`record` (or, for an upload, :func:`record_upload`)
as the last thing before its commit: it takes the transaction's dataset version (commit order,
see ``app.db.dataset``) and writes one history entry per site it changed, with who (key id),
why (reason), from which upload or request, and the whole stored site after the change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.db import dataset
from app.db import site_history as history_repo
from app.db.dataset import VersionAt
from app.db.site_history import Entry
from app.errors import AppError, Conflict, InvalidParameter, NotFound
from app.queries import AsOf, Caller


class Moved(AppError):
    """A merged site: its id answers with a permanent redirect to the survivor."""

    status = 308
    code = "site_merged"
    title = "Permanent Redirect"


def record_upload(session: Session, upload_id: int) -> int:
    """History entries for an upload's sites (created or matched), one statement; returns
    the dataset version the upload commits as."""
    version = history_repo.record_upload(session, upload_id, dataset.request_id())
    return dataset.note_version(version)


@dataclass(frozen=True)
class Change:
    """Sites that changed the same way in one transaction."""

    site_ids: Sequence[int]
    action: str
    reason: str | None = None
    related_site_id: int | None = None
    upload_id: int | None = None


def record(session: Session, caller: Caller, changes: Sequence[Change]) -> int:
    """Take the dataset version and write the entries of ``changes`` (in order); call last,
    just before the commit. Returns the version."""
    version = dataset.take_version(session)
    for change in changes:
        entry = Entry(
            action=change.action,
            key_id=caller.key_id,
            reason=change.reason,
            request_id=dataset.request_id(),
            upload_id=change.upload_id,
            related_site_id=change.related_site_id,
        )
        history_repo.record(session, change.site_ids, version, entry)
    return version


def record_recompute(session: Session, reason: str) -> int:
    """Entries for every site the transaction re-measured (a change of boundaries)."""
    version = dataset.take_version(session)
    entry = Entry("recomputed", reason=reason, request_id=dataset.request_id())
    history_repo.record_changed_in_transaction(session, version, entry)
    return version


# -- as_of ----------------------------------------------------------------------------------


def resolve(session: Session, asked: AsOf) -> VersionAt:
    """The dataset version ``as_of`` names; 400 when it does not exist (yet)."""
    current = dataset.dataset_version(session)
    if asked.version is not None:
        if asked.version > current:
            raise InvalidParameter(
                f"as_of: dataset version {asked.version} does not exist yet (the current "
                f"version is {current})",
                code="unknown_dataset_version",
            )
        found = dataset.version_info(session, asked.version)
    else:
        assert asked.at is not None
        if asked.at > dt.datetime.now(dt.UTC):
            raise InvalidParameter(
                "as_of: that time is in the future; a read of the future cannot be repeated",
                code="as_of_in_future",
            )
        found = dataset.version_at_time(session, asked.at)
    if found is None:
        first = dataset.first_version(session)
        raise InvalidParameter(
            f"as_of: history begins at dataset version {first}; nothing is kept before it",
            code="before_history",
        )
    dataset.note_version(found.version)
    return found


def timestamp(at: dt.datetime) -> str:
    """RFC 3339 UTC, to the second (as ``timeStamp`` is written)."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the history of one site -------------------------------------------------------------


def check_not_merged(session: Session, public_id: str, location: str) -> None:
    """Raise :class:`Moved` (308) when ``public_id`` was merged; ``location`` is a template
    with ``{id}`` for the survivor's id."""
    survivor = history_repo.redirect_target(session, public_id)
    if survivor is not None:
        raise Moved(
            f"site {public_id} was merged into {survivor}",
            headers={"Location": location.format(id=survivor)},
            extra={"survivor": survivor},
        )


def site_history(
    session: Session, public_id: str, caller: Caller, location: str
) -> list[dict[str, Any]]:
    """Every entry of a site's history, oldest first, as JSON-ready dicts; the feature is the
    site as stored after the change (restricted attributes by the caller's scope).
    Raises ``Moved`` (merged id) or ``NotFound``."""
    check_not_merged(session, public_id, location)
    site_id = history_repo.site_row_id(session, public_id)
    if site_id is None:
        raise NotFound(f"no site {public_id!r}", code="unknown_feature")
    dataset.dataset_version(session)
    return [
        {
            "entry": row.entry_id,
            "datasetVersion": row.dataset_version,
            "at": None if row.committed_at is None else timestamp(row.committed_at),
            "action": row.action,
            "key": row.key_id,
            "reason": row.reason,
            "upload": row.upload,
            "request": row.request_id,
            "relatedSite": row.related_site,
            "feature": row.feature_json,
        }
        for row in history_repo.site_history(session, site_id, caller)
    ]


def retired_conflict(session: Session, public_id: str) -> Conflict:
    """Why a retired site cannot be written: merged into another (409 ``already_merged``,
    naming the survivor: restoring it is refused too), or retired (409 ``site_retired``:
    restore it first)."""
    survivor = history_repo.redirect_target(session, public_id)
    if survivor is not None:
        return Conflict(
            f"site {public_id} was merged into {survivor}: write to {survivor}",
            code="already_merged",
            extra={"survivor": survivor},
        )
    return Conflict(
        f"site {public_id} is retired; a retired site is kept as it was (restore it "
        f"first: POST /collections/sites/items/{public_id}/restore)",
        code="site_retired",
    )
