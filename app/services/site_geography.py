"""What a site derives from the boundaries: country (or sea, outside, disputed area), the
nearest international border and its distance, the country across it, how sure its side is,
and its distance to every border nearby.

Computed by the geo engine for whole arrays of points, when sites are stored and in bulk after
a change of boundary source, so reads never compute geometry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from app.db import sites as site_repo
from app.services import site_history
from app.services.boundary_state import BoundarySet
from geo.proximity import PairDistances, pair_distances
from geo.sides import side_of_border

# Distances to every border within this radius are stored; "within N km of that border"
# queries accept N up to it. Central Africa's sites lie within a few hundred km of a border.
STORED_RADIUS_KM = 300.0


@dataclass(frozen=True)
class SiteGeography:
    """Parallel arrays, one entry per measured point, plus the per-border distances."""

    country_iso3: npt.NDArray[np.object_]
    location_status: npt.NDArray[np.object_]
    claimants: npt.NDArray[np.object_]
    border_distance_m: npt.NDArray[np.float64]
    border_pair: npt.NDArray[np.object_]
    neighbour_iso3: npt.NDArray[np.object_]
    side_probability: npt.NDArray[np.float64]
    side_confidence: npt.NDArray[np.object_]
    near_borders: PairDistances
    boundary_source_id: str
    # per point, the sorted codes of every country it lies in or on (a point on a border line
    # is in both; geo.countries.Location.shared_by); None where not kept (a Dask recompute)
    shared_by: npt.NDArray[np.object_] | None = None

    def countries_at(self, i: int) -> tuple[str, ...]:
        """Every country point ``i`` lies in or on (empty when unknown)."""
        return () if self.shared_by is None else tuple(self.shared_by[i])

    def fields(self, i: int) -> dict[str, object]:
        """The site columns for point ``i``."""
        distance = float(self.border_distance_m[i])
        probability = float(self.side_probability[i])
        return {
            "country_iso3": self.country_iso3[i],
            "location_status": self.location_status[i],
            "claimants": list(self.claimants[i]),
            "border_distance_m": None if np.isnan(distance) else distance,
            "border_pair": self.border_pair[i],
            "neighbour_iso3": self.neighbour_iso3[i],
            "side_probability": None if np.isnan(probability) else probability,
            "side_confidence": self.side_confidence[i],
            "boundary_source_id": self.boundary_source_id,
        }

    def columns(self) -> dict[str, Sequence[object] | npt.NDArray[Any]]:
        """The site columns (``app.db.sites.GEOGRAPHY_COLUMNS``) for all points at once:
        NaN distances and probabilities where unknown, claimants as tuples. The arrays
        themselves, not lists of their values (a list is 8 MB more a million points)."""
        n = len(self.border_distance_m)
        return {
            "country_iso3": self.country_iso3,
            "location_status": self.location_status,
            # tuples as they are (most empty, all the same one), not a new list per site
            "claimants": self.claimants,
            "border_distance_m": self.border_distance_m,
            "border_pair": self.border_pair,
            "neighbour_iso3": self.neighbour_iso3,
            "side_probability": self.side_probability,
            "side_confidence": self.side_confidence,
            "boundary_source_id": [self.boundary_source_id] * n,
        }

    def border_rows(self, site_ids: npt.ArrayLike) -> list[tuple[int, str, float]]:
        """``(site_id, pair_code, distance_m)`` rows, ``site_ids`` aligned with the points."""
        ids = np.asarray(site_ids)[self.near_borders.point]
        return list(
            zip(
                ids.tolist(),
                self.near_borders.pair_code.tolist(),
                self.near_borders.distance_m.tolist(),
                strict=True,
            )
        )


def _neighbours(
    pairs: npt.NDArray[np.object_], country: npt.NDArray[np.object_]
) -> npt.NDArray[np.object_]:
    """The country across each site's nearest border (None when the site is in neither)."""
    codes = np.array([p if isinstance(p, str) else "-" for p in pairs], dtype="U7")
    split = np.char.partition(codes, "-")
    shared: dict[str, str] = {}  # one string per country code, not one per site
    a, b = (
        np.array([shared.setdefault(code, code) for code in part.tolist()], dtype=object)
        for part in (split[:, 0], split[:, 2])
    )
    out = np.full(len(pairs), None, dtype=object)
    out[country == a] = b[country == a]
    out[country == b] = a[country == b]
    out[[not isinstance(p, str) for p in pairs]] = None
    return out


def measure(
    state: BoundarySet,
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    accuracy_m: Sequence[float | None] | npt.NDArray[np.float64] | None = None,
) -> SiteGeography:
    lon_a = np.asarray(lon, dtype=float)
    lat_a = np.asarray(lat, dtype=float)
    # numpy reads None as NaN in a float array: "accuracy unknown".
    accuracy = (
        np.full(len(lon_a), np.nan) if accuracy_m is None else np.asarray(accuracy_m, dtype=float)
    )
    location = state.locator.locate(lon_a, lat_a)
    if len(state.borders):
        nearest = state.border_index.nearest(lon_a, lat_a)
        distance, pair = nearest.distance_m, nearest.pair_code
        near = pair_distances(state.border_index, lon_a, lat_a, radius_m=STORED_RADIUS_KM * 1000)
    else:
        distance = np.full(len(lon_a), np.nan)
        pair = np.full(len(lon_a), None, dtype=object)
        near = pair_distances_none()
    probability, label = side_of_border(distance, accuracy, state.source.positional_uncertainty_m)
    return SiteGeography(
        country_iso3=location.iso3,
        location_status=location.status,
        claimants=location.claimants,
        border_distance_m=distance,
        border_pair=pair,
        neighbour_iso3=_neighbours(pair, location.iso3),
        side_probability=probability,
        side_confidence=label,
        near_borders=near,
        boundary_source_id=state.source.id,
        shared_by=location.shared_by,
    )


def pair_distances_none() -> PairDistances:
    return PairDistances(
        np.array([], dtype=np.intp), np.array([], dtype=object), np.array([], dtype=float)
    )


#: How a recompute measures its points: :func:`measure` in this process, or the same function
#: on Dask partitions (``app.services.dask_measure``).
Measurer = Callable[
    [BoundarySet, npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]],
    "SiteGeography",
]


def concatenate(parts: Sequence[SiteGeography]) -> SiteGeography:
    """The geography of consecutive slices of the points, as if measured at once (the
    per-border rows' point indices shifted by the points before each slice)."""
    if len(parts) == 1:
        return parts[0]
    starts = np.cumsum([0, *(len(p.border_distance_m) for p in parts[:-1])])
    near = PairDistances(
        np.concatenate(
            [p.near_borders.point + start for p, start in zip(parts, starts, strict=True)]
        ),
        np.concatenate([p.near_borders.pair_code for p in parts]),
        np.concatenate([p.near_borders.distance_m for p in parts]),
    )
    # the per-point arrays: every derived site column but the source, which is one value
    column_names = [c for c in site_repo.GEOGRAPHY_COLUMNS if c != "boundary_source_id"]
    arrays = {name: np.concatenate([getattr(p, name) for p in parts]) for name in column_names}
    kept = [p.shared_by for p in parts if p.shared_by is not None]
    return SiteGeography(
        **arrays,
        near_borders=near,
        boundary_source_id=parts[0].boundary_source_id,
        shared_by=np.concatenate(kept) if len(kept) == len(parts) else None,
    )


def recompute_all(session: Session, state: BoundarySet, measurer: Measurer | None = None) -> int:
    """Re-measure every site against ``state`` in bulk; returns how many sites changed.

    ``measurer``: how the points are measured (default :func:`measure` here; Dask partitions
    with ``app.services.dask_measure``); reading and writing stay in this session either way.
    """
    points = site_repo.all_points(session)
    if not points.ids:
        return 0
    lon = np.asarray(points.lon, dtype=float)
    lat = np.asarray(points.lat, dtype=float)
    accuracy = np.asarray(points.accuracy_m, dtype=float)  # None: NaN, "unknown"
    geography = (measurer or measure)(state, lon, lat, accuracy)
    rows = [
        (site_id, *(geography.fields(i)[c] for c in site_repo.GEOGRAPHY_COLUMNS))
        for i, site_id in enumerate(points.ids)
    ]
    changed = site_repo.bulk_update_geography(session, site_repo.GEOGRAPHY_COLUMNS, rows)
    site_repo.replace_border_distances(session, geography.border_rows(points.ids))
    site_history.record_recompute(session, f"measured against {state.source.id}")  # HOOK(history)
    return changed
