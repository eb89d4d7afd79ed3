"""Representation profiles of features: the default GeoJSON, and ``flat`` for tabular clients.

The ``flat`` profile exists for QGIS 3.22 (Debian's, and still common in the field), which
cannot export a layer with a list or object field: it types each field from the first ten
features through GDAL's GeoJSON reader, so a list that is empty on all ten (``claimants``
almost always is) becomes a JSON field, an object (``attributes``) becomes a map field, and
QGIS refuses to write either to GeoPackage, Shapefile, CSV or GeoJSON ("Unsupported type for
field"). A list served as null when empty does not help: the field becomes text and the
later lists are dropped.

The rule, in this one place: in the ``flat`` profile, every property whose value is an array
or an object is served as a string holding its JSON text (``["gold","diamond"]``); every other
value is served as in the default profile. Nothing is lost (the text parses back to the list),
and every field has one scalar type. The default profile keeps real arrays and objects for
GeoJSON users. A QGIS user asks for the profile once, on the landing URL
(``http://host/?profile=flat``): QGIS appends the landing URL's query to every request.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from app.api import params as p
from app.api.feature_schemas import FLAT

PROFILES = (FLAT,)
PARAMETER = "profile"
DESCRIPTION = (
    "`flat`: array and object properties served as their JSON text, for tabular clients "
    "such as QGIS 3.22 (which cannot export list fields). Default: GeoJSON arrays and objects."
)


def parse_profile(params: Mapping[str, list[str]]) -> str | None:
    raw = p.single(params, PARAMETER)
    if raw is None or raw == "":
        return None
    if raw not in PROFILES:
        raise p.bad(PARAMETER, f"known profiles: {', '.join(PROFILES)}; not {raw!r}")
    return raw


def _flat_properties(feature: dict[str, object]) -> None:
    properties = feature.get("properties")
    if isinstance(properties, dict):
        for name, value in properties.items():
            if isinstance(value, list | dict):
                properties[name] = orjson.dumps(value).decode()


def apply(features_json: str, profile: str | None) -> str:
    """Comma-joined Feature texts, in the profile asked for (the default: unchanged)."""
    if profile != FLAT or not features_json:
        return features_json
    features = orjson.loads("[" + features_json + "]")
    for feature in features:
        _flat_properties(feature)
    return orjson.dumps(features).decode()[1:-1]
