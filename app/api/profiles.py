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
(``http://host/?profile=flat``): QGIS appends the landing URL's query to every request; and a
client announcing itself as QGIS gets ``flat`` without asking, so the plain URL works too.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from app.collections.base import Item, Parameter, ParseContext
from app.collections.parsing import bad
from app.queries import FeaturePage

FLAT = "flat"
PROFILES = (FLAT,)
NAME = "profile"
STRUCTURED = ("array", "object")


def _parse(raw: str, _ctx: ParseContext | None = None) -> str:
    if raw not in PROFILES:
        raise bad(NAME, f"known profiles: {', '.join(PROFILES)}; not {raw[:50]!r}")
    return raw


PARAMETER = Parameter(
    NAME,
    "`flat`: every array or object property is served as its JSON text, for tabular clients "
    "such as QGIS 3.22 (which cannot export list fields); add it to the landing URL QGIS is "
    "given. Default: GeoJSON arrays and objects.",
    {"type": "string", "enum": list(PROFILES)},
    _parse,
)


#: Clients that get ``flat`` unless they ask otherwise (QGIS sends ``Mozilla/5.0 QGIS/32215/...``),
#: so the plain landing URL works in QGIS. Responses say ``Vary: User-Agent`` for caches.
FLAT_BY_DEFAULT_FOR = ("QGIS/",)


def chosen(asked: str | None, user_agent: str | None) -> str | None:
    """The profile to serve: the one asked for, else ``flat`` for QGIS, else the default."""
    if asked is not None:
        return asked
    if user_agent and any(marker in user_agent for marker in FLAT_BY_DEFAULT_FOR):
        return FLAT
    return None


def profile_of(items: list[tuple[str, str]]) -> str | None:
    """The profile named in a query string (other parameters are not looked at)."""
    raw = next((value for name, value in items if name == NAME), None)
    return _parse(raw) if raw is not None else None


def property_schema(schema: dict[str, Any], profile: str | None) -> dict[str, Any]:
    """A property's JSON Schema in the profile asked for."""
    if profile == FLAT and schema.get("type") in STRUCTURED:
        flat = {"type": "string", "contentMediaType": "application/json"}
        return flat | {k: v for k, v in schema.items() if k == "description"}
    return schema


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


def page_in(page: FeaturePage, profile: str | None) -> FeaturePage:
    if profile is None:
        return page
    return dataclasses.replace(page, features_json=apply(page.features_json, profile))


def item_in(item: Item, profile: str | None) -> Item:
    if profile is None:
        return item
    return dataclasses.replace(item, feature_json=apply(item.feature_json, profile))
