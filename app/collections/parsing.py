"""Parsers for query-parameter values, shared by the common parameters and the providers' own.

Every failure is an ``InvalidParameter`` (HTTP 400 problem detail) that names the parameter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

from app.errors import InvalidParameter, ProblemItem

# The largest integer PostgreSQL's bigint holds: ids and cursor values beyond it are refused
# before they reach the database (where they would be an error, not an answer).
BIGINT_MAX = 2**63 - 1
# A decimal number as people and GIS clients write it (exponent allowed). Python's float()
# also reads "1_0", Arabic-Indic digits, "nan" and "inf": none is a coordinate.
DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def decimal(raw: str) -> float:
    """``raw`` (surrounding blanks allowed) as a float; ``ValueError`` unless it is a
    decimal number written in ASCII digits."""
    text = raw.strip()
    if not DECIMAL.fullmatch(text):
        raise ValueError(f"not a decimal number: {raw[:50]!r}")
    return float(text)


def bad(parameter: str, message: str, code: str = "invalid_parameter") -> InvalidParameter:
    return InvalidParameter(
        f"{parameter}: {message}",
        code=code,
        items=[ProblemItem(code=code, message=message, column=parameter)],
    )


def missing_qualified(qualifier: str, qualified: str) -> str:
    """The words for a parameter (or criterion) given without the one it qualifies."""
    return f"{qualified} is missing: {qualifier} only says how {qualified} is read"


def has_control_characters(text: str) -> bool:
    """NUL and other C0 controls (PostgreSQL text cannot hold NUL; none belong in a query)."""
    return any(ord(ch) < 32 and ch not in "\t\n\r" for ch in text)


def text_value(parameter: str, raw: str, max_length: int = 500) -> str:
    if has_control_characters(raw):
        raise bad(parameter, "control characters are not allowed")
    if len(raw) > max_length:
        raise bad(parameter, f"longer than {max_length} characters")
    return raw


def parse_list(parameter: str, raw: str) -> list[str]:
    """``a,b,c`` (OpenAPI form style, explode false) -> stripped values, none empty."""
    values = [v.strip() for v in text_value(parameter, raw, 5000).split(",")]
    if any(not v for v in values):
        raise bad(parameter, "empty value in a comma-separated list")
    return values


def known_values(
    parameter: str, raw: str, resolve: Callable[[str], str | None], what: str
) -> tuple[str, ...]:
    """A list of values each resolved to its code (vocabulary lookups), duplicates dropped."""
    resolved: list[str] = []
    for value in parse_list(parameter, raw):
        code = resolve(value)
        if code is None:
            raise bad(parameter, f"unknown {what} {value!r}", code="unknown_filter_value")
        if code not in resolved:
            resolved.append(code)
    return tuple(resolved)


def number_in(parameter: str, raw: str, low: float, high: float, unit: str = "") -> float:
    """A finite number within [low, high], else a 400 stating the range."""
    suffix = f" {unit}" if unit else ""
    try:
        value = decimal(raw)
    except ValueError:
        raise bad(parameter, f"must be a number{suffix}, not {raw[:50]!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise bad(parameter, f"must lie between {low:g} and {high:g}{suffix}")
    return value


def integer_in(parameter: str, raw: str, low: int, high: int) -> int:
    text = raw.strip()
    if not (text.isascii() and text.lstrip("+-").isdigit()) or len(text) > 20:
        raise bad(parameter, f"must be a whole number from {low} to {high}, not {raw[:50]!r}")
    value = int(text)
    if not low <= value <= high:
        raise bad(parameter, f"must be a whole number from {low} to {high}")
    return value


def boolean(parameter: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise bad(parameter, f"must be true or false, not {raw[:50]!r}")


def one_of(parameter: str, raw: str, allowed: Sequence[str]) -> str:
    if raw not in allowed:
        raise bad(parameter, f"must be one of {', '.join(allowed)}")
    return raw
