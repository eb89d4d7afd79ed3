"""Cluster summaries and stable ids: what the service stores and serves for each cluster.

A summary holds the members, their countries, kinds and minerals, the cluster's span (the
largest geodesic distance between two members) and its shape (the members' convex hull,
buffered); ``assign_stable_ids`` carries ids over from a previous run when membership barely
changed, so a cluster keeps its id when one far-away site is added.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
import numpy.typing as npt
import shapely

from geo.geodesic import (
    ECCENTRICITY_SQUARED,
    SEMI_MAJOR_M,
    FloatArray,
    IntArray,
    ecef_m,
    inverse_distance_m,
)

SiteId = str | int
DEFAULT_BUFFER_M: Final = 1_000.0
_HULL_PAIR_LIMIT: Final = 600  # hull vertices compared pairwise for a span (more: sampled)


@dataclass(frozen=True)
class ClusterSummary:
    """One cluster as the service stores and serves it.

    ``site_ids`` are sorted (by their text); ``countries``, ``kinds`` and ``minerals`` are
    sorted distinct values (unknown countries left out); ``span_km`` is the largest geodesic
    distance between two members; ``geometry`` is the members' convex hull buffered by
    ``buffer_m`` (a lon/lat Polygon, valid, also for one or two members).
    """

    cluster_id: str
    site_ids: tuple[SiteId, ...]
    countries: tuple[str, ...]
    kinds: tuple[str, ...]
    minerals: tuple[str, ...]
    count: int
    span_km: float
    geometry: shapely.Geometry
    cross_border: bool

    @property
    def members(self) -> frozenset[SiteId]:
        return frozenset(self.site_ids)


def mint_cluster_id(site_ids: Iterable[SiteId]) -> str:
    """A deterministic id from the member ids: the same members always give the same id."""
    text = "\n".join(sorted(str(site) for site in site_ids))
    return "cl-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def _group_centres(lon: FloatArray, lat: FloatArray, group: IntArray, groups: int) -> FloatArray:
    """Lon/lat of each group's 3-D centroid, shape (groups, 2)."""
    xyz = ecef_m(lon, lat)
    sums = np.stack([np.bincount(group, xyz[:, k], minlength=groups) for k in range(3)], axis=1)
    centre_lon = np.degrees(np.arctan2(sums[:, 1], sums[:, 0]))
    centre_lat = np.degrees(np.arctan2(sums[:, 2], np.hypot(sums[:, 0], sums[:, 1])))
    return np.stack([centre_lon, centre_lat], axis=1)


def _metres_per_degree(lat_deg: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Metres per degree of longitude and of latitude on WGS 84 at each latitude."""
    phi = np.radians(lat_deg)
    w = np.sqrt(1 - ECCENTRICITY_SQUARED * np.sin(phi) ** 2)
    prime_vertical = SEMI_MAJOR_M / w
    meridian = SEMI_MAJOR_M * (1 - ECCENTRICITY_SQUARED) / w**3
    return np.radians(1.0) * prime_vertical * np.cos(phi), np.radians(1.0) * meridian


@dataclass(frozen=True)
class _LocalPlanes:
    """A local equirectangular plane per group (metres around the group's centre).

    Exact scale at the centre and within a fraction of a percent over a few hundred km:
    good for drawing hulls and picking the hull vertices that carry a span. The map is
    affine per group, so valid shapes stay valid on the way back to lon/lat.
    """

    centre: FloatArray
    metres_per_lon: FloatArray
    metres_per_lat: FloatArray

    @classmethod
    def around(cls, lon: FloatArray, lat: FloatArray, group: IntArray, groups: int) -> _LocalPlanes:
        centre = _group_centres(lon, lat, group, groups)
        per_lon, per_lat = _metres_per_degree(centre[:, 1])
        return cls(centre, per_lon, per_lat)

    def to_plane(self, lon: FloatArray, lat: FloatArray, group: IntArray) -> FloatArray:
        dlon = (lon - self.centre[group, 0] + 180.0) % 360.0 - 180.0
        return np.stack(
            [
                dlon * self.metres_per_lon[group],
                (lat - self.centre[group, 1]) * self.metres_per_lat[group],
            ],
            axis=1,
        )

    def to_lon_lat(self, xy: FloatArray, group: IntArray) -> FloatArray:
        lon = self.centre[group, 0] + xy[:, 0] / self.metres_per_lon[group]
        lat = self.centre[group, 1] + xy[:, 1] / self.metres_per_lat[group]
        return np.stack([(lon + 180.0) % 360.0 - 180.0, lat], axis=1)


def _hulls(
    lon: FloatArray, lat: FloatArray, group: IntArray, groups: int
) -> tuple[_LocalPlanes, npt.NDArray[np.object_]]:
    """Convex hull of each group in its local plane (group must be sorted)."""
    planes = _LocalPlanes.around(lon, lat, group, groups)
    points = shapely.multipoints(planes.to_plane(lon, lat, group), indices=group)
    return planes, np.asarray(shapely.convex_hull(points), dtype=object)


def spans_km(lon: FloatArray, lat: FloatArray, group: IntArray, groups: int) -> FloatArray:
    """Largest geodesic distance between members, per group (group must be sorted).

    Only hull vertices (in the local plane) can be the farthest pair, so only they are
    compared, all pairs by ``Geod.inv``; hulls of more than 600 vertices are thinned evenly
    to 600 (the span may then come out short by up to the gap between kept vertices, which
    on a hull that large is a small fraction of the span).
    """
    planes, hulls = _hulls(lon, lat, group, groups)
    xy, owner = shapely.get_coordinates(hulls, return_index=True)
    vertices = planes.to_lon_lat(xy, owner)
    span_m = np.zeros(groups)
    starts = np.searchsorted(owner, np.arange(groups))
    counts = np.diff(np.append(starts, owner.size))
    for size in np.unique(counts[counts >= 2]):
        which = np.flatnonzero(counts == size)
        take = np.linspace(0, size - 1, min(size, _HULL_PAIR_LIMIT)).round().astype(np.intp)
        first, second = np.triu_indices(take.size, 1)
        a = (starts[which][:, None] + take[first][None, :]).ravel()
        b = (starts[which][:, None] + take[second][None, :]).ravel()
        distance = inverse_distance_m(
            vertices[a, 0], vertices[a, 1], vertices[b, 0], vertices[b, 1]
        )
        span_m[which] = distance.reshape(which.size, -1).max(axis=1)
    return span_m / 1000.0


def _buffered_hulls(
    lon: FloatArray, lat: FloatArray, group: IntArray, groups: int, buffer_m: float
) -> npt.NDArray[np.object_]:
    planes, hulls = _hulls(lon, lat, group, groups)
    buffered = shapely.buffer(hulls, buffer_m, quad_segs=8)
    xy, owner = shapely.get_coordinates(buffered, return_index=True)
    result: npt.NDArray[np.object_] = np.asarray(
        shapely.set_coordinates(buffered.copy(), planes.to_lon_lat(xy, owner)), dtype=object
    )
    return result


def _distinct(values: Iterable[object]) -> tuple[str, ...]:
    return tuple(sorted({str(v) for v in values if v is not None and v == v}))


def _distinct_minerals(values: Iterable[object]) -> tuple[str, ...]:
    found: set[str] = set()
    for value in values:
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, Iterable):
            found.update(str(v) for v in value if v is not None)
    return tuple(sorted(found))


def summarise(
    labels: npt.ArrayLike,
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    country: Sequence[str | None] | npt.NDArray[np.object_],
    kind: Sequence[str | None] | npt.NDArray[np.object_],
    minerals: Sequence[object] | npt.NDArray[np.object_],
    site_ids: Sequence[SiteId] | npt.NDArray[np.object_],
    *,
    buffer_m: float = DEFAULT_BUFFER_M,
) -> list[ClusterSummary]:
    """One :class:`ClusterSummary` per cluster label (noise left out), in label order.

    ``minerals`` holds per site an iterable of mineral codes (or one code as a string, or
    None). Ids are minted from the members (:func:`mint_cluster_id`); pass the result to
    :func:`assign_stable_ids` to carry over the ids of a previous run.
    """
    if buffer_m <= 0:
        raise ValueError("buffer_m must be positive (a hull of one site is a point)")
    labels_a = np.asarray(labels, dtype=np.intp)
    clustered = np.flatnonzero(labels_a >= 0)
    if not clustered.size:
        return []
    order = clustered[np.argsort(labels_a[clustered], kind="stable")]
    cluster_numbers, group = np.unique(labels_a[order], return_inverse=True)
    groups = cluster_numbers.size
    lon_s = np.asarray(lon, dtype=np.float64)[order]
    lat_s = np.asarray(lat, dtype=np.float64)[order]
    spans = spans_km(lon_s, lat_s, group, groups)
    shapes = _buffered_hulls(lon_s, lat_s, group, groups, buffer_m)

    country_a, kind_a = np.asarray(country, dtype=object), np.asarray(kind, dtype=object)
    minerals_a, ids_a = np.asarray(minerals, dtype=object), np.asarray(site_ids, dtype=object)
    bounds = np.append(np.searchsorted(group, np.arange(groups)), group.size)
    summaries = []
    for g in range(groups):
        rows = order[bounds[g] : bounds[g + 1]]
        members = tuple(sorted(ids_a[rows].tolist(), key=str))
        countries = _distinct(country_a[rows].tolist())
        summaries.append(
            ClusterSummary(
                cluster_id=mint_cluster_id(members),
                site_ids=members,
                countries=countries,
                kinds=_distinct(kind_a[rows].tolist()),
                minerals=_distinct_minerals(minerals_a[rows].tolist()),
                count=len(members),
                span_km=float(spans[g]),
                geometry=shapes[g],
                cross_border=len(countries) >= 2,
            )
        )
    return summaries


# --------------------------------------------------------------------------- stable ids
MIN_JACCARD: Final = 0.5


def assign_stable_ids(
    new: Sequence[ClusterSummary], previous: Mapping[str, frozenset[SiteId]]
) -> list[ClusterSummary]:
    """Carry cluster ids over from a previous run when membership barely changed.

    Each new cluster takes the id of the previous cluster it overlaps best, when their
    Jaccard index (shared members / all members) is at least 0.5; matching is one-to-one,
    best pairs first (ties broken by id, so reruns agree). Other clusters keep the id
    minted from their members, which is itself reproducible. A previous cluster that split
    in two passes its id to the larger half only (if that half still overlaps enough).
    """
    owner: dict[SiteId, str] = {}
    for cluster_id, members in previous.items():
        for site in members:
            owner[site] = cluster_id
    candidates: list[tuple[float, str, int]] = []
    for position, cluster in enumerate(new):
        shared = Counter(owner[s] for s in cluster.site_ids if s in owner)
        for old_id, together in shared.items():
            union = cluster.count + len(previous[old_id]) - together
            jaccard = together / union
            if jaccard >= MIN_JACCARD:
                candidates.append((-jaccard, old_id, position))
    candidates.sort(key=lambda c: (c[0], c[1], new[c[2]].cluster_id))
    taken_old: set[str] = set()
    chosen: dict[int, str] = {}
    for _, old_id, position in candidates:
        if old_id not in taken_old and position not in chosen:
            taken_old.add(old_id)
            chosen[position] = old_id
    # Minted ids are hashes of the members; guard against a (practically impossible)
    # collision with an id already in use rather than trust luck.
    used = set(chosen.values()) | set(previous)
    result = []
    for position, cluster in enumerate(new):
        cluster_id = chosen.get(position, cluster.cluster_id)
        if position not in chosen:
            while cluster_id in used:
                cluster_id = mint_cluster_id([cluster_id])
            used.add(cluster_id)
        result.append(replace(cluster, cluster_id=cluster_id))
    return result
