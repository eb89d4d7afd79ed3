"""What the upload report page shows beside the report itself: the fix-and-resend links, and
the accepted rows as points for its map."""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy.orm import Session

from app.db import upload_jobs as job_repo
from app.db import uploads as upload_repo
from app.queries import Caller
from app.services import upload_access

#: Most accepted rows drawn on a report's map (a browser draws this many circle markers well).
MAP_POINTS_MAX: Final = 5000


def report_extras(
    session: Session, caller: Caller, public_id: str, report: dict[str, Any]
) -> dict[str, Any]:
    """``{corrects, corrected_rejected, corrected_by, points}`` of a stored upload the caller
    may read: the upload it corrects (and how many rows that one rejected), those that correct
    it (ids the caller may read), and its accepted rows as a GeoJSON FeatureCollection
    (EPSG:4326 lon/lat) whose ``marker`` is ``created``, ``matched`` or ``warning``."""
    scope = upload_access.owner_scope(caller)
    corrects, corrected_by = job_repo.correction_links(session, public_id)
    corrected_rejected = None
    if corrects is not None:
        first = upload_repo.get(session, corrects, scope)
        corrected_rejected = first.counts.get("rejected") if first else None
    readable = [other for other in corrected_by if upload_repo.get(session, other, scope)]
    warned = {
        issue["row"]
        for issue in report.get("issues", [])
        if issue.get("severity") == "warning" and issue.get("row") is not None
    }
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [point["lon"], point["lat"]]},
            "properties": {
                "row": point["row"],
                "site": point["site"],
                "marker": "warning" if point["row"] in warned else point["outcome"],
                "label": " · ".join(
                    str(part) for part in (point["row"], point["name"], point["site"]) if part
                ),
            },
        }
        for point in job_repo.accepted_points(session, public_id, MAP_POINTS_MAX)
    ]
    return {
        "corrects": corrects,
        "corrected_rejected": corrected_rejected,
        "corrected_by": readable,
        "points": {"type": "FeatureCollection", "features": features},
    }
