"""Bodies of writes to ``sites`` (GeoJSON Features), validated by pydantic into a
``SiteDraft``; domain rules (vocabularies, country) live in services."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
)

from app.collections.parsing import BIGINT_MAX, has_control_characters
from app.db.models import SITE_STATUSES
from app.errors import InvalidBody, ProblemItem
from app.services.sites import SiteDraft
from geo.validate import MAX_NAME_LENGTH
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
    """Free JSON that jsonb and the JSON writers take as it is: no control characters in
    keys or strings, integers within 64 bits, bounded nesting."""

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


ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: object) -> object:
    """A date member is ``YYYY-MM-DD`` text, nothing else: lax parsing read a number as a
    Unix time (``0`` stored as 1970-01-01) and took a date-time for a date."""
    if value is None:
        return value
    if not isinstance(value, str) or not ISO_DATE.match(value):
        raise ValueError("a date is written YYYY-MM-DD (ISO 8601 calendar date)")
    return value


#: A calendar date as JSON carries one: ``YYYY-MM-DD`` text.
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


class PointGeometry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["Point"]
    # Numbers, not numeric strings: ["15.8", "4.3"] is not GeoJSON.
    coordinates: list[StrictFloat | StrictInt] = Field(min_length=2, max_length=3)

    @field_validator("coordinates")
    @classmethod
    def _lon_lat(cls, value: list[float | int]) -> list[float | int]:
        try:
            lon, lat = float(value[0]), float(value[1])
        except OverflowError:  # an integer of hundreds of digits
            raise ValueError("coordinates must be finite numbers") from None
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
    name: Text = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    minerals: list[Text] = Field(default_factory=list, max_length=30)
    aliases: list[Text] = Field(default_factory=list, max_length=30)
    status: str = Field(
        default="unknown",
        json_schema_extra={"enum": list(SITE_STATUSES)},
        description="Retired is not written here: DELETE retires a site",
    )
    # numbers, not "5" or true (a lax float took both)
    accuracy_m: float | None = Field(default=None, ge=0, le=1_000_000, strict=True)
    location_origin: Text | None = Field(default=None, max_length=200)
    observed_on: IsoDate | None = None
    source: Text | None = Field(default=None, max_length=300)
    country: Text | None = Field(
        default=None,
        description="Ignored for storage: the country comes from the point. A mismatch is "
        "reported as a warning.",
    )
    attributes: FreeJSON = Field(default_factory=dict)
    restricted: FreeJSON = Field(default_factory=dict)

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: str) -> str:
        if value not in SITE_STATUSES:
            raise ValueError(f"status must be one of {', '.join(SITE_STATUSES)}")
        return value

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
    bbox: list[StrictFloat] | None = None  # strict floats take integers, not "1" or true


#: Members the server computes; a body may carry them (a feature read, changed and sent
#: back) and they are ignored. ``country`` is not here: a mismatch is reported as a warning.
READ_ONLY_PROPERTIES = frozenset(
    {
        "location_status",
        "claimants",
        "first_observed",
        "last_observed",
        "border_distance_m",
        "border_distance_km",
        "border_pair",
        "neighbour_country",
        "side_confidence",
        "side_probability",
        "boundary_source",
        "created_at",
        "updated_at",
        "retired_at",
        "retired_reason",
        "query_border",
        "query_border_distance_m",
    }
)
READ_ONLY_MEMBERS = frozenset({"links", "warnings"})


def _validation_problem(exc: ValidationError) -> InvalidBody:
    items = [
        ProblemItem(
            code=str(error["type"]),
            message=str(error["msg"]),
            column=".".join(str(part) for part in error["loc"]) or None,
        )
        for error in exc.errors(include_url=False, include_input=False)
    ]
    detail = "; ".join(
        f"{item.column}: {item.message}" if item.column else item.message for item in items
    )
    return InvalidBody(detail, items=items)


def site_draft(
    document: Any, base: SiteDraft | None = None, feature_id: str | None = None
) -> SiteDraft:
    """A site draft from a GeoJSON Feature document (a parsed request body).

    ``base`` (a replacement): ``source`` and ``restricted`` the document leaves out are kept
    from it, because researchers never see restricted attributes and a read-change-write
    round trip must not erase them. ``feature_id``: the document's ``id``, if any, must be
    it. Raises ``InvalidBody`` (422) for anything that is not a valid site.
    """
    if not isinstance(document, dict):
        raise InvalidBody(
            "the body must be a GeoJSON Feature (a JSON object)", code="not_a_feature"
        )
    if feature_id is not None and document.get("id") not in (None, feature_id):
        raise InvalidBody(
            f"the body's id {document['id']!r} is not {feature_id!r}; ids cannot be changed",
            code="id_mismatch",
        )
    cleaned = {k: v for k, v in document.items() if k not in READ_ONLY_MEMBERS}
    if isinstance(cleaned.get("properties"), dict):
        cleaned["properties"] = {
            k: v for k, v in cleaned["properties"].items() if k not in READ_ONLY_PROPERTIES
        }
    try:
        feature = SiteFeature.model_validate(cleaned)
    except ValidationError as exc:
        raise _validation_problem(exc) from None
    lon, lat = feature.geometry.coordinates[:2]
    props = feature.properties
    given = props.model_fields_set
    source, restricted = props.source, props.restricted
    if base is not None:
        source = props.source if "source" in given else base.source
        restricted = props.restricted if "restricted" in given else base.restricted
    return SiteDraft(
        kind=props.kind,
        name=props.name,
        lon=lon,
        lat=lat,
        minerals=props.minerals,
        aliases=props.aliases,
        status=props.status,
        accuracy_m=props.accuracy_m,
        location_origin=props.location_origin,
        observed_on=props.observed_on,
        source=source,
        declared_country=props.country,
        attributes=props.attributes,
        restricted=restricted,
    )


def _inline_refs(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline_refs(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _inline_refs(definitions[ref.removeprefix("#/$defs/")], definitions)
    return {k: _inline_refs(v, definitions) for k, v in node.items() if k != "$defs"}


def site_feature_schema() -> dict[str, Any]:
    """The JSON Schema of a site Feature body, self-contained (for the OpenAPI document)."""
    schema = SiteFeature.model_json_schema()
    inlined: dict[str, Any] = _inline_refs(schema, schema.get("$defs", {}))
    return inlined
