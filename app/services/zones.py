"""Zone sets: upload them (``POST /uploads`` with ``target=zones``), classify sites against them.

An upload is one transaction: the upload row (same table and report shape as survey uploads,
so ``GET /uploads/{id}`` and re-sending the same file work alike), the zone set (created, or
replaced when a set of that name exists: zones keep their public id by name), its zones, and
every site's classification against it, written only where the answer changed. Invalid
polygons are repaired (``make_valid``) with a warning naming the row and the reason; a feature
that is not a polygon, or nothing polygonal after repair, is a rejected row with its reason.

Sites are classified when they are created (the upload hook :func:`classify_upload`), and any
site whose point moved since its classification is classified again before a zone-filtered
read (:func:`ensure_current`), so the stored answers always describe the current points.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import shapely
from sqlalchemy.orm import Session

from app.db import clusters as cluster_repo
from app.db import sites as site_repo
from app.db import uploads as upload_repo
from app.db import zones as zone_repo
from app.errors import Conflict, InvalidBody, ProblemItem
from app.queries import Caller
from app.services import upload_access, upload_report
from app.services.upload_outcome import UploadOutcome
from app.settings import Settings
from geo.readers.shapes import read_shapes
from geo.survey import Issue, ReadOptions
from geo.vocab import zone_types
from geo.zones import ZoneIndex, geodesic_area_km2, repair

SessionFactory = Callable[[], AbstractContextManager[Session]]
NAME_COLUMNS = ("name", "nom", "nome", "zone", "zone_name", "title", "label")


@dataclass(frozen=True)
class ZoneUploadRequest:
    data: bytes
    filename: str
    zone_set: str | None = None  # default: the source, else the file name without extension
    zone_type: str | None = None  # any spelling of geo.vocab.zone_types(); default "other"
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    source: str | None = None
    crs: str | None = None
    dry_run: bool = False


def _set_name(request: ZoneUploadRequest) -> str:
    name = (request.zone_set or request.source or re.sub(r"\.[^.]*$", "", request.filename)).strip()
    return name[:200] or "zones"


def _zone_type(request: ZoneUploadRequest) -> tuple[str, list[str]]:
    if request.zone_type is None:
        return "other", ["no zone_type was given: the zone set is of type 'other'"]
    code = zone_types().lookup(request.zone_type)
    if code is None:
        raise InvalidBody(
            f"zone_type {request.zone_type[:60]!r} is not one of {', '.join(zone_types().codes)}",
            code="unknown_zone_type",
            items=[ProblemItem("unknown_zone_type", "unknown zone type", column="zone_type")],
        )
    return code, []


def ingest_zones(
    session: Session, settings: Settings, request: ZoneUploadRequest, caller: Caller
) -> UploadOutcome:
    """Read, repair, store and classify one zone-set upload (one commit)."""
    if request.valid_from and request.valid_to and request.valid_from > request.valid_to:
        raise InvalidBody("valid_from is after valid_to", code="invalid_validity")
    zone_type, notes = _zone_type(request)
    digest = hashlib.sha256(request.data).hexdigest()
    earlier = upload_repo.find_by_sha256(session, digest)
    if earlier is not None and not request.dry_run:
        return UploadOutcome(
            repeat_report(earlier, caller), stored=False, upload_id=earlier.public_id
        )
    table = read_shapes(request.data, request.filename, options=_options(request, settings),
                        family="polygon")  # fmt: skip
    issues = list(table.issues)
    zones = _zones(table, issues)
    if not zones:
        raise upload_report.nothing_usable(
            request.filename, len(table.row), issues, unit="features", what="a polygon"
        )
    public_id = None if request.dry_run else site_repo.new_public_ids(1, prefix="UP-")[0]
    report = _report(request, table, digest, zone_type, issues, zones, caller, public_id)
    report["notes"] = notes + table.notes
    report.update(upload_report.issue_summary(issues, settings.upload_report_max_issues))
    if request.dry_run:
        return UploadOutcome(report, stored=False, upload_id=None)
    try:
        _store(session, request, report, zone_type, zones, caller)
    except Conflict:
        session.rollback()
        stored = upload_repo.find_by_sha256(session, digest)
        if stored is None:
            raise
        return UploadOutcome(
            repeat_report(stored, caller), stored=False, upload_id=stored.public_id
        )
    session.commit()
    return UploadOutcome(report, stored=True, upload_id=public_id)


def _options(request: ZoneUploadRequest, settings: Settings) -> ReadOptions:
    return ReadOptions(
        crs=request.crs,
        max_rows=settings.upload_max_rows,
        max_file_bytes=settings.upload_max_bytes,
        max_uncompressed_bytes=settings.upload_max_uncompressed_bytes,
        max_columns=settings.upload_max_columns,
    )


@dataclass(frozen=True)
class _Zone:
    row: int
    name: str
    geometry: shapely.MultiPolygon
    repair_reason: str | None
    properties: dict[str, Any]


def _zones(table: Any, issues: list[Issue]) -> list[_Zone]:
    found: list[_Zone] = []
    for k, row in enumerate(table.row.tolist()):
        geometry = table.geometries[k]
        if geometry is None:
            continue  # the reader reported why
        fixed = repair(geometry)
        if fixed.geometry is None:
            issues.append(
                Issue(row, "geometry", "not_polygonal", "nothing polygonal is left once "
                      f"repaired ({fixed.reason or 'zero area'}); the row was not stored")
            )  # fmt: skip
            continue
        if fixed.reason is not None:
            issues.append(
                Issue(row, "geometry", "polygon_repaired",
                      f"invalid polygon ({fixed.reason}) repaired with make_valid", "warning")
            )  # fmt: skip
        props = table.properties[k]
        name = next((str(props[c]) for c in props if c.casefold() in NAME_COLUMNS), None)
        found.append(
            _Zone(row, (name or f"zone {row}").strip()[:300] or f"zone {row}",
                  fixed.geometry, fixed.reason, props)
        )  # fmt: skip
    issues.sort(key=lambda issue: (issue.row, issue.severity != "error"))
    return found


def _report(
    request: ZoneUploadRequest,
    table: Any,
    digest: str,
    zone_type: str,
    issues: list[Issue],
    zones: list[_Zone],
    caller: Caller,
    public_id: str | None,
) -> dict[str, Any]:
    stored = {zone.row for zone in zones}
    codes: dict[int, list[str]] = {}
    for issue in issues:
        codes.setdefault(issue.row, []).append(issue.code)
    rows = [
        {"row": r, "outcome": "zone" if r in stored else "rejected"}
        | ({"issues": codes[r]} if r in codes else {})
        for r in table.row.tolist()
    ]
    return {
        "upload": {
            "id": public_id,
            "target": "zones",
            "filename": request.filename,
            "sha256": digest,
            "size_bytes": len(request.data),
            "format": table.format,
            "source_crs": table.source_crs,
            "source": request.source,
            "uploader": caller.name,
            "received_at": dt.datetime.now(dt.UTC).isoformat(),
            "dry_run": request.dry_run,
        },
        "zone_set": {
            "name": _set_name(request),
            "zone_type": zone_type,
            "valid_from": request.valid_from.isoformat() if request.valid_from else None,
            "valid_to": request.valid_to.isoformat() if request.valid_to else None,
        },
        "counts": {
            "rows": len(table.row),
            "accepted": len(zones),
            "rejected": len(table.row) - len(zones),
            "warnings": sum(1 for issue in issues if issue.severity == "warning"),
            "repaired": sum(1 for zone in zones if zone.repair_reason is not None),
        },
        "rows": rows,
    }


def _store(
    session: Session,
    request: ZoneUploadRequest,
    report: dict[str, Any],
    zone_type: str,
    zones: list[_Zone],
    caller: Caller,
) -> None:
    upload = report["upload"]
    upload_id = upload_repo.insert_upload(
        session,
        {
            **{k: upload[k] for k in ("filename", "sha256", "size_bytes", "format", "source_crs")},
            "public_id": upload["id"],
            "source": request.source,
            "uploader": upload["uploader"] or "unknown",
            "options": {"target": "zones", "crs": request.crs},
            "api_key_id": caller.key_id,
            "counts": report["counts"],
            "report": report,
        },
    )
    name = report["zone_set"]["name"]
    values = {
        "zone_type": zone_type,
        "valid_from": request.valid_from,
        "valid_to": request.valid_to,
        "upload_id": upload_id,
    }
    existing = zone_repo.lock_set_by_name(session, name)
    if existing is None:
        set_public_id = site_repo.new_public_ids(1, prefix="ZS-")[0]
        set_id = zone_repo.insert_set(session, {**values, "name": name, "public_id": set_public_id})
        kept: dict[str, int] = {}
    else:
        set_id, set_public_id = existing.id, existing.public_id
        zone_repo.update_set(session, set_id, values)
        kept = {
            zone_name: ids[0] for zone_name, ids in zone_repo.zone_names(session, set_id).items()
        }
    new_ids = site_repo.new_public_ids(len(zones), prefix="ZN-")
    written = zone_repo.write_zones(
        session,
        set_id,
        [
            zone_repo.NewZone(
                public_id, zone.name, shapely.to_wkb(zone.geometry),
                geodesic_area_km2(zone.geometry), zone.properties, zone.repair_reason, zone.row,
            )
            for public_id, zone in zip(new_ids, zones, strict=True)
        ],
        kept,
    )  # fmt: skip
    reclassified = reclassify_sets(session, [set_id])
    report["zone_set"]["id"] = set_public_id
    report["zone_set"]["replaced"] = existing is not None
    report["counts"].update(
        zones_created=written[0],
        zones_updated=written[1],
        zones_deleted=written[2],
        sites_reclassified=reclassified,
    )
    set_report(session, upload_id, report)


def set_report(session: Session, upload_id: int, report: dict[str, Any]) -> None:
    """The final report on the upload row (zones, routes and actors learn their counts while
    storing)."""
    zone_repo.set_upload_report(session, upload_id, report)


def repeat_report(earlier: upload_repo.StoredUpload, caller: Caller) -> dict[str, Any]:
    """The first report again for its uploader (or an admin); to anyone else only that the
    file was already received (as survey uploads answer)."""
    detail = (
        f"this file (sha256 {earlier.sha256[:12]}...) was already received as "
        f"{earlier.public_id} on {earlier.received_at.isoformat()}; nothing new was stored"
    )
    if upload_access.may_read(caller, earlier.api_key_id):
        return {**earlier.report, "repeat": {"detail": detail, "upload": earlier.public_id}}
    return {
        "upload": {"id": earlier.public_id, "sha256": earlier.sha256},
        "repeat": {"detail": detail, "upload": earlier.public_id, "own": False},
    }


# -- classification -----------------------------------------------------------------------------


def _answers(
    shapes: zone_repo.SetShapes, points: zone_repo.Points
) -> list[tuple[int, int, bool, int | None, float | None]]:
    """(site id, set id, inside, zone id, edge metres) of each point against one zone set."""
    if not points.ids:
        return []
    geometries = shapely.from_wkb(shapes.wkb)
    index = ZoneIndex([str(z) for z in shapes.zone_ids], list(geometries))
    found = index.classify(np.asarray(points.lon), np.asarray(points.lat))
    distance = np.round(found.edge_distance_m, 2)
    return [
        (
            site_id,
            shapes.set_id,
            bool(found.inside[k]),
            None if found.zone[k] is None else int(found.zone[k]),
            None if np.isnan(distance[k]) else float(distance[k]),
        )
        for k, site_id in enumerate(points.ids)
    ]


def _classify(session: Session, points: zone_repo.Points, set_ids: list[int] | None) -> int:
    return _write_answers(session, zone_repo.set_shapes(session, set_ids), points)


def _write_answers(
    session: Session, sets: Sequence[zone_repo.SetShapes], points: zone_repo.Points
) -> int:
    written = 0
    for shapes in sets:
        written += zone_repo.write_classification(session, _answers(shapes, points))
    return written


def _classify_stale(session: Session, upload_id: int | None) -> int:
    """Classify the stale sites (of one upload, or all) against every zone set and remember
    their points; with no zone set, only the latter, without fetching a point."""
    sets = zone_repo.set_shapes(session)
    written = 0
    if sets:
        written = _write_answers(session, sets, zone_repo.stale_points(session, upload_id))
    zone_repo.mark_stale_classified(session, upload_id)
    return written


def reclassify_sets(session: Session, set_ids: list[int]) -> int:
    """Every site against these (new or changed) zone sets; returns how many (site, set)
    answers changed and were rewritten (unchanged ones are left as they were)."""
    zone_repo.lock_classification(session)
    points = zone_repo.all_points(session)
    written = _classify(session, points, set_ids)
    zone_repo.mark_classified(session, points.ids)
    return written


def classify_upload(session: Session, upload_id: int) -> int:
    """The upload-store hook: classify the upload's new (or moved) sites against every zone
    set, in the upload's transaction. Returns how many answers were written."""
    zone_repo.lock_classification(session)
    return _classify_stale(session, upload_id)


def classify_sites(session: Session, site_ids: Sequence[int]) -> int:
    """The site-write hook: classify these (new or moved) sites against every zone set, in
    the write's transaction, before the outbox matches zone criteria on them."""
    if not site_ids:
        return 0
    zone_repo.lock_classification(session)
    points = zone_repo.stale_site_points(session, site_ids)
    written = _classify(session, points, None)
    zone_repo.mark_classified(session, points.ids)
    return written


def refresh(session: Session) -> int:
    """Classify every site that is new or moved since its classification (only those)."""
    zone_repo.lock_classification(session)
    version = cluster_repo.sites_version(session)
    if zone_repo.classified_version(session) == version:
        return 0
    written = _classify_stale(session, None)
    zone_repo.set_classified_version(session, version)
    return written


def ensure_current(session: Session, open_writer: SessionFactory | None) -> None:
    """Before a read that filters by zone: classify what changed since (one lookup when
    nothing did), in its own transaction so the read's snapshot sees it next time."""
    if open_writer is None:
        return
    if zone_repo.classified_version(session) == cluster_repo.sites_version(session):
        return
    with open_writer() as writer:
        refresh(writer)
        writer.commit()


ZONE_STYLE = {"color": "#1e8449", "weight": 1.5, "fillColor": "#27ae60", "fillOpacity": 0.12}
ZONE_LAYER_NAMES = {"en": "Zones", "fr": "Zones", "pt": "Zonas"}


def map_layers(session: Session, lang: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """The zones valid today as one layer of the sites map ``[(name, collection, style)]``,
    or none when no zone set is active."""
    collection = orjson.loads(zone_repo.active_zones_for_map(session))
    if not collection["features"]:
        return []
    return [(ZONE_LAYER_NAMES.get(lang, ZONE_LAYER_NAMES["en"]), collection, ZONE_STYLE)]
