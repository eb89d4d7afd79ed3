"""Request bodies, validated by pydantic; domain rules (vocabularies, country) live in services."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from geo.vocab import SiteKind


class PointGeometry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["Point"]
    coordinates: list[float] = Field(min_length=2, max_length=3)

    @field_validator("coordinates")
    @classmethod
    def _lon_lat(cls, value: list[float]) -> list[float]:
        lon, lat = value[0], value[1]
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise ValueError("coordinates must be finite numbers")
        if not -180 <= lon <= 180:
            raise ValueError(f"longitude {lon} is outside [-180, 180] (GeoJSON order is lon, lat)")
        if not -90 <= lat <= 90:
            raise ValueError(f"latitude {lat} is outside [-90, 90] (GeoJSON order is lon, lat)")
        return value


class SiteProperties(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SiteKind
    name: str = Field(min_length=1, max_length=300)
    minerals: list[str] = Field(default_factory=list, max_length=30)
    aliases: list[str] = Field(default_factory=list, max_length=30)
    status: Literal["active", "inactive", "abandoned", "unknown"] = "unknown"
    accuracy_m: float | None = Field(default=None, ge=0, le=1_000_000)
    location_origin: str | None = Field(default=None, max_length=200)
    observed_on: dt.date | None = None
    source: str | None = Field(default=None, max_length=300)
    country: str | None = Field(
        default=None,
        description="Ignored for storage: the country comes from the point. A mismatch is "
        "reported as a warning.",
    )
    attributes: dict[str, Any] = Field(default_factory=dict)
    restricted: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()


class SiteFeature(BaseModel):
    """A GeoJSON Feature describing one site (RFC 7946: lon, lat on WGS 84)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["Feature"]
    geometry: PointGeometry
    properties: SiteProperties
    id: str | int | None = Field(default=None, description="Ignored: the server assigns ids.")
    bbox: list[float] | None = None
