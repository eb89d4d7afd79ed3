"""Cross-border clusters: groups of sites within ``eps`` (geodesic) of one another.

The default clustering (5 km, 3 sites, adapting eps when it percolates) is stored, and
recomputed when sites have changed since (a counter the database bumps on every write to
sites); its cluster ids carry over from the previous run when membership barely changes. Other
parameters are computed on request and kept in memory per version of the sites.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.db import clusters as cluster_repo
from app.db.clusters import StoredCluster
from geo.clusters import assign_stable_ids, cluster_sites, summarise

SessionFactory = Callable[[], AbstractContextManager[Session]]
CACHE_SIZE = 8


@dataclass(frozen=True)
class ClusterParams:
    eps_m: float = 5_000.0
    min_sites: int = 3
    adapt: bool = True


DEFAULT = ClusterParams()


@dataclass(frozen=True)
class ClusterView:
    """A clustering as served: how it was made, and its clusters (largest first)."""

    params: ClusterParams
    eps_used_m: float
    eps_tried_m: tuple[float, ...]
    percolation: dict[str, Any]
    sites_version: int
    site_count: int
    computed_at: str | None
    clusters: tuple[StoredCluster, ...]

    def metadata(self) -> dict[str, Any]:
        return {
            "eps_km_asked": self.params.eps_m / 1000,
            "eps_km_used": round(self.eps_used_m / 1000, 4),
            "eps_km_tried": [round(e / 1000, 4) for e in self.eps_tried_m],
            "min_sites": self.params.min_sites,
            "adapt": self.params.adapt,
            "percolation": self.percolation,
            "site_count": self.site_count,
            "computed_at": self.computed_at,
        }


_cache: OrderedDict[tuple[Any, ...], ClusterView] = OrderedDict()
_lock = threading.Lock()


def _remember(key: tuple[Any, ...], view: ClusterView) -> ClusterView:
    with _lock:
        _cache[key] = view
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return view


def _recall(key: tuple[Any, ...]) -> ClusterView | None:
    with _lock:
        return _cache.get(key)


def compute(
    session: Session, params: ClusterParams, previous: dict[str, frozenset[str]] | None = None
) -> tuple[ClusterView, cluster_repo.ClusteringInput]:
    """Cluster every site now (no writes)."""
    version = cluster_repo.sites_version(session)
    sites = cluster_repo.clustering_input(session)
    if len(sites.lon) == 0:
        empty = ClusterView(
            params, params.eps_m, (params.eps_m,), {"percolated": False}, version, 0, None, ()
        )
        return empty, sites
    clustering = cluster_sites(
        sites.lon,
        sites.lat,
        eps_m=params.eps_m,
        min_samples=params.min_sites,
        adapt=params.adapt,
    )
    summaries = summarise(
        clustering.labels,
        sites.lon,
        sites.lat,
        sites.country,
        sites.kind,
        sites.minerals,
        sites.public_id,
    )
    if previous:
        summaries = assign_stable_ids(summaries, previous)
    stored = tuple(
        sorted(
            (
                StoredCluster(
                    cluster_id=s.cluster_id,
                    member_ids=tuple(str(i) for i in s.site_ids),
                    countries=s.countries,
                    kinds=s.kinds,
                    minerals=s.minerals,
                    count=s.count,
                    span_km=s.span_km,
                    cross_border=s.cross_border,
                    geometry=s.geometry,
                )
                for s in summaries
            ),
            key=lambda c: (-c.count, c.cluster_id),
        )
    )
    percolation = asdict(clustering.percolation)
    view = ClusterView(
        params,
        clustering.eps_m,
        clustering.eps_tried_m,
        percolation,
        version,
        len(sites.lon),
        None,
        stored,
    )
    return view, sites


def refresh_default(session: Session) -> ClusterView:
    """Recompute and store the default clustering if sites changed since it was made; one
    transaction, serialised with an advisory lock (the caller commits)."""
    cluster_repo.lock_refresh(session)
    version = cluster_repo.sites_version(session)
    run = cluster_repo.latest_run(session, DEFAULT.eps_m, DEFAULT.min_sites, DEFAULT.adapt)
    if run is not None and run.sites_version == version:
        return stored_view(session, run)
    previous = cluster_repo.membership(session, run.id) if run else {}
    view, sites = compute(session, DEFAULT, previous)
    run_id = cluster_repo.insert_run(
        session,
        {
            "eps_m": DEFAULT.eps_m,
            "min_sites": DEFAULT.min_sites,
            "adapt": DEFAULT.adapt,
            "eps_used_m": view.eps_used_m,
            "eps_tried_m": list(view.eps_tried_m),
            "percolation": view.percolation,
            "sites_version": version,
            "site_count": view.site_count,
            "boundary_source_id": None,
        },
    )
    site_ids = dict(zip(sites.public_id.tolist(), sites.site_id.tolist(), strict=True))
    cluster_repo.store_clusters(session, run_id, view.clusters, site_ids)
    new_run = cluster_repo.latest_run(session, DEFAULT.eps_m, DEFAULT.min_sites, DEFAULT.adapt)
    assert new_run is not None
    cluster_repo.delete_older_runs(session, new_run)
    return stored_view(session, new_run)


def stored_view(session: Session, run: cluster_repo.RunRecord) -> ClusterView:
    key = ("run", run.id)
    cached = _recall(key)
    if cached is not None:
        return cached
    return _remember(
        key,
        ClusterView(
            params=ClusterParams(run.eps_m, run.min_sites, run.adapt),
            eps_used_m=run.eps_used_m,
            eps_tried_m=tuple(run.eps_tried_m),
            percolation=run.percolation,
            sites_version=run.sites_version,
            site_count=run.site_count,
            computed_at=run.computed_at.isoformat() if run.computed_at else None,
            clusters=tuple(
                sorted(
                    cluster_repo.load_clusters(session, run.id),
                    key=lambda c: (-c.count, c.cluster_id),
                )
            ),
        ),
    )


def ensure_fresh_default(session: Session, open_session: SessionFactory) -> None:
    """Before a read of the default clustering: recompute it (in a write transaction) when
    the sites changed since it was stored."""
    version = cluster_repo.sites_version(session)
    run = cluster_repo.latest_run(session, DEFAULT.eps_m, DEFAULT.min_sites, DEFAULT.adapt)
    if run is not None and run.sites_version == version:
        return
    with open_session() as writer:
        refresh_default(writer)
        writer.commit()


def clusters_for(session: Session, params: ClusterParams) -> ClusterView:
    """The clustering with these parameters (the stored default, or computed and cached)."""
    if params == DEFAULT:
        run = cluster_repo.latest_run(session, DEFAULT.eps_m, DEFAULT.min_sites, DEFAULT.adapt)
        if run is not None and run.sites_version == cluster_repo.sites_version(session):
            return stored_view(session, run)
    version = cluster_repo.sites_version(session)
    key = ("params", params, version)
    cached = _recall(key)
    if cached is not None:
        return cached
    view, _ = compute(session, params)
    return _remember(key, view)
