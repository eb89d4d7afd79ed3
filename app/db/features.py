"""Feature pages for any collection: one SQL query per page, GeoJSON text built by PostGIS.

Each feature is serialised once, in the database (``ST_AsGeoJSON`` + ``json_build_object``),
and Python only joins the texts. Pages are keyset-paged on a unique sort key, so the
thousandth page costs what the first does (OFFSET would rescan everything before it).
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Text,
    and_,
    any_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from app import audit
from app.db.cql2 import SqlField, compile_filter
from app.queries import BBox, Caller, FeaturePage, FeatureQuery, Interval, PageRequest
from geo.crs import OfferedCrs, parse_crs

Properties = list[tuple[str, ColumnElement[object]]]


@dataclass(frozen=True)
class SortKey:
    column: ColumnElement[object]
    descending: bool = False


@dataclass(frozen=True)
class FeatureSpec:
    """How one table becomes GeoJSON features.

    Either ``properties`` are built per row at read time, or the table stores each feature's
    text (``stored_json``, kept by a trigger) and ``properties`` only lists what is added for
    some callers (e.g. restricted attributes).
    """

    table: FromClause
    feature_id: ColumnElement[str]
    unique_key: ColumnElement[object]
    geom: ColumnElement[object]
    properties: Callable[[Caller], Properties]
    temporal: tuple[ColumnElement[object], ColumnElement[object]] | None = None
    decimals: int = 7
    stored_json: ColumnElement[str] | None = None
    #: The SQL of each queryable (CQL2 ``filter``), named as the GeoJSON properties.
    fields: Mapping[str, SqlField] | None = None
    #: Applied to every statement built from this spec (e.g. to read the tables as they were
    #: at an earlier dataset version: ``app.db.site_history.swap_tables``).
    rewrite: Callable[[typing.Any], typing.Any] | None = None
    #: Per caller, an expression that is the row's country (``''`` when it has none) when the
    #: row's feature shows this caller restricted values, else NULL; the audit log records
    #: those countries (``app.audit``). None: the collection has no restricted values.
    revealed: Callable[[Caller], ColumnElement[typing.Any] | None] | None = None


def _rewritten(spec: FeatureSpec, statement: typing.Any) -> typing.Any:
    return statement if spec.rewrite is None else spec.rewrite(statement)


def revealed_expression(spec: FeatureSpec, caller: Caller) -> ColumnElement[typing.Any] | None:
    """``spec.revealed`` for this caller, when an audit record is open for the request (with
    the audit log off, nothing asks, and the page query stays as it was)."""
    if spec.revealed is None or not caller.may_read_restricted or audit.current.get() is None:
        return None
    return _revealed_for(spec.revealed, caller)


@functools.lru_cache(maxsize=1024)
def _revealed_for(
    revealed: Callable[[Caller], ColumnElement[typing.Any] | None], caller: Caller
) -> ColumnElement[typing.Any] | None:
    """The expression, built once per caller: building it (and its SQLAlchemy coercions)
    was about half a millisecond of every audited page, most of what the audit log cost."""
    return revealed(caller)


def note_read(returned: int, revealed: Iterable[object] = ()) -> None:
    """Tell the audit log how many features were read and where restricted values showed."""
    audit.note_features(returned, (str(country) for country in revealed if country is not None))


def json_real(column: ColumnElement[typing.Any]) -> ColumnElement[object]:
    """A double precision column as JSON that is a real number on every row: ``15.0``, never
    ``15`` (clients that type fields from the first page would make it an integer field).
    ``borderlens_json_real`` is defined by migration 0009."""
    return func.borderlens_json_real(column)


def _sql_text(value: str) -> ColumnElement[str]:
    """A constant SQL string (only ever our own JSON punctuation, never user input)."""
    return literal_column("'" + value.replace("'", "''") + "'", Text)


def geometry_json(
    geom: ColumnElement[object], crs: OfferedCrs | None, decimals: int = 7
) -> ColumnElement[str]:
    """GeoJSON geometry text of a lon/lat column in ``crs`` (None or CRS84: as stored).

    Other CRSs are transformed by PostGIS (``ST_Transform``); EPSG:4326 is the same
    coordinates latitude first (``ST_FlipCoordinates``), as its EPSG axis order says.
    """
    if crs is None or crs.is_crs84:
        return func.ST_AsGeoJSON(geom, decimals)
    if crs.srid == 4326:
        return func.ST_AsGeoJSON(func.ST_FlipCoordinates(geom), crs.decimals)
    return func.ST_AsGeoJSON(func.ST_Transform(geom, crs.srid), crs.decimals)


def feature_json(
    spec: FeatureSpec, caller: Caller, crs: OfferedCrs | None = None
) -> ColumnElement[str]:
    """One feature's GeoJSON text; with a ``crs`` other than CRS84, its geometry in that CRS
    (Part 2; the body is then no longer RFC 7946 GeoJSON, which is CRS84 only)."""
    if spec.stored_json is not None:
        stored = spec.stored_json
        if crs is not None and not crs.is_crs84:
            stored = _stored_in_crs(spec, crs)
        return _stored_with_extras(stored, spec.properties(caller))
    pairs: list[ColumnElement[object]] = []
    for name, expr in spec.properties(caller):
        pairs.extend((literal_column("'" + name + "'"), expr))
    return func.concat(
        _sql_text('{"type":"Feature","id":'),
        cast(func.to_json(spec.feature_id), Text),
        _sql_text(',"geometry":'),
        geometry_json(spec.geom, crs, spec.decimals),
        _sql_text(',"properties":'),
        cast(func.json_build_object(*pairs), Text),
        _sql_text("}"),
    )


def _stored_in_crs(spec: FeatureSpec, crs: OfferedCrs) -> ColumnElement[str]:
    """The stored feature text with its geometry rebuilt in ``crs``: the id and the
    geometry are written afresh, the properties are the stored text from ``,"properties":``
    on (an id or a geometry never contains that string)."""
    assert spec.stored_json is not None
    stored = spec.stored_json
    return func.concat(
        _sql_text('{"type":"Feature","id":'),
        cast(func.to_json(spec.feature_id), Text),
        _sql_text(',"geometry":'),
        geometry_json(spec.geom, crs),
        func.substr(stored, func.strpos(stored, _sql_text(',"properties":'))),
    )


def _stored_with_extras(stored: ColumnElement[str], extras: Properties) -> ColumnElement[str]:
    """The stored feature text, with extra properties spliced in before its last ``}}``."""
    if not extras:
        return stored
    parts: list[ColumnElement[typing.Any]] = [func.left(stored, -2)]
    for name, expr in extras:
        parts.extend(
            (_sql_text(f',"{name}":'), func.coalesce(cast(func.to_json(expr), Text), "null"))
        )
    parts.append(_sql_text("}}"))
    return func.concat(*parts)


def restricted_for(
    caller: Caller, value: ColumnElement[typing.Any], country: ColumnElement[typing.Any]
) -> ColumnElement[typing.Any]:
    """``value`` where the caller may read restricted attributes of the row's country, else
    NULL (admins and unscoped authorities everywhere; scoped authorities in their countries)."""
    scope = caller.restricted_scope
    if scope is None:
        return value
    if not scope:
        return literal(None)
    return case((country == any_(cast(literal(list(scope)), ARRAY(Text))), value))


def bbox_clause(geom: ColumnElement[object], bbox: BBox) -> ColumnElement[bool]:
    if bbox.projected is not None:
        box, crs = bbox.projected.box, parse_crs(bbox.projected.crs, "bbox-crs")
        lonlat = (bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat)
        return bbox_in_crs_clause(geom, box, crs, lonlat)
    return lonlat_bbox_clause(geom, bbox)


def lonlat_bbox_clause(geom: ColumnElement[object], bbox: BBox) -> ColumnElement[bool]:
    def envelope(min_lon: float, max_lon: float) -> ColumnElement[object]:
        return func.ST_MakeEnvelope(min_lon, bbox.min_lat, max_lon, bbox.max_lat, 4326)

    if not bbox.crosses_antimeridian:
        return geom.op("&&")(envelope(bbox.min_lon, bbox.max_lon))
    return or_(
        geom.op("&&")(envelope(bbox.min_lon, 180.0)),
        geom.op("&&")(envelope(-180.0, bbox.max_lon)),
    )


def bbox_in_crs_clause(
    geom: ColumnElement[object],
    box: tuple[float, float, float, float],
    crs: OfferedCrs,
    lonlat_bounds: tuple[float, float, float, float],
) -> ColumnElement[bool]:
    """Features intersecting a box given in a projected ``crs`` (``bbox-crs``, Part 2).

    ``box`` is (min x, min y, max x, max y) in ``crs``; ``lonlat_bounds`` its CRS84 envelope
    (``geo.crs.bbox_to_crs84``), which the spatial index answers first. The box's own outline,
    densified and transformed by PostGIS, then decides exactly: a UTM box is not a lon/lat box.
    """
    envelope = BBox(*lonlat_bounds)
    step = max(box[2] - box[0], box[3] - box[1], 1.0) / 32
    x0, y0, x1, y1 = (literal(float(v)) for v in box)
    if box[0] == box[2] or box[1] == box[3]:
        # a box of no width or height is the line (or point) it is: as a polygon, PostGIS
        # could not hand a box of one point to GEOS (a 500)
        shape = func.ST_MakeLine(func.ST_Point(x0, y0, crs.srid), func.ST_Point(x1, y1, crs.srid))
    else:
        shape = func.ST_MakeEnvelope(x0, y0, x1, y1, crs.srid)
    outline = func.ST_Transform(func.ST_Segmentize(shape, literal(float(step))), 4326)
    return and_(lonlat_bbox_clause(geom, envelope), func.ST_Intersects(geom, outline))


def interval_clause(
    temporal: tuple[ColumnElement[object], ColumnElement[object]], interval: Interval
) -> ColumnElement[bool]:
    """Features whose [start, end] intersects the interval; features without dates never match."""
    start, end = temporal
    clauses: list[ColumnElement[bool]] = [start.is_not(None)]
    if interval.end is not None:
        clauses.append(start <= interval.end.date())
    if interval.start is not None:
        clauses.append(func.coalesce(end, start) >= interval.start.date())
    return and_(*clauses)


def common_filters(spec: FeatureSpec, query: FeatureQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if query.bbox is not None:
        where.append(bbox_clause(spec.geom, query.bbox))
    # A collection without a time matches every ``datetime`` (17-069r4 /req/core/fc-time-response:
    # the filter applies to the features' temporal property; there is none to exclude them).
    if query.datetime is not None and spec.temporal is not None:
        where.append(interval_clause(spec.temporal, query.datetime))
    if query.filter is not None:
        where.append(filter_clause(spec, query))
    return where


def filter_clause(spec: FeatureSpec, query: FeatureQuery) -> ColumnElement[bool]:
    """The CQL2 ``filter`` of ``query`` over ``spec.fields`` (``FilterError`` 400 on misuse)."""
    assert query.filter is not None
    fields = spec.fields or {}
    crs = parse_crs(query.filter.crs, "filter-crs")
    return compile_filter(query.filter.ast, fields, crs, query.filter.lang)


def _sort_columns(spec: FeatureSpec, sort: Sequence[SortKey]) -> list[SortKey]:
    """The requested sort plus the unique key, all in one direction (so row comparison works)."""
    descending = sort[0].descending if sort else False
    return [*sort, SortKey(spec.unique_key, descending)]


def _keyset_clause(
    keys: list[SortKey], values: tuple[object, ...], backwards: bool
) -> ColumnElement[bool]:
    columns = tuple_(*(key.column for key in keys))
    bound = tuple_(
        *(cast(literal(v), key.column.type) for key, v in zip(keys, values, strict=True))
    )
    forward_is_greater = not keys[0].descending
    return columns > bound if forward_is_greater != backwards else columns < bound


def page_statement(
    spec: FeatureSpec,
    where: Sequence[ColumnElement[bool]],
    request: PageRequest,
    caller: Caller,
    sort: Sequence[SortKey] = (),
    crs: OfferedCrs | None = None,
) -> Select[*tuple[typing.Any, ...]]:
    """The rows of one page plus one (to know whether another page follows), in fetch order:
    columns ``f`` (the feature text) and ``k0``, ``k1``... (the sort key), then ``r`` when
    the caller may be shown restricted values (see ``FeatureSpec.revealed``)."""
    keys = _sort_columns(spec, sort)
    clauses = list(where)
    backwards = bool(request.keyset and request.keyset.backwards)
    if request.keyset is not None:
        clauses.append(_keyset_clause(keys, request.keyset.values, backwards))
    order = [key.column.desc() if key.descending != backwards else key.column.asc() for key in keys]
    revealed = revealed_expression(spec, caller)
    extra = [] if revealed is None else [revealed.label("r")]
    statement = (
        select(
            feature_json(spec, caller, crs).label("f"),
            *(key.column.label(f"k{i}") for i, key in enumerate(keys)),
            *extra,
        )
        .select_from(spec.table)
        .where(*clauses)
        .order_by(*order)
        .limit(request.limit + 1)
    )
    return typing.cast(Select[*tuple[typing.Any, ...]], _rewritten(spec, statement))


def count_statement(
    spec: FeatureSpec, where: Sequence[ColumnElement[bool]], cap: int
) -> Select[int]:
    """How many features match, counting no further than ``cap + 1``."""
    limited = select(literal(1)).select_from(spec.table).where(*where).limit(cap + 1).subquery()
    return typing.cast(Select[int], _rewritten(spec, select(func.count()).select_from(limited)))


def fetch_page(
    session: Session,
    spec: FeatureSpec,
    where: Sequence[ColumnElement[bool]],
    request: PageRequest,
    caller: Caller,
    sort: Sequence[SortKey] = (),
    count_cap: int | None = None,
    crs: OfferedCrs | None = None,
) -> FeaturePage:
    """One page; with ``count_cap``, also the number of matches (None beyond the cap).

    Rows come back as plain driver tuples: building a Row object per feature was a fifth of
    the time of a 1 000-feature page. The count is skipped when the first page holds
    everything.
    """
    result = typing.cast(
        CursorResult[typing.Any],
        session.execute(page_statement(spec, where, request, caller, sort, crs)),
    )
    rows: list[typing.Any] = list(result.cursor.fetchall())
    result.close()
    has_more = len(rows) > request.limit
    rows = rows[: request.limit]
    # the sort key is columns 1 to ``keys_end`` (the reveal column, when there is one, is
    # last and stays on the rows: only the first and last keys are ever read)
    keys_end = 1 + len(_sort_columns(spec, sort))
    if revealed_expression(spec, caller) is not None:
        note_read(len(rows), {row[-1] for row in rows})
    else:
        note_read(len(rows))
    if request.keyset is not None and request.keyset.backwards:
        rows.reverse()
    matched = None
    if count_cap is not None:
        everything = request.keyset is None and not has_more
        matched = len(rows) if everything else count_matches(session, spec, where, count_cap)
    return FeaturePage(
        features_json=",".join(row[0] for row in rows),
        returned=len(rows),
        first_key=tuple(rows[0][1:keys_end]) if rows else None,
        last_key=tuple(rows[-1][1:keys_end]) if rows else None,
        has_more=has_more,
        number_matched=matched,
    )


def count_matches(
    session: Session, spec: FeatureSpec, where: Sequence[ColumnElement[bool]], cap: int
) -> int | None:
    """Exact count when it is at most ``cap``; ``None`` beyond (counting further costs too much)."""
    count = session.execute(count_statement(spec, where, cap)).scalar_one()
    return int(count) if count <= cap else None


def fetch_one(
    session: Session,
    spec: FeatureSpec,
    feature_id: str,
    caller: Caller,
    where: Sequence[ColumnElement[bool]] = (),
    *,
    by_id: bool = True,
    crs: OfferedCrs | None = None,
) -> str | None:
    """One feature; ``by_id=False`` when ``where`` already selects it (by indexed columns);
    ``crs``: its geometry in that CRS."""
    clauses = [spec.feature_id == feature_id, *where] if by_id else list(where)
    revealed = revealed_expression(spec, caller)
    columns = [feature_json(spec, caller, crs), *([] if revealed is None else [revealed])]
    statement = select(*columns).select_from(spec.table).where(*clauses)
    row = session.execute(_rewritten(spec, statement)).one_or_none()
    if row is None:
        return None
    note_read(1, row[1:])
    return typing.cast(str, row[0])


def select_extent(geom: ColumnElement[object]) -> Select[typing.Any]:
    """``SELECT xmin, ymin, xmax, ymax`` of a geometry column (NULLs when there are no rows)."""
    box = func.ST_Extent(geom)
    return select(func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box))
