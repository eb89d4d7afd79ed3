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
syntax error, the ``line`` and ``column`` where the parser stopped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import cql2

from app.collections.parsing import has_control_characters
from app.errors import InvalidParameter, ProblemItem

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
    try:
        expr = cql2.parse_text(text) if lang == "cql2-text" else cql2.parse_json(text)
    except cql2.ParseError as error:
        raise _syntax_error(str(error), lang) from None
    except cql2.ValidationError as error:
        raise invalid_filter(f"not valid {lang}: {_shorten(str(error))}") from None
    except ValueError as error:  # the binding's other input errors (e.g. bad JSON types)
        raise invalid_filter(f"not valid {lang}: {_shorten(str(error))}") from None
    tree = _canonical(expr.to_json())
    _check_tree_depth(tree)
    return Filter(tree, lang)


def _syntax_error(message: str, lang: str) -> InvalidParameter:
    pattern = _TEXT_POSITION if lang == "cql2-text" else _JSON_POSITION
    found = pattern.search(message)
    expected = _EXPECTED.search(message)
    reason = expected.group(1) if expected else message.strip().splitlines()[0]
    if found is None:
        return invalid_filter(f"{lang} syntax error: {_shorten(reason)}")
    line, column = int(found.group(1)), int(found.group(2))
    return invalid_filter(
        f"{lang} syntax error at line {line}, column {column}: {_shorten(reason)}",
        line=line,
        column=column,
    )


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
