"""The upload store path, set-based: COPY into staging tables, then one statement per table.

An upload of N rows costs a handful of statements whatever N is: the new sites, their border
distances and the observations are each COPYed (columns of plain numbers and text, no per-row
geometry text to parse) into a temporary staging table, then moved into place by one
``INSERT ... SELECT`` that builds the points, assigns site ids and writes each site's stored
GeoJSON with ``borderlens_site_feature_text`` (migration 0015) instead of a row trigger. The
sites an upload revisits are refreshed by one ``UPDATE ... FROM``, and only those whose dates,
minerals or aliases really change are rewritten (a rewrite costs a new row version and an
entry in each of the table's twelve indexes).

Everything runs in the caller's transaction; the staging tables are dropped at its end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import bulk
from app.db.errors import translate_db_errors

# Transaction-local switch the sites_feature_json trigger honours (migration 0015).
BULK_STORE_SETTING: Final = "borderlens.bulk_store"


@dataclass(frozen=True)
class NewSiteColumns:
    """New sites as aligned columns (index = the site's position ``k`` in this upload)."""

    public_id: Sequence[str]
    kind: Sequence[str]
    name: Sequence[str]
    aliases: Sequence[Sequence[str]]
    minerals: Sequence[Sequence[str]]
    lon: npt.NDArray[np.float64]  # EPSG:4326 degrees
    lat: npt.NDArray[np.float64]
    accuracy_m: npt.NDArray[np.float64]  # NaN: unknown
    first_observed: Sequence[dt.date | None]
    last_observed: Sequence[dt.date | None]
    geography: Mapping[str, Sequence[Any] | npt.NDArray[Any]]  # GEOGRAPHY_COLUMNS -> values
    location_origin: str | None
    source: str | None

    def __len__(self) -> int:
        return len(self.public_id)


#: An upload that creates no site (its staging table is made all the same).
NO_NEW_SITES: Final = NewSiteColumns(
    public_id=[],
    kind=[],
    name=[],
    aliases=[],
    minerals=[],
    lon=np.array([]),
    lat=np.array([]),
    accuracy_m=np.array([]),
    first_observed=[],
    last_observed=[],
    geography={},
    location_origin=None,
    source=None,
)


@dataclass(frozen=True)
class ObservationColumns:
    """One observation per accepted row: ``site_id`` (an existing site, else -1) or
    ``new_site`` (the ``k`` of a new site of this upload, else -1)."""

    site_id: npt.NDArray[np.int64]
    new_site: npt.NDArray[np.int64]
    row_number: Sequence[int]
    outcome: Sequence[str]
    observed_on: Sequence[dt.date | None]
    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    accuracy_m: npt.NDArray[np.float64]
    name: Sequence[str | None]
    kind: Sequence[str | None]
    minerals: Sequence[Sequence[str]]
    attributes: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class BorderDistanceColumns:
    """Distances from new sites (``new_site`` = k) to each border nearby, in metres."""

    new_site: npt.NDArray[np.intp]
    pair_code: Sequence[str] | npt.NDArray[np.object_]
    distance_m: npt.NDArray[np.float64]


#: Rows of a numpy column made Python values at a time, as COPY sends them: a million-row
#: column as one list costs 32 MB (a float or int object and a pointer per row), and an upload
#: of a million sites sends a dozen such columns and its border distances (three a site).
CHUNK_ROWS: Final = 65_536


def _chunks(values: npt.NDArray[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), CHUNK_ROWS):
        yield values[start : start + CHUNK_ROWS].tolist()


def _values(values: npt.NDArray[Any]) -> Iterator[Any]:
    """``values.tolist()``, a chunk at a time."""
    for chunk in _chunks(values):
        yield from chunk


def _nan_to_none(values: npt.NDArray[np.float64]) -> Iterator[float | None]:
    """The floats, None for NaN, a chunk at a time."""
    for chunk in _chunks(values):
        yield from [None if v != v else v for v in chunk]  # NaN is the only v != v


def _negative_to_none(values: npt.NDArray[np.int64]) -> Iterator[int | None]:
    """The integers, None for the negative ones (no site), a chunk at a time."""
    for chunk in _chunks(values):
        yield from [None if v < 0 else v for v in chunk]


@contextmanager
def bulk_store(session: Session) -> Iterator[None]:
    """Within: the feature trigger is skipped; the statements here write the text themselves."""
    session.execute(text(f"SET LOCAL {BULK_STORE_SETTING} = 'on'"))
    yield
    # Not in a ``finally``: after an error the transaction is aborted (a statement would only
    # hide the error) and rolls back, and SET LOCAL goes with it.
    session.execute(text(f"SET LOCAL {BULK_STORE_SETTING} = 'off'"))


def site_row_type(session: Session) -> list[tuple[str, str | None]]:
    """The sites table's columns in row-type order, with their default expressions."""
    rows = session.execute(
        text(
            "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = 'sites'::regclass AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum"
        )
    )
    return [(str(name), default) for name, default in rows]


def feature_of(row_type: Sequence[tuple[str, str | None]], values: Mapping[str, str]) -> str:
    """SQL for the stored feature text of a site row whose columns are ``values`` (SQL
    expressions by column name; others take their default, else NULL)."""
    members = [values.get(name, default or "NULL") for name, default in row_type]
    return f"borderlens_site_feature_text(ROW({', '.join(members)})::sites)"


# Staging columns of a new site (besides k and id) and their types.
_STAGED_SITE: Final = {
    "public_id": "text",
    "kind": "text",
    "name": "text",
    "aliases": "text[]",
    "minerals": "text[]",
    "lon": "float8",
    "lat": "float8",
    "accuracy_m": "float8",
    "first_observed": "date",
    "last_observed": "date",
    "country_iso3": "text",
    "location_status": "text",
    "claimants": "text[]",
    "border_distance_m": "float8",
    "border_pair": "text",
    "neighbour_iso3": "text",
    "side_probability": "float8",
    "side_confidence": "text",
    "boundary_source_id": "text",
}
_GEOGRAPHY_FLOATS: Final = ("border_distance_m", "side_probability")


def _copy_columns(
    session: Session, table: str, types: Mapping[str, str], columns: Sequence[Iterable[Any]]
) -> None:
    """COPY aligned columns (one iterable per entry of ``types``) into ``table``."""
    statement = f"COPY {table} ({', '.join(types)}) FROM STDIN"
    with (
        translate_db_errors(),
        bulk.driver(session).cursor() as cursor,
        cursor.copy(statement) as copy,
    ):
        copy.set_types(list(types.values()))
        for row in zip(*columns, strict=True):
            copy.write_row(row)


def _staged_site_types(session: Session) -> dict[str, str]:
    """The staging columns with the types of the same columns of ``sites`` (``varchar(3)``,
    not ``text``): a value that needs no coercion into a site row keeps the feature
    function inlined (see :func:`new_sites_statement`)."""
    rows = session.execute(
        text(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'sites'::regclass AND attnum > 0 AND NOT attisdropped"
        )
    )
    declared = {str(name): str(kind) for name, kind in rows}
    return {name: declared.get(name, kind) for name, kind in _STAGED_SITE.items()}


def insert_new_sites(session: Session, new: NewSiteColumns) -> None:
    """Stage and insert the new sites (ids from the sites sequence, in ``k`` order)."""
    session.execute(
        text(
            "CREATE TEMP TABLE staged_sites (k integer PRIMARY KEY, "
            "id bigint NOT NULL DEFAULT nextval('sites_id_seq'), "
            + ", ".join(f"{name} {kind}" for name, kind in _staged_site_types(session).items())
            + ") ON COMMIT DROP"
        )
    )
    if len(new) == 0:
        return
    # read as they are sent (a million sites' copies as lists would cost 100 MB)
    geography: dict[str, Iterable[Any]] = {
        name: (
            _nan_to_none(np.asarray(values, dtype=float))
            if name in _GEOGRAPHY_FLOATS
            else (list(v) for v in values)
            if name == "claimants"
            else values
        )
        for name, values in new.geography.items()
    }
    columns: list[Iterable[Any]] = [
        range(len(new)),
        new.public_id,
        new.kind,
        new.name,
        new.aliases,
        new.minerals,
        _values(new.lon),
        _values(new.lat),
        _nan_to_none(new.accuracy_m),
        new.first_observed,
        new.last_observed,
        *(geography[name] for name in list(_STAGED_SITE)[10:]),
    ]
    _copy_columns(session, "staged_sites", {"k": "int4", **_STAGED_SITE}, columns)
    with translate_db_errors():
        session.execute(
            text(new_sites_statement(site_row_type(session))),
            {"location_origin": new.location_origin, "source": new.source},
        )


def new_sites_statement(row_type: Sequence[tuple[str, str | None]]) -> str:
    """The ``INSERT ... SELECT`` moving ``staged_sites`` into ``sites`` (binds
    ``location_origin`` and ``source``), each row's stored feature written with it.

    The point is made in a subquery the planner keeps apart (``OFFSET 0``), so the feature
    function sees a plain column: given an expression as costly as ``ST_MakePoint`` for a
    parameter it reads more than once, PostgreSQL does not inline a SQL function and calls
    it row by row instead (2.7 s instead of 1.0 s for 100 000 sites, measured).

    No ``ORDER BY k``: the staging table was COPYed in ``k`` order, its ids drawn in that order,
    and a temporary table is only ever read by one sequential scan in the order it was
    written (never in parallel), so the sites go in id order without sorting them (a sort of
    100 000 staged rows spilled 110 MB to disk and took 0.35 s, measured).
    """
    given = {
        "id": "st.id",
        "geom": "st.geom",
        "location_origin": ":location_origin",
        "source": ":source",
        "created_at": "now()",
        "updated_at": "now()",
        **{name: f"st.{name}" for name in _STAGED_SITE if name not in ("lon", "lat")},
    }
    return (
        f"INSERT INTO sites ({', '.join(given)}, feature_json) "
        f"SELECT {', '.join(given.values())}, {feature_of(row_type, given)} "
        "FROM (SELECT staged.*, "
        "ST_SetSRID(ST_MakePoint(staged.lon, staged.lat), 4326)::geometry(Point, 4326) AS geom "
        "FROM staged_sites staged OFFSET 0) st"
    )


#: New sites from one upload above which the planner's row count of ``sites`` is checked.
STATISTICS_CHECK_ROWS: Final = 10_000


def refresh_site_statistics(session: Session, added: int) -> bool:
    """``ANALYZE sites`` inside the upload's transaction when it has just added more sites
    than the planner believes the table holds (``pg_class.reltuples``; -1: never analysed).
    Returns whether it ran.

    Why: the foreign-key checks of the rows that follow (border distances, observations) look
    each site up through a plan made from these statistics. After a large upload was rolled
    back (a killed worker), autovacuum leaves ``sites`` believed empty; a check planned on
    that can pick an index where ``id`` is not the first column and read all of it per row
    (a 200 000-row resend ran for more than 15 minutes in CI). ANALYZE counts the rows this
    transaction inserted, and its new statistics invalidate the cached check plans. It holds
    a lock that another ANALYZE of ``sites`` waits for until this upload commits, so it is
    only run when the statistics are that far off.
    """
    if added < STATISTICS_CHECK_ROWS:
        return False
    believed = session.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = 'sites'::regclass")
    ).scalar_one()
    if believed >= added:
        return False
    session.execute(text("ANALYZE sites"))
    return True


def insert_border_distances(session: Session, rows: BorderDistanceColumns) -> None:
    """The new sites' distances to each border nearby (after :func:`insert_new_sites`)."""
    if len(rows.new_site) == 0:
        return
    session.execute(
        text(
            "CREATE TEMP TABLE staged_border_distances "
            "(k integer, pair_code text, distance_m float8) ON COMMIT DROP"
        )
    )
    _copy_columns(
        session,
        "staged_border_distances",
        {"k": "int4", "pair_code": "text", "distance_m": "float8"},
        [_values(rows.new_site), rows.pair_code, _values(rows.distance_m)],
    )
    with translate_db_errors():
        session.execute(
            text(
                "INSERT INTO site_border_distances (site_id, pair_code, distance_m) "
                "SELECT st.id, b.pair_code, b.distance_m FROM staged_border_distances b "
                "JOIN staged_sites st ON st.k = b.k"
            )
        )
    session.execute(text("DROP TABLE staged_border_distances"))


_STAGED_OBSERVATION: Final = {
    "site_id": "int8",
    "k": "int8",
    "row_number": "int4",
    "outcome": "text",
    "observed_on": "date",
    "lon": "float8",
    "lat": "float8",
    "accuracy_m": "float8",
    "name": "text",
    "kind": "text",
    "minerals": "text[]",
    "attributes": "text",  # JSON text, cast on insert (no per-value adapter object)
}


def insert_observations(session: Session, upload_id: int, rows: ObservationColumns) -> None:
    """Every accepted row as an observation of its site (after :func:`insert_new_sites`)."""
    session.execute(
        text(
            "CREATE TEMP TABLE staged_observations ("
            + ", ".join(f"{name} {kind}" for name, kind in _STAGED_OBSERVATION.items())
            + ") ON COMMIT DROP"
        )
    )
    dumps = orjson.dumps
    option = orjson.OPT_NON_STR_KEYS
    _copy_columns(
        session,
        "staged_observations",
        _STAGED_OBSERVATION,
        [
            _negative_to_none(rows.site_id),
            _negative_to_none(rows.new_site),
            rows.row_number,
            rows.outcome,
            rows.observed_on,
            _values(rows.lon),
            _values(rows.lat),
            _nan_to_none(rows.accuracy_m),
            rows.name,
            rows.kind,
            rows.minerals,
            # Dumped as they are sent, not all at once (a million rows' JSON is hundreds of MB).
            (dumps(a, option=option).decode() for a in rows.attributes),
        ],
    )
    with translate_db_errors():
        session.execute(
            text(
                "INSERT INTO observations (upload_id, site_id, row_number, outcome, observed_on, "
                "geom, accuracy_m, name, kind, minerals, attributes) "
                "SELECT :upload_id, coalesce(o.site_id, st.id), o.row_number, o.outcome, "
                "o.observed_on, ST_SetSRID(ST_MakePoint(o.lon, o.lat), 4326), o.accuracy_m, "
                "o.name, o.kind, o.minerals, o.attributes::jsonb "
                "FROM staged_observations o LEFT JOIN staged_sites st ON st.k = o.k "
                "ORDER BY o.row_number"
            ),
            {"upload_id": upload_id},
        )
    session.execute(text("DROP TABLE staged_observations"))


# What the upload's visits change in the sites they matched: dates, minerals, aliases.
_REFRESHED: Final = {
    "first_observed": "n.first_observed",
    "last_observed": "n.last_observed",
    "minerals": "n.minerals",
    "aliases": "n.aliases",
}


def refresh_matched_sites(session: Session, upload_id: int) -> int:
    """Fold this upload's observations into the sites they matched (dates, minerals, names);
    rewrites only the sites that change. Returns how many changed."""
    result = session.execute(
        text(refresh_statement(site_row_type(session))), {"upload_id": upload_id}
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def refresh_statement(row_type: Sequence[tuple[str, str | None]]) -> str:
    """The ``UPDATE ... FROM`` of :func:`refresh_matched_sites` (binds ``upload_id``); the new
    values come from a materialised CTE, plain columns to the feature function, which is
    then inlined (see :func:`new_sites_statement`)."""
    new_values = {name: f"s.{name}" for name, _ in row_type} | _REFRESHED
    new_values["updated_at"] = "now()"
    assignments = ", ".join(f"{name} = {value}" for name, value in _REFRESHED.items())
    changed = " OR ".join(
        f"s.{name} IS DISTINCT FROM {value}" for name, value in _REFRESHED.items()
    )
    return f"""
        WITH o AS (
            SELECT site_id, min(observed_on) AS first_seen, max(observed_on) AS last_seen,
                   array_agg(DISTINCT m) FILTER (WHERE m IS NOT NULL) AS minerals,
                   array_agg(DISTINCT name) AS names
            FROM observations LEFT JOIN LATERAL unnest(minerals) AS m ON true
            WHERE upload_id = :upload_id AND outcome = 'matched'
            GROUP BY site_id
        ), n AS MATERIALIZED (
            SELECT s.id,
                LEAST(s.first_observed, o.first_seen) AS first_observed,
                GREATEST(s.last_observed, o.last_seen) AS last_observed,
                ARRAY(SELECT DISTINCT unnest(s.minerals || o.minerals) ORDER BY 1)
                    AS minerals,
                ARRAY(SELECT DISTINCT a FROM unnest(s.aliases || o.names) AS a
                      WHERE a IS NOT NULL AND lower(a) <> lower(s.name) ORDER BY 1)
                    AS aliases
            FROM sites s JOIN o ON s.id = o.site_id
        )
        UPDATE sites s SET {assignments}, updated_at = now(),
            feature_json = {feature_of(row_type, new_values)}
        FROM n WHERE s.id = n.id AND ({changed})
        """


def drop_staging(session: Session) -> None:
    session.execute(text("DROP TABLE IF EXISTS staged_sites"))
