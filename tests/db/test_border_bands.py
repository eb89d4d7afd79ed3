"""Border bands for maps: one computation per band, however many ask for it at once; a request
waits for its turn a bounded time; the drawn band is the width within its stated tolerance."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
import shapely
from sqlalchemy.orm import Session

from app.errors import ServiceUnavailable
from app.services import border_bands
from app.services.border_bands import border_band
from app.services.boundary_state import BoundaryCache
from geo.borders import BorderIndex


def test_identical_requests_at_once_share_one_computation(
    session: Session, boundary_cache: BoundaryCache
) -> None:
    """Four requests for one new band at the same moment get the very same geometry object:
    one computed it, the others waited for it (each once computed its own, side by side:
    ~20 s of CPU each for every border)."""
    state = boundary_cache.current(session)
    assert state is not None
    results: list[dict[str, Any]] = []
    start = threading.Barrier(4)

    def ask() -> None:
        start.wait()
        results.append(border_band(state, ("CAF-CMR",), 3.217))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 4
    assert all(result is results[0] for result in results)
    assert results[0]["type"] in ("Polygon", "MultiPolygon")


def test_a_band_waits_for_its_turn_only_so_long(
    session: Session, boundary_cache: BoundaryCache
) -> None:
    """While another band is being drawn, a request with ``wait_s`` is a 503 bands_busy with
    Retry-After once ``wait_s`` has passed, not a request thread held until every band asked
    before it is drawn (a helper sent one within_km after another: each waited minutes); the
    same request is drawn once the turn is free."""
    state = boundary_cache.current(session)
    assert state is not None
    assert border_bands._computing.acquire(timeout=60), "no band left drawing by another test"
    try:
        with pytest.raises(ServiceUnavailable) as refused:
            border_band(state, ("CAF-CMR",), 4.321, wait_s=0.2)
    finally:
        border_bands._computing.release()
    assert refused.value.code == border_bands.BANDS_BUSY
    assert refused.value.headers == {"Retry-After": "1"}
    assert "retry in 1 s" in refused.value.detail
    drawn = border_band(state, ("CAF-CMR",), 4.321, wait_s=60)
    assert drawn["type"] in ("Polygon", "MultiPolygon")


def test_the_drawn_band_is_within_its_tolerance_of_the_width(
    session: Session, boundary_cache: BoundaryCache
) -> None:
    """The band is drawn from simplified stretches (2 % of the width) and simplified again for
    the page (about 100 m): every vertex of its outline is still the width from the border,
    give or take those two."""
    state = boundary_cache.current(session)
    assert state is not None
    width_km = 25.0
    band = shapely.geometry.shape(border_band(state, ("CAF-CMR",), width_km))
    [border] = [b for b in state.borders if b.pair_code == "CAF-CMR"]
    index = BorderIndex.from_lines([border])
    outline = shapely.get_coordinates(shapely.boundary(band))
    distance_m = index.nearest(outline[:, 0], outline[:, 1]).distance_m
    # Vertices where the outline meets another stretch's cap lie further in; the far side is
    # bounded by the tolerances: 2 % of the width and about 111 m of display simplification.
    slack_m = width_km * 1000 * border_bands.TOLERANCE_FRACTION + 112
    assert distance_m.max() <= width_km * 1000 * 1.001 + slack_m
    assert np.median(distance_m) == pytest.approx(width_km * 1000, abs=slack_m)


@pytest.mark.parametrize("width_km", [1.0, 3.0])
def test_a_narrow_band_covers_its_border(
    session: Session, boundary_cache: BoundaryCache, width_km: float
) -> None:
    """The page's simplification is at most 2 % of the width: a band of 1 km simplified by
    the fixed 100 m of wider bands missed stretches of its own border and was drawn several
    times its area (found by a helper at 0.1 km and under)."""
    state = boundary_cache.current(session)
    assert state is not None
    [border] = [b for b in state.borders if b.pair_code == "CAF-CMR"]
    band = shapely.geometry.shape(border_band(state, ("CAF-CMR",), width_km))
    assert band.contains(border.geometry)
    vertices = shapely.get_coordinates(shapely.boundary(band))
    index = BorderIndex.from_lines([border])
    distance_m = index.nearest(vertices[:, 0], vertices[:, 1]).distance_m
    slack_m = 2 * width_km * 1000 * border_bands.TOLERANCE_FRACTION
    assert distance_m.max() <= width_km * 1000 * 1.001 + slack_m
