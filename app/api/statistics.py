"""``GET /statistics``: counts of sites and observations grouped by country, border, distance
band, side confidence, kind, mineral, status, zone or period, as JSON or CSV, with the same
filters as ``/collections/sites/items`` and its ``as_of`` (see :mod:`app.services.statistics`)."""

from __future__ import annotations

import typing
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app import collections as registry
from app.api import params as p
from app.api.core import parse_context
from app.api.deps import ReadSessionDep, SessionFactoryDep, SettingsDep, release_connection
from app.api.responses import JSON
from app.api.urls import base_url
from app.collections import zone_sites
from app.collections.base import Parameter, ParseContext
from app.collections.parsing import bad, one_of, parse_list
from app.html import pages
from app.html.negotiation import pick_language
from app.queries import SiteQuery
from app.services import dashboard as dashboard_service
from app.services import statistics as stats_service
from app.settings import Settings

router = APIRouter(tags=["Statistics"])
MAX_KEYS = 4
#: Items' parameters that mean nothing for counts (paging, output, sorting).
NOT_FOR_COUNTS = {"limit", "cursor", "sortby", "crs", "profile", "f", "lang"}


def _group_by(raw: str, _ctx: ParseContext) -> tuple[str, ...]:
    keys = parse_list("group_by", raw)
    unknown = [key for key in keys if key not in stats_service.KEYS]
    if unknown:
        raise bad(
            "group_by",
            f"unknown key {unknown[0][:40]!r}; keys are {', '.join(stats_service.KEYS)}",
            "unknown_filter_value",
        )
    if len(set(keys)) != len(keys) or len(keys) > MAX_KEYS:
        raise bad("group_by", f"at most {MAX_KEYS} distinct keys")
    return tuple(keys)


GROUP_BY = Parameter(
    "group_by",
    "Keys, comma-separated (at most 4; none: totals only): "
    + "; ".join(f"{key}: {what}" for key, what in stats_service.KEYS.items()),
    {"type": "array", "items": {"type": "string", "enum": list(stats_service.KEYS)}},
    _group_by,
)
FORMAT = Parameter(
    "f",
    "json (default) or csv",
    {"type": "string", "enum": ["json", "csv"]},
    lambda raw, _ctx: one_of("f", raw, ("json", "csv")),
)


@dataclass(frozen=True)
class _Limits:
    """What the items' parameter list reads of the settings (only ``limit``, left out here)."""

    items_max_limit: int = 10_000
    items_default_limit: int = 10


def parameters(settings: Settings | _Limits) -> tuple[Parameter, ...]:
    sites = registry.get("sites")
    shared = p.item_parameters(typing.cast(Settings, settings), sites)
    return (GROUP_BY, FORMAT, *(param for param in shared if param.name not in NOT_FOR_COUNTS))


TABLE_SCHEMA = {
    "type": "object",
    "properties": {
        "group_by": {"type": "array", "items": {"type": "string"}},
        "boundary_source": {"type": "object", "nullable": True},
        "dataset_version": {"type": "integer"},
        "generated_at": {"type": "string", "format": "date-time"},
        "totals": {"type": "object"},
        "rows": {"type": "array", "items": {"type": "object"}},
    },
}


@router.get(
    "/statistics",
    summary="Counts of sites and observations by country, border, band, mineral, period...",
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/json": {"schema": TABLE_SCHEMA},
                "text/csv": {"schema": {"type": "string"}},
            }
        }
    },
    openapi_extra={"parameters": [param.openapi() for param in parameters(_Limits())]},
)
def statistics(
    request: Request, session: ReadSessionDep, settings: SettingsDep, open_writer: SessionFactoryDep
) -> Response:
    declared = parameters(settings)
    values = p.parse_query(request.query_params.multi_items(), declared, parse_context(session))
    query = registry.get("sites").parse(p.feature_query(values), values)
    assert isinstance(query, SiteQuery)
    group_by = values.get("group_by", ())
    at = stats_service.as_of(session, values.get("as_of"), query, group_by)
    zones = zone_sites.selection(session, open_writer, query)
    table = stats_service.compute(session, open_writer, query, zones, group_by, at)
    if values.get("f") == "csv":
        headers = {"Content-Disposition": 'attachment; filename="statistics.csv"'}
        return Response(table.csv(), media_type="text/csv; charset=utf-8", headers=headers)
    return JSON(table.document())


@router.get(
    "/dashboard",
    summary="Statistics dashboard (HTML): charts with their CSV, in English, French, Portuguese",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
    openapi_extra={"parameters": [p.language_parameter().openapi()]},
)
def dashboard(
    request: Request, session: ReadSessionDep, settings: SettingsDep, open_writer: SessionFactoryDep
) -> HTMLResponse:
    declared = (p.language_parameter(),)
    p.parse_query(request.query_params.multi_items(), declared, parse_context(session))
    lang = pick_language(request)
    built = dashboard_service.build(session, open_writer, base_url(request, settings), lang)
    release_connection(session)  # no more reads: not held while the charts are drawn
    return pages.render_dashboard(request, built, lang)
