"""Supply-chain actors: a registry uploaded as CSV or XLSX (``POST /uploads`` with
``target=actors``), validated row by row, deduplicated (same name and registration, accents
and case aside, = the same actor), linked to sites and to each other.

Columns (any case, EN/FR): ``name``/``nom``; ``type`` (cooperative, équipe de creuseurs,
négociant, collecteur, bureau d'achat, comptoir, exportateur, transporteur...);
``registration``/``licence``/``agrément``; ``licence_valid_to``/``valid_until``/``validité``;
``country``/``pays`` (ISO3); contact points ``phone``, ``email``, ``address``, ``contact``
(restricted: admins and authorities in scope read them); ``works_at`` and ``buys_at`` (site ids
or names, ``;``-separated); ``supplies`` (actors by name, registration or id); ``lon``/``lat``
of the office. An actor registered before is matched, not stored again; only links it did not
have yet are added. One transaction per upload.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.db import actors as actor_repo
from app.db import routes as route_repo
from app.db import sites as site_repo
from app.db import uploads as upload_repo
from app.errors import Conflict
from app.queries import Caller
from app.services import upload_report
from app.services import zones as zone_service
from app.services.upload_outcome import UploadOutcome
from app.settings import Settings
from geo.coords import parse_numbers
from geo.countries import read_country_table
from geo.dates import parse_dates
from geo.readers.shapes import check_record_names, read_records
from geo.survey import Issue, ReadOptions
from geo.vocab import actor_types, fold

COLUMNS = {
    "name": ("name", "nom", "nome", "actor", "acteur", "raison sociale"),
    "type": ("type", "actor type", "actor_type", "type d'acteur", "categorie", "catégorie"),
    "registration": ("registration", "licence", "license", "agrement", "agrément", "numero",
                     "numéro", "registration number", "n° agrement", "rccm"),
    "valid_to": ("licence valid to", "licence_valid_to", "valid until", "valid_to",
                 "validite", "validité", "expiry", "expiration"),
    "country": ("country", "pays", "pais", "país", "iso3"),
    "phone": ("phone", "telephone", "téléphone", "tel", "tél"),
    "email": ("email", "e-mail", "courriel", "mail"),
    "address": ("address", "adresse", "endereco", "endereço"),
    "contact": ("contact", "contact person", "personne de contact", "responsable"),
    "works_at": ("works at", "works_at", "travaille a", "travaille à", "site"),
    "buys_at": ("buys at", "buys_at", "achete a", "achète à", "point d'achat"),
    "supplies": ("supplies", "fournit", "fournit a", "fournit à", "fornece"),
    "lon": ("lon", "longitude", "x"),
    "lat": ("lat", "latitude", "y"),
}  # fmt: skip
CONTACT_FIELDS = ("phone", "email", "address", "contact")


@dataclass(frozen=True)
class ActorUploadRequest:
    data: bytes
    filename: str
    source: str | None = None
    dry_run: bool = False


@dataclass
class _Actor:
    row: int
    key: str
    name: str
    actor_type: str
    registration: str | None
    valid_to: dt.date | None
    country: str | None
    contact: dict[str, str]
    lon: float | None
    lat: float | None
    works_at: list[str] = field(default_factory=list)
    buys_at: list[str] = field(default_factory=list)
    supplies: list[str] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    same_as_row: int | None = None


def dedup_key(name: str, registration: str | None) -> str:
    """Same name and registration (accents, case and blanks aside) = the same actor."""
    return f"{fold(name)}|{fold(registration or '')}"


def _cell(record: dict[str, str], role: str) -> str | None:
    names = COLUMNS[role]
    for column, value in record.items():
        if fold(column) in names:
            return value
    return None


def _list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").replace("|", ";").split(";") if part.strip()]


def ingest_actors(
    session: Session, settings: Settings, request: ActorUploadRequest, caller: Caller
) -> UploadOutcome:
    """Validate, deduplicate, link and store one registry (one commit)."""
    digest = hashlib.sha256(request.data).hexdigest()
    earlier = upload_repo.find_by_sha256(session, digest)
    if earlier is not None and not request.dry_run:
        return UploadOutcome(zone_service.repeat_report(earlier, caller), False, earlier.public_id)
    options = ReadOptions(
        max_rows=settings.upload_max_rows,
        max_file_bytes=settings.upload_max_bytes,
        max_uncompressed_bytes=settings.upload_max_uncompressed_bytes,
        max_columns=settings.upload_max_columns,
    )
    table = read_records(request.data, request.filename, options=options)
    notes = check_record_names(table, request.filename, COLUMNS)
    # a row the reader could not read (malformed, a quote left open, a NUL, bytes that are not
    # UTF-8) is rejected with the reader's reason, not taken for a blank or guessed record
    issues: list[Issue] = list(table.issues)
    rows = _validate(table.records, table.row, issues, table.unread())
    site_ids = _check_sites(session, rows, issues)
    accepted = [row for row in rows if not any(
        i.row == row.row and i.severity == "error" for i in issues)]  # fmt: skip
    if not accepted:
        raise upload_report.nothing_usable(
            request.filename, len(table.row), issues, what="an actor"
        )
    public_id = None if request.dry_run else site_repo.new_public_ids(1, prefix="UP-")[0]
    report = _report(request, table.format, digest, len(table.row), accepted, caller, public_id)
    report["notes"] = notes
    report.update(upload_report.issue_summary(issues, settings.upload_report_max_issues))
    if request.dry_run:
        return UploadOutcome(report, False, None)
    try:
        _store(session, report, accepted, issues, caller, site_ids)
    except Conflict:
        session.rollback()
        stored = upload_repo.find_by_sha256(session, digest)
        if stored is None:
            raise
        return UploadOutcome(zone_service.repeat_report(stored, caller), False, stored.public_id)
    report.update(upload_report.issue_summary(issues, settings.upload_report_max_issues))
    zone_service.set_report(session, report["_upload_row"], _public(report))
    session.commit()
    return UploadOutcome(_public(report), True, public_id)


def _public(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if not k.startswith("_")}


def _validate(
    records: list[dict[str, str]], numbers: list[int], issues: list[Issue], unread: set[int]
) -> list[_Actor]:
    countries = {c.iso3 for c in read_country_table()}
    seen: dict[str, _Actor] = {}
    rows: list[_Actor] = []
    for record, number in zip(records, numbers, strict=True):
        if number in unread:
            continue  # its reason is the reader's
        name = _cell(record, "name")
        kind_text = _cell(record, "type")
        kind = actor_types().lookup(kind_text) if kind_text else None
        problems = []
        if not name:
            problems.append(("name", "missing_name", "no name"))
        if kind is None:
            what = f"{kind_text[:60]!r} is not" if kind_text else "no type given; give"
            problems.append(("type", "unknown_actor_type",
                             f"{what} one of {', '.join(actor_types().codes)}"))  # fmt: skip
        country = (_cell(record, "country") or "").upper() or None
        if country and country not in countries:
            problems.append(("country", "unknown_country", f"{country[:10]!r} is no ISO3 code"))
        valid_to = _date(_cell(record, "valid_to"), number, issues)
        lon, lat = _office(record, number, issues)
        for column, code, message in problems:
            issues.append(Issue(number, column, code, message))
        if problems or name is None or kind is None:
            continue
        registration = _cell(record, "registration")
        actor = _Actor(
            number, dedup_key(name, registration), name[:300], kind, registration, valid_to,
            country, {f: v for f in CONTACT_FIELDS if (v := _cell(record, f))}, lon, lat,
            _list(_cell(record, "works_at")), _list(_cell(record, "buys_at")),
            _list(_cell(record, "supplies")),
            {k: v for k, v in record.items() if not any(fold(k) in n for n in COLUMNS.values())},
        )  # fmt: skip
        first = seen.get(actor.key)
        if first is not None:
            issues.append(Issue(number, "name", "duplicate_actor",
                                f"the same actor as row {first.row}: its links are merged",
                                "warning"))  # fmt: skip
            first.works_at += actor.works_at
            first.buys_at += actor.buys_at
            first.supplies += actor.supplies
            continue
        seen[actor.key] = actor
        rows.append(actor)
    return rows


def _date(text: str | None, row: int, issues: list[Issue]) -> dt.date | None:
    if not text:
        return None
    value = parse_dates([text]).dates[0]
    if value is None:
        issues.append(Issue(row, "licence_valid_to", "invalid_date", f"{text[:40]!r} is no date"))
    return value


def _office(
    record: dict[str, str], row: int, issues: list[Issue]
) -> tuple[float | None, float | None]:
    lon_text, lat_text = _cell(record, "lon"), _cell(record, "lat")
    if not lon_text and not lat_text:
        return None, None
    lon, lat = parse_numbers([lon_text]).values[0], parse_numbers([lat_text]).values[0]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        issues.append(Issue(row, "lon", "invalid_coordinates",
                            "the office's lon/lat are not numbers in range; the actor is kept "
                            "without an office point", "warning"))  # fmt: skip
        return None, None
    return float(lon), float(lat)


def _check_sites(session: Session, rows: list[_Actor], issues: list[Issue]) -> dict[str, int]:
    """The site each works_at/buys_at ref names (row errors for unknown or ambiguous ones)."""
    refs = sorted({ref for row in rows for ref in (*row.works_at, *row.buys_at)})
    known = route_repo.sites_by_ref(session, refs)
    for row in rows:
        for ref in (*row.works_at, *row.buys_at):
            found = known.get(ref, [])
            if len(found) != 1:
                code = "ambiguous_site" if found else "unknown_site"
                column = "works_at" if ref in row.works_at else "buys_at"
                message = f"{ref[:80]!r} names {len(found)} sites; give its id"
                issues.append(Issue(row.row, column, code, message))
    return {ref: found[0].id for ref, found in known.items() if len(found) == 1}


def _report(
    request: ActorUploadRequest,
    fmt: str,
    digest: str,
    total: int,
    rows: list[_Actor],
    caller: Caller,
    public_id: str | None,
) -> dict[str, Any]:
    return {
        "upload": {
            "id": public_id,
            "target": "actors",
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
        "counts": {"rows": total, "accepted": len(rows), "rejected": total - len(rows)},
        "notes": [],
        "rows": [],
    }


def _store(
    session: Session,
    report: dict[str, Any],
    rows: list[_Actor],
    issues: list[Issue],
    caller: Caller,
    site_ids: dict[str, int],
) -> None:
    upload = report["upload"]
    upload_id = upload_repo.insert_upload(
        session,
        {
            **{k: upload[k] for k in ("filename", "sha256", "size_bytes", "format", "source_crs")},
            "public_id": upload["id"],
            "source": upload["source"],
            "uploader": upload["uploader"] or "unknown",
            "options": {"target": "actors"},
            "api_key_id": caller.key_id,
            "counts": report["counts"],
            "report": report,
        },
    )
    report["_upload_row"] = upload_id
    known = actor_repo.existing(session, [row.key for row in rows])
    new_rows = [row for row in rows if row.key not in known]
    public_ids = site_repo.new_public_ids(len(new_rows), prefix="AC-")
    ids = actor_repo.insert_actors(
        session,
        [
            {"public_id": public_id, "dedup_key": row.key, "name": row.name,
             "actor_type": row.actor_type, "registration": row.registration,
             "licence_valid_to": row.valid_to, "country_iso3": row.country,
             "contact": row.contact, "lon": row.lon, "lat": row.lat,
             "properties": row.properties, "upload_id": upload_id}
            for public_id, row in zip(public_ids, new_rows, strict=True)
        ],
    )  # fmt: skip
    ident = dict(known)
    ident |= {row.key: (i, p) for row, i, p in zip(new_rows, ids, public_ids, strict=True)}
    site_links = [
        (ident[row.key][0], site_ids[ref], relation)
        for row in rows
        for relation, refs in (("works_at", row.works_at), ("buys_at", row.buys_at))
        for ref in dict.fromkeys(refs)
    ]
    added_sites = actor_repo.link_sites(session, site_links)
    added_actors = actor_repo.link_actors(session, _supply_links(session, rows, ident, issues))
    actor_repo.place_at_sites(session, [ident[row.key][0] for row in rows])
    report["rows"] = [
        {"row": row.row, "outcome": "matched" if row.key in known else "created",
         "actor": ident[row.key][1]}
        for row in rows
    ]  # fmt: skip
    report["counts"].update(
        actors_created=len(new_rows),
        actors_matched=len(rows) - len(new_rows),
        site_links_added=added_sites,
        actor_links_added=added_actors,
        warnings=sum(1 for issue in issues if issue.severity == "warning"),
    )


def _supply_links(
    session: Session,
    rows: list[_Actor],
    ident: dict[str, tuple[int, str]],
    issues: list[Issue],
) -> list[tuple[int, int, str]]:
    """``supplies`` refs: an actor of this file (name or registration), else a registered one."""
    in_file: dict[str, list[int]] = {}
    for row in rows:
        for spelling in (row.name, row.registration):
            if spelling:
                in_file.setdefault(fold(spelling), []).append(ident[row.key][0])
    refs = sorted({ref for row in rows for ref in row.supplies if fold(ref) not in in_file})
    registered = actor_repo.by_name_or_registration(session, refs)
    links = []
    for row in rows:
        for ref in dict.fromkeys(row.supplies):
            found = in_file.get(fold(ref)) or registered.get(ref, [])
            if len(set(found)) != 1:
                issues.append(Issue(row.row, "supplies", "unknown_actor",
                                    f"{ref[:80]!r} names {len(set(found))} actors; the link "
                                    "was not stored", "warning"))  # fmt: skip
                continue
            links.append((ident[row.key][0], found[0], "supplies"))
    return links
