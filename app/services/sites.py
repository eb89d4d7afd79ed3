"""Use cases on sites: create one from a GeoJSON Feature (the service owns the commit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from app.db import sites as site_repo
from app.db import uploads as upload_repo
from app.errors import ProblemItem, Unprocessable
from app.queries import Caller
from app.services import outbox, scopes, site_geography, site_history, zones
from app.services.boundary_state import BoundarySet
from geo.vocab import minerals


@dataclass(frozen=True)
class SiteDraft:
    kind: str
    name: str
    lon: float
    lat: float
    minerals: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    status: str = "unknown"
    accuracy_m: float | None = None
    location_origin: str | None = None
    observed_on: dt.date | None = None
    source: str | None = None
    declared_country: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    restricted: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CreatedSite:
    public_id: str
    warnings: list[ProblemItem]


def mineral_codes(spellings: list[str]) -> list[str]:
    """Mineral codes for spellings in any language (stray spaces ignored); 422 for unknown ones."""
    codes, unknown = minerals().normalise(spellings)
    if unknown:
        stripped = [spelling.strip() for spelling in spellings]
        raise Unprocessable(
            f"unknown mineral(s): {', '.join(unknown)}; known: {', '.join(minerals().codes)}",
            code="unknown_mineral",
            items=[
                ProblemItem(
                    "unknown_mineral",
                    f"{name!r} is not in the mineral vocabulary",
                    column=f"properties.minerals[{stripped.index(name)}]",
                )
                for name in unknown
            ],
        )
    return codes


def create_sites(
    session: Session,
    boundaries: BoundarySet,
    drafts: list[SiteDraft],
    caller: Caller,  # who, for the history (the key's name is never a public source)
) -> list[CreatedSite]:
    """Store many drafts at once: one vectorised measure, one insert, one commit."""
    # An upload planning in this area (it reads the sites near its points, then creates what
    # it did not find) must not miss these sites, nor these its new ones: the area is held
    # until commit, as uploads hold it (app.db.uploads.lock_area).
    upload_repo.lock_area(
        session,
        np.array([d.lon for d in drafts], dtype=float),
        np.array([d.lat for d in drafts], dtype=float),
    )
    codes = [mineral_codes(draft.minerals) for draft in drafts]
    geography = site_geography.measure(
        boundaries,
        [d.lon for d in drafts],
        [d.lat for d in drafts],
        [d.accuracy_m for d in drafts],
    )
    new_sites = []
    created = []
    public_ids = site_repo.new_public_ids(len(drafts))
    for i, draft in enumerate(drafts):
        country = geography.country_iso3[i]
        scopes.check_site_edit(session, caller, draft.name, country_iso3=country)  # HOOK(access)
        warnings = country_warnings(
            draft,
            country,
            geography.location_status[i],
            geography.claimants[i],
            geography.countries_at(i),
        )
        site = site_repo.NewSite(
            public_id=public_ids[i],
            kind=draft.kind,
            name=draft.name,
            lon=draft.lon,
            lat=draft.lat,
            minerals=codes[i],
            aliases=[a.strip() for a in draft.aliases if a.strip()],
            status=draft.status,
            accuracy_m=draft.accuracy_m,
            location_origin=draft.location_origin,
            source=draft.source,  # public: never the caller's key name unless they chose it
            first_observed=draft.observed_on,
            last_observed=draft.observed_on,
            properties=draft.attributes,
            restricted=draft.restricted,
            **geography.fields(i),  # type: ignore[arg-type]
        )
        new_sites.append(site)
        created.append(CreatedSite(site.public_id, warnings))
    ids = site_repo.insert_sites(session, new_sites)
    site_repo.insert_border_distances(session, geography.border_rows(ids))
    site_history.record(session, caller, [site_history.Change(ids, "created")])  # HOOK(history)
    zones.classify_sites(session, ids)  # HOOK(regional): before the outbox
    outbox.record_sites(session, ids)  # HOOK(alerts)
    session.commit()
    return created


def create_site(
    session: Session, boundaries: BoundarySet, draft: SiteDraft, caller: Caller
) -> CreatedSite:
    return create_sites(session, boundaries, [draft], caller)[0]


def country_warnings(
    draft: SiteDraft,
    country: str | None,
    location_status: str,
    claimants: Sequence[str] = (),
    countries_at: Sequence[str] = (),
) -> list[ProblemItem]:
    """What the point's place says about the draft: elsewhere than the declared country (a
    claimant of a disputed area counts as being there, and so does each country of a point on
    their border line: ``countries_at``), and in a disputed area (a real place, stored with
    its claimants and no single country)."""
    warnings = []
    disputed = f"an area disputed by {' and '.join(claimants)}" if claimants else None
    declared = (draft.declared_country or "").upper()
    if declared and declared != country and declared not in (*claimants, *countries_at):
        where = country or disputed or f"{location_status} (no single country)"
        warnings.append(
            ProblemItem(
                "country_mismatch",
                f"the input says {draft.declared_country!r} but the point lies in {where}; "
                "the point's country is stored",
                column="properties.country",
            )
        )
    if location_status == "disputed":
        warnings.append(
            ProblemItem(
                "disputed_area",
                f"the point lies in {disputed or 'a disputed area'}; the site is stored with "
                "its claimants and no single country",
                column="geometry",
            )
        )
    return warnings
