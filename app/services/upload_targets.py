"""Where an upload goes: ``target=sites`` (survey files, :mod:`app.services.ingest`),
``zones`` (:mod:`app.services.zones`), and later ``actors`` and ``routes``. Every target reads
the file with the same safety, reports row by row the same way, recognises a file sent twice,
and stores all or nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, get_args

from sqlalchemy.orm import Session

from app.errors import InvalidBody
from app.queries import Caller
from app.services import actors, routes, zones
from app.services.boundary_state import BoundarySet
from app.services.ingest import UploadRequest, ingest
from app.services.upload_outcome import UploadOutcome
from app.settings import Settings

Target = Literal["sites", "zones", "routes", "actors"]
TARGETS: tuple[Target, ...] = get_args(Target)


@dataclass(frozen=True)
class TargetFields:
    """The form fields that only some targets read (zones: set, type, validity)."""

    target: Target = "sites"
    zone_set: str | None = None
    zone_type: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


def only_sites(fields: TargetFields) -> bool:
    """Whether the upload is a survey file (``target=sites``); refuses the fields that only
    other targets read (400 ``field_not_for_target``)."""
    zone_only = [name for name in ("zone_set", "zone_type") if getattr(fields, name)]
    if zone_only and fields.target != "zones":
        raise InvalidBody(
            f"{', '.join(zone_only)} only apply with target=zones", code="field_not_for_target"
        )
    return fields.target == "sites"


def dispatch(
    fields: TargetFields,
    session: Session,
    boundaries: BoundarySet,
    settings: Settings,
    request: UploadRequest,
    caller: Caller,
) -> UploadOutcome:
    """Ingest ``request`` into its target (one transaction, one report)."""
    if only_sites(fields):
        return ingest(session, boundaries, settings, request, caller)
    if fields.target == "actors":
        registry = actors.ActorUploadRequest(
            request.data, request.filename, request.source, request.dry_run
        )
        return actors.ingest_actors(session, settings, registry, caller)
    if fields.target == "routes":
        asked = routes.RouteUploadRequest(
            request.data, request.filename, request.source, request.crs, request.dry_run
        )
        return routes.ingest_routes(session, boundaries, settings, asked, caller)
    return zones.ingest_zones(
        session,
        settings,
        zones.ZoneUploadRequest(
            data=request.data,
            filename=request.filename,
            zone_set=fields.zone_set,
            zone_type=fields.zone_type,
            valid_from=fields.valid_from,
            valid_to=fields.valid_to,
            source=request.source,
            crs=request.crs,
            dry_run=request.dry_run,
        ),
        caller,
    )
