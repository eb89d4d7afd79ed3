"""The alerts outbox: events written in the transaction of the change that causes them.

Called from the services that change sites, before their commit and after their history
entries, which a site event names (one line each, marked
``# HOOK(alerts)``): ``record_upload`` from the upload store, ``record_site`` from site
creation and edits, ``record_curation`` from merges, splits and restores,
``record_cluster_joins`` from the cluster refresh. Each writes with ONE
set-based statement (``app.db.outbox.record_matches``); if the change rolls back, so do its
events: an event is never sent for a change that did not happen, nor lost for one that did.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.db import outbox as outbox_repo
from app.db import subscriptions as subscription_repo
from app.errors import AppError
from app.services import subscription_criteria

log = logging.getLogger(__name__)


def matchers(session: Session) -> list[subscription_repo.Matcher]:
    """Every active subscription's criteria as SQL, each subscription held to the end of the
    change's transaction (none removed before its events are in). A subscription whose
    stored criteria no longer compile (a border or a vocabulary entry removed since) is
    skipped with a warning rather than failing the change that is being recorded."""
    found = []
    for subscription in subscription_repo.active_subscriptions(session, hold=True):
        try:
            found.append(subscription_criteria.matcher(session, subscription))
        except AppError as error:
            log.warning("subscription %s skipped: %s", subscription.public_id, error.detail)
    return found


def record_upload(session: Session, upload_id: int, upload_public_id: str) -> None:
    """Events of one stored upload (its new and matched sites), in its transaction."""
    outbox_repo.record_matches(
        session, matchers(session), outbox_repo.upload_sites(upload_id), upload_public_id
    )


def record_site(session: Session, site_id: int) -> None:
    """Events of one created, edited or moved site, in the edit's transaction."""
    outbox_repo.record_matches(session, matchers(session), outbox_repo.edited_site(site_id))


def record_curation(session: Session, site_ids: Sequence[int], created: Sequence[int] = ()) -> None:
    """Events of a curation (merge, split, restore): sites that enter criteria by it (a
    survivor that takes a merged site's minerals, a restored site), a site a split created;
    a merged-away site leaves the lists of ``site.entered``, to fire again should it come
    back."""
    outbox_repo.record_matches(
        session, matchers(session), outbox_repo.changed_sites(site_ids, created)
    )


def record_sites(session: Session, site_ids: Sequence[int]) -> None:
    """As ``record_site``, for sites created together."""
    if site_ids:
        outbox_repo.record_matches(session, matchers(session), outbox_repo.created_sites(site_ids))


def record_cluster_joins(session: Session, run_id: int, previous_run_id: int | None) -> None:
    """``cluster.joined`` events for the sites that joined a cross-border cluster between
    the previous clustering and this one (none for a first clustering: nothing to compare)."""
    if previous_run_id is None:
        return
    joined = outbox_repo.cross_border_joins(session, run_id, previous_run_id)
    if joined:
        outbox_repo.record_cluster_joins(session, matchers(session), joined)
