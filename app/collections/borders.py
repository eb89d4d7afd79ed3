"""``borders``: the shared boundary line of every pair of neighbouring countries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.collections.base import Queryable
from app.collections.boundaries import SOURCE_SCHEMA, BoundaryProvider

ISO3 = {"type": "string", "pattern": "^[A-Z]{3}$"}


@dataclass
class BordersProvider(BoundaryProvider):
    def queryables(self) -> Mapping[str, Queryable]:
        return {
            "geometry": Queryable("geometry", {"format": "geometry-multilinestring"}),
            "pair_code": Queryable(
                "pair_code", {"type": "string", "pattern": "^[A-Z]{3}-[A-Z]{3}$"}, sortable=True
            ),
            "country_a": Queryable("country_a", ISO3),
            "country_b": Queryable("country_b", ISO3),
            "length_km": Queryable("length_km", {"type": "number"}),
            "boundary_source": Queryable("boundary_source", SOURCE_SCHEMA),
        }


PROVIDER = BordersProvider(
    id="borders",
    title="International borders",
    description=(
        "The shared boundary line of every pair of neighbouring countries (pair code of sorted "
        "ISO 3166-1 alpha-3 codes, e.g. CAF-CMR) with its geodesic length in km."
    ),
)
