"""The demo dataset: a few dozen fictitious sites at real places along CAR's borders."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Site
from app.queries import Caller
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from app.settings import PROJECT_ROOT

DEMO_FILE = PROJECT_ROOT / "data" / "demo" / "sites.geojson"
DEMO_CALLER = Caller(role="admin", name="borderlens demo")


def demo_drafts() -> list[SiteDraft]:
    collection = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    drafts = []
    for feature in collection["features"]:
        props = feature["properties"]
        lon, lat = feature["geometry"]["coordinates"][:2]
        drafts.append(
            SiteDraft(
                kind=props["kind"],
                name=props["name"],
                lon=lon,
                lat=lat,
                minerals=props["minerals"],
                aliases=props["aliases"],
                status=props["status"],
                accuracy_m=props["accuracy_m"],
                location_origin=props["location_origin"],
                observed_on=dt.date.fromisoformat(props["observed_on"]),
                source=props["source"],
            )
        )
    return drafts


def load_demo_sites(session: Session, cache: BoundaryCache) -> int:
    """Load the demo sites when there are no sites at all; returns how many were stored."""
    if session.execute(select(func.count()).select_from(Site)).scalar_one():
        return 0
    boundaries = cache.current(session)
    if boundaries is None:
        return 0
    return len(create_sites(session, boundaries, demo_drafts(), DEMO_CALLER))
