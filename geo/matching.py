"""Is this observation the same place as that site? Geodesic distance, compatible name or kind.

Two survey teams rarely write a site the same way ("Chantier Bania", "Bania", "BANIA mine"),
and GPS fixes of one pit scatter by tens of metres. An observation joins a site when it lies
within ``distance_m`` (geodesic, WGS 84) *and* its name is compatible or its kind is the same;
a mine and the comptoir next to it, with different names, stay two sites.

Neighbour search uses a k-d tree on unit vectors (chord distance is monotonic in great-circle
distance), then every candidate pair is confirmed with ``pyproj.Geod.inv``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from pyproj import Geod
from scipy.spatial import cKDTree

from geo.vocab import fold

GEOD = Geod(ellps="WGS84")
MEAN_EARTH_RADIUS_M = 6_371_008.8
# The sphere can be 0.6 % off the ellipsoid; search a little wider, then check exactly.
SEARCH_SLACK = 1.01
NAME_SIMILARITY = 0.8
GENERIC_WORDS = frozenset(
    {
        "chantier",
        "site",
        "mine",
        "minier",
        "comptoir",
        "marche",
        "market",
        "bureau",
        "d'achat",
        "achat",
        "de",
        "du",
        "la",
        "le",
        "des",
        "the",
        "of",
        "point",
        "vente",
        "carriere",
    }
)

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]


def unit_vectors(lon: npt.ArrayLike, lat: npt.ArrayLike) -> FloatArray:
    lam = np.radians(np.asarray(lon, dtype=float))
    phi = np.radians(np.asarray(lat, dtype=float))
    cos_phi = np.cos(phi)
    return np.column_stack((cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)))


def chord_for(distance_m: float) -> float:
    angle = min(distance_m * SEARCH_SLACK / MEAN_EARTH_RADIUS_M, np.pi)
    return float(2 * np.sin(angle / 2))


def _words(name: str) -> frozenset[str]:
    return frozenset(fold(name).replace("-", " ").split()) - GENERIC_WORDS


def names_compatible(a: str | None, b: str | None) -> bool:
    """Same site name, allowing case, accents, generic words and small misspellings.

    >>> names_compatible("Chantier Bania", "BANIA")
    True
    >>> names_compatible("Comptoir Berbérati", "comptoir berberati centre")
    True
    >>> names_compatible("Chantier Bania", "Chantier Kette")
    False
    >>> names_compatible(None, "Bania")
    False
    """
    if not a or not b:
        return False
    fa, fb = fold(a), fold(b)
    if fa == fb:
        return True
    wa, wb = _words(a), _words(b)
    if wa and wb and (wa <= wb or wb <= wa):
        return True
    return difflib.SequenceMatcher(None, fa, fb).ratio() >= NAME_SIMILARITY


def compatible(
    name_a: str | None, kind_a: str | None, name_b: str | None, kind_b: str | None
) -> bool:
    """A compatible name, or the same kind (an unknown kind is compatible with any)."""
    if names_compatible(name_a, name_b):
        return True
    return kind_a is None or kind_b is None or kind_a == kind_b


def geodesic_m(
    lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike
) -> FloatArray:
    _, _, distance = GEOD.inv(
        np.asarray(lon1, dtype=float),
        np.asarray(lat1, dtype=float),
        np.asarray(lon2, dtype=float),
        np.asarray(lat2, dtype=float),
    )
    return np.asarray(distance, dtype=float)


def match_existing(
    lon: FloatArray,
    lat: FloatArray,
    names: Sequence[str | None],
    kinds: Sequence[str | None],
    candidates: tuple[IntArray, FloatArray, FloatArray, Sequence[str | None], Sequence[str | None]],
    *,
    distance_m: float,
) -> IntArray:
    """For each observation, the index of the nearest compatible candidate site within
    ``distance_m``, or -1.

    ``candidates`` = (observation index, site lon, site lat, site name, site kind): pairs a
    coarse search (e.g. the database's spatial index) proposed; each is checked exactly here.
    """
    match = np.full(len(lon), -1, dtype=np.intp)
    obs_idx, site_lon, site_lat, site_names, site_kinds = candidates
    if len(obs_idx) == 0:
        return match
    distance = geodesic_m(lon[obs_idx], lat[obs_idx], site_lon, site_lat)
    for k in np.argsort(distance, kind="stable"):
        i = int(obs_idx[k])
        if distance[k] > distance_m or match[i] >= 0:
            continue
        if compatible(names[i], kinds[i], site_names[k], site_kinds[k]):
            match[i] = k
    return match


def group_observations(
    lon: FloatArray,
    lat: FloatArray,
    names: Sequence[str | None],
    kinds: Sequence[str | None],
    *,
    distance_m: float,
) -> IntArray:
    """Group observations of the same place: label of each row (the index of its group's
    first row, in row order).

    Leader clustering, not single linkage: a row joins the earliest group whose *first* row is
    within ``distance_m`` and compatible, so a line of pits 90 m apart does not chain into one
    site kilometres long.
    """
    n = len(lon)
    labels = np.arange(n, dtype=np.intp)
    if n < 2:
        return labels
    tree = cKDTree(unit_vectors(lon, lat))
    pairs = tree.query_pairs(chord_for(distance_m), output_type="ndarray")
    if len(pairs) == 0:
        return labels
    i, j = pairs[:, 0], pairs[:, 1]
    near = geodesic_m(lon[i], lat[i], lon[j], lat[j]) <= distance_m
    neighbours: dict[int, list[int]] = {}
    for a, b in zip(i[near].tolist(), j[near].tolist(), strict=True):
        low, high = (a, b) if a < b else (b, a)
        neighbours.setdefault(high, []).append(low)
    for row in sorted(neighbours):
        for earlier in sorted(neighbours[row]):
            leader = labels[earlier]
            if leader == earlier and compatible(
                names[row], kinds[row], names[leader], kinds[leader]
            ):
                labels[row] = leader
                break
    return labels
