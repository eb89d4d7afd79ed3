"""Survey uploads: ``POST /uploads`` (multipart), the list, one report, its rejected rows."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import StreamingResponse

from app.api.contract import problems, returns
from app.api.deps import (
    BoundariesDep,
    SessionDep,
    SettingsDep,
    WriterDep,
    reject_undeclared_query,
)
from app.api.responses import JSON
from app.api.upload_targets import TargetFieldsDep
from app.api.urls import base_url
from app.errors import InvalidBody, PayloadTooLarge, ProblemItem
from app.services import scopes, upload_access
from app.services.ingest import UploadRequest, ingest
from app.services.upload_targets import dispatch
from geo.vocab import SiteKind, empty_values_from_text

JSON_TYPE = "application/json"
router = APIRouter(tags=["Uploads"], dependencies=[Depends(reject_undeclared_query)])
COLUMN_ROLES = ("lon", "lat", "geopoint", "accuracy", "name", "date", "minerals", "kind")


# Form text without control characters (NUL cannot be stored; none belongs in these fields).
NO_CONTROLS = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


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
        Form(max_length=300, pattern=NO_CONTROLS, description="Survey, team, campaign"),
    ] = None,
    crs: Annotated[
        str | None,
        Form(
            max_length=20_000,
            pattern=NO_CONTROLS,
            description="EPSG code, WKT or 'UTM 34N' for projected coordinates without a .prj",
        ),
    ] = None,
    country: Annotated[
        str | None, Form(pattern=r"^[A-Z]{3}$", description="ISO3 of the country surveyed")
    ] = None,
    column_map: Annotated[
        str | None,
        Form(
            max_length=5000, pattern=NO_CONTROLS, description='JSON, e.g. {"lon": "X", "lat": "Y"}'
        ),
    ] = None,
    dry_run: Annotated[bool, Form(description="Validate and report; store nothing")] = False,
    include_tracks: Annotated[bool, Form(description="GPX: track points are sites too")] = False,
    empty_values: Annotated[
        str | None,
        Form(
            max_length=2000,
            pattern=NO_CONTROLS,
            description="Comma-separated words that mean 'no answer' in this file, replacing "
            "the default list (n/a, NA, -, null, #N/A, none, ...)",
        ),
    ] = None,
    restricted: Annotated[
        str | None,
        Form(
            max_length=5000,
            pattern=NO_CONTROLS,
            description="Comma-separated attribute columns whose values are restricted (shown "
            "to admins and authorities in scope only), e.g. workers,armed_group; the other "
            "attribute columns become public. Unset: every attribute stays restricted.",
        ),
    ] = None,
) -> JSON:
    data = file.file.read(settings.upload_max_bytes + 1)
    if len(data) > settings.upload_max_bytes:
        raise PayloadTooLarge(
            f"{file.filename}: larger than {settings.upload_max_bytes:,} bytes",
            code="file_too_large",
        )
    outcome = dispatch(
        targets,
        session,
        boundaries,
        settings,
        UploadRequest(
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
        ),
        caller,
    )
    headers = {}
    if outcome.upload_id:
        headers["Location"] = f"{base_url(request, settings)}/uploads/{outcome.upload_id}"
    return JSON(outcome.report, status_code=201 if outcome.stored else 200, headers=headers)


@router.get(
    "/uploads",
    summary="Your recent uploads (researcher: own; admin: all)",
    responses=returns("Uploads"),
)
def list_uploads(
    session: SessionDep,
    caller: WriterDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, description="Paging: the token of a `next` link")
    ] = None,
) -> JSON:
    uploads, following = upload_access.list_uploads(session, caller, limit, cursor)
    body: dict[str, Any] = {
        "uploads": [
            {k: (v.isoformat() if k == "received_at" else v) for k, v in u.items()} for u in uploads
        ]
    }
    if following:
        body["next"] = f"/uploads?{urlencode({'limit': limit, 'cursor': following})}"
    return JSON(body)


@router.get(
    "/uploads/{upload_id}",
    summary="An upload's report (its uploader or an admin)",
    responses=returns("UploadReport"),
)
def read_upload(upload_id: str, session: SessionDep, caller: WriterDep) -> JSON:
    return JSON(upload_access.report(session, caller, upload_id))


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
