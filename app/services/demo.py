"""The demo dataset: 30 fictitious sites at real places along the CAR's borders, loaded as an
ordinary upload (so it has provenance, a report, and border figures like any survey)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.db import sites as site_repo
from app.queries import Caller
from app.roles import ADMIN
from app.services.boundary_state import BoundaryCache
from app.services.ingest import UploadRequest, ingest
from app.settings import PROJECT_ROOT, Settings

DEMO_FILE = PROJECT_ROOT / "data" / "demo" / "sites.geojson"
DEMO_CALLER = Caller(role=ADMIN, name="borderlens demo")
DEMO_SOURCE = "borderlens demo dataset (fictitious sites at real places)"


def load_demo_sites(session: Session, settings: Settings, cache: BoundaryCache) -> int:
    """Upload the demo sites when there are no sites at all; returns how many were created."""
    if site_repo.count_all(session):
        return 0
    boundaries = cache.current(session)
    if boundaries is None:
        return 0
    request = UploadRequest(
        data=DEMO_FILE.read_bytes(), filename=DEMO_FILE.name, source=DEMO_SOURCE
    )
    outcome = ingest(session, boundaries, settings, request, DEMO_CALLER)
    return int(outcome.report["counts"]["sites_created"])
