"""Site history (``site_versions``) and reads ``as_of`` a dataset version.

Every entry holds the whole ``sites`` row after the change (same column names), so a read as
of version N is the ordinary read with ``sites`` swapped for "each site's last entry at or
before N" (:func:`as_of`): filters, sorting, CQL2 and paging work unchanged, and the feature
text is the stored text of then, byte for byte. Observations as of N: those of uploads
committed by N, minus those retracted by N (kept in ``retracted_observations``), each on the
site it belonged to then (moves are kept in ``observation_moves``).

Entries are written set-based (one ``INSERT ... SELECT`` per change), never row by row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    Table,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors

from app.db import features
from app.db import sites as site_repo
from app.db.models import (
    DatasetVersion,
    Observation,
    ObservationMove,
    RetractedObservation,
    Site,
    SiteVersion,
    Upload,
)
from app.queries import Caller, FeaturePage, PageRequest, SiteQuery
from geo.crs import OfferedCrs

history = typing.cast(Table, SiteVersion.__table__)
sites = typing.cast(Table, Site.__table__)
observations = typing.cast(Table, Observation.__table__)
moves = typing.cast(Table, ObservationMove.__table__)
retracted = typing.cast(Table, RetractedObservation.__table__)
uploads = typing.cast(Table, Upload.__table__)
dataset_versions = typing.cast(Table, DatasetVersion.__table__)

#: The site columns a history entry keeps (all of them but the row id, which is ``site_id``,
#: and bookkeeping columns other features add to ``sites`` that a version does not carry,
#: such as the changes feed's ``changed_txid``).
SNAPSHOT: Final = tuple(c.name for c in sites.c if c.name != "id" and c.name in history.c)
_SNAPSHOT_SQL: Final = ", ".join(SNAPSHOT)
_SNAPSHOT_OF_S: Final = ", ".join(f"s.{name}" for name in SNAPSHOT)
_ENTRY_COLUMNS: Final = (
    "site_id, dataset_version, action, key_id, reason, upload_id, request_id, related_site_id"
)


@dataclass(frozen=True)
class Entry:
    """Who changed what and why, for :func:`record`."""

    action: str
    key_id: int | None = None
    reason: str | None = None
    request_id: str | None = None
    upload_id: int | None = None
    related_site_id: int | None = None


def record(session: Session, site_ids: Sequence[int], version: int, entry: Entry) -> int:
    """One history entry per site (its row as it is now in this transaction); returns how
    many were written."""
    if not site_ids:
        return 0
    result = session.execute(
        text(
            f"INSERT INTO site_versions ({_ENTRY_COLUMNS}, {_SNAPSHOT_SQL}) "
            f"SELECT s.id, :version, :action, :key_id, :reason, :upload_id, :request_id, "
            f":related, {_SNAPSHOT_OF_S} FROM sites s WHERE s.id = ANY(:ids) "
            # the entries' ids follow the sites' (a change's events are listed in that
            # order): a scan returns a row where its last update put it, so a site created
            # first and then refreshed came after the next one (a CI run saw N1 before N0)
            "ORDER BY s.id"
        ),
        {
            "version": version,
            "action": entry.action,
            "key_id": entry.key_id,
            "reason": entry.reason,
            "upload_id": entry.upload_id,
            "request_id": entry.request_id,
            "related": entry.related_site_id,
            "ids": list(site_ids),
        },
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def record_upload(session: Session, upload_id: int, request_id: str | None) -> int:
    """Take the dataset version for an upload's transaction and, in the same statement, write
    one entry per site the upload created or matched (the upload's key as who) and stamp the
    upload with the version. Returns the version."""
    statement = text(
        f"""
        WITH v AS MATERIALIZED (SELECT borderlens_take_dataset_version() AS version),
        up AS (
            UPDATE uploads SET dataset_version = (SELECT version FROM v)
            WHERE id = :upload_id RETURNING api_key_id
        ),
        touched AS (
            SELECT site_id, bool_or(outcome = 'created') AS created
            FROM observations WHERE upload_id = :upload_id GROUP BY site_id
        ),
        written AS (
            INSERT INTO site_versions ({_ENTRY_COLUMNS}, {_SNAPSHOT_SQL})
            SELECT s.id, (SELECT version FROM v),
                   CASE WHEN t.created THEN 'created' ELSE 'matched' END,
                   (SELECT api_key_id FROM up), NULL, :upload_id, :request_id, NULL,
                   {_SNAPSHOT_OF_S}
            FROM touched t JOIN sites s ON s.id = t.site_id
            RETURNING 1
        )
        SELECT version FROM v
        """
    )
    version = session.execute(
        statement, {"upload_id": upload_id, "request_id": request_id}
    ).scalar_one()
    return int(version)


def record_changed_in_transaction(session: Session, version: int, entry: Entry) -> int:
    """An entry for every site this transaction rewrote (``updated_at`` is the transaction's
    ``now()``): after a bulk change such as re-measuring every site against new borders."""
    result = session.execute(
        text(
            f"INSERT INTO site_versions ({_ENTRY_COLUMNS}, {_SNAPSHOT_SQL}) "
            f"SELECT s.id, :version, :action, :key_id, :reason, NULL, :request_id, NULL, "
            f"{_SNAPSHOT_OF_S} FROM sites s WHERE s.updated_at = now()"
        ),
        {
            "version": version,
            "action": entry.action,
            "key_id": entry.key_id,
            "reason": entry.reason,
            "request_id": entry.request_id,
        },
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# -- reading the history of one site -----------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    """One entry as the caller may read it (restricted attributes by the caller's scope)."""

    entry_id: int
    dataset_version: int
    committed_at: dt.datetime | None
    action: str
    key_id: int | None
    reason: str | None
    upload: str | None
    request_id: str | None
    related_site: str | None
    feature_json: str


def _history_spec() -> features.FeatureSpec:
    def extras(caller: Caller) -> features.Properties:
        if caller.may_read_restricted:
            value = features.restricted_for(caller, history.c.restricted, history.c.country_iso3)
            return [("restricted", value)]
        return []

    return features.FeatureSpec(
        table=history,
        feature_id=history.c.public_id,
        unique_key=history.c.id,
        geom=history.c.geom,
        properties=extras,
        stored_json=history.c.feature_json,
    )


HISTORY_SPEC: Final = _history_spec()


def _history_revealed(caller: Caller) -> ColumnElement[Any] | None:
    """The entry's country ('' at sea) when it shows ``caller`` restricted values (for the
    audit log, as ``app.db.sites.site_revealed``); None for callers who never see them."""
    if not caller.may_read_restricted:
        return None
    country = func.coalesce(history.c.country_iso3, "")
    has_values = history.c.restricted != literal_column("'{}'::jsonb")
    return features.restricted_for(caller, case((has_values, country)), history.c.country_iso3)


def site_history(session: Session, site_id: int, caller: Caller) -> list[HistoryRow]:
    """Every entry of one site, oldest first (in commit order); the audit log is told which
    countries' restricted values the entries showed."""
    related = sites.alias("related")
    revealed = _history_revealed(caller)
    statement = (
        select(
            history.c.id,
            history.c.dataset_version,
            dataset_versions.c.committed_at,
            history.c.action,
            history.c.key_id,
            history.c.reason,
            uploads.c.public_id,
            history.c.request_id,
            related.c.public_id,
            features.feature_json(HISTORY_SPEC, caller),
            *([] if revealed is None else [revealed]),
        )
        .select_from(
            history.outerjoin(uploads, uploads.c.id == history.c.upload_id)
            .outerjoin(related, related.c.id == history.c.related_site_id)
            .outerjoin(dataset_versions, dataset_versions.c.version == history.c.dataset_version)
        )
        .where(history.c.site_id == site_id)
        .order_by(history.c.dataset_version, history.c.id)
    )
    rows = session.execute(statement).all()
    features.note_read(len(rows), [row[10] for row in rows] if revealed is not None else ())
    return [HistoryRow(*row[:10]) for row in rows]


def entry_state(session: Session, site_id: int, dataset_version: int) -> dict[str, Any] | None:
    """The site's stored columns as of ``dataset_version`` (its last entry at or before it)."""
    columns = [history.c[name] for name in SNAPSHOT]
    row = (
        session.execute(
            select(*columns, func.ST_X(history.c.geom).label("lon"))
            .add_columns(func.ST_Y(history.c.geom).label("lat"))
            .where(history.c.site_id == site_id, history.c.dataset_version <= dataset_version)
            .order_by(history.c.dataset_version.desc(), history.c.id.desc())
            .limit(1)
        )
        .mappings()
        .one_or_none()
    )
    return None if row is None else dict(row)


def last_status_before_retired(session: Session, site_id: int) -> str | None:
    """The status the site had in its last entry that was not retired (to restore it)."""
    value = session.execute(
        select(history.c.status)
        .where(history.c.site_id == site_id, history.c.status != "retired")
        .order_by(history.c.dataset_version.desc(), history.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if value is None else str(value)


# -- reads as of a dataset version -------------------------------------------------------


def sites_as_of(version: int) -> FromClause:
    """Each site as it was at ``version``: its last history entry at or before it, with the
    column names of ``sites`` (sites made after ``version`` are absent)."""
    at = bindparam("as_of_sites", version, type_=BigInteger())
    return (
        select(history.c.site_id.label("id"), *(history.c[name] for name in SNAPSHOT))
        .where(history.c.dataset_version <= at)
        .ext(distinct_on(history.c.site_id))
        .order_by(history.c.site_id, history.c.dataset_version.desc(), history.c.id.desc())
        .subquery("sites_as_of")
    )


OBSERVATION_COLUMNS: Final = tuple(c.name for c in observations.c)


def observations_as_of(version: int) -> FromClause:
    """The observations there were at ``version``, on the site each belonged to then, with
    the column names of ``observations``."""
    at = bindparam("as_of_observations", version, type_=BigInteger())
    current = select(*(observations.c[name] for name in OBSERVATION_COLUMNS))
    # Columns added to observations after retracted_observations was made (0012's
    # ``restricted``) are not kept for retracted rows: they read NULL then (nothing revealed).
    removed_later = select(
        *(
            retracted.c[name]
            if name in retracted.c
            else cast(null(), observations.c[name].type).label(name)
            for name in OBSERVATION_COLUMNS
        )
    ).where(retracted.c.dataset_version > at)
    every = union_all(current, removed_later).subquery("every_observation")
    moved_later = (
        select(moves.c.from_site_id)
        .where(moves.c.observation_id == every.c.id, moves.c.dataset_version > at)
        .order_by(moves.c.dataset_version, moves.c.id)
        .limit(1)
        .scalar_subquery()
    )
    committed = select(uploads.c.id).where(uploads.c.dataset_version <= at)
    columns: list[ColumnElement[Any]] = [
        func.coalesce(moved_later, every.c.site_id).label(name)
        if name == "site_id"
        else every.c[name]
        for name in OBSERVATION_COLUMNS
    ]
    return select(*columns).where(every.c.upload_id.in_(committed)).subquery("observations_as_of")


def swap_tables(replacements: Mapping[Table, FromClause]) -> Callable[[Any], Any]:
    """A statement rewriter that reads each table from its replacement (same column names):
    used to run any query of ``app.db`` against the state of an earlier version."""

    def replace(element: Any, **_kw: Any) -> Any:
        if isinstance(element, Table) and element in replacements:
            return replacements[element]
        table = getattr(element, "table", None)
        if isinstance(table, Table) and table in replacements and hasattr(element, "key"):
            substitute = replacements[table]
            if element.key not in substitute.c:
                raise LookupError(f"{table.name}.{element.key} is not kept in the history")
            return substitute.c[element.key]
        return None

    def rewrite(statement: Any) -> Any:
        traversible = typing.cast(visitors.ExternallyTraversible, statement)
        options: dict[str, Any] = {}
        return visitors.replacement_traverse(traversible, options, replace)

    return rewrite


# -- merged ids --------------------------------------------------------------------------


def redirect_target(session: Session, public_id: str) -> str | None:
    """The public id of the site a merged id now answers with (None: not merged)."""
    value = session.execute(
        text(
            "SELECT s.public_id FROM site_redirects r JOIN sites s ON s.id = r.site_id "
            "WHERE r.public_id = :public_id"
        ),
        {"public_id": public_id},
    ).scalar_one_or_none()
    return None if value is None else str(value)


def site_row_id(session: Session, public_id: str) -> int | None:
    value = session.execute(
        select(sites.c.id).where(sites.c.public_id == public_id)
    ).scalar_one_or_none()
    return None if value is None else int(value)


# -- feature reads as of a version -------------------------------------------------------


def sites_then(spec: features.FeatureSpec, version: int) -> features.FeatureSpec:
    """``spec`` (a sites spec of ``app.db.sites``) reading the sites as of ``version``."""
    return dataclasses.replace(spec, rewrite=swap_tables({sites: sites_as_of(version)}))


def observations_then(spec: features.FeatureSpec, version: int) -> features.FeatureSpec:
    """``spec`` (the observations spec) reading observations and their sites as of
    ``version``."""
    swap = swap_tables({sites: sites_as_of(version), observations: observations_as_of(version)})
    return dataclasses.replace(spec, rewrite=swap)


def sites_page(
    session: Session,
    query: SiteQuery,
    request: PageRequest,
    caller: Caller,
    count_cap: int | None,
    crs: OfferedCrs | None,
    version: int,
) -> FeaturePage:
    """A page of sites as they were at ``version`` (filters, sort and paging as now; the
    per-border distances of ``border`` + ``within_km`` are today's)."""
    plan = site_repo.plan_query(query)
    spec = sites_then(plan.spec, version)
    return features.fetch_page(
        session, spec, plan.where, request, caller, plan.sort, count_cap, crs
    )


def site_feature(
    session: Session, public_id: str, caller: Caller, crs: OfferedCrs | None, version: int
) -> str | None:
    """One site (retired or not) as it was at ``version``; None when it did not exist."""
    return features.fetch_one(
        session, sites_then(site_repo.SITES, version), public_id, caller, crs=crs
    )
