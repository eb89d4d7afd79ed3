"""The API definition as OpenAPI 3.0 (``/api``) and a self-contained HTML page (``/api.html``).

FastAPI writes OpenAPI 3.1 (JSON Schema 2020-12); the OGC ``oas30`` conformance class and many
GIS clients expect 3.0, so the few constructs that differ are rewritten here.
"""

from __future__ import annotations

import copy
import html
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from app import collections as registry
from app.api import contract, params
from app.api.deps import json_parameters
from app.api.federation import CHANGES
from app.api.responses import OPENAPI_30, dumps
from app.collections.base import Provider
from app.services.federation import FEED_COLLECTIONS
from app.settings import Settings

router = APIRouter(tags=["Service"])


def _downgrade(node: Any) -> Any:
    if isinstance(node, list):
        return [_downgrade(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _downgrade(value) for key, value in node.items()}
    for combinator in ("anyOf", "oneOf"):
        options = node.get(combinator)
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [option for option in options if option != {"type": "null"}]
            node.pop(combinator)
            if len(rest) == 1:
                node.update(rest[0])
            else:
                node[combinator] = rest
            node["nullable"] = True
    if "contentMediaType" in node:
        # 3.1 describes a file by its media type; 3.0 by format (multipart upload fields)
        node.pop("contentMediaType")
        node["format"] = "byte" if node.pop("contentEncoding", None) == "base64" else "binary"
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if isinstance(node.get("examples"), list) and "example" not in node:
        examples = node.pop("examples")
        if examples:
            node["example"] = examples[0]
    for bound, flag in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(bound), int | float) and not isinstance(node.get(bound), bool):
            node[flag] = node[bound]
            node[bound] = True
    if isinstance(node.get("type"), list):
        types = [t for t in node["type"] if t != "null"]
        if len(types) < len(node["type"]):
            node["nullable"] = True
        node["type"] = types[0] if len(types) == 1 else types
    return node


def openapi_30(app: FastAPI) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(app.openapi())
    contract.annotate_routes(document, app)
    document["paths"] = _per_collection(document["paths"], app.state.settings)
    # after the expansion: the declared parameters' schemas are written JSON Schema style too
    document = _downgrade(document)
    document["openapi"] = "3.0.3"
    contract.annotate_operations(document)
    return document


COLLECTION_PATH = "/collections/{collectionId}"


def _per_collection(paths: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Each collection gets its own paths, with the parameters its items really take
    (OGC API - Features /req/oas30/oas-impl; GDAL reads the ``limit`` maximum from there)."""
    expanded: dict[str, Any] = {}
    for path, operations in paths.items():
        if not path.startswith(COLLECTION_PATH):
            expanded.setdefault(path, {}).update(operations)
            continue
        for provider in registry.PROVIDERS:
            if "/tiles" in path and provider.tile_fields() is None:
                continue  # a collection without tiles has no tile paths
            if path == CHANGES and provider.id not in FEED_COLLECTIONS:
                continue  # nor one without a changes feed a changes path (404 to every method)
            concrete = provider.id.join(path.split("{collectionId}", 1))
            expanded.setdefault(concrete, {}).update(
                {
                    method: _for_collection(operation, provider, settings, method, path)
                    for method, operation in operations.items()
                    # writes (Part 4) only where the collection has a writer
                    if method == "get" or provider.writer() is not None
                }
            )
    return expanded


def _for_collection(
    operation: dict[str, Any], provider: Provider, settings: Settings, method: str, path: str
) -> dict[str, Any]:
    concrete = copy.deepcopy(operation)
    kept = [
        param
        for param in concrete.get("parameters", [])
        if not (param.get("in") == "path" and param.get("name") == "collectionId")
    ]
    if method == "get" and path == f"{COLLECTION_PATH}/items":
        kept += [param.openapi() for param in params.item_parameters(settings, provider)]
    elif method == "get" and path == f"{COLLECTION_PATH}/items/{{featureId}}":
        kept += [param.openapi() for param in params.item_parameters_single(settings, provider)]
    elif method == "get" and path.startswith(f"{COLLECTION_PATH}/tiles/"):
        kept += [param.openapi() for param in params.tile_parameters(settings, provider)]
        if path == f"{COLLECTION_PATH}/tiles/{{tileMatrixSetId}}":
            kept.append(params.format_parameter(("json", "tilejson")).openapi())
    concrete["parameters"] = kept
    concrete["operationId"] = f"{concrete.get('operationId', method)}_{provider.id}"
    concrete["summary"] = f"{concrete.get('summary', '')} ({provider.title})"
    return concrete


@router.get(
    "/api",
    summary="API definition (OpenAPI 3.0)",
    response_class=Response,
    responses={200: {"content": {OPENAPI_30: {"schema": {"type": "object"}}}}},
    # GDAL asks for the definition with the query of the URL it was given (app.api.params)
    dependencies=[Depends(json_parameters), Depends(params.reject_undeclared_ogc_query)],
)
def api_definition(request: Request) -> Response:
    return Response(dumps(openapi_30(request.app)), media_type=OPENAPI_30)


@router.get(
    "/api.html",
    summary="API documentation",
    response_class=HTMLResponse,
    dependencies=[Depends(params.reject_undeclared_ogc_query)],
)
def api_documentation(request: Request) -> HTMLResponse:
    document = openapi_30(request.app)
    rows = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            parameters = ", ".join(
                html.escape(param["name"]) for param in operation.get("parameters", [])
            )
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code>"
                f"</td><td>{html.escape(operation.get('summary', ''))}</td>"
                f"<td>{parameters}</td></tr>"
            )
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>borderlens API</title><style>body{font-family:sans-serif;margin:2em}"
        "td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}</style></head>"
        f"<body><h1>{html.escape(document['info']['title'])} API</h1>"
        f"<p>{html.escape(document['info'].get('description', ''))}</p>"
        "<p>Machine-readable definition: <a href='api'>OpenAPI 3.0</a>.</p><table>"
        "<tr><th>Method</th><th>Path</th><th>What</th><th>Parameters</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
    return HTMLResponse(page)
