"""``disputed-areas``: where two countries' polygons overlap (e.g. Abyei)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.collections.base import Queryable
from app.collections.boundaries import SOURCE_SCHEMA, BoundaryProvider


@dataclass
class DisputedAreasProvider(BoundaryProvider):
    def queryables(self) -> Mapping[str, Queryable]:
        return {
            "geometry": Queryable("geometry", {"format": "geometry-multipolygon"}),
            "claimants": Queryable(
                "claimants", {"type": "array", "items": {"type": "string", "pattern": "^[A-Z]{3}$"}}
            ),
            "area_km2": Queryable("area_km2", {"type": "number"}),
            "boundary_source": Queryable("boundary_source", SOURCE_SCHEMA),
        }


PROVIDER = DisputedAreasProvider(
    id="disputed-areas",
    title="Disputed areas",
    description=(
        "Areas two countries' polygons both cover in the active boundary dataset (e.g. Abyei). "
        "Sites inside are reported as disputed, never silently given to one side."
    ),
)
