"""What every collection's feature properties are: one declaration, rendered for each client.

Each collection declares its properties once (name, JSON type, format, unit, nullability).
From that one declaration come:

- ``part5_schema``: the collection's schema, OGC API - Features Part 5 style
  (``/collections/{id}/schema``, ``application/schema+json``, JSON Schema 2020-12, the geometry
  a property with ``x-ogc-role: primary-geometry``);
- ``feature_schema``: the JSON Schema of one GeoJSON Feature (``/collections/{id}/feature-schema``,
  the collection's ``describedby`` link). GDAL's OAPIF driver types its fields from this form
  only: it builds an example Feature from the schema and reads the types of the example's
  ``properties`` member (a single ``type`` string per property, ``format`` ``date``/``date-time``,
  arrays of strings as StringList); a Part 5 document has no ``properties`` member there and
  would be ignored;
- both in the ``flat`` profile (see ``app.api.profiles``): every array or object property is
  then a string holding its JSON text.

QGIS 3.22 reads neither schema: it types fields from the first ten features of
``items?limit=10`` through GDAL's GeoJSON reader. That is why the served values themselves carry
their type on every page (a real number always has a fraction: ``15.0``, never ``15``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

JsonType = Literal["string", "number", "integer", "boolean", "array", "object"]
SCHEMA_MEDIA_TYPE = "application/schema+json"
JSON_SCHEMA_2020_12 = "https://json-schema.org/draft/2020-12/schema"
REL_SCHEMA = "http://www.opengis.net/def/rel/ogc/1.0/schema"
FLAT = "flat"


@dataclass(frozen=True)
class Property:
    """One feature property: its JSON type (``items`` for arrays), and what it means."""

    name: str
    type: JsonType
    description: str
    format: str | None = None
    items: JsonType | None = None
    nullable: bool = False
    unit: str | None = None
    enum: tuple[str, ...] | None = None
    only_for: str | None = None  # when the property is present at all (e.g. one filter)

    @property
    def structured(self) -> bool:
        """Arrays and objects: what tabular clients (QGIS, Shapefile, CSV) cannot hold."""
        return self.type in ("array", "object")


@dataclass(frozen=True)
class FeatureSchema:
    title: str
    geometry: str  # Part 5 geometry format: geometry-point, geometry-multilinestring...
    id_type: Literal["string", "integer"]
    properties: tuple[Property, ...]

    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.properties)


def _text(name: str, description: str, **kw: Any) -> Property:
    return Property(name, "string", description, **kw)


def _real(name: str, description: str, unit: str | None = None, **kw: Any) -> Property:
    return Property(name, "number", description, unit=unit, **kw)


def _strings(name: str, description: str) -> Property:
    return Property(name, "array", description, items="string")


BOUNDARY_SOURCE = _text("boundary_source", "Id of the boundary dataset the figures come from")

SITES = FeatureSchema(
    title="Mine sites and sales points",
    geometry="geometry-point",
    id_type="string",
    properties=(
        _text("kind", "Mine or sales point", enum=("mine", "sales_point")),
        _text("name", "Name as surveyed"),
        _strings("aliases", "Other names of the site"),
        _strings("minerals", "Mineral codes (vocabulary: diamond, gold, ...)"),
        _text("status", "Activity status"),
        _text(
            "country",
            "ISO 3166-1 alpha-3 code of the country that contains the point",
            nullable=True,
        ),
        _text("location_status", "country, sea, outside or disputed"),
        _strings("claimants", "ISO3 codes of the countries claiming a disputed location"),
        _real("accuracy_m", "Location accuracy as recorded by the device", "m", nullable=True),
        _text("location_origin", "How the location was obtained", nullable=True),
        _text("first_observed", "First observation date", format="date", nullable=True),
        _text("last_observed", "Last observation date", format="date", nullable=True),
        _text("source", "Who reported the site", nullable=True),
        Property("attributes", "object", "Further public attributes from the survey"),
        _real("border_distance_m", "Geodesic distance to the nearest border", "m", nullable=True),
        _real("border_distance_km", "The same distance in km", "km", nullable=True),
        _text("border_pair", "Pair code of the nearest border (e.g. CAF-CMR)", nullable=True),
        _text("neighbour_country", "ISO3 code of the country across that border", nullable=True),
        _text("side_confidence", "How sure the side of the border is", nullable=True),
        _real("side_probability", "Probability that the point is on its side", nullable=True),
        Property(**{**BOUNDARY_SOURCE.__dict__, "nullable": True}),
        _text("created_at", "When the site was first stored (UTC)", format="date-time"),
        _text("updated_at", "When the site was last changed (UTC)", format="date-time"),
        Property(
            "restricted",
            "object",
            "Restricted attributes (authorities and admins only)",
            nullable=True,
            only_for="callers allowed to read restricted attributes",
        ),
        _text(
            "query_border",
            "The border (pair or country) named in the query",
            only_for="requests with border and within_km",
        ),
        _real(
            "query_border_distance_m",
            "Geodesic distance to the border named in the query",
            "m",
            only_for="requests with border and within_km",
        ),
    ),
)

BORDERS = FeatureSchema(
    title="International borders",
    geometry="geometry-multilinestring",
    id_type="string",
    properties=(
        _text("pair_code", "Sorted ISO3 codes of the two countries (e.g. CAF-CMR)"),
        _text("country_a", "ISO3 code of the first country"),
        _text("country_b", "ISO3 code of the second country"),
        _real("length_km", "Geodesic length of the border line", "km"),
        BOUNDARY_SOURCE,
    ),
)

COUNTRIES = FeatureSchema(
    title="Countries",
    geometry="geometry-multipolygon",
    id_type="string",
    properties=(
        _text("iso3", "ISO 3166-1 alpha-3 code"),
        _text("name", "English name"),
        _text("name_fr", "French name"),
        _text("name_pt", "Portuguese name"),
        _real("area_km2", "Geodesic area", "km2"),
        BOUNDARY_SOURCE,
    ),
)

DISPUTED_AREAS = FeatureSchema(
    title="Disputed areas",
    geometry="geometry-multipolygon",
    id_type="string",
    properties=(
        _strings("claimants", "ISO3 codes of the countries whose polygons both cover the area"),
        _real("area_km2", "Geodesic area", "km2"),
        BOUNDARY_SOURCE,
    ),
)

CLUSTERS = FeatureSchema(
    title="Clusters of sites",
    geometry="geometry-polygon",
    id_type="string",
    properties=(
        Property("member_count", "integer", "Number of sites in the cluster"),
        Property("cross_border", "boolean", "Whether members lie in two or more countries"),
        _strings("countries", "ISO3 codes of the members' countries"),
        _strings("kinds", "Kinds of the member sites"),
        _strings("minerals", "Minerals of the member sites"),
        _real("span_km", "Largest geodesic distance between two members", "km"),
        _real("eps_km", "Neighbour distance the clustering used", "km"),
        Property("min_sites", "integer", "Fewest sites a cluster may have"),
        Property("members", "array", "The member sites: id and link", items="object"),
    ),
)

SCHEMAS: dict[str, FeatureSchema] = {
    "sites": SITES,
    "borders": BORDERS,
    "countries": COUNTRIES,
    "disputed-areas": DISPUTED_AREAS,
    "clusters": CLUSTERS,
}


def _property_schema(prop: Property, profile: str | None, nullable_types: bool) -> dict[str, Any]:
    if profile == FLAT and prop.structured:
        # The flat profile's one rule (app.api.profiles): the value is the JSON text.
        out: dict[str, Any] = {"type": "string", "contentMediaType": "application/json"}
    else:
        out = {"type": prop.type}
        if prop.format:
            out["format"] = prop.format
        if prop.items:
            out["items"] = {"type": prop.items}
        if prop.enum:
            out["enum"] = list(prop.enum)
    if nullable_types and (prop.nullable or prop.type in ("array", "object")):
        out["type"] = [out["type"], "null"]
    out["description"] = prop.description
    if prop.only_for:
        out["description"] += f" (present only for {prop.only_for})"
    if prop.unit:
        out["x-ogc-unit"] = prop.unit
    return out


def part5_schema(collection_id: str, href: str, profile: str | None = None) -> dict[str, Any]:
    """The collection's schema as OGC API - Features Part 5 publishes it (JSON Schema 2020-12):
    one member per property, the geometry included with its role."""
    schema = SCHEMAS[collection_id]
    properties: dict[str, Any] = {
        "geometry": {"format": schema.geometry, "x-ogc-role": "primary-geometry"},
    }
    for prop in schema.properties:
        properties[prop.name] = _property_schema(prop, profile, nullable_types=True)
    return {
        "$schema": JSON_SCHEMA_2020_12,
        "$id": href,
        "type": "object",
        "title": schema.title,
        "properties": properties,
    }


def feature_schema(collection_id: str, href: str, profile: str | None = None) -> dict[str, Any]:
    """The JSON Schema of one GeoJSON Feature of the collection, the form GDAL's OAPIF driver
    types its fields from (one ``type`` string per property: GDAL reads no type lists)."""
    schema = SCHEMAS[collection_id]
    return {
        "$schema": JSON_SCHEMA_2020_12,
        "$id": href,
        "title": f"{schema.title}: one GeoJSON Feature",
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": schema.id_type},
            "geometry": {"type": "object", "description": f"GeoJSON {schema.geometry[9:]}"},
            "properties": {
                "type": "object",
                "properties": {
                    prop.name: _property_schema(prop, profile, nullable_types=False)
                    for prop in schema.properties
                },
            },
        },
    }
