"""Curation by people (issue 11, parts 3-4): merge two sites, split one, restore a retired
site or an earlier version, take back an upload, and the review queue of likely duplicates.

Each change is one transaction (this module owns the commit): rows are locked in a fixed order
(ids ascending), the caller's ``If-Match`` is checked against the locked row, the change is
written set-based, the dataset version is taken and every site changed gets a history entry;
then one commit. Whatever fails before the commit leaves nothing written.
Researchers curate sites of their countries (when their key is scoped), admins anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.collections.parsing import has_control_characters
from app.db import curation as curation_repo
from app.db import dataset
from app.db import site_history as history_repo
from app.db import sites as site_repo
from app.db import uploads as upload_repo
from app.db.models import RETIRED
from app.errors import Conflict, Forbidden, InvalidParameter, NotFound, Unprocessable
from app.queries import Caller
from app.roles import RESEARCHER
from app.services import outbox, site_geography, site_history, upload_access, zones
from app.services.boundary_state import BoundarySet
from app.services.site_edits import Precondition, WrittenSite
from app.services.sites import SiteDraft, mineral_codes

REASON_MAX = 500
NOT_MERGED_REASON = "merged into {survivor}: {reason}"


def check_reason(reason: str, what: str) -> str:
    cleaned = reason.strip()
    if not cleaned or "\x00" in reason or len(cleaned) > REASON_MAX:
        raise InvalidParameter(
            f"reason: say why {what} (1 to {REASON_MAX} characters)", code="reason_required"
        )
    return cleaned


def check_scope(caller: Caller, countries: Sequence[str | None]) -> None:
    """A researcher whose key is scoped to countries curates only sites in them (403)."""
    if caller.role == RESEARCHER and caller.countries:
        outside = sorted({c or "none" for c in countries if c not in caller.countries})
        if outside:
            raise Forbidden(
                f"this key curates sites of {', '.join(caller.countries)} only, not of "
                f"{', '.join(outside)}",
                code="out_of_scope",
            )


def _written(session: Session, public_id: str, caller: Caller, version: int) -> WrittenSite:
    read = site_repo.get_feature_and_version(session, public_id, caller)
    if read is None:  # sites are never erased
        raise NotFound(f"no site {public_id!r}", code="unknown_feature")
    dataset.note_version(version)
    return WrittenSite(public_id, read[0], read[1], [])


def _missing(session: Session, public_id: str) -> Exception:
    if history_repo.redirect_target(session, public_id) is not None:
        return site_history.retired_conflict(session, public_id)  # merged: names the survivor
    return NotFound(f"no site {public_id!r}", code="unknown_feature")


def _current(session: Session, site: curation_repo.LockedSite) -> None:
    if site.status == RETIRED:
        raise site_history.retired_conflict(session, site.public_id)


# -- merge ----------------------------------------------------------------------------------


def merge(
    session: Session,
    public_id: str,
    into: str,
    reason: str,
    caller: Caller,
    precondition: Precondition | None = None,
) -> WrittenSite:
    """Merge site ``public_id`` into ``into`` (the survivor); returns the survivor.

    Raises 404 (unknown site), 409 (already merged, retired, or different kinds), 412
    (``If-Match`` on the merged site is stale), 422 (merging a site into itself).
    """
    cleaned = check_reason(reason, "the sites are merged")
    if public_id == into:
        raise Unprocessable("a site cannot be merged into itself", code="merge_into_itself")
    # An upload matching in this area waits, or is waited for, before the rows are locked
    # (uploads take the area first too): planned against a site this merge retires, its
    # visit stayed on the merged-away site (found by a helper racing the two).
    upload_repo.lock_area(session, *site_repo.points_of(session, [public_id, into]))
    locked = curation_repo.lock_sites(session, [public_id, into])
    for wanted in (public_id, into):
        if wanted not in locked:
            raise _missing(session, wanted)
    merged, survivor = locked[public_id], locked[into]
    if precondition is not None:
        precondition.check(public_id, merged.version)
    _current(session, merged)
    _current(session, survivor)
    if merged.kind != survivor.kind:
        raise Conflict(
            f"{public_id} is a {merged.kind} and {into} a {survivor.kind}; only sites of one "
            "kind are merged",
            code="kind_mismatch",
        )
    check_scope(caller, [merged.country_iso3, survivor.country_iso3])
    version = dataset.take_version(session)
    note = NOT_MERGED_REASON.format(survivor=into, reason=cleaned)
    curation_repo.merge_into(session, merged.id, survivor.id, version, note)
    _entries(
        session,
        caller,
        version,
        [
            site_history.Change([merged.id], "merged_into", cleaned, survivor.id),
            site_history.Change([survivor.id], "merged", cleaned, merged.id),
        ],
    )
    outbox.record_curation(session, [merged.id, survivor.id])  # HOOK(alerts)
    session.commit()
    return _written(session, into, caller, version)


def _entries(
    session: Session, caller: Caller, version: int, changes: Sequence[site_history.Change]
) -> None:
    for change in changes:
        entry = history_repo.Entry(
            change.action,
            caller.key_id,
            change.reason,
            dataset.request_id(),
            change.upload_id,
            change.related_site_id,
        )
        history_repo.record(session, change.site_ids, version, entry)


# -- split ----------------------------------------------------------------------------------


def _observation_key(feature_id: str) -> tuple[str, int]:
    upload, _, row = feature_id.rpartition("-")
    if not (upload and row.isascii() and row.isdigit() and len(row) < 10):
        raise Unprocessable(
            f"{feature_id!r} is not an observation id (UP-XXXXXXXXXX-<row>)",
            code="unknown_observation",
        )
    return upload, int(row)


def split(
    session: Session,
    boundaries: BoundarySet,
    public_id: str,
    observation_ids: Sequence[str],
    reason: str,
    caller: Caller,
    name: str | None = None,
    precondition: Precondition | None = None,
) -> tuple[WrittenSite, WrittenSite]:
    """Move these observations of a site to a new site (measured like any new site); returns
    (the site, the new site). 422 when an observation is not the site's, or all are chosen."""
    cleaned = check_reason(reason, "the site is split")
    keys = [_observation_key(o) for o in dict.fromkeys(observation_ids)]
    # the new site's point is known once the rows are locked: hold the whole region first
    # (splits are rare), so no upload plans around it meanwhile (see merge)
    upload_repo.lock_whole_region(session)
    locked = curation_repo.lock_sites(session, [public_id])
    if public_id not in locked:
        raise _missing(session, public_id)
    site = locked[public_id]
    if precondition is not None:
        precondition.check(public_id, site.version)
    _current(session, site)
    check_scope(caller, [site.country_iso3])
    found = curation_repo.observation_ids(session, site.id, keys)
    unknown = [f"{u}-{r}" for u, r in keys if (u, r) not in found]
    if unknown or not keys:
        raise Unprocessable(
            f"not observations of {public_id}: {', '.join(unknown) or '(none given)'}",
            code="unknown_observation",
        )
    if len(found) >= curation_repo.observation_count(session, site.id):
        raise Unprocessable(
            "choose some of the site's observations, not all (to rename or move the site, edit it)",
            code="split_takes_all",
        )
    new_id = _new_site_from(session, boundaries, site, list(found.values()), name)
    version = dataset.take_version(session)
    curation_repo.move_observations(session, site.id, new_id, version, list(found.values()))
    curation_repo.refresh_observed_dates(session, [site.id])
    _entries(
        session,
        caller,
        version,
        [
            site_history.Change([site.id], "split", cleaned, new_id),
            site_history.Change([new_id], "split", cleaned, site.id),
        ],
    )
    zones.classify_sites(session, [new_id])  # HOOK(regional): before the outbox
    outbox.record_curation(session, [site.id, new_id], created=[new_id])  # HOOK(alerts)
    session.commit()
    new_public = curation_repo.public_id_of(session, new_id)
    return _written(session, public_id, caller, version), _written(
        session, new_public, caller, version
    )


def _new_site_from(
    session: Session,
    boundaries: BoundarySet,
    site: curation_repo.LockedSite,
    observation_ids: list[int],
    name: str | None,
) -> int:
    seed = curation_repo.split_seed(session, observation_ids)
    draft = SiteDraft(
        kind=site.kind,
        name=(name or seed.name or site.name).strip() or site.name,
        lon=seed.lon,
        lat=seed.lat,
        minerals=list(seed.minerals),
        accuracy_m=seed.accuracy_m,
        location_origin=f"split from {site.public_id}",
    )
    codes = mineral_codes(draft.minerals)
    geography = site_geography.measure(boundaries, [draft.lon], [draft.lat], [draft.accuracy_m])
    new = site_repo.NewSite(
        public_id=site_repo.new_public_id(),
        kind=draft.kind,
        name=draft.name,
        lon=draft.lon,
        lat=draft.lat,
        minerals=codes,
        accuracy_m=draft.accuracy_m,
        location_origin=draft.location_origin,
        first_observed=seed.first_observed,
        last_observed=seed.last_observed,
        **geography.fields(0),  # type: ignore[arg-type]
    )
    ids = site_repo.insert_sites(session, [new])
    site_repo.insert_border_distances(session, geography.border_rows(ids))
    return ids[0]


# -- restore --------------------------------------------------------------------------------


def restore(
    session: Session,
    boundaries: BoundarySet,
    public_id: str,
    reason: str,
    caller: Caller,
    version: int | None = None,
    precondition: Precondition | None = None,
) -> WrittenSite:
    """Bring a retired site back (its last status before it was retired), or, with
    ``version``, put the site back as it was at that dataset version (undo: name, kind,
    aliases, minerals, status, point, accuracy, attributes), re-measured against today's
    borders. 404 (unknown site or no such version of it), 409 (nothing to restore)."""
    cleaned = check_reason(reason, "the site is restored")
    # the point it comes back at is known once its row is locked: as split
    upload_repo.lock_whole_region(session)
    locked = curation_repo.lock_sites(session, [public_id])
    if public_id not in locked:
        raise _missing(session, public_id)
    site = locked[public_id]
    if precondition is not None:
        precondition.check(public_id, site.version)
    check_scope(caller, [site.country_iso3])
    if version is None:
        if site.status != RETIRED:
            raise Conflict(f"site {public_id} is not retired", code="not_retired")
        if history_repo.redirect_target(session, public_id) is not None:
            raise site_history.retired_conflict(session, public_id)
        status = history_repo.last_status_before_retired(session, site.id) or "unknown"
        curation_repo.unretire(session, site.id, status)
    else:
        _restore_version(session, boundaries, site, version)
    if version is not None:  # the point may have moved
        zones.classify_sites(session, [site.id])  # HOOK(regional): before the outbox
    taken = site_history.record(
        session, caller, [site_history.Change([site.id], "restored", _why(cleaned, version))]
    )
    outbox.record_curation(session, [site.id])  # HOOK(alerts)
    session.commit()
    return _written(session, public_id, caller, taken)


def _why(reason: str, version: int | None) -> str:
    return reason if version is None else f"back to dataset version {version}: {reason}"


def _restore_version(
    session: Session, boundaries: BoundarySet, site: curation_repo.LockedSite, version: int
) -> None:
    latest = dataset.dataset_version(session)
    if version > latest:  # the latest entry at or before it is today's: no undo at all
        raise Unprocessable(
            f"version: dataset version {version} does not exist yet (the current version is "
            f"{latest})",
            code="unknown_dataset_version",
        )
    state = history_repo.entry_state(session, site.id, version)
    if state is None:
        raise NotFound(
            f"site {site.public_id} did not exist at dataset version {version}",
            code="unknown_version",
        )
    if state["status"] == RETIRED:
        raise Conflict(
            f"site {site.public_id} was retired at dataset version {version}",
            code="site_retired",
        )
    if history_repo.redirect_target(session, site.public_id) is not None:
        raise Conflict(f"site {site.public_id} was merged", code="already_merged")
    if site.status == RETIRED:
        curation_repo.unretire(session, site.id, str(state["status"]))
    geography = site_geography.measure(
        boundaries, [state["lon"]], [state["lat"]], [state["accuracy_m"]]
    )
    values: dict[str, Any] = {
        name: state[name]
        for name in (
            "kind",
            "name",
            "aliases",
            "minerals",
            "status",
            "accuracy_m",
            "location_origin",
            "source",
            "properties",
            "restricted",
        )
    }
    current = site_repo.lock_site(session, site.public_id)
    assert current is not None  # locked above
    site_repo.update_site(
        session,
        site.id,
        current.version,
        float(state["lon"]),
        float(state["lat"]),
        {**values, **geography.fields(0)},
    )
    site_repo.replace_site_border_distances(session, site.id, geography.border_rows([site.id]))


# -- retract an upload ----------------------------------------------------------------------


def retract(session: Session, upload_public_id: str, reason: str, caller: Caller) -> dict[str, Any]:
    """Take back an upload (its uploader's key, or an admin): its observations go, the sites
    only it created (and nobody touched since) are retired; the others are kept and say why.
    Repeating it answers the first retraction's summary. 404 for an upload the caller may
    not see (as ``GET /uploads/{id}``)."""
    cleaned = check_reason(reason, "the upload is taken back")
    upload = None
    if not has_control_characters(upload_public_id):  # PostgreSQL refuses NUL
        upload = curation_repo.lock_upload(session, upload_public_id)
    owner = upload_access.owner_scope(caller)
    if upload is None or (owner is not upload_repo.ANY_OWNER and upload.api_key_id != owner):
        raise NotFound(f"no upload {upload_public_id!r}", code="unknown_upload")
    if upload.retracted_at is not None:
        session.rollback()
        summary = dict(upload.retraction or {})
        dataset.note_version(int(summary.get("datasetVersion", 0)))
        return {**summary, "repeat": True}
    brought = curation_repo.regional_rows(session, upload.id)
    if brought:
        # only site uploads are taken back here: answering 200 with nothing removed said a
        # routes upload was gone while its routes stayed
        session.rollback()
        what = ", ".join(f"{n} {name}" for name, n in brought.items())
        raise Conflict(
            f"upload {upload.public_id} brought {what}: retraction takes back uploads of "
            "sites only",
            code="not_a_site_upload",
        )
    touched = curation_repo.upload_sites(session, upload)
    version = dataset.take_version(session)
    removed_observations = curation_repo.remove_upload_observations(session, upload.id, version)
    note = f"upload {upload.public_id} retracted: {cleaned}"
    curation_repo.retire(session, [site_id for site_id, _ in touched.removed], note)
    kept_ids = [site_id for site_id, _, _ in touched.kept]
    curation_repo.refresh_observed_dates(session, kept_ids)
    _entries(
        session,
        caller,
        version,
        [
            site_history.Change(
                [s for s, _ in touched.removed], "retracted", note, None, upload.id
            ),
            *(
                site_history.Change(
                    [s], "retracted", f"{note} (site kept: {_KEPT[why]})", None, upload.id
                )
                for s, _, why in touched.kept
            ),
        ],
    )
    summary = {
        "upload": upload.public_id,
        "reason": cleaned,
        "datasetVersion": version,
        "observationsRemoved": removed_observations,
        "sitesRetired": [p for _, p in touched.removed],
        "sitesKept": [{"site": p, "why": why} for _, p, why in touched.kept],
    }
    curation_repo.mark_retracted(session, upload.id, cleaned, caller.key_id, summary)
    session.commit()
    return {**summary, "repeat": False}


_KEPT = {
    "matched": "the upload only added visits to it",
    "observed_by_other_uploads": "other uploads observed it too",
    "changed_since": "people or other uploads changed it since",
}


# -- review queue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewSettings:
    distance_m: float = 2000.0
    min_similarity: float = 0.3


def review_queue(
    session: Session, caller: Caller, limit: int, settings: ReviewSettings = ReviewSettings()
) -> list[dict[str, Any]]:
    """Likely duplicates the automatic matching left apart, most alike first."""
    scope = caller.countries if caller.role == RESEARCHER and caller.countries else None
    dataset.dataset_version(session)
    pairs = curation_repo.likely_duplicates(
        session, settings.distance_m, settings.min_similarity, limit, scope
    )
    return [
        {
            "sites": [pair.a, pair.b],
            "names": [pair.a_name, pair.b_name],
            "kind": pair.kind,
            "countries": [pair.a_country, pair.b_country],
            "distance_m": round(pair.distance_m, 1),
            "similarity": round(pair.similarity, 3),
        }
        for pair in pairs
    ]


def reject_pair(
    session: Session, public_ids: Sequence[str], reason: str, caller: Caller
) -> dict[str, Any]:
    """Remember that two sites are not duplicates: the queue never proposes them again."""
    cleaned = check_reason(reason, "the sites are not duplicates")
    if len(set(public_ids)) != 2:
        raise Unprocessable("give two different sites", code="not_a_pair")
    locked = curation_repo.lock_sites(session, list(public_ids))
    for wanted in public_ids:
        if wanted not in locked:
            raise _missing(session, wanted)
    a, b = (locked[p] for p in public_ids)
    check_scope(caller, [a.country_iso3, b.country_iso3])
    curation_repo.reject_pair(session, a.id, b.id, caller.key_id, cleaned)
    session.commit()
    return {"sites": list(public_ids), "rejected": True, "reason": cleaned}
