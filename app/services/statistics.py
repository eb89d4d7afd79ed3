"""Statistics of sites and observations (``/statistics``): counts grouped by country, border,
distance band, side confidence, kind, mineral, status, zone and period, for the same filters as
the sites' items, stamped with the boundary source and the dataset version that produced them.

JSON and CSV carry the same rows: the CSV has the group columns, ``sites``, ``observations``,
then ``boundary_source`` and ``dataset_version`` on every row (a CSV saved beside a chart keeps
what produced it).

``as_of`` (a dataset version or an RFC 3339 time, as on the sites' items) counts the sites and
observations as they were at that version: ``dataset_version`` is that version and
``generated_at`` its time, so the same request gives the same bytes every time. Zone and actor
keys and the zone filters are refused then (400): their classifications are current only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.csv_safe import csv_text
from app.db import boundaries as boundary_repo
from app.db import clusters as cluster_repo
from app.db import statistics as stats_repo
from app.db import zones as zone_repo
from app.db.dataset import VersionAt
from app.errors import InvalidParameter
from app.queries import AsOf, SiteQuery
from app.services import site_history
from app.services import zones as zone_service

SessionFactory = Callable[[], AbstractContextManager[Session]]
KEYS = stats_repo.KEYS
BAND_LABELS = stats_repo.BAND_LABELS


@dataclass(frozen=True)
class Table:
    """A statistics table: one row per group (group values, sites, observations)."""

    group_by: tuple[str, ...]
    rows: list[dict[str, Any]]
    totals: dict[str, int]
    boundary_source: dict[str, str] | None
    dataset_version: int
    generated_at: str

    def document(self) -> dict[str, Any]:
        return {
            "group_by": list(self.group_by),
            "boundary_source": self.boundary_source,
            "dataset_version": self.dataset_version,
            "generated_at": self.generated_at,
            "totals": self.totals,
            "rows": self.rows,
        }

    def csv(self) -> str:
        source = self.boundary_source["id"] if self.boundary_source else None
        header = [*self.group_by, "sites", "observations", "boundary_source", "dataset_version"]
        return csv_text(
            header,
            (
                [*(row[key] for key in self.group_by), row["sites"], row["observations"],
                 source, self.dataset_version]
                for row in self.rows
            ),
        )  # fmt: skip


#: Keys read from tables kept for the current dataset only (no history): refused with as_of.
CURRENT_ONLY_KEYS = ("zone", "actor_type")


def as_of(
    session: Session, asked: AsOf | None, query: SiteQuery, group_by: Sequence[str]
) -> VersionAt | None:
    """The dataset version ``as_of`` names (None: the current state), resolved as on the
    sites' items (400 ``unknown_dataset_version``, ``as_of_in_future``, ``before_history``);
    400 when combined with what is not kept as of a version (zone filters, zone or actor keys)
    rather than answering with today's classification."""
    if asked is None:
        return None
    refused = [key for key in group_by if key in CURRENT_ONLY_KEYS]
    if query.zones or query.in_zone is not None:
        refused.insert(0, "zone" if query.zones else "in_zone")
    if refused:
        message = (
            f"as_of cannot be combined with {refused[0]}: zone classifications and actors are "
            "kept for the current dataset only"
        )
        raise InvalidParameter(f"as_of: {message}")
    return site_history.resolve(session, asked)


def compute(
    session: Session,
    open_writer: SessionFactory | None,
    query: SiteQuery,
    zones: zone_repo.ZoneSelection | None,
    group_by: Sequence[str],
    at: VersionAt | None = None,
) -> Table:
    """Counts for ``query`` (and ``zones``) grouped by ``group_by`` (keys of :data:`KEYS`),
    now or, with ``at`` (see :func:`as_of`), as at that dataset version.
    Grouping by zone reads the stored classification, brought up to date first."""
    if "zone" in group_by and at is None:
        zone_service.ensure_current(session, open_writer)
    extra = [zones.clause(stats_repo.sites.c.id)] if zones is not None else []
    counts = stats_repo.count(session, query, extra, group_by, None if at is None else at.version)
    source = boundary_repo.active_source(session)
    rows = [
        {**dict(zip(counts.columns, row[:-2], strict=True)), "sites": row[-2],
         "observations": row[-1]}
        for row in counts.rows
    ]  # fmt: skip
    return Table(
        group_by=tuple(group_by),
        rows=rows,
        totals={"sites": counts.total_sites, "observations": counts.total_observations},
        boundary_source={"id": source.id, "version": source.version} if source else None,
        dataset_version=cluster_repo.sites_version(session) if at is None else at.version,
        generated_at=(
            dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            if at is None
            else at.committed_at.astimezone(dt.UTC).isoformat(timespec="seconds")
        ),
    )
