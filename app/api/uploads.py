"""Survey uploads: ``POST /uploads`` (multipart), the list, one report, its rejected rows."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

import orjson
from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.routing import APIRoute

from app.api import json_body
from app.api.contract import negotiable, problems, ref, returns
from app.api.deps import (
    BoundariesDep,
    CallerDep,
    SessionDep,
    SettingsDep,
    WriterDep,
    page_parameters,
    reject_undeclared_query,
)
from app.api.responses import JSON
from app.api.text_checks import ISO3, MULTI_LINE, UPLOAD_ID
from app.api.upload_targets import TargetFieldsDep
from app.api.urls import base_url
from app.errors import InvalidBody, PayloadTooLarge, ProblemItem
from app.html import upload_pages
from app.html.negotiation import pick_language
from app.html.pages import negotiated
from app.roles import ADMIN, WRITERS
from app.services import scopes, upload_access, upload_jobs, upload_views
from app.services.ingest import UploadRequest
from app.services.upload_targets import dispatch, only_sites
from app.settings import Settings
from geo.vocab import SiteKind, empty_values_from_text

JSON_TYPE = "application/json"

MULTIPART = "multipart/form-data"


async def multipart_only(request: Request) -> None:
    """A router dependency: an upload is a multipart form (the file and its fields). A body
    of another media type, or of none, is a 415 naming the one to send, where FastAPI read
    it as an empty form and answered 422 "file: Field required" (a JSON body included, found
    by a helper). Routes without a body pass."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return
    given = json_body.media_type(request.headers.get("content-type"))
    if given != MULTIPART:
        raise json_body.unsupported(given, [MULTIPART])
    json_body.refuse_content_coding(request.headers)


router = APIRouter(
    tags=["Uploads"], dependencies=[Depends(reject_undeclared_query), Depends(multipart_only)]
)
COLUMN_ROLES = ("lon", "lat", "geopoint", "accuracy", "name", "date", "minerals", "kind")


def _display_name(filename: str | None) -> str:
    """The file's name as the client gave it, for reports: control characters dropped."""
    name = "".join(ch for ch in (filename or "") if ch.isprintable())[:255].strip()
    return name or "upload"


def _column_map(raw: str | None) -> dict[str, str] | None:
    if not raw:
        return None
    try:
        mapping = orjson.loads(raw)
    except orjson.JSONDecodeError:
        mapping = None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise InvalidBody(
            'column_map must be a JSON object of role -> column, e.g. {"lon": "X", "lat": "Y"}',
            code="invalid_column_map",
            items=[
                ProblemItem(
                    "invalid_column_map", "not a JSON object of strings", column="column_map"
                )
            ],
        )
    unknown = sorted(set(mapping) - set(COLUMN_ROLES))
    if unknown:
        raise InvalidBody(
            f"column_map: unknown roles {unknown}; roles are {', '.join(COLUMN_ROLES)}",
            code="invalid_column_map",
        )
    return mapping


@router.post(
    "/uploads",
    status_code=201,
    summary="Upload a survey file (researcher or admin key)",
    responses={
        **returns("UploadReport", JSON_TYPE, 200, 201),
        200: {
            "description": "A repeat of an earlier upload, or a dry run",
            **returns("UploadReport")[200],
        },
        202: {
            "description": "Accepted: a worker processes the file; `Location` is its status "
            "resource (large files, or `Prefer: respond-async`)",
            **returns("UploadJob")[200],
        },
        **problems(415),
    },
)
def post_upload(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    boundaries: BoundariesDep,
    caller: WriterDep,
    targets: TargetFieldsDep,
    file: Annotated[
        UploadFile,
        File(description="GPX, KML/KMZ, GeoJSON, zipped Shapefile, GeoPackage, CSV or XLSX"),
    ],
    kind: Annotated[
        SiteKind | None,
        Form(description="Kind of every row without its own kind column"),
    ] = None,
    source: Annotated[
        str | None,
        Form(max_length=300, pattern=MULTI_LINE, description="Survey, team, campaign"),
    ] = None,
    crs: Annotated[
        str | None,
        Form(
            max_length=20_000,
            pattern=MULTI_LINE,
            description="EPSG code, WKT or 'UTM 34N' for projected coordinates without a .prj",
        ),
    ] = None,
    country: Annotated[
        str | None, Form(pattern=ISO3, description="ISO3 of the country surveyed")
    ] = None,
    column_map: Annotated[
        str | None,
        Form(
            max_length=5000, pattern=MULTI_LINE, description='JSON, e.g. {"lon": "X", "lat": "Y"}'
        ),
    ] = None,
    dry_run: Annotated[bool, Form(description="Validate and report; store nothing")] = False,
    corrects: Annotated[
        str | None,
        Form(
            pattern=UPLOAD_ID,
            description="Fix and resend: the id of the earlier upload whose rejected rows this "
            "file corrects (the link is stored and shown on both reports)",
        ),
    ] = None,
    prefer: Annotated[
        str | None,
        Header(
            max_length=200,
            description="`respond-async`: answer 202 with a status resource at once, as "
            "uploads larger than the async threshold always do",
        ),
    ] = None,
    include_tracks: Annotated[bool, Form(description="GPX: track points are sites too")] = False,
    empty_values: Annotated[
        str | None,
        Form(
            max_length=2000,
            pattern=MULTI_LINE,
            description="Comma-separated words that mean 'no answer' in this file, replacing "
            "the default list (n/a, NA, -, null, #N/A, none, ...)",
        ),
    ] = None,
    restricted: Annotated[
        str | None,
        Form(
            max_length=5000,
            pattern=MULTI_LINE,
            description="Comma-separated attribute columns whose values are restricted (shown "
            "to admins and authorities in scope only), e.g. workers,armed_group; the other "
            "attribute columns become public. Unset: every attribute stays restricted.",
        ),
    ] = None,
) -> JSON:
    data = _read_file(file, settings)
    request_ = UploadRequest(
        data=data,
        filename=_display_name(file.filename),
        kind=kind,
        source=source,
        crs=crs,
        country=country,
        column_map=_column_map(column_map),
        include_tracks=include_tracks,
        dry_run=dry_run,
        empty_values=empty_values_from_text(empty_values) if empty_values else None,
        restricted_columns=scopes.parse_columns(restricted),
    )
    if not only_sites(targets):  # zones (and later actors, routes): answered at once
        outcome = dispatch(targets, session, boundaries, settings, request_, caller)
    elif upload_jobs.wants_job(settings, len(data), prefer):
        job = upload_jobs.submit(session, request_, caller, corrects)
        where = f"{base_url(request, settings)}/uploads/{job['id']}"
        return JSON(job, status_code=202, headers={"Location": where, "Retry-After": "1"})
    else:
        outcome = upload_jobs.ingest_now(session, boundaries, settings, request_, caller, corrects)
    headers = {}
    if outcome.upload_id:
        headers["Location"] = f"{base_url(request, settings)}/uploads/{outcome.upload_id}"
    return JSON(outcome.report, status_code=201 if outcome.stored else 200, headers=headers)


def _read_file(file: UploadFile, settings: Settings) -> bytes:
    data = file.file.read(settings.upload_max_bytes + 1)
    if len(data) > settings.upload_max_bytes:
        raise PayloadTooLarge(
            f"{file.filename}: larger than {settings.upload_max_bytes:,} bytes",
            code="file_too_large",
        )
    return data


HTML_PAGE = {"content": {"text/html": {"schema": {"type": "string"}}}}
PAGE = [Depends(page_parameters)]


@router.get(
    "/uploads/new",
    dependencies=PAGE,
    summary="The upload page (HTML; signed-in researchers and admins)",
    response_class=HTMLResponse,
    responses={
        200: HTML_PAGE,
        303: {"description": "Not signed in with a researcher or admin key: to sign-in"},
    },
)
def upload_page(request: Request, caller: CallerDep) -> Response:
    if caller.role not in WRITERS:  # anonymous, or a key that cannot write: sign in as one
        target = quote(f"{request.url.path}?{request.url.query}".rstrip("?"))
        return RedirectResponse(
            f"/signin?lang={pick_language(request)}&next={target}", status_code=303
        )
    return upload_pages.render_form(request, pick_language(request))


@router.get(
    "/uploads",
    dependencies=PAGE,
    summary="Your recent uploads (researcher: own; admin: all)",
    responses=negotiable("Uploads"),
)
def list_uploads(
    request: Request,
    session: SessionDep,
    caller: WriterDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, description="Paging: the token of a `next` link")
    ] = None,
) -> Response:
    uploads, following = upload_access.list_uploads(session, caller, limit, cursor)
    body: dict[str, Any] = {
        "uploads": [
            {k: (v.isoformat() if k == "received_at" else v) for k, v in u.items()} for u in uploads
        ]
    }
    if following:
        body["next"] = f"/uploads?{urlencode({'limit': limit, 'cursor': following})}"
    return negotiated(
        request,
        JSON(body),
        lambda r, document, language: upload_pages.render_list(
            r, document, language, upload_jobs.recent_jobs(session, caller), caller.role == ADMIN
        ),
    )


@router.get(
    "/uploads/{upload_id}",
    dependencies=PAGE,
    summary="An upload's report, or the status of an upload job (JOB-...): state "
    "queued|running|done|failed, progress, rows read, an estimate (its uploader or an admin)",
    responses={
        200: {
            "content": {
                JSON_TYPE: {"schema": {"anyOf": [ref("UploadReport"), ref("UploadJob")]}},
                "text/html": {"schema": {"type": "string"}},
            }
        }
    },
)
def read_upload(
    request: Request, upload_id: str, session: SessionDep, caller: WriterDep
) -> Response:
    if upload_id.startswith(upload_jobs.JOB_PREFIX):
        job = upload_jobs.status(session, caller, upload_id)
        return negotiated(request, JSON(job), upload_pages.render_job)
    report = upload_access.report(session, caller, upload_id)
    return negotiated(
        request,
        JSON(report),
        lambda r, document, language: upload_pages.render_report(
            r, document, language, upload_views.report_extras(session, caller, upload_id, report)
        ),
    )


@router.get(
    "/uploads/{upload_id}/rejected.csv",
    summary="The rejected rows as CSV, with the reasons, to fix and send again",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def rejected_rows(upload_id: str, session: SessionDep, caller: WriterDep) -> StreamingResponse:
    chunks = upload_access.rejected_csv(session, caller, upload_id)
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{upload_id}-rejected.csv"'},
    )
