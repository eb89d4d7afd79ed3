"""Statistics of trade flows: routes counted by border crossed, mineral and cross-border, with
the volume summed where it was given, and the dataset version and boundary source."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.csv_safe import csv_text
from app.db import boundaries as boundary_repo
from app.db import clusters as cluster_repo
from app.db import routes as route_repo


@dataclass(frozen=True)
class FlowTable:
    group_by: tuple[str, ...]
    rows: list[dict[str, Any]]
    boundary_source: str | None
    dataset_version: int

    def document(self) -> dict[str, Any]:
        return {
            "group_by": list(self.group_by),
            "boundary_source": self.boundary_source,
            "dataset_version": self.dataset_version,
            "totals": {"routes": sum(row["routes"] for row in self.rows)},
            "rows": self.rows,
        }

    def csv(self) -> str:
        header = [*self.group_by, "routes", "volume", "boundary_source", "dataset_version"]
        return csv_text(
            header,
            (
                [*(row[k] for k in self.group_by), row["routes"], row["volume"],
                 self.boundary_source, self.dataset_version]
                for row in self.rows
            ),
        )  # fmt: skip


def flow_table(session: Session, group_by: Sequence[str]) -> FlowTable:
    """Routes per group of ``group_by`` (``border``, ``mineral``, ``cross_border``)."""
    rows = [
        {**dict(zip(group_by, row[:-2], strict=True)), "routes": int(row[-2]),
         "volume": None if row[-1] is None else float(row[-1])}
        for row in route_repo.flow_statistics(session, group_by)
    ]  # fmt: skip
    source = boundary_repo.active_source(session)
    return FlowTable(
        tuple(group_by), rows, source.id if source else None, cluster_repo.sites_version(session)
    )
