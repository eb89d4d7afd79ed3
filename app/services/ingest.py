"""Ingest a survey upload: read, validate row by row, match or create sites, store, report.

One transaction per upload: the upload row, its new sites and every observation commit
together or not at all. Re-sending a file (same SHA-256) returns the first report and stores
nothing. ``dry_run`` does everything but the writes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, overload

import numpy as np
from sqlalchemy.orm import Session

from app.db import ingest_store
from app.db import sites as site_repo
from app.db import uploads as upload_repo
from app.errors import Conflict
from app.queries import Caller
from app.services import (
    outbox,
    scopes,
    site_geography,
    site_history,
    upload_access,
    upload_report,
    zones,
)
from app.services.boundary_state import BoundarySet
from app.services.upload_outcome import UploadOutcome
from app.settings import Settings
from geo import matching
from geo.countries import central_africa_iso3
from geo.readers import read_survey
from geo.survey import Issue, ReadOptions, Survey
from geo.validate import ValidationResult, ValidationRules, validate_survey

#: Told each stage's name as it starts. A callable that also takes a ``rows`` keyword is told
#: how many rows the stage has to go through (read: the file's rows; later: accepted rows).
Progress = Callable[[str], None]


@dataclass(frozen=True)
class UploadRequest:
    data: bytes
    filename: str
    kind: str | None = None
    source: str | None = None
    crs: str | None = None
    country: str | None = None
    column_map: Mapping[str, str] | None = None
    include_tracks: bool = False
    dry_run: bool = False
    empty_values: frozenset[str] | None = None  # None: geo.vocab.EMPTY_VALUES
    restricted_columns: tuple[str, ...] | None = None  # HOOK(access): declared restricted


@dataclass
class _Rows:
    """The accepted rows, aligned arrays (index k = k-th accepted row)."""

    survey_index: np.ndarray
    row: list[int]
    lon: np.ndarray
    lat: np.ndarray
    accuracy_m: np.ndarray
    names: list[str | None]
    kinds: list[str | None]
    dates: list[dt.date | None]
    minerals: list[tuple[str, ...]]
    attributes: Sequence[Mapping[str, Any]]  # the survey's rows, made as they are read


@dataclass
class _Plan:
    """Where each accepted row goes: an existing site, or a new site (grouped)."""

    existing_site_id: np.ndarray  # -1 where the row starts or joins a new site
    existing_public_id: list[str | None]
    new_group: np.ndarray  # group label (a row index) for rows going to new sites, else -1
    new_site: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    # ^ per row: the position k of its new site in ``new_sites``, else -1
    creates: np.ndarray = field(default_factory=lambda: np.array([], dtype=bool))
    # ^ per row: the row is the one its new site is placed at (outcome "created")
    new_sites: ingest_store.NewSiteColumns | None = None
    geography: site_geography.SiteGeography | None = None  # of the new sites, in order

    @property
    def new_site_count(self) -> int:
        return 0 if self.new_sites is None else len(self.new_sites)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ingest(
    session: Session,
    boundaries: BoundarySet,
    settings: Settings,
    request: UploadRequest,
    caller: Caller,
    progress: Progress | None = None,
) -> UploadOutcome:
    say = _stage_reporter(progress)
    digest = sha256_of(request.data)
    earlier = upload_repo.find_by_sha256(session, digest)
    if earlier is not None and not request.dry_run:
        return UploadOutcome(
            _repeat_report(earlier, caller), stored=False, upload_id=earlier.public_id
        )

    say("reading")
    survey = read_survey(request.data, request.filename, options=_read_options(request, settings))
    say("validating", len(survey))
    result = validate_survey(
        survey, rules=_rules(request, settings), locate=boundaries.locator.locate
    )
    issues = list(result.issues)
    accepted = _with_kind(survey, result, issues)
    accepted = scopes.in_scope(request, survey, result, accepted, issues, caller)  # HOOK(access)
    if len(accepted) == 0:
        raise upload_report.nothing_usable(request.filename, len(survey), issues)

    rows = _accepted_rows(survey, result, accepted)
    del result, accepted  # what the rows need of them is in ``rows``
    say("matching and measuring", len(rows.row))
    plan = _plan(session, boundaries, settings, request, survey, rows)
    received_at = dt.datetime.now(dt.UTC)
    public_id = None if request.dry_run else new_upload_id()
    limit = settings.upload_report_max_issues
    report, row_list = _report(
        request, survey, digest, issues, rows, plan, caller, boundaries, received_at, public_id
    )
    report.update(_bounded_issues(report, issues, len(row_list.rejected), limit))
    if earlier is not None:
        report["upload"]["already_uploaded_as"] = earlier.public_id
    if request.dry_run:
        report["rows"] = row_list.bounded(limit)
        return UploadOutcome(report, stored=False, upload_id=None)

    say("storing", len(rows.row))
    try:
        upload_id = _insert_upload(
            session, request, report, caller, _rejected_rows(survey, issues, rows)
        )
        _store_rows(session, upload_id, rows, plan)
        # Stored: the survey's records and the plan's columns (about 1 GiB at a million rows)
        # are let go before the follow-ups and the report's row list are made.
        del survey, rows, plan
        _after_rows(session, request, upload_id, report["upload"]["id"])
        report["rows"] = row_list.bounded(limit)
        upload_repo.set_report(session, upload_id, report)
    except Conflict:
        # The same file arrived twice at once and the other request committed first.
        session.rollback()
        stored = upload_repo.find_by_sha256(session, digest)
        if stored is None:
            raise
        return UploadOutcome(
            _repeat_report(stored, caller), stored=False, upload_id=stored.public_id
        )
    session.commit()
    say("done")
    return UploadOutcome(report, stored=True, upload_id=public_id)


class _Say(Protocol):
    def __call__(self, stage: str, rows: int | None = None) -> None: ...


def _silent(stage: str, rows: int | None = None) -> None:  # noqa: ARG001 (the _Say shape)
    return None


def _stage_reporter(progress: Progress | None) -> _Say:
    """``say(stage, rows)``: calls ``progress(stage)``, with ``rows=`` when it takes it."""
    if progress is None:
        return _silent
    try:
        parameters = list(inspect.signature(progress).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature
        parameters = []
    takes_rows = any(
        p.name == "rows" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters
    )

    def say(stage: str, rows: int | None = None) -> None:
        if takes_rows and rows is not None:
            progress(stage, rows=rows)  # type: ignore[call-arg]
        else:
            progress(stage)

    return say


def new_upload_id() -> str:
    return site_repo.new_public_ids(1, prefix="UP-")[0]


# -- reading and validating --------------------------------------------------------------


def _read_options(request: UploadRequest, settings: Settings) -> ReadOptions:
    return ReadOptions(
        crs=request.crs,
        column_map=request.column_map,
        include_tracks=request.include_tracks,
        max_rows=settings.upload_max_rows,
        max_file_bytes=settings.upload_max_bytes,
        max_uncompressed_bytes=settings.upload_max_uncompressed_bytes,
        max_columns=settings.upload_max_columns,
        empty_values=request.empty_values,
    )


def _rules(request: UploadRequest, settings: Settings) -> ValidationRules:
    region = settings.region_countries or central_africa_iso3()
    return ValidationRules(
        declared_country=request.country,
        region=frozenset(region) | ({request.country} if request.country else set()),
        max_accuracy_m=settings.accuracy_threshold_m,
        kind_default=request.kind,  # type: ignore[arg-type]
    )


def _with_kind(survey: Survey, result: ValidationResult, issues: list[Issue]) -> np.ndarray:
    """Accepted rows that know whether they are a mine or a sales point (a site must)."""
    keep = []
    kind_column = (survey.field_columns.get("kind") or (None,))[0]
    for i in result.accepted.tolist():
        if result.kinds[i] is None:
            issues.append(
                Issue(
                    int(survey.row[i]),
                    kind_column,
                    "missing_kind",
                    "the row does not say whether it is a mine or a sales point; add a kind "
                    "column (mine, chantier, comptoir, point de vente...) or send the upload "
                    "with kind=mine or kind=sales_point",
                )
            )
        else:
            keep.append(i)
    issues.sort(key=lambda issue: (issue.row, issue.severity != "error"))
    return np.asarray(keep, dtype=np.intp)


def _accepted_rows(survey: Survey, result: ValidationResult, accepted: np.ndarray) -> _Rows:
    index = accepted.tolist()
    return _Rows(
        survey_index=accepted,
        row=[int(survey.row[i]) for i in index],
        lon=survey.lon[accepted],
        lat=survey.lat[accepted],
        accuracy_m=survey.accuracy_m[accepted],
        names=[result.names[i] for i in index],
        kinds=[result.kinds[i] for i in index],
        dates=[result.dates[i] for i in index],
        minerals=[result.minerals[i] for i in index],
        # A view of the survey's rows, not dicts made now (each is only dumped to JSON, as
        # it is sent): a million rows' dicts would cost hundreds of MB.
        attributes=_Selected(
            survey.properties,
            index,
            frozenset(upload_report.SERVICE_COLUMNS.intersection(survey.columns)),
        ),
    )


_NO_ALIASES: list[str] = []


class _Selected(Sequence[Mapping[str, Any]]):
    """``rows[index[k]]`` for each ``k``, read from ``rows`` when asked, without the columns
    in ``drop``."""

    def __init__(
        self,
        rows: Sequence[Mapping[str, Any]],
        index: Sequence[int],
        drop: frozenset[str] = frozenset(),
    ) -> None:
        self._rows = rows
        self._index = index
        self._drop = drop

    def __len__(self) -> int:
        return len(self._index)

    @overload
    def __getitem__(self, k: int) -> Mapping[str, Any]: ...

    @overload
    def __getitem__(self, k: slice) -> Sequence[Mapping[str, Any]]: ...

    def __getitem__(self, k: int | slice) -> Mapping[str, Any] | Sequence[Mapping[str, Any]]:
        if isinstance(k, slice):
            return _Selected(self._rows, self._index[k], self._drop)
        row = self._rows[self._index[k]]
        if self._drop:
            return {name: value for name, value in row.items() if name not in self._drop}
        return row


# -- matching ------------------------------------------------------------------------------


def _plan(
    session: Session,
    boundaries: BoundarySet,
    settings: Settings,
    request: UploadRequest,
    survey: Survey,
    rows: _Rows,
) -> _Plan:
    n = len(rows.row)
    if not request.dry_run:
        # Held until commit: overlapping uploads plan one after the other (app.db.uploads).
        upload_repo.lock_area(session, rows.lon, rows.lat)
    candidates = upload_repo.candidate_sites(session, rows.lon.tolist(), rows.lat.tolist())
    match = matching.match_existing(
        rows.lon,
        rows.lat,
        rows.names,
        rows.kinds,
        (candidates.observation, candidates.lon, candidates.lat, candidates.name, candidates.kind),
        distance_m=settings.site_match_distance_m,
    )
    existing = np.full(n, -1, dtype=np.int64)
    existing_public: list[str | None] = [None] * n
    hit = match >= 0
    existing[hit] = candidates.site_id[match[hit]]
    for k in np.flatnonzero(hit).tolist():
        existing_public[k] = candidates.public_id[int(match[k])]

    new_rows = np.flatnonzero(~hit)
    groups = np.full(n, -1, dtype=np.intp)
    if len(new_rows):
        labels = matching.group_observations(
            rows.lon[new_rows],
            rows.lat[new_rows],
            [rows.names[k] for k in new_rows],
            [rows.kinds[k] for k in new_rows],
            distance_m=settings.site_match_distance_m,
        )
        groups[new_rows] = new_rows[labels]
    plan = _Plan(existing, existing_public, groups)
    _new_sites(plan, boundaries, request, survey, rows)
    return plan


def _new_sites(
    plan: _Plan,
    boundaries: BoundarySet,
    request: UploadRequest,
    survey: Survey,
    rows: _Rows,
) -> None:
    """The new sites as columns: one per group of rows going to no existing site, placed at
    its most accurate row (the first such row on a tie), measured in one vectorised call."""
    n = len(rows.row)
    plan.new_site = np.full(n, -1, dtype=np.int64)
    plan.creates = np.zeros(n, dtype=bool)
    members = np.flatnonzero(plan.new_group >= 0)
    if len(members) == 0:
        return
    group = plan.new_group[members]
    accuracy = rows.accuracy_m[members]
    # Sorted by group, then accuracy (unknown last), then row: each group's first is its anchor.
    order = np.lexsort((members, np.where(np.isnan(accuracy), np.inf, accuracy), group))
    members, group = members[order], group[order]
    first = np.ones(len(members), dtype=bool)
    first[1:] = group[1:] != group[:-1]
    # Sites in the order of their group label (the group's first row), as before.
    leaders = group[first]
    by_label = np.argsort(leaders, kind="stable")
    anchors = members[first][by_label]
    site_of_group = np.empty(len(leaders), dtype=np.int64)
    site_of_group[by_label] = np.arange(len(leaders))
    k_of_member = site_of_group[np.cumsum(first) - 1]
    plan.new_site[members] = k_of_member
    plan.creates[anchors] = True

    count = len(anchors)
    names: list[str | None] = [rows.names[a] for a in anchors.tolist()]
    # One sorted list per distinct set of minerals, shared by the sites that have it (a list
    # per site cost 70 MiB at a million sites); replaced, never changed in place, as aliases.
    sorted_minerals: dict[tuple[str, ...], list[str]] = {}
    minerals: list[list[str]] = []
    for a in anchors.tolist():
        given = rows.minerals[a]
        shared_list = sorted_minerals.get(given)
        if shared_list is None:
            shared_list = sorted_minerals[given] = sorted(set(given))
        minerals.append(shared_list)
    aliases: list[list[str]] = [_NO_ALIASES] * count  # replaced, never changed in place
    first_seen: list[dt.date | None] = [rows.dates[a] for a in anchors.tolist()]
    last_seen = list(first_seen)
    # Groups of several rows pool their names, minerals and dates (most groups are one row).
    sizes = np.bincount(k_of_member, minlength=count)
    shared = sizes[k_of_member] > 1
    pooled: dict[int, list[int]] = {}
    for k, row in zip(k_of_member[shared].tolist(), members[shared].tolist(), strict=True):
        pooled.setdefault(k, []).append(row)
    for k, group_rows in pooled.items():
        group_rows.sort()
        dates = [d for d in (rows.dates[r] for r in group_rows) if d is not None]
        seen = [x for x in (rows.names[r] for r in group_rows) if x]
        name = names[k] or (seen[0] if seen else None)
        names[k] = name
        minerals[k] = sorted({m for r in group_rows for m in rows.minerals[r]})
        aliases[k] = sorted({x for x in seen if x != name})
        first_seen[k] = min(dates) if dates else None
        last_seen[k] = max(dates) if dates else None
    geography = site_geography.measure(
        boundaries, rows.lon[anchors], rows.lat[anchors], rows.accuracy_m[anchors]
    )
    plan.geography = geography
    plan.new_sites = ingest_store.NewSiteColumns(
        public_id=site_repo.new_public_ids(count),
        kind=[str(rows.kinds[a]) for a in anchors.tolist()],
        name=[
            name or f"{request.filename} row {rows.row[a]}"
            for name, a in zip(names, anchors.tolist(), strict=True)
        ],
        aliases=aliases,
        minerals=minerals,
        lon=rows.lon[anchors],
        lat=rows.lat[anchors],
        accuracy_m=rows.accuracy_m[anchors],
        first_observed=first_seen,
        last_observed=last_seen,
        geography=geography.columns(),
        location_origin=f"{survey.format} upload",
        # Public: the uploader's key name is private, so only a source they chose.
        source=request.source,
    )


# -- the report ------------------------------------------------------------------------------


def _site_public_ids(plan: _Plan) -> list[str | None]:
    """Per accepted row, the public id of the site it went to."""
    ids = list(plan.existing_public_id)
    if plan.new_sites is not None:
        public = plan.new_sites.public_id
        for k, site in enumerate(plan.new_site.tolist()):
            if site >= 0:
                ids[k] = public[site]
    return ids


def _outcome_names(plan: _Plan) -> list[str]:
    """Per accepted row, ``created`` or ``matched`` (two shared strings, not one per row)."""
    return ["created" if created else "matched" for created in plan.creates.tolist()]


@dataclass
class _RowList:
    """The report's ``rows``, made when asked (:meth:`bounded`): a dict per accepted row costs
    about 200 bytes (190 MiB at a million rows), so a stored upload makes them once its rows
    are stored and the survey and the plan are let go."""

    row: list[int]  # the accepted rows' numbers
    created: np.ndarray  # per accepted row: it created its site
    site: list[str | None]  # per accepted row: the public id of its site
    rejected: list[int]  # the rejected rows' numbers, in order
    codes: dict[int, list[str]]  # issue codes by row

    def bounded(self, limit: int) -> list[dict[str, Any]]:
        """Every accepted row's outcome and the first ``limit`` rejected rows', by row
        (``upload_report.bounded_rows``)."""
        codes = self.codes
        outcome = ["created" if created else "matched" for created in self.created.tolist()]
        outcomes: list[dict[str, Any]] = [
            {"row": row, "outcome": o, "site": site}
            for row, o, site in zip(self.row, outcome, self.site, strict=True)
        ]
        for entry in outcomes:
            if entry["row"] in codes:
                entry["issues"] = codes[entry["row"]]
        row_list = outcomes + [
            {"row": r, "outcome": "rejected", "issues": codes.get(r, [])} for r in self.rejected
        ]
        del outcomes
        if self.rejected:
            row_list.sort(key=lambda entry: int(entry["row"]))
        return upload_report.bounded_rows(row_list, limit)[0]


def _report(
    request: UploadRequest,
    survey: Survey,
    digest: str,
    issues: list[Issue],
    rows: _Rows,
    plan: _Plan,
    caller: Caller,
    boundaries: BoundarySet,
    received_at: dt.datetime,
    public_id: str | None,
) -> tuple[dict[str, Any], _RowList]:
    """The report, its ``rows`` left empty, and the row list to put there (``_RowList``)."""
    # sorted, without repeats: as sorted(set(survey rows) - set(accepted rows)), without two
    # sets of a million ints
    rejected_rows: list[int] = np.setdiff1d(
        survey.row, np.asarray(rows.row, dtype=np.int64)
    ).tolist()
    codes: dict[int, list[str]] = {}
    for issue in issues:
        codes.setdefault(issue.row, []).append(issue.code)
    row_list = _RowList(rows.row, plan.creates, _site_public_ids(plan), rejected_rows, codes)
    report = {
        "upload": {
            "id": public_id,
            "filename": request.filename,
            "sha256": digest,
            "size_bytes": len(request.data),
            "format": survey.format,
            "source_crs": survey.source_crs,
            "encoding": survey.encoding,
            "kind": request.kind,
            "source": request.source,
            "declared_country": request.country,
            "uploader": caller.name,
            "received_at": received_at.isoformat(),
            "boundary_source": boundaries.source.id,
            "dry_run": request.dry_run,
        },
        "counts": {
            "rows": len(survey),
            "accepted": len(rows.row),
            "rejected": len(rejected_rows),
            "warnings": sum(1 for issue in issues if issue.severity == "warning"),
            "sites_created": plan.new_site_count,
            "sites_matched": len(np.unique(plan.existing_site_id[plan.existing_site_id >= 0])),
            "observations": len(rows.row),
        },
        "columns": {
            "coordinates": list(survey.coordinate_columns),
            "accuracy": survey.accuracy_column,
            **{role: list(cols) for role, cols in survey.field_columns.items()},
        },
        "notes": list(survey.notes),
        "rows": [],  # made later, in its place (_RowList.bounded)
    }
    return report, row_list


def _bounded_issues(
    report: dict[str, Any], issues: list[Issue], rejected: int, limit: int
) -> dict[str, Any]:
    """The report's issues and rejected rows, at most ``limit`` of each, with totals per code
    (see :mod:`app.services.upload_report`); a note says when a list is cut. ``rejected``:
    how many rows were rejected (the row list itself is made later, ``_RowList``)."""
    summary = upload_report.issue_summary(issues, limit)
    summary["rows"], summary["rows_truncated"] = report["rows"], rejected > limit
    if summary["issues_truncated"] or summary["rows_truncated"]:
        report["notes"].append(upload_report.truncation_note(len(issues), limit))
    return summary


def _rejected_rows(survey: Survey, issues: list[Issue], rows: _Rows) -> bytes | None:
    """The rejected rows' original values and all their reasons, packed for rejected.csv."""
    accepted = set(rows.row)
    errors: dict[int, list[Issue]] = {}
    for issue in issues:
        if issue.severity == "error" and issue.row not in accepted:
            errors.setdefault(issue.row, []).append(issue)
    rejected = [(i, int(r)) for i, r in enumerate(survey.row.tolist()) if int(r) not in accepted]
    if not rejected:
        return None
    # a corrected rejected.csv's own row and reasons columns are not the file's data
    columns = [c for c in survey.columns if c not in upload_report.SERVICE_COLUMNS]
    known = set(survey.columns)
    # GDAL formats: a row may carry fields the first layer lacks; a malformed CSV row, values
    # past the header's last column
    for i, _ in rejected:
        for column in survey.original_values(i):
            if column not in known:
                known.add(column)
                columns.append(column)
    return upload_report.pack_rejected(
        columns,
        (
            (row, survey.original_values(i), upload_report.problems_text(errors.get(row, [])))
            for i, row in rejected
        ),
    )


def _repeat_report(earlier: upload_repo.StoredUpload, caller: Caller) -> dict[str, Any]:
    """The first report again, for its uploader (or an admin). Anyone else who sends the same
    bytes learns only that they were already received, and under which id (which answers 404
    to them): the first report names its uploader, when, and what they matched."""
    if upload_access.may_read(caller, earlier.api_key_id):
        report = dict(earlier.report)
        report["repeat"] = {
            "detail": f"this file (sha256 {earlier.sha256[:12]}...) was already received as "
            f"{earlier.public_id} on {earlier.received_at.isoformat()}; nothing new was stored",
            "upload": earlier.public_id,
        }
        return report
    return {
        "upload": {"id": earlier.public_id, "sha256": earlier.sha256},
        "repeat": {
            "detail": f"this file (sha256 {earlier.sha256[:12]}...) was already received from "
            f"another uploader as {earlier.public_id}; nothing new was stored",
            "upload": earlier.public_id,
            "own": False,
        },
    }


# -- storing -----------------------------------------------------------------------------------


def _insert_upload(
    session: Session,
    request: UploadRequest,
    report: dict[str, Any],
    caller: Caller,
    rejected_rows: bytes | None = None,
) -> int:
    """The upload's row, its report as far as it is made (its ``rows`` are written with
    ``upload_repo.set_report`` once stored: see :class:`_RowList`)."""
    upload = report["upload"]
    provenance = (
        "filename",
        "sha256",
        "size_bytes",
        "format",
        "source_crs",
        "kind",
        "source",
        "declared_country",
    )
    values = {key: upload[key] for key in provenance}
    values.update(
        public_id=upload["id"],
        uploader=upload["uploader"] or "unknown",
        boundary_source_id=upload["boundary_source"],
        options={
            "crs": request.crs,
            "column_map": dict(request.column_map or {}),
            "include_tracks": request.include_tracks,
        },
        api_key_id=caller.key_id,
        counts=report["counts"],
        report=report,
        rejected_rows=rejected_rows,
    )
    return upload_repo.insert_upload(session, values)


def _after_rows(
    session: Session, request: UploadRequest, upload_id: int, upload_public_id: str
) -> None:
    """What follows the stored rows, set-based, keyed by the upload."""
    # Restricted values settle on the sites first: the history and the events that follow
    # keep the sites as they are at commit.
    scopes.record_upload(session, upload_id, request.restricted_columns)  # HOOK(access)
    _after_store(session, upload_id)
    zones.classify_upload(session, upload_id)  # HOOK(regional)
    outbox.record_upload(session, upload_id, upload_public_id)  # HOOK(alerts)


def _store_rows(session: Session, upload_id: int, rows: _Rows, plan: _Plan) -> None:
    """New sites, their border distances, every observation, the revisited sites refreshed:
    COPY into staging tables and one statement each (app.db.ingest_store). The plan's new
    sites are let go once sent (``plan.new_sites`` and ``plan.geography`` are None after)."""
    with ingest_store.bulk_store(session):
        if plan.new_sites is not None:
            count = len(plan.new_sites)
            ingest_store.insert_new_sites(session, plan.new_sites)
            assert plan.geography is not None
            near = plan.geography.near_borders
            plan.new_sites = plan.geography = None  # hundreds of MiB at a million sites
            ingest_store.refresh_site_statistics(session, count)
            ingest_store.insert_border_distances(
                session,
                ingest_store.BorderDistanceColumns(
                    new_site=near.point, pair_code=near.pair_code, distance_m=near.distance_m
                ),
            )
        else:
            ingest_store.insert_new_sites(session, ingest_store.NO_NEW_SITES)
        ingest_store.insert_observations(
            session,
            upload_id,
            ingest_store.ObservationColumns(
                site_id=plan.existing_site_id,
                new_site=plan.new_site,
                row_number=rows.row,
                outcome=_outcome_names(plan),
                observed_on=rows.dates,
                lon=rows.lon,
                lat=rows.lat,
                accuracy_m=rows.accuracy_m,
                name=rows.names,
                kind=rows.kinds,
                minerals=rows.minerals,
                attributes=rows.attributes,
            ),
        )
        ingest_store.refresh_matched_sites(session, upload_id)
        ingest_store.drop_staging(session)


def _after_store(session: Session, upload_id: int) -> None:
    """The upload's sites and observations are stored; set-based follow-ups run here.

    Each is one statement keyed by ``upload_id`` (the upload's observations carry it; its new
    sites are those with an observation whose outcome is ``created``), in the same transaction.
    """
    site_history.record_upload(session, upload_id)  # HOOK(history)
