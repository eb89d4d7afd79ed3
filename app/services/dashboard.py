"""The statistics dashboard: four charts over all current sites, each with the CSV it is drawn
from (sites per border and distance band, new sites per month per border, minerals, the
cross-border clusters), stamped with the boundary source and the dataset version."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.db import clusters as cluster_repo
from app.html import charts
from app.queries import SiteQuery
from app.services import clusters as cluster_service
from app.services import statistics as stats_service

SessionFactory = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True)
class Dashboard:
    charts: list[charts.Chart]
    boundary_source: dict[str, str] | None
    dataset_version: int
    total_sites: int


def build(session: Session, open_writer: SessionFactory | None, base: str, lang: str) -> Dashboard:
    """Every chart in ``lang`` (en, fr, pt), from the same tables ``/statistics`` serves."""
    query = SiteQuery()

    def table(*keys: str) -> stats_service.Table:
        return stats_service.compute(session, open_writer, query, None, keys)

    by_band = table("border", "band")
    by_month = table("first_month", "border")
    by_mineral = table("mineral")

    def csv(keys: str) -> str:
        return f"{base}/statistics?group_by={keys}&f=csv"

    run = cluster_service.current_run(session, cluster_service.DEFAULT, open_writer)
    crossing: Counter[str] = Counter()
    members: Counter[str] = Counter()
    for cluster in cluster_repo.load_clusters(session, run.id):
        if cluster.cross_border:
            pair = "-".join(sorted(cluster.countries))
            crossing[pair] += 1
            members[pair] += cluster.count
    cluster_rows = [
        {"border": pair, "clusters": n, "sites": members[pair]} for pair, n in crossing.items()
    ]
    made = [
        charts.Chart("border_band", charts.TITLES["border_band"],
                     charts.border_band(by_band.rows, stats_service.BAND_LABELS, lang),
                     csv("border,band"), len(by_band.rows)),
        charts.Chart("monthly", charts.TITLES["monthly"], charts.monthly(by_month.rows, lang),
                     csv("first_month,border"), len(by_month.rows)),
        charts.Chart("minerals", charts.TITLES["minerals"],
                     charts.minerals(by_mineral.rows, lang), csv("mineral"),
                     len(by_mineral.rows)),
        charts.Chart("clusters", charts.TITLES["clusters"],
                     charts.clusters(cluster_rows, lang),
                     f"{base}/collections/clusters/items?cross_border_only=true&f=csv",
                     len(cluster_rows)),
    ]  # fmt: skip
    return Dashboard(
        made, by_band.boundary_source, by_band.dataset_version, by_band.totals["sites"]
    )
