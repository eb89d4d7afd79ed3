"""What versioned collections (``sites``, ``observations``) share: ``as_of`` resolved to a
dataset version, and the version (and, for a past version, its time) in every page."""

from __future__ import annotations

import dataclasses

from app.collections.base import ReadContext
from app.db import dataset
from app.db.dataset import VersionAt
from app.queries import FeaturePage
from app.services import site_history


def resolve(ctx: ReadContext) -> VersionAt | None:
    """The version ``as_of`` asks for (None: read the current state)."""
    return None if ctx.as_of is None else site_history.resolve(ctx.session, ctx.as_of)


def stamped(ctx: ReadContext, page: FeaturePage, at: VersionAt | None) -> FeaturePage:
    """The page with ``datasetVersion``; read as of a version, ``timeStamp`` is that
    version's time, so the same request gives the same bytes every time."""
    if at is None:
        return dataclasses.replace(
            page, extra={**page.extra, "datasetVersion": dataset.dataset_version(ctx.session)}
        )
    extra = {
        **page.extra,
        "datasetVersion": at.version,
        "timeStamp": site_history.timestamp(at.committed_at),
    }
    return dataclasses.replace(page, extra=extra)
