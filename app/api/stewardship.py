"""Stewardship (issue 11): the history of a site, curation (merge, split, restore), taking
back an upload, and the review queue of likely duplicates. JSON, and HTML pages for people.

Writes need a researcher or admin key (retracting: the upload's own key, or an admin); each is
one transaction in ``app.services.curation`` and one entry per site in the history.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from app.api.contract import problems
from app.api.core import FeatureId
from app.api.deps import CallerDep, ReadSessionDep, SettingsDep, reject_undeclared_query
from app.api.responses import JSON
from app.api.urls import base_url
from app.html import stewardship_pages as pages
from app.html.pages import negotiated
from app.services import site_history

router = APIRouter(tags=["Stewardship"], dependencies=[Depends(reject_undeclared_query)])
SITE = "/collections/sites/items/{featureId}"
JSON_TYPE = "application/json"


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON_TYPE: {"schema": schema}}}


ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "entry": {"type": "integer"},
        "datasetVersion": {"type": "integer"},
        "at": {"type": "string", "format": "date-time", "nullable": True},
        "action": {"type": "string"},
        "key": {"type": "integer", "nullable": True},
        "reason": {"type": "string", "nullable": True},
        "upload": {"type": "string", "nullable": True},
        "request": {"type": "string", "nullable": True},
        "relatedSite": {"type": "string", "nullable": True},
        "feature": {"type": "object"},
    },
}
HISTORY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "site": {"type": "string"},
        "versions": {"type": "array", "items": ENTRY_SCHEMA},
        "links": {"type": "array", "items": {"type": "object"}},
    },
}
FormatParam = Annotated[Literal["json", "html"] | None, Query(description="json (default) or html")]
LangParam = Annotated[
    Literal["en", "fr", "pt"] | None, Query(description="Language of the HTML page")
]
MOVED = {308: {"description": "A merged site: Location names the survivor"}}


@router.get(
    SITE + "/history",
    summary="History of a site: every change, who, when, why, and the site after it",
    response_model=None,
    responses={
        200: {
            "content": {
                JSON_TYPE: {"schema": HISTORY_SCHEMA},
                "text/html": {"schema": {"type": "string"}},
            }
        },
        **MOVED,
        **problems(404),
    },
)
def read_history(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    caller: CallerDep,
    feature_id: FeatureId,
    f: FormatParam = None,
    lang: LangParam = None,
) -> Response:
    del f, lang  # read by the content negotiation
    base = base_url(request, settings)
    location = f"{base}/collections/sites/items/{{id}}/history"
    versions = site_history.site_history(session, feature_id, caller, location)
    item = f"{base}/collections/sites/items/{feature_id}"
    document = JSON(
        {
            "site": feature_id,
            "versions": [{**v, "feature": orjson.Fragment(v["feature"])} for v in versions],
            "links": [
                {"href": f"{item}/history", "rel": "self", "type": JSON_TYPE},
                {"href": item, "rel": "about", "type": "application/geo+json"},
            ],
        }
    )
    return negotiated(request, document, pages.render_history)
