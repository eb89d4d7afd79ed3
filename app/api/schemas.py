"""Request bodies, validated by pydantic; domain rules (vocabularies, country) live in services."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from app.collections.parsing import BIGINT_MAX, has_control_characters
from geo.vocab import SiteKind

#: Nesting of free JSON members (``attributes``, ``restricted``) beyond any survey form's.
JSON_MAX_DEPTH = 16


def _no_control_characters(value: str) -> str:
    # PostgreSQL text and jsonb cannot hold NUL, and no name or note needs C0 controls.
    if has_control_characters(value):
        raise ValueError("control characters (such as NUL) are not allowed in text")
    return value


Text = Annotated[str, AfterValidator(_no_control_characters)]


def _storable_json(value: dict[str, Any]) -> dict[str, Any]:
    """Free JSON that PostgreSQL's jsonb and the JSON writers take as it is: no control
    characters in keys or strings, integers within 64 bits, bounded nesting."""

    def check(node: Any, depth: int) -> None:
        if depth > JSON_MAX_DEPTH:
            raise ValueError(f"nested deeper than {JSON_MAX_DEPTH} levels")
        if isinstance(node, str):
            _no_control_characters(node)
        elif isinstance(node, int) and not isinstance(node, bool):
            if not -BIGINT_MAX <= node <= BIGINT_MAX:
                raise ValueError(f"integer {str(node)[:30]}... does not fit in 64 bits")
        elif isinstance(node, dict):
            for key, item in node.items():
                _no_control_characters(key)
                check(item, depth + 1)
        elif isinstance(node, list):
            for item in node:
                check(item, depth + 1)

    check(value, 0)
    return value


FreeJSON = Annotated[dict[str, Any], AfterValidator(_storable_json)]


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
    name: Text = Field(min_length=1, max_length=300)
    minerals: list[Text] = Field(default_factory=list, max_length=30)
    aliases: list[Text] = Field(default_factory=list, max_length=30)
    status: Literal["active", "inactive", "abandoned", "unknown"] = "unknown"
    accuracy_m: float | None = Field(default=None, ge=0, le=1_000_000)
    location_origin: Text | None = Field(default=None, max_length=200)
    observed_on: dt.date | None = None
    source: Text | None = Field(default=None, max_length=300)
    country: Text | None = Field(
        default=None,
        description="Ignored for storage: the country comes from the point. A mismatch is "
        "reported as a warning.",
    )
    attributes: FreeJSON = Field(default_factory=dict)
    restricted: FreeJSON = Field(default_factory=dict)

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
