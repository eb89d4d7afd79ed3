"""Response classes: GeoJSON, JSON via orjson, and problem details."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse, Response

from app.errors import PROBLEM_MEDIA_TYPE, Problem

GEOJSON = "application/geo+json"
OPENAPI_30 = "application/vnd.oai.openapi+json;version=3.0"


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content)


class GeoJSON(JSON):
    media_type = GEOJSON


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response:
    return Response(
        dumps(problem.as_dict()),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )
