"""CQL2 syntax trees (``app.collections.cql2``) as SQLAlchemy boolean expressions.

Every value from the filter travels as a bound parameter; property names are only ever looked
up in the collection's field mapping (``SqlField``), never written into SQL. What the filter
asks of a property is checked against that field's kind first, so a type mismatch is a 400
naming the property, never a database error.

Classes translated (OGC 21-065r2): basic CQL2 (comparison, AND/OR/NOT, IS NULL, boolean
literals), advanced comparison (LIKE with ``%``/``_`` and ``\\`` escape, BETWEEN, IN),
case- and accent-insensitive comparison (``CASEI`` via ``lower()``, ``ACCENTI`` via PostgreSQL
``unaccent`` through the immutable ``borderlens_unaccent`` of migration 0010), basic and full
spatial functions (``S_INTERSECTS``, ``S_EQUALS``, ``S_DISJOINT``, ``S_TOUCHES``, ``S_WITHIN``,
``S_OVERLAPS``, ``S_CROSSES``, ``S_CONTAINS`` with PostGIS; geometry literals as WKB
parameters, read in ``filter-crs`` and transformed to EPSG:4326 with pyproj in ``geo.crs``), a
distance predicate ``S_DWITHIN(geometry, literal, distance[, unit])`` (geodesic, on
``geography``; units ``meters``/``metres``/``m`` (default), ``kilometers``/``km``), temporal
functions (all 15 ``T_*`` relations on instants and intervals, ``..`` for an open end),
array functions (``A_EQUALS``, ``A_CONTAINS``, ``A_CONTAINEDBY``, ``A_OVERLAPS``) and
property-property comparison. Arithmetic and other functions are refused (400).

A date property against a timestamp is compared as the instant at 00:00 UTC of that day.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import cql2 as cql2_binding
import shapely
from geoalchemy2 import Geography
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Double,
    LargeBinary,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import TIMESTAMP

from app.errors import InvalidParameter, ProblemItem
from geo.crs import CRS84, MAX_COORDINATE, OfferedCrs, geometry_to_lonlat
from geo.errors import UnsupportedCRS

Kind = Literal[
    "string", "number", "integer", "boolean", "date", "timestamp", "string_array", "geometry"
]
NUMERIC: Final = ("number", "integer")
TEMPORAL: Final = ("date", "timestamp")

COMPARISONS: Final = {"=", "<>", "<", ">", "<=", ">="}
SPATIAL: Final = {
    "s_intersects": "ST_Intersects",
    "s_equals": "ST_Equals",
    "s_disjoint": "ST_Disjoint",
    "s_touches": "ST_Touches",
    "s_within": "ST_Within",
    "s_overlaps": "ST_Overlaps",
    "s_crosses": "ST_Crosses",
    "s_contains": "ST_Contains",
}
ARRAYS: Final = {"a_equals": "=", "a_contains": "@>", "a_containedby": "<@", "a_overlaps": "&&"}
DISTANCE_UNITS_M: Final = {
    "meters": 1.0,
    "metres": 1.0,
    "m": 1.0,
    "kilometers": 1000.0,
    "kilometres": 1000.0,
    "km": 1000.0,
}


@dataclass(frozen=True)
class SqlField:
    """The SQL of one queryable: its column (or expression) and what kind of value it holds."""

    column: ColumnElement[Any]
    kind: Kind


class FilterError(InvalidParameter):
    code = "invalid_filter"

    def __init__(self, message: str) -> None:
        super().__init__(
            f"filter: {message}",
            items=[ProblemItem("invalid_filter", message, column="filter")],
        )


@dataclass(frozen=True)
class _Value:
    """A compiled operand: SQL, its kind, and (for a literal) the Python value."""

    sql: ColumnElement[Any]
    kind: str  # a Kind, or "null"
    is_literal: bool = False
    python: Any = None


@dataclass(frozen=True)
class _Period:
    """An instant (start is end) or an interval; ``None`` is an open end (``..``)."""

    start: _Value | None
    end: _Value | None

    @property
    def has_timestamp(self) -> bool:
        return any(v is not None and v.kind == "timestamp" for v in (self.start, self.end))

    def promoted(self) -> _Period:
        return _Period(
            _promote_value(self.start) if self.start else None,
            _promote_value(self.end) if self.end else None,
        )


def compile_filter(
    ast: Any,
    fields: Mapping[str, SqlField],
    filter_crs: OfferedCrs = CRS84,
    lang: str = "cql2-json",
) -> ColumnElement[bool]:
    """The WHERE clause of a CQL2 tree over ``fields`` (names as the GeoJSON properties).

    Raises ``FilterError`` (400, ``invalid_filter``) for an unknown property (listing the
    queryables), a type mismatch, an invalid literal or an unsupported operator; a part of
    the filter it names is shown in ``lang``, the language the filter was written in.
    """
    return _Compiler(fields, filter_crs, lang).predicate(ast)


class _Compiler:
    def __init__(self, fields: Mapping[str, SqlField], crs: OfferedCrs, lang: str) -> None:
        self.fields = fields
        self.crs = crs
        self.lang = lang

    # -- predicates ---------------------------------------------------------------------

    def predicate(self, node: Any) -> ColumnElement[bool]:
        if isinstance(node, bool):
            return true() if node else false()
        if isinstance(node, dict) and "property" in node:
            value = self.value(node)
            if value.kind != "boolean":
                raise FilterError(f"{node['property']!r} is not a boolean: compare it")
            return value.sql
        if not isinstance(node, dict) or not isinstance(node.get("op"), str):
            raise FilterError(f"expected a condition, found {_show(node, self.lang)}")
        op, args = node["op"], node.get("args", [])
        if not isinstance(args, list):
            raise FilterError(f"{op}: arguments must be a list")
        handler = self._handlers().get(op)
        if handler is not None:
            return handler(op, args)
        if op in SPATIAL:
            return self.spatial(op, args)
        if op in ARRAYS:
            return self.array(op, args)
        if op.startswith("t_"):
            return self.temporal(op, args)
        raise FilterError(f"{op!r} is not a supported condition")

    def _handlers(self) -> dict[str, Callable[[str, list[Any]], ColumnElement[bool]]]:
        return {
            "and": self.logical,
            "or": self.logical,
            "not": self.negation,
            "isnull": self.is_null,
            "like": self.like,
            "between": self.between,
            "in": self.in_list,
            "s_dwithin": self.dwithin,
            **dict.fromkeys(COMPARISONS, self.compare),
        }

    def logical(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        if len(args) < 2:
            raise FilterError(f"{op.upper()} needs at least two conditions")
        parts = [self.predicate(arg) for arg in args]
        return and_(*parts) if op == "and" else or_(*parts)

    def negation(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        _arity(op, args, 1)
        return not_(self.predicate(args[0]))

    def is_null(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        _arity("IS NULL", args, 1)
        return self.value(args[0]).sql.is_(None)

    def compare(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        _arity(op, args, 2)
        left, right = self.comparable(self.value(args[0]), self.value(args[1]), op)
        if left.kind in ("string_array", "geometry"):
            use = "A_EQUALS" if left.kind == "string_array" else "S_EQUALS"
            raise FilterError(f"{op}: cannot compare {left.kind} values; use {use}")
        if left.kind == "boolean" and op not in ("=", "<>"):
            raise FilterError(f"{op}: booleans compare only with = and <>")
        return _OPERATORS[op](left.sql, right.sql)

    def like(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        _arity("LIKE", args, 2)
        subject, pattern = self.value(args[0]), self.value(args[1])
        for side in (subject, pattern):
            if side.kind != "string":
                raise FilterError(f"LIKE compares strings, not {side.kind}")
        return subject.sql.like(pattern.sql)

    def between(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        _arity("BETWEEN", args, 3)
        subject = self.value(args[0])
        if subject.kind not in (*NUMERIC, *TEMPORAL):
            raise FilterError(f"BETWEEN needs a number or a date, not {subject.kind}")
        low_s, low = self.comparable(subject, self.value(args[1]), "BETWEEN")
        high_s, high = self.comparable(subject, self.value(args[2]), "BETWEEN")
        return and_(low_s.sql >= low.sql, high_s.sql <= high.sql)

    def in_list(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        _arity("IN", args, 2)
        if not isinstance(args[1], list) or not args[1]:
            raise FilterError("IN needs a non-empty list of values")
        subject = self.value(args[0])
        members = [self.comparable(subject, self.value(item), "IN") for item in args[1]]
        if subject.kind in ("string_array", "geometry"):
            raise FilterError(f"IN does not apply to {subject.kind} values")
        return or_(*(left.sql == right.sql for left, right in members))

    def array(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        _arity(op.upper(), args, 2)
        left, right = (self.array_value(arg, op) for arg in args)
        return left.op(ARRAYS[op], is_comparison=True)(right)

    def spatial(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        _arity(op.upper(), args, 2)
        left, right = (self.geometry(arg, op) for arg in args)
        function: Callable[..., ColumnElement[bool]] = getattr(func, SPATIAL[op])
        relation = function(left.sql, right.sql)
        if op == "s_disjoint":
            return relation
        # Every other relation implies that the boxes overlap. Said explicitly, with the
        # literal's box as plain numbers, it gives the planner PostGIS's selectivity estimate
        # (for ST_Intersects & co. alone it guesses, and at 1 M rows chose to AND whole
        # kind/mineral indexes into the plan: 30 times slower than the bbox parameter).
        return _with_box_overlap(relation, left, right, 0.0)

    def dwithin(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        if len(args) not in (3, 4):
            raise FilterError("S_DWITHIN(geometry, geometry, distance[, unit]) takes 3 or 4")
        left, right = (self.geometry(arg, "S_DWITHIN") for arg in args[:2])
        distance = args[2]
        if not _is_number(distance):
            raise FilterError("S_DWITHIN: the distance must be a number")
        unit: Any = "meters"
        if len(args) == 4:
            raw = args[3]
            unit = raw.get("property") if isinstance(raw, dict) else raw
            if not isinstance(unit, str) or unit.lower() not in DISTANCE_UNITS_M:
                units = ", ".join(DISTANCE_UNITS_M)
                raise FilterError(f"S_DWITHIN: unit {_show(raw, self.lang)} unknown; use {units}")
        metres = float(distance) * DISTANCE_UNITS_M[unit.lower()]
        if not math.isfinite(metres) or metres < 0:
            raise FilterError("S_DWITHIN: the distance must be a finite number >= 0")
        within = func.ST_DWithin(
            cast(left.sql, Geography), cast(right.sql, Geography), literal(metres, Double)
        )
        return _with_box_overlap(within, left, right, metres)

    def temporal(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        relation = _ALLEN.get(op)
        if relation is None:
            raise FilterError(f"{op!r} is not a supported temporal function")
        _arity(op.upper(), args, 2)
        a, b = (self.period(arg, op) for arg in args)
        if a.has_timestamp or b.has_timestamp:
            a, b = a.promoted(), b.promoted()
        decided = relation(
            _Ends(_Bound(a.start, -1), _Bound(a.end, 1)),
            _Ends(_Bound(b.start, -1), _Bound(b.end, 1)),
        )
        # A property without a value makes the relation unknown (SQL's NULL, as any
        # comparison with a missing value), also where the comparisons with open ends
        # (``..``) were decided here without looking at it: the site does not match, nor
        # does it match under NOT (as the datetime parameter: no date, no match).
        missing = [
            v.sql.is_(None)
            for period in (a, b)
            for v in (period.start, period.end)
            if v is not None and not v.is_literal
        ]
        if not missing:
            return decided
        return case((or_(*missing), null()), else_=decided)

    # -- operands -----------------------------------------------------------------------

    def value(self, node: Any) -> _Value:
        if isinstance(node, dict):
            if "property" in node:
                return self.property(node["property"])
            if "date" in node:
                day = _parse_date(node["date"])
                return _Value(literal(day, Date), "date", True, day)
            if "timestamp" in node:
                moment = _parse_timestamp(node["timestamp"])
                return _Value(literal(moment, DateTime(timezone=True)), "timestamp", True, moment)
            if node.get("op") in ("casei", "accenti"):
                return self.insensitive(node["op"], node.get("args"))
            if "op" in node:
                raise FilterError(f"{node['op']!r} is not supported as a value")
            raise FilterError(f"unexpected value {_show(node, self.lang)}")
        if node is None:
            return _Value(null(), "null", True, None)
        if isinstance(node, bool):
            return _Value(literal(node, Boolean), "boolean", True, node)
        if isinstance(node, int | float):
            if not math.isfinite(node):
                raise FilterError("numbers must be finite")
            return _Value(literal(float(node), Double), "number", True, float(node))
        if isinstance(node, str):
            return _Value(literal(node, Text), "string", True, node)
        raise FilterError(f"unexpected value {_show(node, self.lang)}")

    def property(self, name: Any) -> _Value:
        field = self.fields.get(name) if isinstance(name, str) else None
        if field is None:
            raise FilterError(
                f"unknown property {str(name)[:64]!r}; queryables: {', '.join(self.fields)}"
            )
        return _Value(field.column, field.kind)

    def insensitive(self, op: str, args: Any) -> _Value:
        if not isinstance(args, list) or len(args) != 1:
            raise FilterError(f"{op.upper()} takes one argument")
        inner = self.value(args[0])
        if inner.kind != "string":
            raise FilterError(f"{op.upper()} applies to strings, not {inner.kind}")
        sql = func.lower(inner.sql) if op == "casei" else func.borderlens_unaccent(inner.sql)
        return _Value(sql, "string")

    def comparable(self, left: _Value, right: _Value, op: str) -> tuple[_Value, _Value]:
        """Both operands, checked to be of one family (literal strings read as dates against
        a date or timestamp)."""
        if "null" in (left.kind, right.kind):
            raise FilterError(f"{op}: compare with NULL using IS NULL")
        left, right = _coerce_string_literal(left, right), _coerce_string_literal(right, left)
        families = {_family(left.kind), _family(right.kind)}
        if len(families) != 1:
            raise FilterError(f"{op}: cannot compare {left.kind} with {right.kind}")
        if families == {"temporal"} and left.kind != right.kind:
            return _promote_value(left), _promote_value(right)
        return left, right

    def array_value(self, node: Any, op: str) -> ColumnElement[Any]:
        if isinstance(node, list):
            if not all(isinstance(item, str) for item in node):
                raise FilterError(f"{op.upper()}: array items must be strings")
            return literal(list(node), ARRAY(Text))
        value = self.value(node)
        if value.kind != "string_array":
            raise FilterError(f"{op.upper()} needs arrays, not {value.kind}")
        return value.sql

    def geometry(self, node: Any, op: str) -> _Geometry:
        if isinstance(node, dict) and "property" in node:
            value = self.property(node["property"])
            if value.kind != "geometry":
                raise FilterError(f"{op.upper()}: {node['property']!r} is not a geometry")
            return _Geometry(value.sql, None)
        if isinstance(node, dict) and "bbox" in node:
            return self.envelope(node["bbox"])
        if isinstance(node, dict) and "type" in node:
            return self.geometry_literal(node)
        raise FilterError(f"{op.upper()} needs geometries, found {_show(node, self.lang)}")

    def geometry_literal(self, geojson: dict[str, Any]) -> _Geometry:
        # GEOS refuses some shapes only when it builds them (a LineString of one point:
        # "point array must contain 0 or >1 elements"): a ShapelyError is the user's
        # geometry, a 400, wherever shapely raises it
        try:
            shape = shapely.geometry.shape(geojson)
            if shape.is_empty:
                raise FilterError("empty geometry")
            coords = shapely.get_coordinates(shape)
            if not bool((abs(coords) <= MAX_COORDINATE).all()):
                raise FilterError("geometry coordinates are out of range")
            if not shape.is_valid:
                raise FilterError(f"invalid geometry: {shapely.is_valid_reason(shape)}")
            return self._lonlat_literal(shape)
        except (
            ValueError,
            TypeError,
            KeyError,
            IndexError,
            AttributeError,
            shapely.errors.ShapelyError,
        ) as error:
            raise FilterError(f"invalid geometry: {str(error)[:120]}") from None

    def _lonlat_literal(self, shape: BaseGeometry) -> _Geometry:
        """A geometry in ``filter-crs`` as an EPSG:4326 WKB parameter (transformed here, with
        pyproj, so a coordinate without a lon/lat image is a 400, not a database error)."""
        try:
            lonlat = geometry_to_lonlat(shape, self.crs)
        except UnsupportedCRS as error:
            raise FilterError(error.message.removeprefix("filter-crs: ")) from None
        wkb = shapely.to_wkb(lonlat, output_dimension=2)
        sql = func.ST_GeomFromWKB(literal(wkb, LargeBinary), 4326)
        return _Geometry(sql, tuple(float(v) for v in lonlat.bounds))

    def envelope(self, box: Any) -> _Geometry:
        if not isinstance(box, list) or len(box) not in (4, 6):
            raise FilterError("BBOX takes 4 (or 6) numbers")
        if not all(_is_number(v) and math.isfinite(v) for v in box):
            raise FilterError("BBOX takes finite numbers")
        # Corners in the filter CRS's own axis order (what geometry_to_lonlat reads).
        low, high = (box[0], box[1]), (box[2], box[3]) if len(box) == 4 else (box[3], box[4])
        if low[0] > high[0] or low[1] > high[1]:
            raise FilterError("BBOX: the lower corner must come first")
        return self._lonlat_literal(shapely.box(*low, *high))

    def period(self, node: Any, op: str) -> _Period:
        if isinstance(node, dict) and "interval" in node:
            bounds = node["interval"]
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise FilterError(f"{op.upper()}: INTERVAL takes a start and an end")
            start, end = (self.bound(b, op) for b in bounds)
            return _Period(start, end)
        value = self.instant(node, op)
        return _Period(value, value)

    def bound(self, node: Any, op: str) -> _Value | None:
        if node == "..":
            return None
        return self.instant(node, op)

    def instant(self, node: Any, op: str) -> _Value:
        value = self.value(node)
        if value.kind == "string" and value.is_literal:
            value = _as_temporal_literal(value.python)
        if value.kind not in TEMPORAL:
            raise FilterError(
                f"{op.upper()} needs dates, timestamps or intervals, not {value.kind}"
            )
        return value


# -- helpers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Geometry:
    """A geometry operand: SQL, and for a literal its lon/lat bounds (None: a property)."""

    sql: ColumnElement[Any]
    bounds: tuple[float, ...] | None


# Shortest length of a degree: of latitude at the equator, and of longitude per cos(lat)
# (WGS 84; metres). A distance in metres spans at most this many degrees.
_M_PER_DEGREE_LAT = 110_574.0
_M_PER_DEGREE_LON_AT_EQUATOR = 111_319.0


def _with_box_overlap(
    relation: ColumnElement[bool], left: _Geometry, right: _Geometry, margin_m: float
) -> ColumnElement[bool]:
    """``relation`` AND (property && the literal's box grown by ``margin_m``), when one side
    is a property and the other a literal; ``relation`` alone otherwise."""
    if (left.bounds is None) == (right.bounds is None):
        return relation
    prop, bounds = (left.sql, right.bounds) if left.bounds is None else (right.sql, left.bounds)
    assert bounds is not None
    min_lon, min_lat, max_lon, max_lat = bounds
    dlat = margin_m / _M_PER_DEGREE_LAT * 1.01
    far_lat = max(abs(min_lat), abs(max_lat)) + dlat
    if far_lat >= 89.0:  # near a pole a metre range spans every longitude: no useful box
        return relation
    dlon = margin_m / (_M_PER_DEGREE_LON_AT_EQUATOR * math.cos(math.radians(far_lat))) * 1.01
    if max_lon - min_lon + 2 * dlon >= 360.0 or min_lon - dlon < -180 or max_lon + dlon > 180:
        return relation  # the box would wrap the antimeridian: keep the exact test alone
    corners = (min_lon - dlon, min_lat - dlat, max_lon + dlon, max_lat + dlat)
    box = func.ST_MakeEnvelope(*(literal(v, Double) for v in corners), 4326)
    return and_(prop.op("&&", is_comparison=True)(box), relation)


_OPERATORS: Final[dict[str, Callable[[Any, Any], ColumnElement[bool]]]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def _arity(name: str, args: Sequence[Any], count: int) -> None:
    if len(args) != count:
        raise FilterError(f"{name.upper()} takes {count} argument(s), got {len(args)}")


def _is_number(value: Any) -> bool:
    """A JSON number: Python's ``True`` is an int, but ``true`` is no number."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _show(node: Any, lang: str) -> str:
    """A part of a filter as its author wrote it: CQL2 text, or JSON text (never Python's
    spelling of the tree, as ``{'property': 'miles'}`` was)."""
    text = None
    if lang == "cql2-text":
        try:
            text = cql2_binding.Expr(node).to_text()
        except Exception:  # the binding raises a bare Exception for a part that is no
            text = None  # expression of its own (a unit's object): shown as JSON
    if text is None:
        text = json.dumps(node, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:79] + "…"


def _family(kind: str) -> str:
    if kind in NUMERIC:
        return "number"
    if kind in TEMPORAL:
        return "temporal"
    return kind


def _parse_date(text: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise FilterError(f"{str(text)[:40]!r} is not a date (YYYY-MM-DD)") from None


def _parse_timestamp(text: Any) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(f"{str(text)[:40]!r} is not an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise FilterError(f"{str(text)[:40]!r}: a timestamp needs a time zone (Z)")
    return moment


def _as_temporal_literal(text: str) -> _Value:
    if len(text) == 10:
        day = _parse_date(text)
        return _Value(literal(day, Date), "date", True, day)
    moment = _parse_timestamp(text)
    return _Value(literal(moment, DateTime(timezone=True)), "timestamp", True, moment)


def _coerce_string_literal(value: _Value, other: _Value) -> _Value:
    if value.kind == "string" and value.is_literal and other.kind in TEMPORAL:
        return _as_temporal_literal(value.python)
    return value


def _utc_midnight(sql: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.timezone("UTC", cast(sql, TIMESTAMP()))


def _promote_value(value: _Value) -> _Value:
    if value.kind != "date":
        return value
    if value.is_literal:
        moment = dt.datetime.combine(value.python, dt.time(), dt.UTC)
        return _Value(literal(moment, DateTime(timezone=True)), "timestamp", True, moment)
    return _Value(_utc_midnight(value.sql), "timestamp")


@dataclass(frozen=True)
class _Bound:
    """One end of a period in SQL; ``value`` None is infinite (``sign`` -1 start, +1 end)."""

    value: _Value | None
    sign: int

    def key(self) -> float | None:
        return None if self.value is not None else math.inf * self.sign


@dataclass(frozen=True)
class _Ends:
    start: _Bound
    end: _Bound


def _cmp(a: _Bound, b: _Bound, op: str) -> ColumnElement[bool]:
    """``a op b`` where either end may be infinite (decided here, not in SQL)."""
    ka, kb = a.key(), b.key()
    if ka is None and kb is None:
        assert a.value is not None and b.value is not None
        return _OPERATORS[op](a.value.sql, b.value.sql)
    if ka is not None and kb is not None:
        decided = {"<": ka < kb, ">": ka > kb, "=": ka == kb, "<=": ka <= kb, ">=": ka >= kb}
        return true() if decided[op] else false()
    # One side finite: it is above -inf and below +inf.
    finite_is_left = ka is None
    infinite = kb if finite_is_left else ka
    assert infinite is not None
    left_smaller = (infinite > 0) if finite_is_left else (infinite < 0)
    decided = {"<": left_smaller, ">": not left_smaller, "=": False}
    decided["<="], decided[">="] = decided["<"], decided[">"]
    return true() if decided[op] else false()


def _allen(*terms: tuple[str, str, str]) -> Callable[[_Ends, _Ends], ColumnElement[bool]]:
    """A relation as the AND of ``(side of a, op, side of b)`` terms."""

    def relation(a: _Ends, b: _Ends) -> ColumnElement[bool]:
        parts = [_cmp(getattr(a, left), getattr(b, right), op) for left, op, right in terms]
        return and_(*parts)

    return relation


def _disjoint(a: _Ends, b: _Ends) -> ColumnElement[bool]:
    return or_(_cmp(a.end, b.start, "<"), _cmp(a.start, b.end, ">"))


_ALLEN: Final[dict[str, Callable[[_Ends, _Ends], ColumnElement[bool]]]] = {
    "t_after": _allen(("start", ">", "end")),
    "t_before": _allen(("end", "<", "start")),
    "t_contains": _allen(("start", "<", "start"), ("end", ">", "end")),
    "t_disjoint": _disjoint,
    "t_during": _allen(("start", ">", "start"), ("end", "<", "end")),
    "t_equals": _allen(("start", "=", "start"), ("end", "=", "end")),
    "t_finishedby": _allen(("start", "<", "start"), ("end", "=", "end")),
    "t_finishes": _allen(("start", ">", "start"), ("end", "=", "end")),
    "t_intersects": _allen(("start", "<=", "end"), ("end", ">=", "start")),
    "t_meets": _allen(("end", "=", "start")),
    "t_metby": _allen(("start", "=", "end")),
    "t_overlappedby": _allen(("start", ">", "start"), ("start", "<", "end"), ("end", ">", "end")),
    "t_overlaps": _allen(("start", "<", "start"), ("end", ">", "start"), ("end", "<", "end")),
    "t_startedby": _allen(("start", "=", "start"), ("end", ">", "end")),
    "t_starts": _allen(("start", "=", "start"), ("end", "<", "end")),
}
