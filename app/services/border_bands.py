"""Distance bands around borders for maps ("within 25 km of CAF-CMR"), in true metres."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import orjson
import shapely

from app.services.boundary_state import BoundarySet
from geo.buffers import geodesic_buffer

# Drawing only: about 100 m of simplification keeps an embedded page light.
DISPLAY_TOLERANCE_DEG = 0.001
CACHE_SIZE = 32

_cache: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
_lock = threading.Lock()
# Bands being computed, by key: a second request for one waits for the first (a band of every
# border takes ~20 s of CPU; identical requests once computed side by side).
_pending: dict[tuple[Any, ...], threading.Event] = {}
# One band computed at a time per process: requests varying within_km (anyone may send
# them) hold one core at most, never every core.
_computing = threading.Semaphore(1)


def border_band(state: BoundarySet, pairs: tuple[str, ...], within_km: float) -> dict[str, Any]:
    """GeoJSON geometry of the points within ``within_km`` of any of ``pairs``."""
    key = (state.key, pairs, within_km)
    while True:
        with _lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
            pending = _pending.get(key)
            if pending is None:
                pending = _pending[key] = threading.Event()
                break
        pending.wait()  # computed by another request (or it failed: then try again)
    try:
        with _computing:
            geometry = _compute(state, pairs, within_km)
        with _lock:
            _cache[key] = geometry
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
        return geometry
    finally:
        with _lock:
            del _pending[key]
        pending.set()


def _compute(state: BoundarySet, pairs: tuple[str, ...], within_km: float) -> dict[str, Any]:
    lines = [border.geometry for border in state.borders if border.pair_code in pairs]
    band = geodesic_buffer(shapely.union_all(lines), within_km * 1000)
    shown = shapely.simplify(band, DISPLAY_TOLERANCE_DEG, preserve_topology=True)
    geometry: dict[str, Any] = orjson.loads(shapely.to_geojson(shown))
    return geometry
