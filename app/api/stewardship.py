"""Stewardship (issue 11): the history of a site, curation (merge, split, restore), taking
back an upload, and the review queue of likely duplicates. JSON, and HTML pages for people.

Writes need a researcher or admin key (retracting: the upload's own key, or an admin); each is
one transaction in ``app.services.curation`` and one entry per site in the history.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api import json_body
from app.api.contract import problems, ref
from app.api.core import FeatureId
from app.api.deps import (
    BoundariesDep,
    CallerDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    WriterDep,
    reject_undeclared_query,
)
from app.api.etags import parse_if_match
from app.api.responses import GEOJSON, JSON, dumps
from app.api.text_checks import NOT_BLANK, SITE_ID
from app.api.urls import base_url
from app.collections import site_writer
from app.html import stewardship_pages as pages
from app.html.negotiation import pick_language
from app.html.pages import negotiated
from app.queries import Caller
from app.services import curation, site_history, upload_access
from app.services.curation import REASON_MAX
from app.services.site_edits import Precondition, WrittenSite

router = APIRouter(
    tags=["Stewardship"],
    dependencies=[Depends(reject_undeclared_query), Depends(json_body.read_strictly)],
)
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
MOVED: dict[int | str, dict[str, Any]] = {
    308: {"description": "A merged site: Location names the survivor"}
}


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


# -- curation ---------------------------------------------------------------------------------

Reason = Annotated[str, Field(min_length=1, max_length=REASON_MAX, pattern=NOT_BLANK)]
SiteId = Annotated[str, Field(min_length=1, max_length=32, pattern=SITE_ID)]
IfMatchHeader = Annotated[
    str | None,
    Header(alias="If-Match", description="Optional: the ETag of your last read of the site"),
]


class MergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into: SiteId = Field(description="The surviving site's id")
    reason: Reason


class SplitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    observations: list[Annotated[str, Field(max_length=64)]] = Field(
        min_length=1, max_length=10_000, description="Observation ids (UP-XXXXXXXXXX-<row>)"
    )
    reason: Reason
    name: Annotated[str, Field(min_length=1, max_length=300, pattern=NOT_BLANK)] | None = None


class RestoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason
    version: Annotated[int, Field(strict=True, ge=0, le=2**62)] | None = Field(
        default=None, description="Put the site back as it was at this dataset version (undo)"
    )


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sites: list[SiteId] = Field(min_length=2, max_length=2)
    reason: Reason


SITE_ANSWER = {
    "content": {GEOJSON: {"schema": ref("Feature")}},
    "headers": {"ETag": {"description": "Strong entity tag of the site", "schema": {}}},
}
CHANGE_PROBLEMS = problems(404, 409, 412, 422)


def _condition(if_match: str | None) -> Precondition | None:
    if if_match is None or not if_match.strip():  # optional here: no condition asked
        return None
    return site_writer.precondition(parse_if_match(if_match))


def _site(written: WrittenSite, caller: Caller, base: str, status: int = 200) -> Response:
    href = f"{base}/collections/sites/items/{written.public_id}"
    links = [{"href": href, "rel": "self", "type": GEOJSON}]
    body = written.feature_json[:-1] + ',"links":' + dumps(links).decode() + "}"
    headers = {"ETag": site_writer.site_etag(written.version, caller), "Vary": "Authorization"}
    return Response(body.encode(), status_code=status, media_type=GEOJSON, headers=headers)


@router.post(
    SITE + "/merge",
    summary="Merge this site into another (aliases, minerals, observations move; this id "
    "then answers 308 to the survivor)",
    response_class=Response,
    responses={200: SITE_ANSWER, **CHANGE_PROBLEMS},
)
def merge_site(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    caller: WriterDep,
    feature_id: FeatureId,
    body: MergeBody,
    if_match: IfMatchHeader = None,
) -> Response:
    survivor = curation.merge(
        session, feature_id, body.into, body.reason, caller, _condition(if_match)
    )
    return _site(survivor, caller, base_url(request, settings))


@router.post(
    SITE + "/split",
    summary="Split observations of this site off into a new site",
    response_class=Response,
    responses={201: SITE_ANSWER, **CHANGE_PROBLEMS},
    status_code=201,
)
def split_site(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    boundaries: BoundariesDep,
    caller: WriterDep,
    feature_id: FeatureId,
    body: SplitBody,
    if_match: IfMatchHeader = None,
) -> Response:
    _, new = curation.split(
        session,
        boundaries,
        feature_id,
        body.observations,
        body.reason,
        caller,
        body.name,
        _condition(if_match),
    )
    response = _site(new, caller, base_url(request, settings), 201)
    response.headers["Location"] = (
        f"{base_url(request, settings)}/collections/sites/items/{new.public_id}"
    )
    return response


@router.post(
    SITE + "/restore",
    summary="Restore a retired site, or put a site back as it was at a dataset version (undo)",
    response_class=Response,
    responses={200: SITE_ANSWER, **CHANGE_PROBLEMS},
)
def restore_site(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    boundaries: BoundariesDep,
    caller: WriterDep,
    feature_id: FeatureId,
    body: RestoreBody,
    if_match: IfMatchHeader = None,
) -> Response:
    restored = curation.restore(
        session, boundaries, feature_id, body.reason, caller, body.version, _condition(if_match)
    )
    return _site(restored, caller, base_url(request, settings))


RETRACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "upload": {"type": "string"},
        "reason": {"type": "string"},
        "datasetVersion": {"type": "integer"},
        "observationsRemoved": {"type": "integer"},
        "sitesRetired": {"type": "array", "items": {"type": "string"}},
        "sitesKept": {"type": "array", "items": {"type": "object"}},
        "repeat": {"type": "boolean"},
    },
}


@router.post(
    "/uploads/{uploadId}/retract",
    summary="Take back an upload of sites (its uploader or an admin): its observations and "
    "the sites only it created go; the rest stay and say so (409 for an upload of routes, "
    "zones or actors)",
    responses={
        200: _json("What the retraction did (the same on a repeat)", RETRACTION_SCHEMA),
        **problems(404, 409, 422),
    },
)
def retract_upload(
    session: SessionDep,
    caller: WriterDep,
    upload_id: Annotated[str, PathParam(alias="uploadId", max_length=64)],
    body: ReasonBody,
) -> JSON:
    return JSON(curation.retract(session, upload_id, body.reason, caller))


@router.get(
    "/uploads/{uploadId}/retract",
    summary="The page to take back an upload (HTML; its uploader or an admin)",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}, **problems(404)},
)
def retract_page(
    request: Request,
    session: ReadSessionDep,
    caller: WriterDep,
    upload_id: Annotated[str, PathParam(alias="uploadId", max_length=64)],
    lang: LangParam = None,
) -> Response:
    del lang  # read by pick_language
    report = upload_access.report(session, caller, upload_id)
    return pages.render_retract(request, report, pick_language(request))


# -- review queue ---------------------------------------------------------------------------

PAIR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "sites": {"type": "array", "items": {"type": "string"}},
        "names": {"type": "array", "items": {"type": "string"}},
        "kind": {"type": "string"},
        "countries": {"type": "array", "items": {"type": "string", "nullable": True}},
        "distance_m": {"type": "number"},
        "similarity": {"type": "number"},
    },
}


@router.get(
    "/review/duplicates",
    summary="Likely duplicate sites the automatic matching did not merge (researchers, admins)",
    response_model=None,
    responses={
        200: {
            "content": {
                JSON_TYPE: {
                    "schema": {
                        "type": "object",
                        "properties": {"pairs": {"type": "array", "items": PAIR_SCHEMA}},
                    }
                },
                "text/html": {"schema": {"type": "string"}},
            }
        }
    },
)
def review_duplicates(
    request: Request,
    session: ReadSessionDep,
    caller: WriterDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    f: FormatParam = None,
    lang: LangParam = None,
) -> Response:
    del f, lang  # read by the content negotiation
    pairs = curation.review_queue(session, caller, limit)
    return negotiated(request, JSON({"pairs": pairs}), pages.render_review)


@router.post(
    "/review/duplicates/reject",
    summary="Say two sites are not duplicates: never proposed again",
    responses={200: _json("The pair, remembered", {"type": "object"}), **problems(404, 422)},
)
def reject_duplicates(session: SessionDep, caller: WriterDep, body: RejectBody) -> JSON:
    return JSON(curation.reject_pair(session, body.sites, body.reason, caller))
