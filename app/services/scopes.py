"""Who may write where, and which columns of an upload are restricted.

- **Write scope**: a researcher key with countries (``borderlens keys create --role researcher
  --countries CAF``, or ``POST /keys``) writes only there. An upload's rows whose point lies
  outside those countries are rejected row by row with ``out_of_scope`` (the rest is stored);
  an edit of a site outside them is 403 (``app.services.site_edits``).
- **Restricted columns**: an upload may declare which of its attribute columns are restricted
  (``restricted=workers,armed_group``). Their values are shown only to admins and to
  authorities in scope (``app.db.features.restricted_for``); the upload's other attribute
  columns become public. An upload that declares nothing keeps all its attributes restricted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from sqlalchemy.orm import Session

from app.db import restricted as restricted_repo
from app.errors import Forbidden, ProblemItem, Unprocessable
from app.queries import Caller
from geo.survey import Issue, Survey
from geo.validate import ValidationResult

OUT_OF_SCOPE = "out_of_scope"


def parse_columns(raw: str | None) -> tuple[str, ...] | None:
    """``"workers, armed_group"`` -> ``("workers", "armed_group")``; empty: None (undeclared)."""
    if raw is None:
        return None
    columns = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    return columns or None


class UploadLike(Protocol):
    @property
    def filename(self) -> str: ...
    @property
    def restricted_columns(self) -> tuple[str, ...] | None: ...


def in_scope(
    request: UploadLike,
    survey: Survey,
    result: ValidationResult,
    accepted: np.ndarray,
    issues: list[Issue],
    caller: Caller,
) -> np.ndarray:
    """The accepted rows the caller may write; the others get an ``out_of_scope`` issue.

    Raises ``Unprocessable`` (422) when a declared restricted column is not a column of the
    file, is one the service makes public (coordinates, name, kind, date, minerals), or shares
    its name with another column (restricting one would publish the other)."""
    if request.restricted_columns:
        _check_declared(request.filename, request.restricted_columns, survey)
    scope = caller.write_scope
    if scope is None:
        return accepted
    keep: list[int] = []
    column = survey.coordinate_columns[0] if survey.coordinate_columns else None
    for i in accepted.tolist():
        country = result.iso3[i]
        if country in scope:
            keep.append(i)
            continue
        issues.append(
            Issue(
                int(survey.row[i]),
                column,
                OUT_OF_SCOPE,
                f"the point is in {country or 'no country'}, outside the countries this key "
                f"may write in ({', '.join(scope)})",
            )
        )
    issues.sort(key=lambda issue: (issue.row, issue.severity != "error"))
    return np.asarray(keep, dtype=np.intp)


def _check_declared(filename: str, declared: Sequence[str], survey: Survey) -> None:
    known = set(survey.columns)
    public = set(survey.coordinate_columns) | {survey.accuracy_column} - {None}
    for columns in survey.field_columns.values():
        public |= set(columns)
    items = (
        [
            ProblemItem(
                "unknown_restricted_column",
                f"{filename}: restricted column {name!r} is not a column of the file",
                column=name,
            )
            for name in declared
            if name not in known
        ]
        + [
            ProblemItem(
                "public_column_restricted",
                f"{filename}: column {name!r} gives the site's location, name, kind, date or "
                "minerals, which are public; it cannot be restricted",
                column=name,
            )
            for name in declared
            if name in known and name in public
        ]
        + [
            ProblemItem(
                "duplicate_column",
                f"{filename}: restricted column {name!r}: {group.describe()}, which one to "
                "restrict cannot be told (an ambiguous duplicate column); rename or remove all "
                "but one",
                column=name,
            )
            for name in declared
            for group in survey.same_names
            if name in group.read_as
        ]
    )
    if items:
        raise Unprocessable(
            f"{filename}: restricted columns must be attribute columns of the file "
            f"(its columns: {', '.join(survey.columns)})",
            code=items[0].code,
            items=items,
        )


def record_upload(session: Session, upload_id: int, declared: Sequence[str] | None) -> None:
    """At store time (same transaction): keep the declared columns' values restricted."""
    if declared:
        restricted_repo.record_upload(session, upload_id, declared)


def check_site_edit(
    session: Session,
    caller: Caller,
    public_id: str,
    site_id: int | None = None,
    country_iso3: str | None = None,
) -> None:
    """403 ``out_of_scope`` when a scoped researcher writes a site outside its countries: the
    stored site's (``site_id``) or where the edit puts it (``country_iso3``)."""
    if caller.write_scope is None:
        return
    if site_id is not None:
        _check_country(caller, restricted_repo.site_country(session, site_id), public_id)
    else:
        _check_country(caller, country_iso3, public_id)


def _check_country(caller: Caller, country_iso3: str | None, public_id: str) -> None:
    if not caller.may_write_in(country_iso3):
        raise Forbidden(
            f"site {public_id} is in {country_iso3 or 'no country'}, outside the countries "
            f"this key may write in ({', '.join(caller.write_scope or ())})",
            code=OUT_OF_SCOPE,
        )
