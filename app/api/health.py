"""``GET /health``: is the database up, is PostGIS there, which boundaries are loaded."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.api.contract import returns
from app.api.deps import ReadSessionDep, reject_undeclared_query
from app.api.responses import JSON
from app.db import boundaries as boundary_repo
from app.db import health as health_repo
from app.errors import AppError

router = APIRouter(tags=["Service"], dependencies=[Depends(reject_undeclared_query)])


@router.get(
    "/health",
    summary="Service health",
    responses=returns("Health", "application/json", 200, 503),
)
def health(session: ReadSessionDep) -> JSON:
    try:
        database = {"status": "ok", **health_repo.database_status(session)}
    except AppError as error:
        body = {"status": "unavailable", "database": {"status": "error", "detail": error.detail}}
        return JSON(body, status_code=503)
    source = boundary_repo.active_source(session)
    boundaries = (
        {
            "status": "ok",
            "source": source.id,
            "name": source.name,
            "version": source.version,
            "licence": source.licence,
            "attribution": source.attribution,
            "loaded_at": source.loaded_at.isoformat(),
        }
        if source
        else {"status": "missing"}
    )
    status = "ok" if source else "degraded"
    return JSON({"status": status, "database": database, "boundaries": boundaries})
