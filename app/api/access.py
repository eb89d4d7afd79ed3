"""Access: API keys (``/keys``, admins) and the audit log (``/audit``, admins)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)
from sqlalchemy.orm import Session

from app.api import json_body
from app.api.deps import AdminDep, SessionDep, SessionFactoryDep, reject_undeclared_query
from app.api.responses import JSON
from app.api.text_checks import ISO3, SINGLE_LINE, StorableText
from app.collections.parsing import BIGINT_MAX
from app.db.audit import AuditFilter
from app.db.keys import KeyRecord
from app.errors import InvalidBody, InvalidParameter
from app.html import pages
from app.html.negotiation import pick_language
from app.html.pages import negotiated
from app.roles import Role
from app.services import audit_log as audit_service
from app.services import keys as key_service

router = APIRouter(
    tags=["Access"],
    dependencies=[Depends(reject_undeclared_query), Depends(json_body.read_strictly)],
)
JSON_TYPE = "application/json"
KeyId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The key's id")]

_KEY_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer"},
    "name": {"type": "string"},
    "role": {"type": "string", "enum": ["admin", "researcher", "authority"]},
    "countries": {"type": "array", "items": {"type": "string"}},
    "prefix": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"},
    "expires_at": {"type": "string", "format": "date-time", "nullable": True},
    "revoked_at": {"type": "string", "format": "date-time", "nullable": True},
    "state": {"type": "string", "enum": ["active", "revoked", "expired"]},
}
KEY_SCHEMA = {"type": "object", "required": ["id", "name", "role"], "properties": _KEY_PROPERTIES}
SECRET_SCHEMA = {
    "type": "object",
    "required": ["key", "id", "role"],
    "properties": {"key": {"type": "string", "description": "shown once"}, **_KEY_PROPERTIES},
}
KEYS_SCHEMA = {"type": "object", "required": ["keys"], "properties": {"keys": {"type": "array"}}}
AUDIT_SCHEMA = {
    "type": "object",
    "required": ["entries"],
    "properties": {"entries": {"type": "array", "items": {"type": "object"}}, "next": {}},
}


def _body(schema: dict[str, Any], *statuses: int) -> dict[int | str, Any]:
    return {s: {"content": {JSON_TYPE: {"schema": schema}}} for s in statuses or (200,)}


ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]")


def _date_time_text(value: object) -> object:
    """ISO 8601 text only: lax parsing read a number, or digits as text, as a Unix time."""
    if not isinstance(value, str) or not ISO_DATE_TIME.match(value):
        raise ValueError("a time is ISO 8601 text with its offset (2027-01-31T00:00:00Z)")
    return value


#: An instant as RFC 3339 text with its offset (a number is not read as a Unix time).
RFC3339Time = Annotated[AwareDatetime, BeforeValidator(_date_time_text)]


class NewKey(BaseModel):
    """A key to create."""

    model_config = ConfigDict(extra="forbid")
    name: StorableText = Field(min_length=1, max_length=200, pattern=SINGLE_LINE)
    role: Role
    countries: list[Annotated[str, Field(pattern=ISO3)]] = Field(default=[], max_length=60)
    # text only: lax parsing read a number as a Unix time
    expires_at: RFC3339Time | None = None


def key_json(record: KeyRecord) -> dict[str, Any]:
    state = (
        "revoked" if record.revoked_at else "expired" if key_service.expired(record) else "active"
    )
    return {
        "id": record.id,
        "name": record.name,
        "role": record.role,
        "countries": list(record.countries),
        "prefix": record.prefix,
        "created_at": _time(record.created_at),
        "expires_at": _time(record.expires_at),
        "revoked_at": _time(record.revoked_at),
        "state": state,
    }


def secret_json(created: key_service.CreatedKey) -> dict[str, Any]:
    return {
        "key": created.key,
        "id": created.id,
        "name": created.name,
        "role": created.role,
        "countries": list(created.countries),
        "prefix": created.key.split("_")[1],
        "expires_at": _time(created.expires_at),
    }


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@router.post(
    "/keys",
    status_code=201,
    summary="Create an API key (admin); the secret is in this answer only",
    responses=_body(SECRET_SCHEMA, 201),
)
def create_key(body: NewKey, session: SessionDep, _admin: AdminDep) -> JSON:
    created = key_service.create_key(
        session,
        name=body.name,
        role=body.role,
        countries=body.countries,
        expires_at=body.expires_at,
    )
    return JSON(secret_json(created), status_code=201, headers={"Location": f"/keys/{created.id}"})


def keys_document(session: Session) -> dict[str, Any]:
    return {"keys": [key_json(record) for record in key_service.list_keys(session)]}


@router.get(
    "/keys",
    summary="Every API key (admin); secrets are never stored. HTML: the keys page",
    response_model=None,
    responses={
        200: {
            "content": {
                JSON_TYPE: {"schema": KEYS_SCHEMA},
                "text/html": {"schema": {"type": "string"}},
            }
        }
    },
)
def list_keys(
    request: Request,
    session: SessionDep,
    _admin: AdminDep,
    # declared for /api and the unknown-parameter check; read by ``negotiated``
    f: Annotated[Literal["json", "html"] | None, Query(description="Format")] = None,  # noqa: ARG001
    lang: Annotated[Literal["en", "fr", "pt"] | None, Query(description="Language")] = None,  # noqa: ARG001
) -> Response:
    return negotiated(request, JSON(keys_document(session)), pages.render_keys)


@router.get("/keys/{key_id}", summary="One API key (admin)", responses=_body(KEY_SCHEMA))
def read_key(key_id: KeyId, session: SessionDep, _admin: AdminDep) -> JSON:
    return JSON(key_json(key_service.get_key(session, key_id)))


@router.post(
    "/keys/{key_id}/rotate",
    summary="A new secret for a key (admin): same id, role, scope; the old secret stops working",
    responses=_body(SECRET_SCHEMA),
)
def rotate_key(key_id: KeyId, session: SessionDep, _admin: AdminDep) -> JSON:
    return JSON(secret_json(key_service.rotate_key(session, key_id)))


@router.delete("/keys/{key_id}", status_code=204, summary="Revoke a key (admin)")
def revoke_key(key_id: KeyId, session: SessionDep, _admin: AdminDep) -> Response:
    key_service.revoke_key_id(session, key_id)
    return Response(status_code=204)


@router.get(
    "/audit",
    summary="The audit log (admin): requests made with keys, anonymous write attempts",
    responses={
        200: {
            "content": {
                JSON_TYPE: {"schema": AUDIT_SCHEMA},
                "text/csv": {"schema": {"type": "string"}},
            }
        }
    },
)
def read_audit(
    request: Request,
    session: SessionDep,
    open_session: SessionFactoryDep,
    _admin: AdminDep,
    key: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Key id")] = None,
    country: Annotated[
        str | None, Query(pattern=ISO3, description="Restricted values of this country shown")
    ] = None,
    since: Annotated[RFC3339Time | None, Query(description="From (RFC 3339)")] = None,
    until: Annotated[RFC3339Time | None, Query(description="Before (RFC 3339)")] = None,
    path: Annotated[
        str | None, Query(max_length=500, pattern=SINGLE_LINE, description="Path prefix")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=BIGINT_MAX, description="Paging: entries before this id")
    ] = None,
    f: Annotated[Literal["json", "csv"], Query(description="csv: every match, as CSV")] = "json",
) -> Response:
    selection = AuditFilter(key, country, since, until, path, before)
    if f == "csv":
        return StreamingResponse(
            audit_service.csv_export(open_session, selection),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )
    entries, following = audit_service.read(session, selection, limit)
    body: dict[str, Any] = {"entries": entries}
    if following is not None:
        params = {k: v for k, v in request.query_params.items() if k != "before"}
        body["next"] = f"/audit?{urlencode({**params, 'before': following})}"
    return JSON(body)


# -- the keys page's forms (HTML, signed-in admins; the CSRF token is checked for every
# cookie-authenticated unsafe request by app.html.session) ----------------------------------

html_router = APIRouter(tags=["Access"], include_in_schema=False)


def _expiry(expires_on: str) -> dt.datetime | None:
    """A date from the form: the key stops working at 00:00 UTC that day."""
    if not expires_on.strip():
        return None
    try:
        day = dt.date.fromisoformat(expires_on.strip())
    except ValueError:
        raise InvalidParameter(f"not a date: {expires_on[:20]!r}", code="invalid_expiry") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _countries(text: str) -> list[str]:
    return [part.upper() for part in text.replace(",", " ").split()]


@html_router.post("/keys/new")
def create_key_page(
    request: Request,
    session: SessionDep,
    _admin: AdminDep,
    name: Annotated[str, Form(max_length=200, pattern=SINGLE_LINE)] = "",
    role: Annotated[str, Form(max_length=20, pattern=SINGLE_LINE)] = "",
    countries: Annotated[str, Form(max_length=400, pattern=SINGLE_LINE)] = "",
    expires_on: Annotated[str, Form(max_length=40, pattern=SINGLE_LINE)] = "",
) -> Response:
    lang = pick_language(request)
    try:
        created = key_service.create_key(
            session,
            name=name,
            role=role,
            countries=_countries(countries),
            expires_at=_expiry(expires_on),
        )
    except (InvalidParameter, InvalidBody) as error:
        document = keys_document(session)
        return pages.render_keys(request, document, lang, error=error.detail, status_code=422)
    document = keys_document(session)
    return pages.render_keys(request, document, lang, created=secret_json(created), status_code=201)


@html_router.post("/keys/{key_id}/revoke")
def revoke_key_page(
    request: Request, key_id: KeyId, session: SessionDep, _admin: AdminDep
) -> Response:
    key_service.revoke_key_id(session, key_id)
    return RedirectResponse(f"/keys?f=html&lang={pick_language(request)}", status_code=303)
