"""``/api`` is a valid OpenAPI 3.0 document that states what the server does: problem details
for every error status, who needs a key, the real parameter schemas, the shapes of bodies."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from schemathesis.specs.openapi.definitions import OPENAPI_30

from app import collections as registry
from app.errors import PROBLEM_MEDIA_TYPE
from app.services.federation import FEED_COLLECTIONS

PROBLEM = {"$ref": "#/components/schemas/Problem"}
BEARER = "bearerAuth"


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/api")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_the_document_is_valid_openapi_30(document: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(OPENAPI_30).validate(document)
    assert document["openapi"].startswith("3.0")


def test_every_error_status_is_a_problem_document(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                content = response["content"]
                assert content[PROBLEM_MEDIA_TYPE]["schema"] == PROBLEM, (method, path, status)
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "code", "detail"} <= set(problem["required"])


def test_statuses_follow_what_an_operation_is_made_of(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        statuses = {int(s) for s in operation["responses"]}
        places = {p["in"] for p in operation.get("parameters", [])}
        label = f"{method} {path}"
        if places & {"query", "path"}:
            assert 400 in statuses, label
        if "path" in places:
            assert 404 in statuses, label
        if "requestBody" in operation:
            assert {400, 413, 422} <= statuses, label
        if operation.get("security") == [{BEARER: []}]:
            assert {401, 403} <= statuses, label
        if {} in operation.get("security", []):
            assert 401 in statuses and 403 not in statuses, label
        assert any(200 <= s < 300 for s in statuses), label
        assert 429 in statuses, label  # rate limits apply to every route (found by schemathesis)


def test_only_a_collection_with_a_changes_feed_has_a_changes_path(
    document: dict[str, Any],
) -> None:
    """The other collections' changes URLs answer 404 to every method: /api listed them
    (schemathesis took the 404 to a TRACE for a missing 405)."""
    listed = sorted(path for path in document["paths"] if path.endswith("/changes"))
    assert listed == [f"/collections/{c}/changes" for c in sorted(FEED_COLLECTIONS)]


def test_the_bearer_scheme_and_who_needs_a_key(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"][BEARER]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    paths = document["paths"]
    for path in ("/uploads", "/uploads/{upload_id}", "/uploads/{upload_id}/rejected.csv"):
        assert paths[path]["get"]["security"] == [{BEARER: []}], path
    assert paths["/uploads"]["post"]["security"] == [{BEARER: []}]
    assert paths["/collections/sites/items"]["post"]["security"] == [{BEARER: []}]
    for provider in registry.PROVIDERS:
        items = paths[f"/collections/{provider.id}/items"]["get"]
        assert items["security"] == [{}, {BEARER: []}], provider.id
    for public in ("/", "/conformance", "/api"):
        assert "security" not in paths[public]["get"], public
    assert "security" not in document  # nothing is closed by default


def test_bbox_is_four_or_six_numbers_in_form_style(document: dict[str, Any]) -> None:
    declared = [
        (path, p)
        for path, _method, operation in operations(document)
        for p in operation.get("parameters", [])
        if p["name"] == "bbox"
    ]
    assert {f"/collections/{p.id}/items" for p in registry.PROVIDERS} <= {d[0] for d in declared}
    assert "/maps/sites" in {d[0] for d in declared}
    for path, parameter in declared:
        schema = parameter["schema"]
        assert schema["type"] == "array" and schema["items"] == {"type": "number"}, path
        lengths = {(o["minItems"], o["maxItems"]) for o in schema["oneOf"]}
        assert lengths == {(4, 4), (6, 6)}, path
        assert (parameter["style"], parameter["explode"]) == ("form", False), path


def test_json_bodies_have_schemas(document: dict[str, Any]) -> None:
    paths = document["paths"]
    expected = {
        "/": "LandingPage",
        "/conformance": "ConfClasses",
        "/collections": "Collections",
        "/collections/sites": "Collection",
        "/collections/sites/items": "FeatureCollection",
        "/collections/sites/items/{featureId}": "Feature",
        "/uploads": "Uploads",
        "/uploads/{upload_id}": "UploadReport",
        "/health": "Health",
    }
    for path, name in expected.items():
        content = paths[path]["get"]["responses"]["200"]["content"]
        schemas = [media["schema"] for media in content.values()]
        schemas += [one for schema in schemas for one in schema.get("anyOf", [])]
        assert {"$ref": f"#/components/schemas/{name}"} in schemas, path
    job = paths["/uploads/{upload_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert {"$ref": "#/components/schemas/UploadJob"} in job["schema"]["anyOf"]
    created = paths["/collections/sites/items"]["post"]["responses"]["201"]["content"]
    assert created["application/geo+json"]["schema"] == {"$ref": "#/components/schemas/Feature"}
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            for media_type, media in response.get("content", {}).items():
                if "json" in media_type:
                    assert media.get("schema"), (method, path, status, media_type)


def test_declared_schemas_are_openapi_30_not_json_schema_2020(document: dict[str, Any]) -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for bound in ("exclusiveMinimum", "exclusiveMaximum"):
                assert not isinstance(node.get(bound), int | float) or isinstance(
                    node.get(bound), bool
                ), node
            assert node.get("type") != "null" and not isinstance(node.get("type"), list), node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
