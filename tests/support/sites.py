"""Helpers that build valid sites (GeoJSON Features) for tests."""

from __future__ import annotations

from typing import Any


def site_feature(
    lon: float,
    lat: float,
    *,
    name: str = "Test site",
    kind: str = "mine",
    minerals: list[str] | None = None,
    **properties: Any,
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"kind": kind, "name": name, "minerals": minerals or [], **properties},
    }


# Real places, well inside their countries in both boundary datasets.
BERBERATI_CAF = (15.7883, 4.2612)
BATOURI_CMR = (14.3640, 4.4330)
OUESSO_COG = (16.0500, 1.6130)
GBADOLITE_COD = (21.0070, 4.2790)
GULF_OF_GUINEA_SEA = (5.0, 1.0)
