"""``countries``: country polygons of the active boundary dataset."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.collections.base import Queryable
from app.collections.boundaries import SOURCE_SCHEMA, BoundaryProvider

TEXT = {"type": "string"}


@dataclass
class CountriesProvider(BoundaryProvider):
    def queryables(self) -> Mapping[str, Queryable]:
        return {
            "geometry": Queryable("geometry", {"format": "geometry-multipolygon"}),
            "iso3": Queryable("iso3", {"type": "string", "pattern": "^[A-Z]{3}$"}, sortable=True),
            "name": Queryable("name", TEXT),
            "name_fr": Queryable("name_fr", TEXT),
            "name_pt": Queryable("name_pt", TEXT),
            "area_km2": Queryable("area_km2", {"type": "number"}),
            "boundary_source": Queryable("boundary_source", SOURCE_SCHEMA),
        }


PROVIDER = CountriesProvider(
    id="countries",
    title="Countries",
    description=(
        "Country polygons of the active boundary dataset, with English, French and "
        "Portuguese names."
    ),
)
