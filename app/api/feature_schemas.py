"""A collection's feature schema, rendered for each client from the provider's one declaration
(``Provider.schema()``: property name -> JSON Schema, the geometry included).

- ``part5_schema``: the collection's schema, OGC API - Features Part 5 style
  (``/collections/{id}/schema``, ``application/schema+json``, JSON Schema 2020-12, the geometry
  a property with ``x-ogc-role: primary-geometry``);
- ``feature_schema``: the JSON Schema of one GeoJSON Feature (``/collections/{id}/feature-schema``,
  the collection's ``describedby`` link). GDAL's OAPIF driver types its fields from this form
  only: it builds an example Feature from the schema and reads the type of each member of the
  example's ``properties`` (one ``type`` string per property, ``format`` ``date``/``date-time``,
  arrays of strings as StringList); a Part 5 document has no ``properties`` member there and
  is ignored.

Both follow the representation profile asked for (``app.api.profiles``). QGIS 3.22 reads
neither: it types fields from the first ten features, which is why the served values carry
their type on every page (a real number always has a fraction: ``15.0``, never ``15``).
"""

from __future__ import annotations

from typing import Any

from app.api import profiles
from app.collections.base import Provider

SCHEMA_MEDIA_TYPE = "application/schema+json"
JSON_SCHEMA_2020_12 = "https://json-schema.org/draft/2020-12/schema"
REL_SCHEMA = "http://www.opengis.net/def/rel/ogc/1.0/schema"
GEOMETRY = "geometry"


def part5_schema(provider: Provider, href: str, profile: str | None) -> dict[str, Any]:
    """The collection's schema as OGC API - Features Part 5 publishes it: one member per
    property, the geometry included with its role."""
    properties: dict[str, Any] = {}
    for name, schema in provider.schema().items():
        if name == GEOMETRY:
            properties[name] = {**schema, "x-ogc-role": "primary-geometry"}
        else:
            properties[name] = profiles.property_schema(schema, profile)
    return {
        "$schema": JSON_SCHEMA_2020_12,
        "$id": href,
        "type": "object",
        "title": provider.title,
        "properties": properties,
    }


def feature_schema(provider: Provider, href: str, profile: str | None) -> dict[str, Any]:
    """The JSON Schema of one GeoJSON Feature of the collection (the form GDAL types from)."""
    declared = provider.schema()
    geometry = declared.get(GEOMETRY, {}).get("format", "geometry-any")
    return {
        "$schema": JSON_SCHEMA_2020_12,
        "$id": href,
        "title": f"{provider.title}: one GeoJSON Feature",
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "string"},
            "geometry": {"type": "object", "description": f"GeoJSON geometry ({geometry})"},
            "properties": {
                "type": "object",
                "properties": {
                    name: profiles.property_schema(schema, profile)
                    for name, schema in declared.items()
                    if name != GEOMETRY
                },
            },
        },
    }
