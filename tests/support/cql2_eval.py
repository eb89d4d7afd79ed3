"""A brute-force CQL2 evaluator in plain Python: the reference the SQL translation is tested
against. Three-valued like SQL (``None`` is unknown: a missing value compared to anything).

Rows are dicts named as the GeoJSON properties, ``geometry`` a shapely geometry in lon/lat.
Geometry literals are read in ``filter_crs`` (an EPSG code; 4326 lat-first when ``lat_first``)
and transformed to lon/lat with pyproj, independently of PostGIS.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from typing import Any

import shapely
from pyproj import Geod, Transformer
from shapely.geometry import box, shape

GEOD = Geod(ellps="WGS84")
Tri = bool | None


def fold_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def like(value: str, pattern: str) -> bool:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.fullmatch("".join(out), value, re.DOTALL) is not None


def _and(values: list[Tri]) -> Tri:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _or(values: list[Tri]) -> Tri:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def _not(value: Tri) -> Tri:
    return None if value is None else not value


class Evaluator:
    def __init__(self, srid: int = 4326, lat_first: bool = False) -> None:
        self.srid, self.lat_first = srid, lat_first

    def matches(self, node: Any, row: dict[str, Any]) -> bool:
        return self.pred(node, row) is True

    def pred(self, node: Any, row: dict[str, Any]) -> Tri:
        if isinstance(node, bool):
            return node
        op, args = node["op"], node["args"]
        if op == "and":
            return _and([self.pred(a, row) for a in args])
        if op == "or":
            return _or([self.pred(a, row) for a in args])
        if op == "not":
            return _not(self.pred(args[0], row))
        if op == "isnull":
            return self.val(args[0], row) is None
        if op in ("=", "<>", "<", ">", "<=", ">="):
            return self.cmp(op, self.val(args[0], row), self.val(args[1], row))
        if op == "like":
            v, p = self.val(args[0], row), self.val(args[1], row)
            return None if v is None or p is None else like(v, p)
        if op == "between":
            v = self.val(args[0], row)
            return _and(
                [
                    self.cmp(">=", v, self.val(args[1], row)),
                    self.cmp("<=", v, self.val(args[2], row)),
                ]
            )
        if op == "in":
            v = self.val(args[0], row)
            return _or([self.cmp("=", v, self.val(a, row)) for a in args[1]])
        if op.startswith("a_"):
            return self.array(op, args, row)
        if op.startswith("s_"):
            return self.spatial(op, args, row)
        if op.startswith("t_"):
            return self.temporal(op, args, row)
        raise ValueError(op)

    def val(self, node: Any, row: dict[str, Any]) -> Any:
        if isinstance(node, dict):
            if "property" in node:
                return row[node["property"]]
            if "date" in node:
                return dt.date.fromisoformat(node["date"])
            if "timestamp" in node:
                return dt.datetime.fromisoformat(node["timestamp"].replace("Z", "+00:00"))
            if node.get("op") == "casei":
                v = self.val(node["args"][0], row)
                return None if v is None else v.lower()
            if node.get("op") == "accenti":
                v = self.val(node["args"][0], row)
                return None if v is None else fold_accents(v)
        return node

    @staticmethod
    def cmp(op: str, a: Any, b: Any) -> Tri:
        if a is None or b is None:
            return None
        a, b = _instant(a, b), _instant(b, a)
        return {
            "=": a == b,
            "<>": a != b,
            "<": a < b,
            ">": a > b,
            "<=": a <= b,
            ">=": a >= b,
        }[op]

    def array(self, op: str, args: list[Any], row: dict[str, Any]) -> Tri:
        a, b = (self.val(x, row) if isinstance(x, dict) else x for x in args)
        if a is None or b is None:
            return None
        if op == "a_equals":
            return list(a) == list(b)
        if op == "a_contains":
            return set(b) <= set(a)
        if op == "a_containedby":
            return set(a) <= set(b)
        return bool(set(a) & set(b))

    def geometry(self, node: Any, row: dict[str, Any]) -> Any:
        if "property" in node:
            return row[node["property"]]
        if "bbox" in node:
            b = node["bbox"]
            x0, y0, x1, y1 = (b[0], b[1], b[2], b[3]) if len(b) == 4 else (b[0], b[1], b[3], b[4])
            if self.lat_first:
                x0, y0, x1, y1 = y0, x0, y1, x1
            geom = box(x0, y0, x1, y1)
            if self.srid != 4326:
                geom = shapely.segmentize(geom, max(x1 - x0, y1 - y0, 1.0) / 32)
        else:
            geom = shape(node)
            if self.lat_first:
                geom = shapely.transform(geom, lambda xy: xy[:, ::-1])
        if self.srid != 4326:
            to_lonlat = Transformer.from_crs(self.srid, 4326, always_xy=True)
            geom = shapely.transform(
                geom, lambda xy: _stack(to_lonlat.transform(xy[:, 0], xy[:, 1]))
            )
        return geom

    def spatial(self, op: str, args: list[Any], row: dict[str, Any]) -> Tri:
        a, b = self.geometry(args[0], row), self.geometry(args[1], row)
        if a is None or b is None:
            return None
        if op == "s_dwithin":
            factor = 1000.0 if len(args) == 4 and args[3]["property"].startswith("k") else 1.0
            assert a.geom_type == "Point" and b.geom_type == "Point"
            _, _, distance = GEOD.inv(a.x, a.y, b.x, b.y)
            return bool(distance <= args[2] * factor)
        return bool(getattr(a, op[2:])(b))

    def period(self, node: Any, row: dict[str, Any]) -> tuple[Any, Any]:
        if isinstance(node, dict) and "interval" in node:
            ends = []
            for end, infinity in zip(node["interval"], (-math.inf, math.inf), strict=True):
                if end == "..":
                    ends.append(infinity)
                elif isinstance(end, str):
                    ends.append(
                        dt.date.fromisoformat(end)
                        if len(end) == 10
                        else dt.datetime.fromisoformat(end.replace("Z", "+00:00"))
                    )
                else:
                    ends.append(self.val(end, row))
            return ends[0], ends[1]
        v = self.val(node, row)
        return v, v

    def temporal(self, op: str, args: list[Any], row: dict[str, Any]) -> Tri:
        (a0, a1), (b0, b1) = self.period(args[0], row), self.period(args[1], row)
        if any(end is None for end in (a0, a1, b0, b1)):
            return None  # a missing value: the relation is unknown, open ends or not
        lt = lambda x, y: _tcmp("<", x, y)  # noqa: E731
        gt = lambda x, y: _tcmp(">", x, y)  # noqa: E731
        eq = lambda x, y: _tcmp("=", x, y)  # noqa: E731
        le = lambda x, y: _tcmp("<=", x, y)  # noqa: E731
        ge = lambda x, y: _tcmp(">=", x, y)  # noqa: E731
        relations = {
            "t_after": lambda: gt(a0, b1),
            "t_before": lambda: lt(a1, b0),
            "t_contains": lambda: _and([lt(a0, b0), gt(a1, b1)]),
            "t_disjoint": lambda: _or([lt(a1, b0), gt(a0, b1)]),
            "t_during": lambda: _and([gt(a0, b0), lt(a1, b1)]),
            "t_equals": lambda: _and([eq(a0, b0), eq(a1, b1)]),
            "t_finishedby": lambda: _and([lt(a0, b0), eq(a1, b1)]),
            "t_finishes": lambda: _and([gt(a0, b0), eq(a1, b1)]),
            "t_intersects": lambda: _and([le(a0, b1), ge(a1, b0)]),
            "t_meets": lambda: eq(a1, b0),
            "t_metby": lambda: eq(a0, b1),
            "t_overlappedby": lambda: _and([gt(a0, b0), lt(a0, b1), gt(a1, b1)]),
            "t_overlaps": lambda: _and([lt(a0, b0), gt(a1, b0), lt(a1, b1)]),
            "t_startedby": lambda: _and([eq(a0, b0), gt(a1, b1)]),
            "t_starts": lambda: _and([eq(a0, b0), lt(a1, b1)]),
        }
        return relations[op]()


def _stack(xy: tuple[Any, Any]) -> Any:
    import numpy as np

    return np.column_stack(xy)


def _instant(value: Any, other: Any) -> Any:
    """A date against a timestamp is the instant 00:00 UTC of that day."""
    if isinstance(other, dt.datetime) and type(value) is dt.date:
        return dt.datetime.combine(value, dt.time(), dt.UTC)
    return value


def _tcmp(op: str, a: Any, b: Any) -> Tri:
    """Infinite ends (open intervals) decide alone (a missing value never gets here: the
    relation is unknown before); otherwise as ``cmp``."""
    if isinstance(a, float) or isinstance(b, float):
        ka = a if isinstance(a, float) else 0.0
        kb = b if isinstance(b, float) else 0.0
        return {"<": ka < kb, ">": ka > kb, "=": ka == kb, "<=": ka <= kb, ">=": ka >= kb}[op]
    return Evaluator.cmp(op, a, b)
