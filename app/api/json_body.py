"""Request bodies read strictly: media type checked (415), JSON parsed by the standard library
(bytes that are not JSON: 400 "Malformed request body") with every value the database could
not store refused (422 "Invalid request body"), never a 500.

Refused: invalid UTF-8 or JSON, ``NaN``/``Infinity`` and numbers too large for a double, NUL
characters and lone surrogates in any string or member name (PostgreSQL text and jsonb cannot
hold them), nesting deeper than the parser's recursion limit, integers of thousands of digits.
Large integers that fit are kept exactly (jsonb stores them as numeric).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute

from app.api import text_checks
from app.errors import InvalidBody, MalformedBody, ProblemItem, UnsupportedMediaType

GEOJSON_TYPES = ("application/geo+json", "application/json")
MERGE_PATCH_TYPES = ("application/merge-patch+json", "application/json")


def media_type(content_type: str | None) -> str | None:
    if content_type is None:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check(value: Any, path: str) -> None:
    """Refuse what PostgreSQL cannot store, naming where: ``path`` is the member's path as
    the other body problems name it (``properties.name``, ``criteria.filter.args[1]``; empty
    for the body itself)."""
    if isinstance(value, str):
        try:
            text_checks.storable(value)
        except ValueError as error:  # the same words as a model's text fields
            raise _unstorable(path, str(error)) from None
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _unstorable(path, "the number is too large for a double")
    elif isinstance(value, dict):
        for name, member in value.items():
            _check(name, path)  # a member name is checked first: it is not echoed unchecked
            _check(member, f"{path}.{name}" if path else name)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")


def not_json(message: str) -> MalformedBody:
    """Not JSON at all: a 400 (code ``invalid_body``, as every refused body; title "Malformed
    request body"). The bodies FastAPI parses itself (pydantic models) are answered with it
    too (``app.main``)."""
    return MalformedBody(
        f"request body: {message}",
        items=[ProblemItem("invalid_json", message, column="body")],
    )


def unreadable(cause: BaseException | None) -> MalformedBody:
    """A JSON body FastAPI could not parse (its 400 "There was an error parsing the body"),
    said as :func:`parse` says it: ``cause`` is what the parser raised."""
    if isinstance(cause, RecursionError):
        return not_json("nested too deeply")
    if isinstance(cause, UnicodeDecodeError):
        return not_json("not UTF-8")
    if isinstance(cause, ValueError):
        return not_json(str(cause).split(":")[0])
    return not_json("not JSON")


def _unstorable(path: str, reason: str) -> InvalidBody:
    """Valid JSON whose value cannot be stored: a 422 naming the member (``path``, empty for
    the body itself), as any other invalid member."""
    return InvalidBody(
        f"{path}: {reason}" if path else f"request body: {reason}",
        items=[ProblemItem("unstorable_value", reason, column=path or "body")],
    )


def refuse_content_coding(headers: Mapping[str, str]) -> None:
    """A body sent compressed (``Content-Encoding: gzip``) is a 415, as RFC 9110 answers a
    content coding the server does not read: it was read as text and answered "not UTF-8"."""
    coding = (headers.get("content-encoding") or "").strip().lower()
    if coding and coding != "identity":
        raise UnsupportedMediaType(
            f"send the body without a content coding: Content-Encoding {coding} is not read",
            code="unsupported_media_type",
        )


#: Why an empty body (or one of white space only) is not JSON.
EMPTY = "the body is empty"


def unsupported(given: str | None, accepted: Collection[str]) -> UnsupportedMediaType:
    """A body sent as ``given`` (a media type, None: no Content-Type) where the route reads
    only ``accepted``: a 415 saying what to send."""
    sent = f"not {given}" if given else "with its Content-Type header"
    return UnsupportedMediaType(
        f"send the body as {' or '.join(accepted)}, {sent}", code="unsupported_media_type"
    )


def parse(body: bytes, headers: Mapping[str, str], accepted: Collection[str]) -> Any:
    """The JSON value of ``body`` (its request's ``headers`` say how it was sent);
    ``UnsupportedMediaType`` (415) unless its media type is one of ``accepted`` and it has no
    content coding; ``MalformedBody`` (400) for what is not JSON (an empty body among it),
    ``InvalidBody`` (422) for JSON that cannot be stored (both code ``invalid_body``)."""
    given = media_type(headers.get("content-type"))
    if given not in accepted:
        raise unsupported(given, accepted)
    refuse_content_coding(headers)
    if not body.strip():
        raise not_json(EMPTY)
    try:
        text = body.decode("utf-8")
        value = json.loads(text, parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise not_json("not UTF-8") from None
    except RecursionError:
        raise not_json("nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, refused constants, oversized integers
        raise not_json(str(exc).split(":")[0]) from None
    _check(value, "")
    return value


async def read_strictly(request: Request) -> None:
    """A router dependency: a route whose JSON body FastAPI parses into a model reads it by
    :func:`parse` first, so the pydantic routes follow the site writers' rule. FastAPI's own
    reading is looser: it took any ``+json`` media type, a UTF-8 byte-order mark, UTF-16,
    ``NaN``, and lone surrogates anywhere a model keeps free-form JSON (a subscription's
    criteria), which then failed deep in the service or in writing the answer (500s found by
    a helper). The body FastAPI already read is at hand; routes without a body pass."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return
    parse(await request.body(), request.headers, ("application/json",))
