"""Upload reads refuse what the database cannot take (rel-04): paging ids beyond bigint are a
400 naming ``before``, ids with control characters are simply unknown (404), never a 500."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from app.collections.parsing import BIGINT_MAX

Headers = Callable[..., dict[str, str]]


@pytest.mark.parametrize(
    "before", [str(BIGINT_MAX + 1), str(2**64), "9" * 40, "0", "-1", "abc", "1e3"]
)
def test_paging_ids_out_of_range_are_400(client: TestClient, api_key: Headers, before: str) -> None:
    response = client.get("/uploads", params={"before": before}, headers=api_key("researcher"))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_parameter"
    assert response.json()["errors"][0]["column"] == "before"


@pytest.mark.parametrize("before", ["1", str(BIGINT_MAX)])
def test_paging_ids_in_range_are_served(client: TestClient, api_key: Headers, before: str) -> None:
    response = client.get("/uploads", params={"before": before}, headers=api_key("researcher"))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("upload_id", ["%00", "a%00b", "%01", "%1F", "UP-%00"])
@pytest.mark.parametrize("leaf", ["", "/rejected.csv"])
def test_ids_with_control_characters_are_unknown(
    client: TestClient, api_key: Headers, upload_id: str, leaf: str
) -> None:
    response = client.get(f"/uploads/{upload_id}{leaf}", headers=api_key("researcher"))
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "unknown_upload"
