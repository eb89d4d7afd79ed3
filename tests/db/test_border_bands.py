"""Border bands for maps: one computation per band, however many ask for it at once."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.orm import Session

from app.services.border_bands import border_band
from app.services.boundary_state import BoundaryCache


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
