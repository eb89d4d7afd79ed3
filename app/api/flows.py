"""Trade flows: ``GET /maps/routes`` (the flows map, HTML) and ``GET /statistics/routes``
(routes counted by border crossed, mineral and cross-border, as JSON or CSV)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.api import maps
from app.api import params as p
from app.api.core import parse_context
from app.api.deps import ReadSessionDep, SettingsDep
from app.api.responses import JSON
from app.collections import routes as route_collection
from app.collections.base import Parameter, ParseContext
from app.collections.parsing import bad, one_of, parse_list
from app.db import boundaries as boundary_repo
from app.db import routes as route_repo
from app.maps.common import MapOptions
from app.maps.flows_map import render_flows_map, words
from app.services import flows as flow_service

router = APIRouter(tags=["Statistics"])
MAP_MAX_FLOWS = 2000
FLOW_KEYS = ("border", "mineral", "cross_border")
MAP_PARAMETERS = maps._map_parameters(route_collection.PARAMETERS, MAP_MAX_FLOWS)


def _flow_keys(raw: str, _ctx: ParseContext) -> tuple[str, ...]:
    keys = parse_list("group_by", raw)
    if any(key not in FLOW_KEYS for key in keys) or len(set(keys)) != len(keys):
        raise bad("group_by", f"distinct keys among {', '.join(FLOW_KEYS)}")
    return tuple(keys)


STATS_PARAMETERS = (
    Parameter(
        "group_by",
        "Keys, comma-separated: " + ", ".join(FLOW_KEYS) + " (default: border,mineral)",
        {"type": "array", "items": {"type": "string", "enum": list(FLOW_KEYS)}},
        _flow_keys,
    ),
    Parameter(
        "f",
        "json (default) or csv",
        {"type": "string", "enum": ["json", "csv"]},
        lambda raw, _ctx: one_of("f", raw, ("json", "csv")),
    ),
)


@router.get(
    "/maps/routes",
    response_class=HTMLResponse,
    summary="Map of the trade flows (HTML): arrows, width by count, cross-border in red",
    openapi_extra={"parameters": [param.openapi() for param in MAP_PARAMETERS]},
)
def routes_map(request: Request, session: ReadSessionDep, settings: SettingsDep) -> HTMLResponse:
    values = p.parse_query(request.query_params.multi_items(), MAP_PARAMETERS,
                           parse_context(session))  # fmt: skip
    lang: str = values.get("lang", "en")
    query = route_collection.PROVIDER.parse(p.feature_query(values), values)
    flows = route_repo.flows(session, query, query.selection, values.get("limit", MAP_MAX_FLOWS))
    source = boundary_repo.active_source(session)
    options = MapOptions(
        lang=lang,
        tiles=settings.map_tiles,
        attribution=source.attribution if source else "",
        title=words(lang)["title"],
        highlight_pairs=query.border.pairs if query.border else (),
    )
    borders = orjson.loads(boundary_repo.borders_for_map(session))
    page_html = render_flows_map(flows, borders, options, maps.map_assets(request))
    return HTMLResponse(page_html, headers=maps._page_headers(page_html, settings))


@router.get(
    "/statistics/routes",
    summary="Trade routes counted by border crossed, mineral and cross-border, with volumes",
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
            }
        }
    },
    openapi_extra={"parameters": [param.openapi() for param in STATS_PARAMETERS]},
)
def route_statistics(request: Request, session: ReadSessionDep) -> Response:
    values: dict[str, Any] = p.parse_query(
        request.query_params.multi_items(), STATS_PARAMETERS, parse_context(session)
    )
    table = flow_service.flow_table(session, values.get("group_by", ("border", "mineral")))
    if values.get("f") == "csv":
        headers = {"Content-Disposition": 'attachment; filename="routes-statistics.csv"'}
        return Response(table.csv(), media_type="text/csv; charset=utf-8", headers=headers)
    return JSON(table.document())
