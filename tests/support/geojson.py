"""RFC 7946 checks for responses: a JSON Schema of the GeoJSON types plus the rules a schema
cannot say (lon/lat ranges, closed rings, no ``crs`` member)."""

from __future__ import annotations

from typing import Any

import jsonschema

POSITION = {"type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "number"}}
BBOX = {"type": "array", "minItems": 4, "items": {"type": "number"}}


def _geometry(kind: str, coordinates: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "coordinates"],
        "properties": {"type": {"const": kind}, "coordinates": coordinates, "bbox": BBOX},
    }


def _array(items: dict[str, Any], min_items: int = 0) -> dict[str, Any]:
    return {"type": "array", "items": items, "minItems": min_items}


RING = _array(POSITION, 4)
GEOMETRY = {
    "oneOf": [
        _geometry("Point", POSITION),
        _geometry("MultiPoint", _array(POSITION)),
        _geometry("LineString", _array(POSITION, 2)),
        _geometry("MultiLineString", _array(_array(POSITION, 2))),
        _geometry("Polygon", _array(RING)),
        _geometry("MultiPolygon", _array(_array(RING))),
    ]
}
FEATURE = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"const": "Feature"},
        "id": {"type": ["string", "number"]},
        "geometry": {"oneOf": [{"type": "null"}, GEOMETRY]},
        "properties": {"type": ["object", "null"]},
        "bbox": BBOX,
    },
}
FEATURE_COLLECTION = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"const": "FeatureCollection"},
        "features": {"type": "array", "items": FEATURE},
        "bbox": BBOX,
    },
}


def _positions(coordinates: Any) -> list[list[float]]:
    if coordinates and isinstance(coordinates[0], int | float):
        return [coordinates]
    return [p for part in coordinates for p in _positions(part)]


def _check_geometry(geometry: dict[str, Any]) -> None:
    for lon, lat, *_ in _positions(geometry["coordinates"]):
        assert -180 <= lon <= 180, f"longitude {lon} out of range"
        assert -90 <= lat <= 90, f"latitude {lat} out of range"
    if geometry["type"] in ("Polygon", "MultiPolygon"):
        polygons = (
            [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        )
        for polygon in polygons:
            for ring in polygon:
                assert ring[0] == ring[-1], "polygon ring not closed"


def assert_feature(feature: dict[str, Any]) -> None:
    jsonschema.validate(feature, FEATURE)
    assert "crs" not in feature, "RFC 7946 removed the crs member"
    if feature["geometry"] is not None:
        _check_geometry(feature["geometry"])


def assert_feature_collection(collection: dict[str, Any]) -> None:
    jsonschema.validate(collection, FEATURE_COLLECTION)
    assert "crs" not in collection, "RFC 7946 removed the crs member"
    for feature in collection["features"]:
        assert_feature(feature)
