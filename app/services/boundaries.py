"""Boundary datasets: load a pinned source, derive borders, switch the active source.

Every change of the active source is recorded (``boundary_events``) and followed, in the same
transaction, by a bulk recompute of what sites derive from boundaries, so no site is ever
measured against a dataset that is not the active one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import shapely
from sqlalchemy.orm import Session

from app.db import boundaries as boundary_repo
from app.errors import InvalidParameter
from app.services import boundary_sources, site_geography
from app.services.boundary_state import BoundaryCache
from app.settings import Settings
from geo import boundaries as geo_boundaries
from geo.countries import read_country_table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadReport:
    source_id: str
    version: str
    countries: int
    borders: int
    disputed_areas: int
    sites_recomputed: int
    seconds: float
    fetched: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def recipe(source_id: str) -> boundary_sources.BoundarySource:
    recipes = {r.id: r for r in boundary_sources.load_recipes()}
    if source_id not in recipes:
        raise InvalidParameter(
            f"unknown boundary source {source_id!r}; known: {', '.join(sorted(recipes))}"
        )
    return recipes[source_id]


def load_source(
    session: Session, settings: Settings, source_id: str, cache: BoundaryCache | None = None
) -> LoadReport:
    """Fetch (pinned, checksummed), derive, store and activate ``source_id``; one commit.

    A source already loaded from the same file is only re-activated.
    """
    started = time.perf_counter()
    source = recipe(source_id)
    loaded = boundary_repo.loaded_source_ids(session)
    fetched = loaded.get(source.id) != source.sha256
    active = boundary_repo.active_source(session)
    if not fetched and active is not None and active.id == source.id:
        # Already the active dataset, from the same file: nothing to do, nothing to re-measure.
        state = (cache or BoundaryCache()).current(session)
        assert state is not None
        return LoadReport(
            source.id,
            source.version,
            len(state.country_codes),
            len(state.borders),
            len(state.disputed),
            0,
            round(time.perf_counter() - started, 2),
            fetched=False,
        )
    counts: dict[str, int] = {}
    if fetched:
        counts = _store(session, settings, source)
    boundary_repo.activate(session, source.id)
    boundary_repo.record_event(
        session, source.id, "activated", {"version": source.version, "reloaded": fetched}
    )
    session.flush()
    state = (cache or BoundaryCache()).current(session, force=True)
    assert state is not None
    recomputed = site_geography.recompute_all(session, state)
    session.commit()
    report = LoadReport(
        source_id=source.id,
        version=source.version,
        countries=counts.get("countries", len(state.country_codes)),
        borders=counts.get("borders", len(state.borders)),
        disputed_areas=counts.get("disputed_areas", len(state.disputed)),
        sites_recomputed=recomputed,
        seconds=round(time.perf_counter() - started, 2),
        fetched=fetched,
    )
    log.info("boundary source %s active: %s", source.id, report.as_dict())
    return report


def ensure_loaded(session: Session, settings: Settings, cache: BoundaryCache) -> LoadReport | None:
    """Load the configured default source when no source is active yet (first start)."""
    if boundary_repo.active_source(session) is not None:
        return None
    return load_source(session, settings, settings.boundary_source, cache)


LAND_SOURCE = "natural-earth-10m"


def _land(settings: Settings) -> tuple[str, bytes]:
    """World land from the pinned Natural Earth file (its ``land`` layer), whatever the source:
    it only decides whether a point in no loaded country is on land or at sea."""
    land_source = recipe(LAND_SOURCE)
    path = boundary_sources.fetch(land_source, settings.cache_dir / "boundaries")
    origin = f"{land_source.name} {land_source.version}, layer land"
    return origin, shapely.to_wkb(geo_boundaries.read_land(path))


def _store(
    session: Session, settings: Settings, source: boundary_sources.BoundarySource
) -> dict[str, int]:
    path = boundary_sources.fetch(source, settings.cache_dir / "boundaries")
    table = {country.iso3: country for country in read_country_table()}
    polygons = geo_boundaries.read_country_polygons(
        path,
        format=source.format,
        id_field=source.id_field,
        id_kind=source.id_kind,
        countries=sorted(table),
        layer=source.layer,
    )
    borders = geo_boundaries.derive_borders(polygons)
    disputed = geo_boundaries.find_disputed_areas(polygons)
    country_rows = [
        boundary_repo.CountryRow(
            iso3=iso3,
            name_en=table[iso3].name("en"),
            name_fr=table[iso3].name("fr"),
            name_pt=table[iso3].name("pt"),
            area_km2=geo_boundaries.geodesic_area_km2(geometry),
            wkb=shapely.to_wkb(geometry),
        )
        for iso3, geometry in zip(polygons["iso3"], polygons.geometry, strict=True)
    ]
    border_rows = [
        boundary_repo.BorderRow(
            b.pair_code, b.country_a, b.country_b, b.length_km, shapely.to_wkb(b.geometry)
        )
        for b in borders
    ]
    disputed_rows = [
        boundary_repo.DisputedRow(d.claimants, d.area_km2, shapely.to_wkb(d.geometry))
        for d in disputed
    ]
    record = boundary_repo.SourceRecord(
        id=source.id,
        name=source.name,
        version=source.version,
        licence=source.licence,
        licence_url=source.licence_url,
        attribution=source.attribution,
        sha256=source.sha256,
        positional_uncertainty_m=source.positional_uncertainty_m,
    )
    boundary_repo.store_source(
        session, record, country_rows, border_rows, disputed_rows, land=_land(settings)
    )
    counts = {
        "countries": len(country_rows),
        "borders": len(border_rows),
        "disputed_areas": len(disputed_rows),
    }
    boundary_repo.record_event(session, source.id, "loaded", {"version": source.version, **counts})
    return counts


def recompute(
    session: Session,
    cache: BoundaryCache | None = None,
    measurer: site_geography.Measurer | None = None,
) -> tuple[int, float]:
    """Re-measure every site against the active boundaries; (sites changed, seconds).
    ``measurer``: where the points are measured (this process by default; a Dask cluster
    with ``app.services.dask_measure.measurer_on``)."""
    started = time.perf_counter()
    state = (cache or BoundaryCache()).current(session)
    if state is None:
        raise InvalidParameter("no boundary source is active; run `borderlens borders load`")
    changed = site_geography.recompute_all(session, state, measurer)
    session.commit()
    return changed, time.perf_counter() - started
