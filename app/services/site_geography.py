"""What a site derives from the boundaries: its country (or sea, or disputed area).

Computed by the geo engine for whole arrays of points, at write time and in bulk after a
change of boundary source, so reads never compute geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from app.db import sites as site_repo
from app.services.boundary_state import BoundarySet


@dataclass(frozen=True)
class SiteGeography:
    country_iso3: npt.NDArray[np.object_]
    location_status: npt.NDArray[np.object_]
    claimants: npt.NDArray[np.object_]
    boundary_source_id: str

    def row(self, i: int) -> tuple[object, ...]:
        return (
            self.country_iso3[i],
            self.location_status[i],
            list(self.claimants[i]),
            self.boundary_source_id,
        )


def measure(state: BoundarySet, lon: npt.ArrayLike, lat: npt.ArrayLike) -> SiteGeography:
    location = state.locator.locate(lon, lat)
    return SiteGeography(
        country_iso3=location.iso3,
        location_status=location.status,
        claimants=location.claimants,
        boundary_source_id=state.source.id,
    )


def recompute_all(session: Session, state: BoundarySet) -> int:
    """Re-derive every site's geography against ``state``; returns how many were updated."""
    points = site_repo.all_points(session)
    if not points.ids:
        return 0
    geography = measure(state, np.asarray(points.lon), np.asarray(points.lat))
    rows = [(site_id, *geography.row(i)) for i, site_id in enumerate(points.ids)]
    return site_repo.bulk_update_geography(session, site_repo.GEOGRAPHY_COLUMNS, rows)
