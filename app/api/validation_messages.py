"""The words a refused request value is told (pydantic's validation errors, answered as
problem details by ``app.main``): what is allowed, never a regular expression, nor pydantic's
"Value error, " prefix.

A pattern is told by :func:`app.api.text_checks.pattern_description`; a ``Literal`` or an
``Enum`` as the list of its values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.api.text_checks import one_of, pattern_description

# pydantic writes a Literal's or an Enum's values as "'a', 'b' or 'c'"
_QUOTED = re.compile(r"'([^']*)'")


def message(error: Mapping[str, Any]) -> str:
    """The plain message of one of ``RequestValidationError.errors()``."""
    kind = error.get("type")
    context = error.get("ctx") or {}
    if kind == "string_pattern_mismatch":
        return pattern_description(str(context.get("pattern", "")))
    if kind in ("literal_error", "enum") and (values := _QUOTED.findall(context["expected"])):
        return one_of(values)
    if kind == "string_unicode":  # a JSON string escaping a lone surrogate (\ud800)
        return "a lone surrogate (\\ud800-\\udfff) is not text"
    if kind in ("value_error", "assertion_error") and "error" in context:
        return str(context["error"])
    return str(error.get("msg", "invalid value"))
