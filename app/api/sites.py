"""Writes to the ``sites`` collection (OGC API Features Part 4 style ``POST .../items``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.contract import returns
from app.api.deps import BoundariesDep, SessionDep, SettingsDep, WriterDep
from app.api.responses import GEOJSON, dumps
from app.api.schemas import SiteFeature
from app.api.urls import base_url
from app.db import sites as site_repo
from app.services.sites import SiteDraft, create_site

router = APIRouter(tags=["Sites"])


@router.post(
    "/collections/sites/items",
    status_code=201,
    summary="Create a site from a GeoJSON Feature (researcher or admin key)",
    response_class=Response,
    responses=returns("Feature", GEOJSON, 201),
)
def post_site(
    feature: SiteFeature,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    boundaries: BoundariesDep,
    caller: WriterDep,
) -> Response:
    lon, lat = feature.geometry.coordinates[:2]
    props = feature.properties
    draft = SiteDraft(
        kind=props.kind,
        name=props.name,
        lon=lon,
        lat=lat,
        minerals=props.minerals,
        aliases=props.aliases,
        status=props.status,
        accuracy_m=props.accuracy_m,
        location_origin=props.location_origin,
        observed_on=props.observed_on,
        source=props.source,
        declared_country=props.country,
        attributes=props.attributes,
        restricted=props.restricted,
    )
    created = create_site(session, boundaries, draft, caller)
    location = f"{base_url(request, settings)}/collections/sites/items/{created.public_id}"
    stored = site_repo.get_feature(session, created.public_id, caller)
    assert stored is not None
    extra = {"links": [{"href": location, "rel": "self", "type": GEOJSON}]}
    if created.warnings:
        extra["warnings"] = [w.as_dict() for w in created.warnings]
    body = stored[:-1] + "," + dumps(extra).decode()[1:]
    return Response(
        body.encode(), status_code=201, media_type=GEOJSON, headers={"Location": location}
    )
