"""Domain errors and their one mapping to HTTP problem details (RFC 9457).

Services and repositories raise these (or ``geo.errors`` classes); nothing below ``app.api``
raises ``HTTPException``. Every problem body has a stable ``code``, a human ``detail`` and, for
uploads, a list of ``{row, column, code, message}``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy.exc

from geo import errors as geo_errors

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class ProblemItem:
    """One located problem (an upload row, a query parameter, a JSON member)."""

    code: str
    message: str
    row: int | None = None
    column: str | None = None

    def as_dict(self) -> dict[str, Any]:
        item: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.row is not None:
            item["row"] = self.row
        if self.column is not None:
            item["column"] = self.column
        return item


class AppError(Exception):
    """Base of the service's own errors. ``code`` is stable; ``detail`` is safe for clients."""

    status = 500
    code = "internal_error"
    title = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        items: list[ProblemItem] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.items = items or []
        self.extra = extra or {}
        self.headers = headers or {}  # HTTP headers the answer needs (e.g. Allow with a 405)


class InvalidParameter(AppError):
    status, code, title = 400, "invalid_parameter", "Invalid parameter"


class MalformedBody(AppError):
    """A body no parser reads (not JSON, not UTF-8, nested too deeply; a form the framework
    cannot split): malformed syntax, a 400 (RFC 9110 15.5.1)."""

    status, code, title = 400, "invalid_body", "Malformed request body"


class InvalidBody(AppError):
    """A body that parses but is no valid request (a member missing, of the wrong type, a value
    that cannot be stored): a 422 (RFC 9110 15.5.21). Same code as :class:`MalformedBody`, the
    title says which of the two it is."""

    status, code, title = 422, "invalid_body", "Invalid request body"


class UnknownHost(AppError):
    status, code, title = 400, "unknown_host", "Unknown host"


class NotAuthenticated(AppError):
    status, code, title = 401, "not_authenticated", "Not authenticated"


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class MethodNotAllowed(AppError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class PreconditionFailed(AppError):
    status, code, title = 412, "precondition_failed", "Precondition failed"


class PreconditionRequired(AppError):
    status, code, title = 428, "precondition_required", "Precondition required"


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class UnsupportedMediaType(AppError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class Unprocessable(AppError):
    status, code, title = 422, "unprocessable", "Unprocessable content"


class TooManyRequests(AppError):
    status, code, title = 429, "rate_limited", "Too many requests"


class ServiceUnavailable(AppError):
    status, code, title = 503, "service_unavailable", "Service unavailable"


class DatabaseError(ServiceUnavailable):
    code = "database_error"


#: The code of a 503 answered when the database connection pool is exhausted.
SERVICE_BUSY = "service_busy"


@dataclass(frozen=True)
class GeoErrorMapping:
    status: int
    title: str


#: The one table from engine errors to HTTP (subclasses resolve through the MRO).
GEO_ERROR_STATUS: dict[type[geo_errors.GeoError], GeoErrorMapping] = {
    geo_errors.UnsupportedFormat: GeoErrorMapping(415, "Unsupported file format"),
    geo_errors.UnreadableFile: GeoErrorMapping(422, "Unreadable file"),
    geo_errors.HostileFile: GeoErrorMapping(422, "Refused file"),
    geo_errors.FileTooLarge: GeoErrorMapping(413, "File too large"),
    geo_errors.InvalidCoordinates: GeoErrorMapping(422, "Invalid coordinates"),
    geo_errors.InvalidCRS: GeoErrorMapping(422, "Invalid coordinate reference system"),
    geo_errors.DuplicateColumn: GeoErrorMapping(422, "Ambiguous duplicate column"),
    geo_errors.BoundaryDataError: GeoErrorMapping(500, "Boundary data error"),
    geo_errors.GeoError: GeoErrorMapping(422, "Invalid geodata"),
}


@dataclass
class Problem:
    """An RFC 9457 problem document."""

    status: int
    title: str
    code: str
    detail: str
    instance: str | None = None
    items: list[ProblemItem] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"urn:borderlens:problem:{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        }
        if self.instance:
            body["instance"] = self.instance
        if self.items:
            body["errors"] = [item.as_dict() for item in self.items]
        body.update(self.extra)
        return body


def problem_for(exc: Exception) -> Problem:
    """The problem document for any exception (unknown ones become a logged, opaque 500)."""
    if isinstance(exc, AppError):
        return Problem(
            exc.status, exc.title, exc.code, exc.detail, items=exc.items, extra=exc.extra
        )
    if isinstance(exc, geo_errors.GeoError):
        mapping = next(
            GEO_ERROR_STATUS[cls] for cls in type(exc).__mro__ if cls in GEO_ERROR_STATUS
        )
        items = [
            ProblemItem(
                code=exc.code,
                message=exc.message,
                row=getattr(exc, "row", None),
                column=getattr(exc, "column", None),
            )
        ]
        return Problem(mapping.status, mapping.title, exc.code, exc.message, items=items)
    if isinstance(exc, sqlalchemy.exc.TimeoutError):
        # every connection of the pool in use for the pool's whole timeout (30 s): the
        # server is overloaded, not broken (answered with Retry-After)
        log.warning("database connection pool exhausted: %s", exc)
        return Problem(
            503,
            "Service unavailable",
            SERVICE_BUSY,
            "every database connection of this server is in use; try again in a few seconds",
        )
    log.exception("unhandled error", exc_info=exc)
    return Problem(500, "Internal error", "internal_error", "An unexpected error occurred.")
