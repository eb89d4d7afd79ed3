"""Distance bands around borders for maps ("within 25 km of CAF-CMR"), in true metres.

A band is drawn, never counted: which sites lie within a distance is answered by their exact
geodesic figures (``border_distance_m``), and a band only shows it. So each stretch of border
is simplified by :data:`TOLERANCE_FRACTION` of the band's width before it is buffered (the
outline lies within 2 % of the width of the exact one: 100 m for 5 km, 500 m for 25 km), and
the outline is simplified again for the page by about 100 m, or 2 % of the width when that is
less: the exact buffer of every border of the region (230 000 vertices) took 13-27 s of CPU,
the drawn one 1-6 s. Bands narrower than :data:`MIN_BAND_KM` are not drawn.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from typing import Any

import orjson
import shapely

from app.errors import ServiceUnavailable
from app.services.boundary_state import BoundarySet
from geo.buffers import geodesic_buffer

# Drawing only: about 100 m of simplification keeps an embedded page light (less for bands
# under 5.6 km: never more than TOLERANCE_FRACTION of the width, or a narrow band is drawn
# wider than it is and misses stretches of its own border).
DISPLAY_TOLERANCE_DEG = 0.001
#: Each stretch of border is simplified by this fraction of the band's width before buffering.
TOLERANCE_FRACTION = 0.02
#: Narrower bands are not drawn: every border's 1 km band is 8 MB of GeoJSON and 6 s of CPU,
#: a 1 m one 32 MB and 14 s, for a line no map shows apart from the border itself.
MIN_BAND_KM = 1.0
#: Wider bands are not drawn: they cover the region anyway.
MAX_BAND_KM = 1000.0
METRES_PER_DEGREE = 111_320.0  # at the equator: the display tolerance errs on the fine side
CACHE_SIZE = 32
#: How long a web request waits for its band's turn before a 503 (the pages pass it).
REQUEST_WAIT_S = 10.0
#: Code of the 503 answered when a band waits too long for its turn (see ``wait_s``).
BANDS_BUSY = "bands_busy"

_cache: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
_lock = threading.Lock()
# Bands being computed, by key: a second request for one waits for the first (identical
# requests once computed side by side).
_pending: dict[tuple[Any, ...], threading.Event] = {}
# One band computed at a time per process: requests varying within_km (anyone may send
# them) hold one core at most, never every core.
_computing = threading.Semaphore(1)


def border_band(
    state: BoundarySet, pairs: tuple[str, ...], within_km: float, *, wait_s: float | None = None
) -> dict[str, Any]:
    """GeoJSON geometry (EPSG:4326 lon/lat) of the points within ``within_km`` of any of
    ``pairs``, drawn as the module docstring says; cached (the last :data:`CACHE_SIZE`).

    ``wait_s``: how long a request may wait for its turn (bands are computed one at a time in
    a process); past it, ``ServiceUnavailable`` (503 ``bands_busy``, ``Retry-After``) rather
    than a request thread held while others' bands are drawn. ``None`` waits as long as it
    takes (jobs).
    """
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
        # computed by another request (or it failed: then try again)
        if not pending.wait(wait_s):
            raise _busy(wait_s)
    try:
        if not _computing.acquire(timeout=wait_s):
            raise _busy(wait_s)
        try:
            geometry = _compute(state, pairs, within_km)
        finally:
            _computing.release()
        with _lock:
            _cache[key] = geometry
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
        return geometry
    finally:
        with _lock:
            del _pending[key]
        pending.set()


#: How long a client or cache may reuse a band before revalidating it with its ETag (a band
#: changes only when the boundary source does).
CACHE_CONTROL = "public, max-age=300"


def band_tag(
    state: BoundarySet, pairs: tuple[str, ...], within_km: float, named: str | None
) -> str:
    """The weak ETag of a band answer, known before the band is drawn (a revalidation costs no
    drawing): the boundary source as loaded, the borders, the width, the border as asked, and
    how bands are drawn."""
    drawn_as = (TOLERANCE_FRACTION, DISPLAY_TOLERANCE_DEG, MIN_BAND_KM, MAX_BAND_KM)
    identity = repr((state.key, pairs, within_km, named, drawn_as)).encode()
    return f'W/"{hashlib.blake2b(identity, digest_size=16).hexdigest()}"'


def _busy(wait_s: float | None) -> ServiceUnavailable:
    retry_after = max(1, math.ceil(wait_s or 1))
    return ServiceUnavailable(
        f"other distance bands are being drawn on this server; retry in {retry_after} s",
        code=BANDS_BUSY,
        headers={"Retry-After": str(retry_after)},
        extra={"retry_after_s": retry_after},
    )


def _compute(state: BoundarySet, pairs: tuple[str, ...], within_km: float) -> dict[str, Any]:
    lines = [border.geometry for border in state.borders if border.pair_code in pairs]
    width_m = within_km * 1000
    band = geodesic_buffer(
        shapely.union_all(lines), width_m, tolerance_m=width_m * TOLERANCE_FRACTION
    )
    display_deg = min(DISPLAY_TOLERANCE_DEG, width_m * TOLERANCE_FRACTION / METRES_PER_DEGREE)
    shown = shapely.simplify(band, display_deg, preserve_topology=True)
    geometry: dict[str, Any] = orjson.loads(shapely.to_geojson(shown))
    return geometry
