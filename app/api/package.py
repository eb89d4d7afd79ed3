"""``GET /package``: the offline package for field teams (one GeoPackage: sites, observations,
borders, countries, distance bands, clusters, zones when they exist, QGIS styles), for the
same sites filters as the items. Sent as ``borderlens-package-<YYYY-MM-DD>.gpkg`` with its
provenance in ``X-Borderlens-Provenance`` (ASCII JSON), as every export."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from app.api import params as p
from app.api.core import parse_context
from app.api.deps import BoundariesDep, CallerDep, ReadSessionDep, SettingsDep
from app.api.explore import FILTER_PARAMETERS
from app.api.urls import base_url
from app.collections import sites as site_collection
from app.collections.base import ReadContext
from app.services import package as package_service

router = APIRouter(tags=["Exports"])
MEDIA_TYPE = "application/geopackage+sqlite3"


@router.get(
    "/package",
    summary="Offline package for QGIS/QField: one GeoPackage of the sites and their context",
    response_class=FileResponse,
    responses={200: {"content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}},
    openapi_extra={"parameters": [parameter.openapi() for parameter in FILTER_PARAMETERS]},
)
def offline_package(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    caller: CallerDep,
    boundaries: BoundariesDep,
) -> FileResponse:
    items = request.query_params.multi_items()
    values = p.parse_query(items, FILTER_PARAMETERS, parse_context(session))
    query = site_collection.PROVIDER.parse(p.feature_query(values), values)
    context = ReadContext(session, caller, base_url(request, settings))
    border = values.get("border")
    written = package_service.write_package(
        context,
        boundaries,
        query,
        urlencode(items),
        within_km=values.get("within_km"),
        border_pairs=border.pairs if border else (),
    )
    headers = {
        "X-Borderlens-Provenance": json.dumps(written.provenance, ensure_ascii=True),
        "X-Borderlens-Features": str(written.counts["sites"]),
    }
    day = dt.datetime.now(dt.UTC).date().isoformat()
    return FileResponse(
        written.path,
        media_type=MEDIA_TYPE,
        filename=f"borderlens-package-{day}.gpkg",
        headers=headers,
        background=BackgroundTask(written.close),
    )
