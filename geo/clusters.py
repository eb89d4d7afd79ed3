"""Clusters of sites: geodesic DBSCAN and percolation (summaries and stable ids:
:mod:`geo.cluster_summaries`, re-exported here).

A cluster is a DBSCAN cluster in the geodesic sense: a site is a *core* site when at least
``min_samples`` sites (itself included, as in scikit-learn) lie within ``eps_m`` metres
along the WGS 84 ellipsoid; core sites within ``eps_m`` of each other belong together; a
non-core site within ``eps_m`` of a core site joins that core site's cluster (the nearest
one, so the result does not depend on the order of the input); other sites are noise
(label -1). A cluster is *cross-border* when its members lie in two or more countries.

How DBSCAN runs on a million sites in seconds, exactly
------------------------------------------------------
Sites become Earth-centred 3-D points, where the straight chord between two sites is never
longer than the geodesic and at most a hair shorter (0.1 mm at 5 km, see
:func:`geo.geodesic.chord_within_m`). Pairs whose chord falls in that hair-wide band are
settled by ``Geod.inv``; every other decision is plain geometry:

1. **Cells.** Space is cut into cubes whose diagonal is the "certainly within eps" chord,
   so any two sites in one cube are neighbours. A cube holding ``min_samples`` sites makes
   all of them core without counting anything; a site in a sparser cube is core when its
   ``min_samples``-th nearest site is within eps (one bounded k-nearest query in a k-d
   tree: no neighbour beyond the k-th is ever visited).
2. **Core connectivity per cube.** The core sites of a cube are pairwise neighbours, so a
   cube is one node of the connectivity graph. Two cubes (at most two cubes apart on each
   axis) are joined when some pair of their core sites is within eps: first tried on the
   pair of core sites nearest each cube's centre (this settles almost every pair in dense
   areas), then, only for cube pairs still in different components, on all their core
   pairs. ``scipy.sparse.csgraph.connected_components`` does the rest.
3. **Border sites** take the cluster of their nearest core site within eps.

Nothing enumerates all neighbour pairs, which in a dense region is what makes a plain
DBSCAN slow and memory-hungry (47 million pairs for the benchmark's million sites at 5 km).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geo.cluster_summaries import (
    ClusterSummary,
    SiteId,
    assign_stable_ids,
    mint_cluster_id,
    spans_km,
    summarise,
)
from geo.geodesic import (
    FloatArray,
    IntArray,
    chord_within_m,
    ecef_m,
    inverse_distance_m,
)

NOISE: Final = -1
# Cube indices are packed into one int64 key, 21 bits per axis: cubes must be at least
# 6.1 m wide (Earth's diameter / 2^21), hence the smallest eps.
_AXIS_BITS: Final = 21
_AXIS_OFFSET: Final = 1 << (_AXIS_BITS - 1)
MIN_EPS_M: Final = 15.0
MAX_EPS_M: Final = 1_000_000.0
_PAIR_BATCH: Final = 2_000_000  # core pairs checked at once in step 2 (bounds memory)


# --------------------------------------------------------------------------- DBSCAN
def dbscan_geodesic(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    *,
    eps_m: float,
    min_samples: int,
    workers: int = -1,
) -> IntArray:
    """DBSCAN labels with geodesic (WGS 84) distances; see the module docstring.

    Parameters
    ----------
    lon, lat
        1-D arrays of degrees. Rows with NaN are noise.
    eps_m
        Neighbourhood radius in metres, between 15 m and 1 000 km.
    min_samples
        Sites (the site itself included) within ``eps_m`` that make a site core; 1 makes
        every site core, so every site is in a cluster.
    workers
        Threads for the k-d tree queries (-1: all cores).

    Returns
    -------
    ndarray of int
        Cluster number per site, numbered 0, 1, ... in order of each cluster's first site;
        -1 for noise. The partition of core sites is the one scikit-learn's DBSCAN finds with
        the same geodesic metric; a border site within reach of two clusters goes to the
        cluster of its nearest core site (scikit-learn picks by visiting order).

    Examples
    --------
    >>> lon = [20.0, 20.03, 20.06, 25.0]
    >>> dbscan_geodesic(lon, [0.0, 0.0, 0.0, 0.0], eps_m=4_000, min_samples=2).tolist()
    [0, 0, 0, -1]
    """
    return _dbscan(_Sites.of(lon, lat), eps_m, min_samples, workers)


@dataclass(frozen=True)
class _Sites:
    """Finite sites in 3-D with their k-d tree: built once, reused by every eps tried."""

    count: int
    valid: IntArray
    lon: FloatArray
    lat: FloatArray
    xyz: FloatArray
    tree: cKDTree

    @classmethod
    def of(cls, lon: npt.ArrayLike, lat: npt.ArrayLike) -> _Sites:
        lon_a = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        if lon_a.shape != lat_a.shape or lon_a.ndim != 1:
            raise ValueError("lon and lat must be 1-D arrays of the same length")
        valid = np.flatnonzero(np.isfinite(lon_a) & np.isfinite(lat_a))
        xyz = ecef_m(lon_a[valid], lat_a[valid])
        return cls(lon_a.size, valid, lon_a[valid], lat_a[valid], xyz, cKDTree(xyz))


def _dbscan(sites: _Sites, eps_m: float, min_samples: int, workers: int) -> IntArray:
    if not MIN_EPS_M <= eps_m <= MAX_EPS_M:
        raise ValueError(f"eps_m must be between {MIN_EPS_M} and {MAX_EPS_M} m")
    if min_samples < 1:
        raise ValueError("min_samples must be at least 1")
    labels = np.full(sites.count, NOISE, dtype=np.intp)
    if sites.valid.size:
        labels[sites.valid] = _Dbscan(sites, eps_m, min_samples, workers).run()
    return labels


class _Dbscan:
    """One DBSCAN run over finite points (steps 1-3 of the module docstring)."""

    def __init__(self, sites: _Sites, eps_m: float, min_samples: int, workers: int) -> None:
        self.lon, self.lat = sites.lon, sites.lat
        self.eps_m = eps_m
        self.min_samples = min_samples
        self.workers = workers
        self.sure_chord = chord_within_m(eps_m)  # chord <= this: certainly within eps
        self.max_chord = eps_m  # chord > this: certainly not (chord <= geodesic)
        self.xyz = sites.xyz
        self.tree = sites.tree
        side = self.sure_chord / np.sqrt(3.0)
        ijk = np.floor(self.xyz / side).astype(np.int64) + _AXIS_OFFSET
        self.cube_ijk = ijk
        key = (ijk[:, 0] << (2 * _AXIS_BITS)) | (ijk[:, 1] << _AXIS_BITS) | ijk[:, 2]
        self.cube_keys, self.cube_of = np.unique(key, return_inverse=True)
        self.cube_side = side

    def within_eps(self, i: IntArray, j: IntArray) -> npt.NDArray[np.bool_]:
        """Exact "geodesic(i, j) <= eps" for point pairs; Geod.inv only in the chord band."""
        chord = np.linalg.norm(self.xyz[i] - self.xyz[j], axis=1)
        result = chord <= self.sure_chord
        band = np.flatnonzero(~result & (chord <= self.max_chord))
        if band.size:
            distance = inverse_distance_m(
                self.lon[i[band]], self.lat[i[band]], self.lon[j[band]], self.lat[j[band]]
            )
            result[band] = distance <= self.eps_m
        return np.asarray(result, dtype=bool)

    def run(self) -> IntArray:
        core = self.core_mask()
        cube_component = self.core_cube_components(core)
        labels = np.full(self.lon.shape[0], NOISE, dtype=np.intp)
        labels[core] = cube_component[self.cube_of[core]]
        self.attach_border_points(core, labels)
        return _renumber_by_first_member(labels)

    # Step 1 ---------------------------------------------------------------
    def core_mask(self) -> npt.NDArray[np.bool_]:
        """Core sites: a full cube makes its sites core; others ask for their k-th neighbour.

        A site is core when its ``min_samples``-th nearest site (itself first) is within
        eps, so one k-nearest query (bounded by eps) decides it, however crowded the area:
        no neighbour is counted beyond the k-th.
        """
        cube_count = np.bincount(self.cube_of)
        core = cube_count[self.cube_of] >= self.min_samples
        rest = np.flatnonzero(~core)
        if rest.size:
            chord, _ = self.tree.query(
                self.xyz[rest],
                k=[self.min_samples],
                distance_upper_bound=self.max_chord,
                workers=self.workers,
            )
            kth = np.asarray(chord)[:, 0]
            core[rest[kth <= self.sure_chord]] = True
            self.settle_band_counts(rest[(kth > self.sure_chord) & (kth <= self.max_chord)], core)
        return core

    def settle_band_counts(self, points: IntArray, core: npt.NDArray[np.bool_]) -> None:
        """Exact neighbour counts for the few sites whose k-th neighbour is in the chord band."""
        if not points.size:
            return
        neighbours = self.tree.query_ball_point(self.xyz[points], r=self.max_chord)
        sizes = np.fromiter((len(n) for n in neighbours), dtype=np.intp, count=points.size)
        i = np.repeat(points, sizes)
        j = np.concatenate([np.asarray(n, dtype=np.intp) for n in neighbours])
        counts = np.bincount(
            np.repeat(np.arange(points.size), sizes)[self.within_eps(i, j)], minlength=points.size
        )
        core[points[counts >= self.min_samples]] = True

    # Step 2 ---------------------------------------------------------------
    def core_cube_components(self, core: npt.NDArray[np.bool_]) -> IntArray:
        """Component number of each cube (meaningful for cubes holding core points)."""
        cube_count = self.cube_keys.size
        core_points = np.flatnonzero(core)
        order = core_points[np.argsort(self.cube_of[core_points], kind="stable")]
        cube_of_core = self.cube_of[order]
        cubes = np.unique(cube_of_core)
        starts = np.searchsorted(cube_of_core, cubes)
        sizes = np.diff(np.append(starts, order.size))
        rep = order[starts + self.central_offset(order, cube_of_core, starts)]

        pair_a, pair_b = self.neighbouring_cubes(cubes)
        quick = self.within_eps(rep[pair_a], rep[pair_b])
        component = self.components(cube_count, cubes[pair_a[quick]], cubes[pair_b[quick]])
        open_pairs = np.flatnonzero(~quick)
        open_pairs = open_pairs[
            component[cubes[pair_a[open_pairs]]] != component[cubes[pair_b[open_pairs]]]
        ]
        linked = self.cube_pairs_linked(
            order, starts, sizes, pair_a[open_pairs], pair_b[open_pairs]
        )
        if linked.any():
            extra_a = cubes[pair_a[open_pairs[linked]]]
            extra_b = cubes[pair_b[open_pairs[linked]]]
            component = self.components(
                cube_count,
                np.concatenate([cubes[pair_a[quick]], extra_a]),
                np.concatenate([cubes[pair_b[quick]], extra_b]),
            )
        return component

    def central_offset(self, order: IntArray, cube_of_core: IntArray, starts: IntArray) -> IntArray:
        """Per cube, the position (within the cube's run) of the core point nearest its centre."""
        centre = (self.cube_ijk[order] - _AXIS_OFFSET + 0.5) * self.cube_side
        off_centre = np.linalg.norm(self.xyz[order] - centre, axis=1)
        nearest = np.lexsort((off_centre, cube_of_core))  # by cube, then distance
        first_in_cube = nearest[starts]
        return np.asarray(first_in_cube - starts, dtype=np.intp)

    def neighbouring_cubes(self, cubes: IntArray) -> tuple[IntArray, IntArray]:
        """Pairs (positions in ``cubes``) of occupied cubes at most 2 apart on each axis.

        Cubes 3 apart on an axis are more than 2 sides = 1.15 eps apart, so they can never
        hold neighbours; each unordered pair is listed once (offsets in one half-space).
        """
        keys = self.cube_keys[cubes]
        first: list[IntArray] = []
        second: list[IntArray] = []
        for dx in range(-2, 3):
            for dy in range(-2, 3):
                for dz in range(-2, 3):
                    if (dx, dy, dz) <= (0, 0, 0):
                        continue
                    shift = (dx << (2 * _AXIS_BITS)) + (dy << _AXIS_BITS) + dz
                    target = keys + shift
                    pos = np.searchsorted(keys, target)
                    pos_clipped = np.minimum(pos, keys.size - 1)
                    hit = keys[pos_clipped] == target
                    first.append(np.flatnonzero(hit))
                    second.append(pos_clipped[hit])
        return np.concatenate(first), np.concatenate(second)

    def cube_pairs_linked(
        self, order: IntArray, starts: IntArray, sizes: IntArray, a: IntArray, b: IntArray
    ) -> npt.NDArray[np.bool_]:
        """For cube pairs (positions), whether any of their core-point pairs is within eps.

        All core pairs of the given cube pairs are checked, in batches of about
        ``_PAIR_BATCH`` pairs so that two crowded cubes cannot exhaust memory.
        """
        linked = np.zeros(a.size, dtype=bool)
        work = sizes[a] * sizes[b]
        done_before = np.concatenate([[0], np.cumsum(work)])
        lo = 0
        while lo < a.size:
            hi = int(np.searchsorted(done_before, done_before[lo] + _PAIR_BATCH, side="right"))
            hi = min(max(hi - 1, lo + 1), a.size)
            batch = np.arange(lo, hi)
            counts = work[batch]
            pair = np.repeat(batch, counts)
            rank = np.arange(pair.size) - np.repeat(done_before[lo:hi] - done_before[lo], counts)
            i = order[starts[a[pair]] + rank // sizes[b[pair]]]
            j = order[starts[b[pair]] + rank % sizes[b[pair]]]
            linked[pair[self.within_eps(i, j)]] = True
            lo = hi
        return linked

    @staticmethod
    def components(count: int, a: IntArray, b: IntArray) -> IntArray:
        graph = coo_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(count, count))
        _, component = connected_components(graph, directed=False)
        return np.asarray(component, dtype=np.intp)

    # Step 3 ---------------------------------------------------------------
    def attach_border_points(self, core: npt.NDArray[np.bool_], labels: IntArray) -> None:
        core_points = np.flatnonzero(core)
        others = np.flatnonzero(~core)
        if not core_points.size or not others.size:
            return
        core_tree = cKDTree(self.xyz[core_points])
        chord, nearest = core_tree.query(
            self.xyz[others], k=1, distance_upper_bound=self.max_chord, workers=self.workers
        )
        found = np.isfinite(chord)
        candidates, partner = others[found], core_points[nearest[found]]
        ok = self.within_eps(candidates, partner)
        labels[candidates[ok]] = labels[partner[ok]]
        # The chord-nearest core site can fail only inside the 0.1 mm chord band; then
        # look at every core site within reach, exactly (this practically never runs).
        for point in candidates[~ok]:
            reach = core_points[core_tree.query_ball_point(self.xyz[point], r=self.max_chord)]
            within = reach[self.within_eps(np.full(reach.size, point), reach)]
            if within.size:
                labels[point] = labels[within[0]]


def _renumber_by_first_member(labels: IntArray) -> IntArray:
    clustered = labels >= 0
    if not clustered.any():
        return labels
    _, first = np.unique(labels[clustered], return_index=True)
    old_by_first = labels[clustered][np.sort(first)]
    mapping = np.full(labels.max() + 1, NOISE, dtype=np.intp)
    mapping[old_by_first] = np.arange(old_by_first.size)
    return np.where(clustered, mapping[np.maximum(labels, 0)], NOISE)


# --------------------------------------------------------------------------- percolation
DEFAULT_GIANT_SHARE: Final = 0.25
DEFAULT_GIANT_MIN_SITES: Final = 100
DEFAULT_SPAN_FACTOR: Final = 100.0


@dataclass(frozen=True)
class Percolation:
    """Whether one cluster has swallowed the map, judged on its largest cluster.

    ``percolated`` is true when the largest cluster holds at least ``giant_share`` of all
    sites (and at least ``giant_min_sites`` sites, so a survey of ten sites in one village
    is not flagged), or when it spans more than ``span_factor`` times eps: at 5 km, a
    "cluster" 500 km across is a chain of neighbours, not a place.
    """

    percolated: bool
    eps_m: float
    largest_count: int
    largest_share: float
    largest_span_km: float
    reason: str


def detect_percolation(
    labels: IntArray,
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    *,
    eps_m: float,
    giant_share: float = DEFAULT_GIANT_SHARE,
    giant_min_sites: int = DEFAULT_GIANT_MIN_SITES,
    span_factor: float = DEFAULT_SPAN_FACTOR,
) -> Percolation:
    """Judge a clustering's largest cluster; see :class:`Percolation` for the thresholds."""
    lon_a, lat_a = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    members = labels[labels >= 0]
    if not members.size:
        return Percolation(False, eps_m, 0, 0.0, 0.0, "no clusters")
    sizes = np.bincount(members)
    largest = int(np.argmax(sizes))
    inside = np.flatnonzero(labels == largest)
    span_km = float(spans_km(lon_a[inside], lat_a[inside], np.zeros(inside.size, np.intp), 1)[0])
    share = float(sizes[largest] / labels.size)
    reasons = []
    if share >= giant_share and sizes[largest] >= giant_min_sites:
        reasons.append(f"largest cluster holds {share:.0%} of the sites")
    if span_km * 1000 > span_factor * eps_m:
        reasons.append(f"largest cluster spans {span_km:.0f} km, over {span_factor:g} x eps")
    return Percolation(
        bool(reasons), eps_m, int(sizes[largest]), share, span_km, "; ".join(reasons) or "ok"
    )


@dataclass(frozen=True)
class Clustering:
    """Labels plus the eps they were computed with and the percolation verdict for it."""

    labels: IntArray
    eps_m: float
    percolation: Percolation
    eps_tried_m: tuple[float, ...]


def cluster_sites(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    *,
    eps_m: float,
    min_samples: int,
    adapt: bool = False,
    shrink: float = 0.7,
    min_eps_m: float = 250.0,
    workers: int = -1,
) -> Clustering:
    """DBSCAN at ``eps_m``, saying whether it percolated, and optionally adapting eps.

    With ``adapt=True`` and a percolated result, eps shrinks by ``shrink`` until the
    largest cluster stops percolating or eps would drop under ``min_eps_m``; the result
    carries the eps actually used and every eps tried, so an API can report "asked 5 km,
    used 1.7 km because 5 km merged 88 % of the sites into one cluster". Without
    ``adapt`` the verdict is only reported.
    """
    if not 0 < shrink < 1:
        raise ValueError("shrink must be between 0 and 1")
    tried: list[float] = []
    eps = eps_m
    sites = _Sites.of(lon, lat)
    while True:
        labels = _dbscan(sites, eps, min_samples, workers)
        verdict = detect_percolation(labels, lon, lat, eps_m=eps)
        tried.append(eps)
        if not (adapt and verdict.percolated) or eps * shrink < max(min_eps_m, MIN_EPS_M):
            return Clustering(labels, eps, verdict, tuple(tried))
        eps *= shrink


__all__ = [
    "NOISE",
    "ClusterSummary",
    "Clustering",
    "Percolation",
    "SiteId",
    "assign_stable_ids",
    "cluster_sites",
    "dbscan_geodesic",
    "detect_percolation",
    "mint_cluster_id",
    "summarise",
]
