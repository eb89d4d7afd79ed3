"""Trade routes: upload them (``POST /uploads`` with ``target=routes``), measure them.

Two shapes of file, as the field keeps them:

- **lines** (GeoJSON, KML/KMZ, zipped Shapefile, GeoPackage), as IPIS draws mine → trade
  destination: the first vertex is the source, the last the destination. Each end is matched
  to the nearest known site within the match distance (``site_match_distance_m``); an end
  that matches none becomes a new site (a source: a mine; a destination: a sales point),
  named from the row's ``source``/``destination`` columns when it has them;
- **tables** (CSV, XLSX) with ``source`` and ``destination`` columns naming known sites by
  public id or by name (accents and case do not matter; a name two sites share is refused).

Optional columns: mineral (any EN/FR/PT spelling), period, volume and its unit. Each route gets
its geodesic length (along the path as drawn, or the geodesic between its ends), the countries
at both ends, ``cross_border`` when they differ, and then the border the straight (geodesic)
line from source to destination crosses first and where. One transaction per upload, the
same report as survey uploads, the same file twice stores nothing new.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry import LineString
from sqlalchemy.orm import Session

from app.db import routes as route_repo
from app.db import sites as site_repo
from app.db import uploads as upload_repo
from app.errors import Conflict
from app.queries import Caller
from app.services import site_geography, upload_report
from app.services import zones as zone_service
from app.services.boundary_state import BoundarySet
from app.services.upload_outcome import UploadOutcome
from app.settings import Settings
from geo.coords import parse_numbers
from geo.readers import find_format
from geo.readers.shapes import check_record_names, read_records, read_shapes
from geo.routes import first_crossing, geodesic_line, path_length_m
from geo.survey import Issue, ReadOptions
from geo.vocab import fold, minerals

SOURCE_COLUMNS = ("source", "from", "origin", "origine", "source_name", "mine", "site")
DESTINATION_COLUMNS = ("destination", "to", "dest", "destination_name", "buyer", "acheteur")
MINERAL_COLUMNS = ("mineral", "minerals", "minerai", "minerais", "substance", "commodity")
PERIOD_COLUMNS = ("period", "periode", "période", "date", "year", "annee", "année", "month")
VOLUME_COLUMNS = ("volume", "quantity", "quantite", "quantité", "qty", "carats", "weight")
UNIT_COLUMNS = ("unit", "unite", "unité", "volume_unit")


@dataclass(frozen=True)
class RouteUploadRequest:
    data: bytes
    filename: str
    source: str | None = None
    crs: str | None = None
    dry_run: bool = False


@dataclass
class _End:
    """One end of a route: a point (lines) or a reference to a known site (tables)."""

    lon: float | None = None
    lat: float | None = None
    name: str | None = None
    site: route_repo.KnownSite | None = None


@dataclass
class _Row:
    row: int
    source: _End
    destination: _End
    path: LineString | None
    props: dict[str, Any]
    mineral: str | None = None
    period: str | None = None
    volume: float | None = None
    unit: str | None = None
    outcome: dict[str, Any] = field(default_factory=dict)


def _pick(props: dict[str, Any], names: Sequence[str]) -> str | None:
    for column, value in props.items():
        if fold(str(column)) in names and value not in (None, ""):
            return str(value).strip()
    return None


def ingest_routes(
    session: Session,
    boundaries: BoundarySet,
    settings: Settings,
    request: RouteUploadRequest,
    caller: Caller,
) -> UploadOutcome:
    """Read, match, measure and store one routes upload (one commit)."""
    digest = hashlib.sha256(request.data).hexdigest()
    earlier = upload_repo.find_by_sha256(session, digest)
    if earlier is not None and not request.dry_run:
        return UploadOutcome(zone_service.repeat_report(earlier, caller), False, earlier.public_id)
    options = ReadOptions(
        crs=request.crs,
        max_rows=settings.upload_max_rows,
        max_file_bytes=settings.upload_max_bytes,
        max_uncompressed_bytes=settings.upload_max_uncompressed_bytes,
        max_columns=settings.upload_max_columns,
    )
    issues: list[Issue] = []
    notes: list[str] = []
    fmt, total, rows = _read(session, request, options, issues, notes)
    if not rows:
        raise upload_report.nothing_usable(request.filename, total, issues, what="a route")
    public_id = None if request.dry_run else site_repo.new_public_ids(1, prefix="UP-")[0]
    report = _report(request, fmt, digest, total, rows, issues, caller, public_id)
    report["notes"] = notes
    report.update(upload_report.issue_summary(issues, settings.upload_report_max_issues))
    if request.dry_run:
        return UploadOutcome(report, False, None)
    try:
        _store(session, boundaries, settings, report, rows, caller)
    except Conflict:
        session.rollback()
        stored = upload_repo.find_by_sha256(session, digest)
        if stored is None:
            raise
        return UploadOutcome(zone_service.repeat_report(stored, caller), False, stored.public_id)
    session.commit()
    return UploadOutcome(report, True, public_id)


#: The columns a routes table is read by, and what for (the sender is told which one).
READ_COLUMNS = {
    "source": SOURCE_COLUMNS,
    "destination": DESTINATION_COLUMNS,
    "mineral": MINERAL_COLUMNS,
    "period": PERIOD_COLUMNS,
    "volume": VOLUME_COLUMNS,
    "unit": UNIT_COLUMNS,
}


def _read(
    session: Session,
    request: RouteUploadRequest,
    options: ReadOptions,
    issues: list[Issue],
    notes: list[str],
) -> tuple[str, int, list[_Row]]:
    fmt = find_format(request.filename).format
    if fmt in ("csv", "xlsx"):
        table = read_records(request.data, request.filename, options=options)
        notes.extend(check_record_names(table, request.filename, READ_COLUMNS))
        # a row the reader could not read is rejected with its reason, not as a blank record
        issues.extend(table.issues)
        unread = table.unread()
        kept = [(r, n) for r, n in zip(table.records, table.row, strict=True) if n not in unread]
        records, numbers = [r for r, _ in kept], [n for _, n in kept]
        return fmt, len(table.row), _table_rows(session, records, numbers, issues)
    shapes = read_shapes(request.data, request.filename, options=options, family="line")
    issues.extend(shapes.issues)
    rows = []
    for k, number in enumerate(shapes.row.tolist()):
        line = shapes.geometries[k]
        if line is None:
            continue
        path = _one_line(line)
        coords = shapely.get_coordinates(path)
        props = shapes.properties[k]
        if len(coords) < 2 or (coords[0] == coords[-1]).all():
            message = "the line's first and last vertices are the same point"
            issues.append(Issue(number, "geometry", "degenerate_route", message))
            continue
        source = _End(float(coords[0][0]), float(coords[0][1]), _pick(props, SOURCE_COLUMNS))
        end = _End(float(coords[-1][0]), float(coords[-1][1]), _pick(props, DESTINATION_COLUMNS))
        rows.append(_attributes(_Row(number, source, end, path, props), issues))
    return fmt, len(shapes.row), rows


def _one_line(line: Any) -> LineString:
    """A MultiLineString as one line: merged when its parts connect, else joined in order."""
    if line.geom_type == "LineString":
        return LineString(line)
    merged = shapely.line_merge(line)
    if merged.geom_type == "LineString":
        return LineString(merged)
    return LineString(shapely.get_coordinates(line))


def _table_rows(
    session: Session, records: list[dict[str, str]], numbers: list[int], issues: list[Issue]
) -> list[_Row]:
    refs = sorted(
        {ref for r in records for ref in (_pick(r, SOURCE_COLUMNS), _pick(r, DESTINATION_COLUMNS))
         if ref}
    )  # fmt: skip
    known = route_repo.sites_by_ref(session, refs)
    rows = []
    for record, number in zip(records, numbers, strict=True):
        ends = []
        for names, column in ((SOURCE_COLUMNS, "source"), (DESTINATION_COLUMNS, "destination")):
            ref = _pick(record, names)
            found = known.get(ref or "", [])
            if not ref:
                issues.append(Issue(number, column, "missing_site", f"no {column} given"))
            elif len(found) != 1:
                code = "ambiguous_site" if found else "unknown_site"
                what = f"{len(found)} sites are named" if found else "no site is named"
                issues.append(Issue(number, column, code, f"{what} {ref[:80]!r}; give its id"))
            ends.append(_End(name=ref, site=found[0] if len(found) == 1 else None))
        if all(end.site is not None for end in ends):
            rows.append(_attributes(_Row(number, ends[0], ends[1], None, dict(record)), issues))
    return rows


def _attributes(row: _Row, issues: list[Issue]) -> _Row:
    mineral = _pick(row.props, MINERAL_COLUMNS)
    if mineral:
        row.mineral = minerals().lookup(mineral)
        if row.mineral is None:
            issues.append(Issue(row.row, "mineral", "unknown_mineral",
                                f"{mineral[:60]!r} is no known mineral; kept in the attributes",
                                "warning"))  # fmt: skip
    row.period = _pick(row.props, PERIOD_COLUMNS)
    volume = _pick(row.props, VOLUME_COLUMNS)
    if volume:
        parsed = parse_numbers([volume]).values[0]
        if parsed == parsed and parsed >= 0:  # not NaN
            row.volume = float(parsed)
        else:
            issues.append(Issue(row.row, "volume", "invalid_volume",
                                f"{volume[:40]!r} is not a volume", "warning"))  # fmt: skip
    row.unit = _pick(row.props, UNIT_COLUMNS)
    return row


def _report(
    request: RouteUploadRequest,
    fmt: str,
    digest: str,
    total: int,
    rows: list[_Row],
    issues: list[Issue],
    caller: Caller,
    public_id: str | None,
) -> dict[str, Any]:
    return {
        "upload": {
            "id": public_id,
            "target": "routes",
            "filename": request.filename,
            "sha256": digest,
            "size_bytes": len(request.data),
            "format": fmt,
            "source_crs": "EPSG:4326",
            "source": request.source,
            "uploader": caller.name,
            "received_at": dt.datetime.now(dt.UTC).isoformat(),
            "dry_run": request.dry_run,
        },
        "counts": {
            "rows": total,
            "accepted": len(rows),
            "rejected": total - len(rows),
            "warnings": sum(1 for issue in issues if issue.severity == "warning"),
        },
        "notes": [],
        "rows": [],
    }


def _store(
    session: Session,
    boundaries: BoundarySet,
    settings: Settings,
    report: dict[str, Any],
    rows: list[_Row],
    caller: Caller,
) -> None:
    upload = report["upload"]
    upload_id = upload_repo.insert_upload(
        session,
        {
            **{k: upload[k] for k in ("filename", "sha256", "size_bytes", "format", "source_crs")},
            "public_id": upload["id"],
            "source": upload["source"],
            "uploader": upload["uploader"] or "unknown",
            "options": {"target": "routes"},
            "api_key_id": caller.key_id,
            "counts": report["counts"],
            "report": report,
        },
    )
    created = _match_or_create(session, boundaries, settings, rows, upload["source"])
    borders = [(line.pair_code, line.geometry) for line in boundaries.borders]
    new_routes = []
    public_ids = site_repo.new_public_ids(len(rows), prefix="RT-")
    for public_id, row in zip(public_ids, rows, strict=True):
        source, destination = row.source.site, row.destination.site
        assert source is not None and destination is not None
        straight = geodesic_line(source.lon, source.lat, destination.lon, destination.lat)
        path = row.path if row.path is not None else straight
        cross = bool(source.country and destination.country
                     and source.country != destination.country)  # fmt: skip
        crossing = first_crossing(straight, borders) if cross else None
        new_routes.append(
            route_repo.NewRoute(
                public_id, upload_id, source.id, destination.id, shapely.to_wkb(path),
                path_length_m(path) / 1000, source.country, destination.country, cross,
                crossing.pair_code if crossing else None,
                shapely.to_wkb(crossing.point) if crossing else None,
                row.mineral, row.period, row.volume, row.unit, row.props, row.row,
            )
        )  # fmt: skip
        row.outcome = {"row": row.row, "outcome": "route", "route": public_id,
                       "source": source.public_id, "destination": destination.public_id,
                       "cross_border": cross}  # fmt: skip
    route_repo.insert_routes(session, new_routes)
    if created:
        zone_service.refresh(session)  # the new sites against the zone sets
    report["rows"] = [row.outcome for row in rows]
    report["counts"].update(
        routes=len(new_routes),
        cross_border=sum(1 for r in new_routes if r.cross_border),
        sites_created=created,
    )
    zone_service.set_report(session, upload_id, report)


def _match_or_create(
    session: Session,
    boundaries: BoundarySet,
    settings: Settings,
    rows: list[_Row],
    source: str | None,
) -> int:
    """Known sites for every end given by a point; unmatched ends become sites (sources:
    mines, destinations: sales points; one site per distinct point). Returns how many."""
    ends = [(row, which) for row in rows for which in ("source", "destination")
            if getattr(row, which).site is None]  # fmt: skip
    points = [getattr(row, which) for row, which in ends]
    found = route_repo.nearest_sites(
        session,
        [p.lon for p in points],
        [p.lat for p in points],
        settings.site_match_distance_m,
    )
    missing: dict[tuple[float, float], list[_End]] = {}
    kinds: dict[tuple[float, float], str] = {}
    for (row, which), end, site in zip(ends, points, found, strict=True):
        if site is not None:
            end.site = site
        else:
            key = (end.lon, end.lat)
            missing.setdefault(key, []).append(end)
            kinds.setdefault(key, "mine" if which == "source" else "sales_point")
            end.name = end.name or f"{'Source' if which == 'source' else 'Destination'} " \
                f"of route {row.row}"  # fmt: skip
    if not missing:
        return 0
    keys = list(missing)
    geography = site_geography.measure(
        boundaries, [k[0] for k in keys], [k[1] for k in keys], [None] * len(keys)
    )
    public_ids = site_repo.new_public_ids(len(keys))
    new_sites = [
        site_repo.NewSite(
            public_id=public_ids[i], kind=kinds[key], name=(missing[key][0].name or "")[:300],
            lon=key[0], lat=key[1], source=source, location_origin="route end",
            **geography.fields(i),  # type: ignore[arg-type]
        )
        for i, key in enumerate(keys)
    ]  # fmt: skip
    ids = site_repo.insert_sites(session, new_sites)
    site_repo.insert_border_distances(session, geography.border_rows(ids))
    for i, key in enumerate(keys):
        site = route_repo.KnownSite(ids[i], public_ids[i], new_sites[i].name, key[0], key[1],
                                    new_sites[i].country_iso3)  # fmt: skip
        for end in missing[key]:
            end.site = site
    return len(keys)
