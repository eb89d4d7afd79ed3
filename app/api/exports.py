"""Items as files (CSV, KML, GeoPackage, FlatGeobuf, zipped Shapefile, XLSX): the HTTP glue.

Chosen on the items route by ``f`` or ``Accept`` (``app.services.exports.chosen``); written by
``app.services.exports``; sent as an attachment named
``borderlens-<collection>-<YYYY-MM-DD>.<ext>`` with the provenance in
``X-Borderlens-Provenance`` (ASCII JSON) and a ``Link`` to the query's GeoJSON.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from app.api.responses import GEOJSON
from app.collections.base import Provider, ReadContext
from app.collections.parsing import bad
from app.queries import FeatureQuery
from app.services import exports

#: Paging parameters of JSON pages: an export is the whole result, so they are refused.
PAGING = ("limit", "cursor")


def export_response(
    request: Request,
    ctx: ReadContext,
    provider: Provider,
    query: FeatureQuery,
    values: dict[str, Any],
    fmt: exports.ExportFormat,
) -> FileResponse:
    for name in PAGING:
        if name in values:
            raise bad(name, f"an export ({fmt.name}) is the whole result of the query; drop {name}")
    if ctx.crs is not None and not ctx.crs.is_crs84 and fmt.name not in exports.CRS_FORMATS:
        # KML is WGS 84 lon/lat by its standard; CSV and XLSX name their columns lon and lat.
        raise bad(
            "crs",
            f"f={fmt.name} is written in CRS84 (lon/lat); crs= is offered for "
            + ", ".join(exports.CRS_FORMATS),
        )
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "f"]
    query_string = urlencode(kept)
    export = exports.write_export(ctx, provider, query, fmt, query_string)
    day = dt.datetime.now(dt.UTC).date().isoformat()
    items_url = f"{ctx.base_url}/collections/{provider.id}/items"
    geojson = f"{items_url}?{query_string}" if query_string else items_url
    headers = {
        "X-Borderlens-Provenance": json.dumps(export.provenance, ensure_ascii=True),
        "X-Borderlens-Features": str(export.features),
        "Link": f'<{geojson}>; rel="alternate"; type="{GEOJSON}"',
        "Vary": "Accept, User-Agent",
    }
    return FileResponse(
        export.path,
        media_type=fmt.media_type,
        filename=f"borderlens-{provider.id}-{day}.{fmt.extension}",
        headers=headers,
        background=BackgroundTask(export.close),
    )
