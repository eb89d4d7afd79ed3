"""What ``/api`` promises besides parameters: the statuses each operation can answer (as RFC 9457
problem details), who may call it (the bearer scheme) and the shape of its JSON bodies.

Statuses are not written per route by hand. They follow from what a route is made of, through
one table: its dependencies (a key that must be valid, a writer's key, the loaded boundaries,
the database), its parameters (400 for a value the parser refuses, 404 for an unknown id in the
path) and its body (413 over the size limit, 422 when the body is refused). A route adds what
only it can answer next to its decorator (``responses=problems(415)``) and its body's schema
with ``returns(...)``. ``annotate`` applies all of it when ``/api`` is built, so a route added
later is described by the same rules.
"""

from __future__ import annotations

import copy
import http
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from app.api import alerts_schemas, deps
from app.errors import PROBLEM_MEDIA_TYPE

BEARER = "bearerAuth"
JSON_TYPE = "application/json"
GEOJSON = "application/geo+json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def returns(schema: str, media_type: str = JSON_TYPE, *statuses: int) -> dict[int | str, Any]:
    """``responses=`` of a route whose successful body is the component ``schema``."""
    return {
        status: {"content": {media_type: {"schema": ref(schema)}}} for status in statuses or (200,)
    }


def negotiable(schema: str, media_type: str = JSON_TYPE) -> dict[int | str, Any]:
    """``responses=`` of a route that answers ``schema`` as JSON, or as an HTML page
    (``f=html`` or a browser's ``Accept``)."""
    content = {media_type: {"schema": ref(schema)}, "text/html": {"schema": {"type": "string"}}}
    return {200: {"content": content}}


def problems(*statuses: int) -> dict[int | str, Any]:
    """``responses=`` for statuses only this route answers (its dependencies, parameters and
    body are accounted for by ``annotate``)."""
    return {status: {"description": http.HTTPStatus(status).phrase} for status in statuses}


#: Statuses a dependency can answer, whichever route uses it.
DEPENDENCY_STATUSES: dict[Callable[..., Any], tuple[int, ...]] = {
    # a malformed Authorization header, an unknown or revoked key
    deps.get_caller: (401,),
    # anonymous: 401; a key of a role that cannot write: 403
    deps.require_writer: (401, 403),
    deps.require_admin: (401, 403),
    # every route: over the caller's rate limit (app.api.rate_limits)
    deps.check_session_cookie: (429,),
    # anonymous: 401; a key of a role that cannot subscribe to alerts: 403
    deps.require_subscriber: (401, 403),
    # no boundary dataset loaded yet
    deps.get_boundaries: (503,),
    # the database cannot be reached
    deps.get_session: (503,),
    deps.get_read_session: (503,),
}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # FastAPI keeps an included router whole (``original_router``) rather than copying
        # its routes into the app's list.
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)


def _dependency_statuses(route: APIRoute) -> set[int]:
    statuses: set[int] = set()
    calls = set(_calls(route.dependant))
    for dependency, raised in DEPENDENCY_STATUSES.items():
        if dependency in calls:
            statuses.update(raised)
    return statuses


def _request_statuses(operation: dict[str, Any]) -> set[int]:
    """What the request's own parts can be refused with; 429 for every request (the rate
    limits of ``app.api.rate_limits`` apply to every route, per key or client address)."""
    statuses: set[int] = {429}
    places = {param.get("in") for param in operation.get("parameters", [])}
    if places & {"query", "path", "header"}:
        statuses.add(400)
    if "path" in places:
        statuses.add(404)
    if "requestBody" in operation:
        # 400: bytes that do not parse (not JSON, a broken multipart, no body); 413: over
        # the size limit; 422: parsed but refused
        statuses.update((400, 413, 422))
        media_types = operation["requestBody"].get("content", {})
        if any(t == JSON_TYPE or t.endswith("+json") for t in media_types):
            statuses.add(415)  # a JSON body sent as another media type, or as none
    return statuses


def _security(route: APIRoute) -> list[dict[str, list[str]]] | None:
    calls = set(_calls(route.dependant))
    if (
        deps.require_writer in calls
        or deps.require_admin in calls
        or deps.require_subscriber in calls
    ):
        return [{BEARER: []}]
    if deps.get_caller in calls:
        # anonymous callers are served too (public attributes); a key may show more
        return [{}, {BEARER: []}]
    return None


def annotate_routes(document: dict[str, Any], app: FastAPI) -> None:
    """Add what each route's dependencies imply (statuses, security) and the component
    schemas to the document FastAPI generated (before it is expanded per collection)."""
    paths = document.get("paths", {})
    for route in api_routes(app.routes):
        if not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in _dependency_statuses(route):
                responses.setdefault(str(status), {})
            security = _security(route)
            if security is not None:
                operation["security"] = security
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(copy.deepcopy(SCHEMAS))
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (`borderlens keys create --role ...`). Anonymous "
            "callers read public attributes; researcher and admin keys write; authority keys "
            "also read restricted attributes.",
        }
    }


def _json_is_an_object(response: dict[str, Any]) -> None:
    """A JSON body declared without a schema is at least an object (every document served is)."""
    for media_type, media in response.get("content", {}).items():
        if "json" in media_type and not media.get("schema"):
            media["schema"] = {"type": "object"}


def annotate_operations(document: dict[str, Any]) -> None:
    """Add what each operation's parameters and body imply, and give every error status its
    problem body (after the expansion per collection, so each path has its own parameters)."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            _annotate_operation(operation)


def _annotate_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "requestBody" not in operation:
        # FastAPI documents 422 for every validated parameter; query and path values that
        # fail are answered 400 here (app.main), as are headers; bodies 422.
        responses.pop("422", None)
    statuses = _request_statuses(operation) | {int(s) for s in responses if s.isdigit()}
    for status in sorted(statuses):
        if status < 400:
            _json_is_an_object(responses.get(str(status), {}))
            continue
        response = responses.setdefault(str(status), {})
        response.setdefault("description", http.HTTPStatus(status).phrase)
        content = response.setdefault("content", {})
        for media_type, media in list(content.items()):
            # FastAPI's placeholders: no schema, or its own validation error shape
            if media.get("schema") in (None, {}, ref("HTTPValidationError")):
                del content[media_type]
        content[PROBLEM_MEDIA_TYPE] = {"schema": ref("Problem")}
    operation["responses"] = dict(sorted(responses.items()))


# -- component schemas ---------------------------------------------------------------------
# Compact equivalents of the OGC API - Features 1.0 OpenAPI fragments (landing page,
# conformance, collections, GeoJSON) and the service's own documents. Open (extra members
# allowed) where a document may grow, exact where a client relies on a member.

_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}
_COUNT = {"type": "integer", "minimum": 0}

_LINK = {
    "type": "object",
    "required": ["href", "rel"],
    "properties": {
        "href": _STRING,
        "rel": _STRING,
        "type": _STRING,
        "title": _STRING,
        "hreflang": _STRING,
    },
}
_LINKS = {"type": "array", "items": ref("Link")}

_GEOMETRY = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {
            "type": "string",
            "enum": [
                "Point",
                "MultiPoint",
                "LineString",
                "MultiLineString",
                "Polygon",
                "MultiPolygon",
                "GeometryCollection",
            ],
        },
        "coordinates": {"type": "array"},
        "geometries": {"type": "array", "items": {"type": "object"}},
        "bbox": {"type": "array", "items": {"type": "number"}},
    },
}

_EXTENT = {
    "type": "object",
    "properties": {
        "spatial": {
            "type": "object",
            "properties": {
                "bbox": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "array",
                        "oneOf": [
                            {"minItems": 4, "maxItems": 4},
                            {"minItems": 6, "maxItems": 6},
                        ],
                        "items": {"type": "number"},
                    },
                },
                "crs": _STRING,
            },
        },
        "temporal": {
            "type": "object",
            "properties": {
                "interval": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "array",
                        "minItems": 2,
                        "maxItems": 2,
                        "items": {"type": "string", "format": "date-time", "nullable": True},
                    },
                },
                "trs": _STRING,
            },
        },
    },
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details; `code` is stable, `errors` locates problems "
        "(upload rows and columns, parameters, body members).",
        "required": ["type", "title", "status", "code", "detail"],
        "properties": {
            "type": _STRING,
            "title": _STRING,
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "code": _STRING,
            "detail": _STRING,
            "instance": _STRING,
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": _STRING,
                        "message": _STRING,
                        "row": _INTEGER,
                        "column": _STRING,
                    },
                },
            },
        },
    },
    "Link": _LINK,
    "LandingPage": {
        "type": "object",
        "required": ["links"],
        "properties": {"title": _STRING, "description": _STRING, "links": _LINKS},
    },
    "ConfClasses": {
        "type": "object",
        "required": ["conformsTo"],
        "properties": {"conformsTo": {"type": "array", "items": _STRING}},
    },
    "Collection": {
        "type": "object",
        "required": ["id", "links"],
        "properties": {
            "id": _STRING,
            "title": _STRING,
            "description": _STRING,
            "links": _LINKS,
            "extent": _EXTENT,
            "itemType": _STRING,
            "crs": {"type": "array", "items": _STRING},
            "storageCrs": _STRING,
            "keywords": {"type": "array", "items": _STRING},
            "attribution": _STRING,
        },
    },
    "Collections": {
        "type": "object",
        "required": ["links", "collections"],
        "properties": {
            "links": _LINKS,
            "collections": {"type": "array", "items": ref("Collection")},
        },
    },
    "Feature": {
        "type": "object",
        "description": "GeoJSON Feature (RFC 7946; lon/lat on WGS 84)",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"oneOf": [_STRING, _INTEGER]},
            "geometry": {**_GEOMETRY, "nullable": True},
            "properties": {"type": "object", "nullable": True},
            "bbox": {"type": "array", "items": {"type": "number"}},
            "links": _LINKS,
        },
    },
    "FeatureCollection": {
        "type": "object",
        "description": "GeoJSON FeatureCollection (RFC 7946) with OGC API paging members",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": ref("Feature")},
            "links": _LINKS,
            "numberMatched": _COUNT,
            "numberReturned": _COUNT,
            "timeStamp": {"type": "string", "format": "date-time"},
        },
    },
    "UploadReport": {
        "type": "object",
        "description": "What became of each row of an upload: counts, located issues, the "
        "rejected rows' values.",
        "required": ["upload", "counts"],
        "properties": {
            "upload": {
                "type": "object",
                "required": ["filename", "sha256"],
                "properties": {
                    "id": {"type": "string", "nullable": True},
                    "filename": _STRING,
                    "sha256": _STRING,
                    "format": _STRING,
                    "dry_run": {"type": "boolean"},
                },
            },
            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "issues": {"type": "array", "items": {"type": "object"}},
            "issue_counts": {"type": "object"},
            "issues_total": _COUNT,
            "issues_truncated": {"type": "boolean"},
            "rows": {"type": "array", "items": {"type": "object"}},
            "rejected": {"type": "array", "items": {"type": "object"}},
            "notes": {"type": "array"},
            "repeat": {"type": "object"},
        },
    },
    "Uploads": {
        "type": "object",
        "required": ["uploads"],
        "properties": {
            "uploads": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["public_id", "filename", "received_at"],
                    "properties": {
                        "public_id": _STRING,
                        "filename": _STRING,
                        "format": _STRING,
                        "sha256": _STRING,
                        "uploader": {"type": "string", "nullable": True},
                        "received_at": {"type": "string", "format": "date-time"},
                        "counts": {"type": "object"},
                    },
                },
            },
            "next": _STRING,
        },
    },
    "UploadJob": {
        "type": "object",
        "description": "An upload processed off the request: its state, progress (0..1), rows "
        "read so far and an estimate; `upload` names the stored upload once done.",
        "required": ["id", "state", "progress", "filename"],
        "properties": {
            "id": _STRING,
            "state": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
            "stage": {"type": "string", "nullable": True},
            "progress": {"type": "number", "minimum": 0, "maximum": 1},
            "rows_read": _COUNT,
            "estimate": {
                "type": "object",
                "properties": {
                    "rows": {"type": "integer", "nullable": True},
                    "seconds_left": {"type": "number", "nullable": True},
                },
            },
            "filename": _STRING,
            "size_bytes": _COUNT,
            "dry_run": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": {"type": "string", "format": "date-time", "nullable": True},
            "finished_at": {"type": "string", "format": "date-time", "nullable": True},
            "upload": {"type": "string", "nullable": True},
            "corrects": {"type": "string", "nullable": True},
            "problem": {"type": "object", "nullable": True},
            "report": {"type": "object", "nullable": True},
            "links": _LINKS,
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "database"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]},
            "database": {
                "type": "object",
                "required": ["status"],
                "properties": {"status": {"type": "string", "enum": ["ok", "error"]}},
            },
            "boundaries": {
                "type": "object",
                "required": ["status"],
                "properties": {"status": {"type": "string", "enum": ["ok", "missing"]}},
            },
        },
    },
}
SCHEMAS.update(alerts_schemas.SCHEMAS)  # subscriptions, events, changes feed, peers
