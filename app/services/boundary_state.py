"""The active boundary set held in memory: country locator (and border index) per process.

Built from what the database stores (never straight from a file), so every worker measures
against exactly the rows the API serves. Rebuilt when another source becomes active.
"""

from __future__ import annotations

import threading
import typing
from dataclasses import dataclass

import geopandas as gpd
import shapely
from shapely.geometry import MultiLineString, MultiPolygon
from sqlalchemy.orm import Session

from app.db import boundaries as boundary_repo
from geo.borders import BorderIndex
from geo.boundaries import BorderLine, DisputedArea
from geo.countries import CountryLocator


@dataclass(frozen=True)
class BoundarySet:
    source: boundary_repo.ActiveSource
    locator: CountryLocator
    borders: tuple[BorderLine, ...]
    disputed: tuple[DisputedArea, ...]
    country_codes: tuple[str, ...]
    border_index: BorderIndex

    @property
    def key(self) -> tuple[str, object]:
        return (self.source.id, self.source.loaded_at)


def build_boundary_set(session: Session, source: boundary_repo.ActiveSource) -> BoundarySet:
    shapes = boundary_repo.country_shapes(session, source.id)
    countries = gpd.GeoDataFrame(
        {"iso3": [iso3 for iso3, _ in shapes]},
        geometry=shapely.from_wkb([wkb for _, wkb in shapes]),
        crs="EPSG:4326",
    )
    disputed = tuple(
        DisputedArea(
            claimants=claimants,
            geometry=typing.cast(MultiPolygon, shapely.from_wkb(wkb)),
            area_km2=area_km2,
        )
        for claimants, area_km2, wkb in boundary_repo.disputed_shapes(session, source.id)
    )
    borders = tuple(
        BorderLine(pair, a, b, typing.cast(MultiLineString, shapely.from_wkb(wkb)), length_km)
        for pair, a, b, length_km, wkb in boundary_repo.border_shapes(session, source.id)
    )
    land = boundary_repo.land_shape(session, source.id)
    return BoundarySet(
        source=source,
        locator=CountryLocator(countries, disputed, shapely.from_wkb(land) if land else None),
        borders=borders,
        disputed=disputed,
        country_codes=tuple(sorted(countries["iso3"])),
        border_index=BorderIndex.from_lines(borders) if borders else _no_borders(),
    )


def _no_borders() -> BorderIndex:
    """An index that is never queried (measure() checks for borders first)."""
    return BorderIndex.from_segments(["XXX-YYY"], [0.0], [0.0], [0.0], [1e-9])


class BoundaryCache:
    """Thread-safe holder of the current ``BoundarySet`` (one per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: BoundarySet | None = None

    def current(self, session: Session, *, force: bool = False) -> BoundarySet | None:
        source = boundary_repo.active_source(session)
        if source is None:
            return None
        with self._lock:
            state = self._state
            if force or state is None or state.key != (source.id, source.loaded_at):
                state = build_boundary_set(session, source)
                self._state = state
            return state
