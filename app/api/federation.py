"""Federation: the changes feed other nodes pull (``/collections/sites/changes``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.routing import compile_path

from app.api.contract import problems, returns
from app.api.deps import (
    CallerDep,
    CollectionId,
    ReadSessionDep,
    SettingsDep,
    reject_undeclared_query,
)
from app.api.responses import GeoJSON
from app.api.text_checks import CHANGE_CURSOR, CHANGE_TOKEN
from app.api.urls import base_url
from app.errors import NotAuthenticated
from app.services import federation

router = APIRouter(tags=["Federation"], dependencies=[Depends(reject_undeclared_query)])
CHANGES = "/collections/{collectionId}/changes"
CHANGES_URL = compile_path(CHANGES)[0]


def allows(path: str, methods: frozenset[str]) -> frozenset[str]:
    """Only a collection with a changes feed has a ``changes`` URL (404 ``no_changes_feed``
    to every method otherwise, as the route answers a GET)."""
    if match := CHANGES_URL.match(path):
        federation.check_feed(match["collectionId"])
    return methods


@router.get(
    CHANGES,
    summary="Features changed since a change token (retirements included), for peer nodes",
    responses={**returns("Changes", "application/geo+json"), **problems(404)},
)
def changes(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    caller: CallerDep,
    collection_id: CollectionId,
    since: Annotated[
        str | None, Query(pattern=CHANGE_TOKEN, description="`until` of the last sync")
    ] = None,
    until: Annotated[
        str | None, Query(pattern=CHANGE_TOKEN, description="From a `next` link")
    ] = None,
    after: Annotated[
        str | None, Query(pattern=CHANGE_CURSOR, description="From a `next` link")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> GeoJSON:
    if settings.changes_feed_requires_key and caller.is_anonymous:
        raise NotAuthenticated("this node serves its changes feed to API keys only")
    params = {"since": since, "until": until, "after": after}
    base = base_url(request, settings)
    document = federation.changes_document(session, caller, collection_id, base, params, limit)
    return GeoJSON(document)
