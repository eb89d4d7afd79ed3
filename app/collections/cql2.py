"""CQL2 filters (OGC API - Features Part 3, 19-079r2; CQL2 21-065r2): text or JSON in, one
canonical syntax tree out. No SQL here: ``app.db.cql2`` translates the tree for a collection.

Parsing is done by ``cql2`` (developmentseed/cql2-rs, the parser tipg uses), chosen over
pygeofilter because it reads the whole of CQL2 as the standard writes it, in both encodings,
into the same CQL2-JSON tree: pygeofilter 0.4's cql2-text grammar rejects standard
expressions such as ``A_CONTAINS(minerals, ('gold','diamond'))``, ``T_BEFORE(d,
DATE('2020-01-01'))``, ``x BETWEEN 1 AND 3`` and one-letter property names. ``cql2`` also
reports the line and column of a syntax error, which the 400 response carries.

The canonical tree is CQL2-JSON as plain Python values, with every operator name in lower
case (``"isnull"``, ``"a_containedby"``, ``"s_dwithin"``): ``{"op": "=", "args": [{"property":
"name"}, "Bétaré Oya"]}``. Numbers are floats (the parser's choice), dates
``{"date": "YYYY-MM-DD"}``, timestamps ``{"timestamp": "...Z"}``, intervals ``{"interval":
[start, end]}`` with ``".."`` for an open end, geometries GeoJSON objects or ``{"bbox": [...]}``.

Errors: ``InvalidParameter`` with code ``invalid_filter`` (400), naming ``filter`` and, for a
syntax error, the ``line`` and ``column`` where the parser stopped, said in the words of the
language (``expected AND, OR, =...``), not the parser's rule names. Geometry literals are
checked here, in either encoding: a position is 2 or 3 numbers within
``geo.crs.MAX_COORDINATE``, a line has 2 positions or more, a polygon's ring 4 or more, its
first repeated last (the parser, and GEOS after it, closed an open ring silently). CQL2 text
writes WKT coordinates as plain decimals; one with an exponent (``1e308``) is named as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import cql2

from app.collections.parsing import has_control_characters
from app.errors import InvalidParameter, ProblemItem
from geo.crs import MAX_COORDINATE

FILTER_LANGS: Final = ("cql2-text", "cql2-json")
DEFAULT_FILTER_LANG: Final = "cql2-text"

#: Longest filter accepted, in characters (a URL carries far less; a POSTed one may be longer).
MAX_FILTER_CHARS: Final = 20_000
#: Deepest nesting accepted (parentheses, NOT, unary minus). The parser recurses on each
#: level and overflows its native stack (killing the process) somewhere past a thousand, so
#: depth is checked before it runs; real filters nest a few levels.
MAX_DEPTH: Final = 64

_TEXT_POSITION = re.compile(r"-->\s*(\d+):(\d+)")
_JSON_POSITION = re.compile(r"line (\d+) column (\d+)")
_JSON_POSITION_SUFFIX = re.compile(r"\s+at line \d+ column \d+$")
_EXPECTED = re.compile(r"=\s*(expected .*)$", re.MULTILINE)
_NOT = re.compile(r"\bNOT\b", re.IGNORECASE)


@dataclass(frozen=True)
class Filter:
    """A parsed filter: the canonical tree and the language it came in."""

    ast: Any
    lang: str


def invalid_filter(message: str, *, parameter: str = "filter", **position: int) -> InvalidParameter:
    """The 400 for a filter that cannot be used; ``position`` is ``line=``/``column=``."""
    detail = f"{parameter}: {message}"
    return InvalidParameter(
        detail,
        code="invalid_filter",
        items=[ProblemItem("invalid_filter", message, column=parameter)],
        extra={"position": position} if position else None,
    )


def parse_filter_lang(value: str | None) -> str:
    if value is None or value == "":
        return DEFAULT_FILTER_LANG
    lang = value.strip().lower()
    if lang not in FILTER_LANGS:
        raise invalid_filter(
            f"{value[:40]!r} is not supported; use {' or '.join(FILTER_LANGS)}",
            parameter="filter-lang",
        )
    return lang


def parse_filter(text: str, lang: str | None = None) -> Filter:
    """``text`` in ``lang`` (``cql2-text`` by default, or ``cql2-json``) as a ``Filter``."""
    lang = parse_filter_lang(lang)
    if not text.strip():
        raise invalid_filter("empty filter")
    if len(text) > MAX_FILTER_CHARS:
        raise invalid_filter(f"longer than {MAX_FILTER_CHARS} characters")
    if lang == "cql2-text":
        _check_text_depth(text)
        _check_wkt_numbers(text)
    try:
        expr = cql2.parse_text(text) if lang == "cql2-text" else cql2.parse_json(text)
    except cql2.ParseError as error:
        raise _syntax_error(str(error), lang) from None
    except cql2.ValidationError as error:
        raise invalid_filter(f"not valid {lang}: {_shorten(str(error))}") from None
    except ValueError as error:  # the binding's other input errors (e.g. bad JSON types)
        raise invalid_filter(f"not valid {lang}: {_shorten(str(error))}") from None
    except Exception as error:
        # The binding raises a bare Exception for what it cannot convert (a WKT coordinate
        # of 400 digits: "expected value at line 1 column 35", which was a 500): the input's
        # fault, whatever else it may be.
        raise invalid_filter(f"not valid {lang}: {_shorten(str(error))}") from None
    tree = _canonical(expr.to_json())
    _check_tree_depth(tree)
    _check_geometries(tree)
    return Filter(tree, lang)


def _syntax_error(message: str, lang: str) -> InvalidParameter:
    pattern = _TEXT_POSITION if lang == "cql2-text" else _JSON_POSITION
    found = pattern.search(message)
    expected = _EXPECTED.search(message)
    reason = _in_words(expected.group(1)) if expected else message.strip().splitlines()[0]
    reason = _JSON_POSITION_SUFFIX.sub("", reason)  # said once, below
    if found is None:
        return invalid_filter(f"{lang} syntax error: {_shorten(reason)}")
    line, column = int(found.group(1)), int(found.group(2))
    return invalid_filter(
        f"{lang} syntax error at line {line}, column {column}: {_shorten(reason)}",
        line=line,
        column=column,
    )


#: The parser's rule names as the language writes them (any other is split into words).
_RULE_WORDS: Final = {
    "NotFlag": "NOT",
    "UnaryNot": "NOT",
    "And": "AND",
    "Or": "OR",
    "Add": "+",
    "Subtract": "-",
    "Negative": "-",
    "Multiply": "*",
    "Divide": "/",
    "Modulo": "%",
    "Power": "^",
    "Eq": "=",
    "NotEq": "<>",
    "Gt": ">",
    "GtEq": ">=",
    "Lt": "<",
    "LtEq": "<=",
    "IsNullPostfix": "IS NULL",
    "Like": "LIKE",
    "Between": "BETWEEN",
    "In": "IN",
    "Is": "IS",
    "True": "TRUE",
    "False": "FALSE",
    "Null": "NULL",
    "GEOMETRY": "a geometry",
    "Identifier": "a property name",
    "DECIMAL": "a number",
    "Double": "a number",
    "Unsigned": "a number",
    "SingleQuotedString": "a 'text'",
    "ExpressionInParentheses": "(",
    "Array": "a list (...)",
    "EOI": "the end of the filter",
    "eoi": "the end of the filter",
}
_RULE = re.compile(r"[A-Za-z_]+")


def _in_words(expected: str) -> str:
    """``expected Eq, Gt, or IsNullPostfix`` as ``expected =, > or IS NULL``."""

    def word(match: re.Match[str]) -> str:
        name = match[0]
        if name in ("expected", "or"):
            return name
        spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).lower()
        return _RULE_WORDS.get(name, spaced)

    words = _RULE.sub(word, expected).removeprefix("expected ").replace(", or ", ", ")
    listed = list(dict.fromkeys(part.strip() for part in words.split(", ")))
    if len(listed) > 1:
        return f"expected {', '.join(listed[:-1])} or {listed[-1]}"
    return f"expected {listed[0]}"


def _shorten(message: str, limit: int = 300) -> str:
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _check_text_depth(text: str) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH`` before the native parser sees it."""
    depth = deepest = 0
    in_string = False
    unary = len(_NOT.findall(text))
    for char in text:
        if char == "'":
            in_string = not in_string  # '' (an escaped quote) toggles twice: no harm
        elif in_string:
            continue
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
        elif char == "-":
            unary += 1
    if deepest > MAX_DEPTH or unary > 4 * MAX_DEPTH:
        raise invalid_filter(f"nested deeper than {MAX_DEPTH} levels")


_STRING = re.compile(r"'(?:[^']|'')*'")
OUT_OF_RANGE: Final = (
    f"out of range (no coordinate reference system offered here reaches "
    f"±{MAX_COORDINATE:.0e})".replace("e+", "e")
)
_WKT = re.compile(
    r"\b(POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON|GEOMETRYCOLLECTION)"
    r"\s*(?:Z\s*)?\(",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _check_wkt_numbers(text: str) -> None:
    """The coordinates of the WKT geometries in a CQL2 text, before the parser sees them: out
    of range (``geo.crs.MAX_COORDINATE``), or written with an exponent, which CQL2 text does not
    have in WKT (the parser answered ``expected NotFlag, And, Or...`` at the ``e``, and a
    coordinate of 400 digits failed inside it, a 500)."""
    strings = [m.span() for m in _STRING.finditer(text)]
    for start in _WKT.finditer(text):
        if any(a <= start.start() < b for a, b in strings):
            continue
        end, depth = start.end(), 1
        while end < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        kind = start[1].upper()
        for number in _NUMBER.finditer(text, start.end(), end):
            token = number[0]
            value = float(token)
            line, column = _line_column(text, number.start())
            if not abs(value) <= MAX_COORDINATE:
                raise invalid_filter(
                    f"{kind} at line {line}, column {column}: coordinate {_clip(token)} is "
                    + OUT_OF_RANGE,
                    line=line,
                    column=column,
                )
            if "e" in token.lower():
                plain = format(Decimal(token), "f")
                raise invalid_filter(
                    f"{kind} at line {line}, column {column}: coordinate {token} has an "
                    "exponent; CQL2 text writes coordinates as plain decimal numbers "
                    f"({_clip(plain)})",
                    line=line,
                    column=column,
                )


def _line_column(text: str, offset: int) -> tuple[int, int]:
    """The 1-based line and column of ``offset``, as the parser reports them."""
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


def _clip(token: str, limit: int = 24) -> str:
    return token if len(token) <= limit else f"{token[: limit - 1]}… ({len(token)} characters)"


#: GeoJSON geometry types (the parser's tree) and their names in CQL2 text.
GEOMETRY_NAMES: Final = {
    "Point": "POINT",
    "MultiPoint": "MULTIPOINT",
    "LineString": "LINESTRING",
    "MultiLineString": "MULTILINESTRING",
    "Polygon": "POLYGON",
    "MultiPolygon": "MULTIPOLYGON",
    "GeometryCollection": "GEOMETRYCOLLECTION",
}


def _check_geometries(tree: Any) -> None:
    """Every geometry literal of the tree well formed (either encoding): see the module
    docstring. ``BBOX`` numbers within range too."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if node.get("type") in GEOMETRY_NAMES:
                _check_geometry(node)
            elif "bbox" in node and isinstance(node["bbox"], list):
                for value in node["bbox"]:
                    _coordinate(value, "BBOX")
            else:
                stack.extend(node.values())


def _check_geometry(geometry: dict[str, Any]) -> None:
    kind = str(geometry["type"])
    name = GEOMETRY_NAMES[kind]
    if kind == "GeometryCollection":
        members = geometry.get("geometries")
        if not isinstance(members, list) or not all(
            isinstance(m, dict) and m.get("type") in GEOMETRY_NAMES for m in members
        ):
            raise invalid_filter(f"{name}: its members must be geometries")
        for member in members:
            _check_geometry(member)
        return
    coordinates = geometry.get("coordinates")
    if coordinates == []:
        raise invalid_filter(f"{name}: empty geometry")
    if kind == "Point":
        _position(coordinates, name)
    elif kind == "MultiPoint":
        for point in _parts(coordinates, name):
            _position(point, name)
    elif kind == "LineString":
        _line(coordinates, name)
    elif kind == "MultiLineString":
        for k, line in enumerate(_parts(coordinates, name), start=1):
            _line(line, f"{name}, line {k}")
    elif kind == "Polygon":
        _polygon(coordinates, name)
    else:
        for k, polygon in enumerate(_parts(coordinates, name), start=1):
            _polygon(polygon, f"{name}, polygon {k}")


def _parts(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise invalid_filter(f"{name}: coordinates missing or not a list")
    return value


def _coordinate(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_filter(f"{name}: coordinates are numbers, not {_clip(repr(value))}")
    if not abs(value) <= MAX_COORDINATE:
        raise invalid_filter(f"{name}: coordinate {value:g} is {OUT_OF_RANGE}")
    return float(value)


def _position(value: Any, name: str) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise invalid_filter(f"{name}: a position is 2 or 3 numbers, not {_clip(repr(value))}")
    return tuple(_coordinate(v, name) for v in value)


def _line(value: Any, name: str) -> list[tuple[float, ...]]:
    positions = [_position(p, name) for p in _parts(value, name)]
    if len(positions) < 2:
        raise invalid_filter(f"{name}: a line needs at least 2 positions, it has 1")
    return positions


def _polygon(value: Any, name: str) -> None:
    for k, ring in enumerate(_parts(value, name)):
        which = "its outer ring" if k == 0 else f"its inner ring {k}"
        positions = _line(ring, f"{name}, {which}")
        if positions[0] != positions[-1]:
            raise invalid_filter(
                f"{name}: {which} is not closed: it starts at {_wkt(positions[0])} and ends "
                f"at {_wkt(positions[-1])}; repeat the first position last"
            )
        if len(positions) < 4:
            raise invalid_filter(
                f"{name}: {which} has {len(positions)} positions; a ring needs at least 4 "
                "(3 corners, the first repeated last)"
            )


def _wkt(position: tuple[float, ...]) -> str:
    return "(" + " ".join(f"{v:g}" for v in position) + ")"


def _check_tree_depth(tree: Any) -> None:
    """Not nested deeper than ``MAX_DEPTH``, and no string (a literal, a property name) with
    a control character: PostgreSQL text cannot hold a NUL, and a subscription's filter is
    stored as ``jsonb``, which cannot either (both were a 500)."""
    stack: list[tuple[Any, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > 2 * MAX_DEPTH:
            raise invalid_filter(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, str) and has_control_characters(node):
            raise invalid_filter(f"control characters are not allowed (in {node[:40]!r})")
        if isinstance(node, dict):
            if any(has_control_characters(key) for key in node):
                raise invalid_filter("control characters are not allowed (in a member name)")
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)


def _canonical(node: Any) -> Any:
    """Operator names in lower case, everywhere (the parser keeps some as written)."""
    if isinstance(node, list):
        return [_canonical(item) for item in node]
    if isinstance(node, dict):
        out = {key: _canonical(value) for key, value in node.items()}
        if isinstance(out.get("op"), str):
            out["op"] = out["op"].lower()
        return out
    return node
