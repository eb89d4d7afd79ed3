"""Use cases that change a stored site (OGC API Features Part 4): replace, update, retire.

Each is one transaction (this module owns the commit): lock the site's row, check the caller's
precondition (``If-Match``) against the row version, apply the change, re-measure the point
against the active boundaries exactly as a new site is measured, write, commit. A site is
never erased: retiring keeps it, with the time and the reason, out of item lists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from app.db import sites as site_repo
from app.db import uploads as upload_repo
from app.db.models import RETIRED
from app.errors import AppError, InvalidParameter, NotFound, PreconditionFailed, ProblemItem
from app.queries import Caller
from app.services import outbox, scopes, site_geography, site_history, zones
from app.services.boundary_state import BoundarySet
from app.services.sites import SiteDraft, country_warnings, create_site, mineral_codes


@dataclass(frozen=True)
class Precondition:
    """What ``If-Match`` asked for: any current state (``*``), or one of these versions."""

    versions: frozenset[int] = frozenset()
    any_version: bool = False

    def check(self, public_id: str, version: int) -> None:
        if not (self.any_version or version in self.versions):
            raise _stale(public_id)


def _stale(public_id: str) -> PreconditionFailed:
    return PreconditionFailed(
        f"site {public_id} has changed since that ETag was issued; read it again (its "
        "current ETag comes with it) and repeat the change",
        code="stale_etag",
    )


@dataclass(frozen=True)
class CurrentSite:
    """What a change is applied to: the stored site, its editable GeoJSON document (the base
    of a merge patch) and the same as a draft (what a replacement keeps when it is silent)."""

    stored: site_repo.StoredSite
    document: dict[str, Any]
    draft: SiteDraft


@dataclass(frozen=True)
class WrittenSite:
    """A site as written: its feature text as the writer may read it, and the version that
    text shows (the ETag)."""

    public_id: str
    feature_json: str
    version: int
    warnings: list[ProblemItem]


def _written(
    session: Session, public_id: str, caller: Caller, warnings: list[ProblemItem]
) -> WrittenSite:
    read = site_repo.get_feature_and_version(session, public_id, caller)
    if read is None:  # only an erase could do this, and nothing erases sites
        raise NotFound(f"no site {public_id!r}", code="unknown_feature")
    return WrittenSite(public_id, read[0], read[1], warnings)


def create(
    session: Session, boundaries: BoundarySet, draft: SiteDraft, caller: Caller
) -> WrittenSite:
    """Create one site (POST), as ``create_site`` does, and read it back for the caller."""
    created = create_site(session, boundaries, draft, caller)
    return _written(session, created.public_id, caller, created.warnings)


#: A pure function from the current site to its new state (raises for an invalid result).
Change = Callable[[CurrentSite], SiteDraft]


def editable_document(stored: site_repo.StoredSite) -> dict[str, Any]:
    """The members people may write, as a GeoJSON Feature (lon, lat on WGS 84)."""
    return {
        "type": "Feature",
        "id": stored.public_id,
        "geometry": {"type": "Point", "coordinates": [stored.lon, stored.lat]},
        "properties": {
            "kind": stored.kind,
            "name": stored.name,
            "aliases": list(stored.aliases),
            "minerals": list(stored.minerals),
            "status": stored.status,
            "accuracy_m": stored.accuracy_m,
            "location_origin": stored.location_origin,
            "source": stored.source,
            "attributes": dict(stored.properties),
            "restricted": dict(stored.restricted),
        },
    }


def _current(stored: site_repo.StoredSite) -> CurrentSite:
    draft = SiteDraft(
        kind=stored.kind,
        name=stored.name,
        lon=stored.lon,
        lat=stored.lat,
        minerals=list(stored.minerals),
        aliases=list(stored.aliases),
        status=stored.status,
        accuracy_m=stored.accuracy_m,
        location_origin=stored.location_origin,
        source=stored.source,
        attributes=dict(stored.properties),
        restricted=dict(stored.restricted),
    )
    return CurrentSite(stored, editable_document(stored), draft)


def _lock(session: Session, public_id: str, precondition: Precondition) -> site_repo.StoredSite:
    stored = site_repo.lock_site(session, public_id)
    if stored is None:
        raise NotFound(f"no site {public_id!r}", code="unknown_feature")
    precondition.check(public_id, stored.version)
    if stored.status == RETIRED:
        raise site_history.retired_conflict(session, public_id)
    return stored


def _hold_area(session: Session, public_id: str, change: Change) -> None:
    """Hold the area an upload plans in (``app.db.uploads.lock_area``) around the site's point
    and the point the edit moves it to, before its row is locked (uploads take the area
    first too): an upload planning there meanwhile would match a site that is no longer
    there, or miss one moved in. The new point is worked out from the site as it is now; a
    concurrent edit that moves it elsewhere first is the rare case left to the row lock."""
    current = site_repo.read_site(session, public_id)
    if current is None or current.status == RETIRED:
        return  # _lock answers 404 or 409
    try:
        moved = change(_current(current))
    except AppError:
        return  # refused: _lock and change answer it, holding nothing
    upload_repo.lock_area(
        session,
        np.array([current.lon, moved.lon], dtype=float),
        np.array([current.lat, moved.lat], dtype=float),
    )


def _observed(
    stored: site_repo.StoredSite, observed_on: dt.date | None
) -> tuple[dt.date | None, dt.date | None]:
    """A date given with an edit is one more visit: it widens the observed interval."""
    if observed_on is None:
        return stored.first_observed, stored.last_observed
    dates = [d for d in (stored.first_observed, stored.last_observed, observed_on) if d]
    return min(dates), max(dates)


def edit_site(
    session: Session,
    boundaries: BoundarySet,
    public_id: str,
    precondition: Precondition,
    change: Change,
    caller: Caller,
) -> WrittenSite:
    """Replace or update one site (PUT and PATCH): ``change`` gives its new state. It is
    applied twice (it must not have effects): to the site as it is, to find the area to hold
    before the row is locked, then to the locked site.

    Country, location status, nearest border, its distance and neighbour, side confidence and
    the per-border distances are measured again for the (maybe moved) point. Raises
    ``NotFound`` (404), ``PreconditionFailed`` (412), ``Conflict`` (409, retired site),
    ``Unprocessable``/``InvalidBody`` (422, from ``change`` or the mineral vocabulary).
    """
    _hold_area(session, public_id, change)
    stored = _lock(session, public_id, precondition)
    scopes.check_site_edit(session, caller, public_id, site_id=stored.id)  # HOOK(access)
    draft = change(_current(stored))
    draft = replace(draft, aliases=[a.strip() for a in draft.aliases if a.strip()])
    codes = mineral_codes(draft.minerals)
    geography = site_geography.measure(boundaries, [draft.lon], [draft.lat], [draft.accuracy_m])
    moved_to = geography.country_iso3[0]
    scopes.check_site_edit(session, caller, public_id, country_iso3=moved_to)  # HOOK(access)
    first, last = _observed(stored, draft.observed_on)
    values: dict[str, Any] = {
        "kind": draft.kind,
        "name": draft.name,
        "aliases": draft.aliases,
        "minerals": codes,
        "status": draft.status,
        "accuracy_m": draft.accuracy_m,
        "location_origin": draft.location_origin,
        "source": draft.source,
        "first_observed": first,
        "last_observed": last,
        "properties": draft.attributes,
        "restricted": draft.restricted,
        **geography.fields(0),
    }
    version = site_repo.update_site(
        session, stored.id, stored.version, draft.lon, draft.lat, values
    )
    if version is None:  # the row lock makes this unreachable; the version check stays anyway
        raise _stale(public_id)
    site_repo.replace_site_border_distances(session, stored.id, geography.border_rows([stored.id]))
    zones.classify_sites(session, [stored.id])  # HOOK(regional): before the outbox
    warnings = country_warnings(
        draft,
        geography.country_iso3[0],
        str(geography.location_status[0]),
        geography.claimants[0],
        geography.countries_at(0),
    )
    action = "moved" if (draft.lon, draft.lat) != (stored.lon, stored.lat) else "edited"
    site_history.record(session, caller, [site_history.Change([stored.id], action)])
    # after the history entry: an event names the entry its change wrote
    outbox.record_site(session, stored.id)  # HOOK(alerts)
    session.commit()
    return _written(session, public_id, caller, warnings)


def retire_site(
    session: Session, public_id: str, precondition: Precondition, reason: str, caller: Caller
) -> WrittenSite:
    """Retire one site (DELETE): kept with its time and reason, left out of item lists and
    maps, still readable at its own URL. Raises ``NotFound`` (404), ``PreconditionFailed``
    (412), ``Conflict`` (409, already retired)."""
    if not reason.strip() or "\x00" in reason:
        raise InvalidParameter("reason: say why the site is retired", code="reason_required")
    stored = _lock(session, public_id, precondition)
    scopes.check_site_edit(session, caller, public_id, site_id=stored.id)  # HOOK(access)
    version = site_repo.retire_site(session, stored.id, stored.version, reason.strip())
    if version is None:  # as in edit_site: the row lock makes this unreachable
        raise _stale(public_id)
    site_history.record(
        session, caller, [site_history.Change([stored.id], "retired", reason.strip())]
    )
    # no event (a retired site matches no criteria), but it leaves the lists of
    # site.entered: restored, it is news again
    outbox.record_site(session, stored.id)  # HOOK(alerts)
    session.commit()
    return _written(session, public_id, caller, [])


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch: objects merge member by member, ``null`` removes a member,
    anything else (arrays included) replaces. Returns a new value; inputs are not changed."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = apply_merge_patch(result.get(name), value)
    return result
