"""Cross-border clusters: groups of sites within ``eps`` (geodesic) of one another.

The default clustering (5 km, 3 sites, adapting eps when it percolates) is stored, and
recomputed when sites have changed since (a counter the database bumps on every write to
sites); its cluster ids carry over from the previous run when membership barely changes. Other
parameters are computed on request and stored the same way (the most recent few), so every
read of clusters, whatever its parameters and filters, is SQL over stored rows.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.db import clusters as cluster_repo
from app.db.clusters import StoredCluster
from app.services import outbox
from geo.clusters import assign_stable_ids, cluster_sites, summarise

SessionFactory = Callable[[], AbstractContextManager[Session]]
#: Clusterings of non-default parameters kept stored (the most recently computed ones).
KEPT_PARAMETER_SETS = 8


@dataclass(frozen=True)
class ClusterParams:
    eps_m: float = 5_000.0
    min_sites: int = 3
    adapt: bool = True


DEFAULT = ClusterParams()


@dataclass(frozen=True)
class ClusterView:
    """A clustering just computed: how it was made, and its clusters (largest first)."""

    params: ClusterParams
    eps_used_m: float
    eps_tried_m: tuple[float, ...]
    percolation: dict[str, Any]
    sites_version: int
    site_count: int
    computed_at: str | None
    clusters: tuple[StoredCluster, ...]


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


def refresh(session: Session, params: ClusterParams = DEFAULT) -> cluster_repo.RunRecord:
    """Recompute and store the clustering with these parameters if sites changed since it
    was made; one transaction, serialised with an advisory lock (the caller commits).

    Cluster ids carry over from the previous run with the same parameters. Runs of other,
    non-default parameters are kept only for the most recent few parameter sets.
    """
    cluster_repo.lock_refresh(session)
    version = cluster_repo.sites_version(session)
    run = cluster_repo.latest_run(session, params.eps_m, params.min_sites, params.adapt)
    if run is not None and run.sites_version == version:
        return run
    previous = cluster_repo.membership(session, run.id) if run else {}
    view, sites = compute(session, params, previous)
    run_id = cluster_repo.insert_run(
        session,
        {
            "eps_m": params.eps_m,
            "min_sites": params.min_sites,
            "adapt": params.adapt,
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
    new_run = cluster_repo.latest_run(session, params.eps_m, params.min_sites, params.adapt)
    assert new_run is not None
    outbox.record_cluster_joins(
        session, run_id, run.id if run and params == DEFAULT else None
    )  # HOOK(alerts)
    cluster_repo.delete_older_runs(session, new_run)
    cluster_repo.prune_parameter_sets(
        session, keep=KEPT_PARAMETER_SETS, default=(DEFAULT.eps_m, DEFAULT.min_sites, DEFAULT.adapt)
    )
    return new_run


def current_run(
    session: Session, params: ClusterParams, open_session: SessionFactory | None
) -> cluster_repo.RunRecord:
    """The stored run for these parameters at the current version of the sites, computed and
    stored (in a write transaction of its own) when there is none yet.

    While another request or the background refresh is recomputing, the last stored run of
    these parameters is served as it is (its ``site_count`` and ``computed_at`` say which):
    each reader used to wait for the lock holding two connections, and with a recomputation
    of minutes (180 000 sites) they took the whole pool, and every route answered 500."""
    version = cluster_repo.sites_version(session)
    run = cluster_repo.latest_run(session, params.eps_m, params.min_sites, params.adapt)
    if run is not None and run.sites_version == version:
        return run
    if open_session is None:
        return refresh(session, params)
    with open_session() as writer:
        if run is not None and not cluster_repo.try_lock_refresh(writer):
            return run  # the writer's transaction ends with it, having written nothing
        run = refresh(writer, params)
        writer.commit()
    return run


def run_metadata(run: cluster_repo.RunRecord) -> dict[str, Any]:
    """How a stored clustering was made, as served with every page (``clustering``)."""
    return {
        "eps_km_asked": run.eps_m / 1000,
        "eps_km_used": round(run.eps_used_m / 1000, 4),
        "eps_km_tried": [round(e / 1000, 4) for e in run.eps_tried_m],
        "min_sites": run.min_sites,
        "adapt": run.adapt,
        "percolation": run.percolation,
        "site_count": run.site_count,
        "computed_at": run.computed_at.isoformat() if run.computed_at else None,
    }
