"""OGC API - Features Part 2 (CRS by reference, 18-058r1): the ``crs``, ``bbox-crs`` and
``filter-crs`` parameters, and what collection documents say about CRSs.

The offered CRSs and their axis orders live in ``geo.crs``; geometries are transformed by
PostGIS (``app.db.features``). Responses name their CRS in the ``Content-Crs`` header.
"""

from __future__ import annotations

from fastapi import APIRouter

from app.collections.base import Parameter
from app.collections.parsing import bad, text_value
from geo import crs as crs_module
from geo.errors import UnsupportedCRS

router = APIRouter()  # no routes of its own: Part 2 is parameters of the core routes
CONFORMANCE = ["http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"]

OFFERED_URIS = crs_module.offered_uris()
STORAGE_CRS = crs_module.CRS84_URI


def parse(parameter: str, raw: str) -> crs_module.OfferedCrs:
    """An offered CRS, or a 400 (``unsupported_crs``) naming ``parameter`` and the offer."""
    try:
        return crs_module.parse_crs(text_value(parameter, raw, 200), parameter)
    except UnsupportedCRS as error:
        message = error.message.removeprefix(f"{parameter}: ")
        raise bad(parameter, message, code="unsupported_crs") from None


def crs_parameter(name: str, description: str) -> Parameter:
    return Parameter(
        name,
        description,
        {"type": "string", "format": "uri", "enum": OFFERED_URIS, "default": STORAGE_CRS},
        lambda raw, _ctx: parse(name, raw),
    )


def output_crs() -> Parameter:
    return crs_parameter(
        "crs",
        "CRS of the returned geometries (default CRS84, lon/lat; EPSG:4326 is latitude first)",
    )


def bbox_crs() -> Parameter:
    return crs_parameter("bbox-crs", "CRS of the bbox values, in its axis order (default CRS84)")


def filter_crs() -> Parameter:
    return crs_parameter("filter-crs", "CRS of geometries in filter (default CRS84)")


def content_crs(offered: crs_module.OfferedCrs | None) -> dict[str, str]:
    """The ``Content-Crs`` header of a response in ``offered`` (None: CRS84)."""
    return {"Content-Crs": f"<{offered.uri if offered else STORAGE_CRS}>"}
