"""Researchers scoped to countries: upload rows outside are rejected row by row
(``out_of_scope``), edits of sites outside (or moves out) are 403; nothing half-written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.api.test_transactions import URL, create, delete, patch
from tests.support.sites import BATOURI_CMR, BERBERATI_CAF, site_feature

Headers = Callable[..., dict[str, str]]


def survey(points: list[tuple[str, float, float]]) -> bytes:
    lines = ["name,lon,lat,kind"] + [f"{name},{lon},{lat},mine" for name, lon, lat in points]
    return ("\n".join(lines) + "\n").encode()


def send(client: TestClient, headers: dict[str, str], data: bytes) -> Any:
    return client.post("/uploads", headers=headers, files={"file": ("s.csv", data, "text/csv")})


def test_upload_rows_outside_the_scope_are_rejected_row_by_row(
    client: TestClient, api_key: Headers
) -> None:
    scoped = api_key("researcher", ["CAF"])
    points = [("Bania", *BERBERATI_CAF), ("Batouri", *BATOURI_CMR), ("Nola", 16.43, 3.53)]
    response = send(client, scoped, survey(points))
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["counts"]["accepted"] == 2 and report["counts"]["rejected"] == 1
    rejected = [row for row in report["rows"] if row["outcome"] == "rejected"]
    assert rejected == [{"row": 3, "outcome": "rejected", "issues": ["out_of_scope"]}]
    issue = next(i for i in report["issues"] if i["code"] == "out_of_scope")
    assert issue["row"] == 3 and "CMR" in issue["message"] and "CAF" in issue["message"]
    countries = {
        f["properties"]["country"]
        for f in client.get(URL, params={"limit": 100}).json()["features"]
    }
    assert countries == {"CAF"}

    # the same file from an unscoped researcher is stored whole
    assert send(client, api_key("researcher"), survey(points[1:2])).status_code == 201


def test_an_upload_wholly_outside_the_scope_stores_nothing(
    client: TestClient, api_key: Headers
) -> None:
    response = send(client, api_key("researcher", ["CMR"]), survey([("Bania", *BERBERATI_CAF)]))
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "no_usable_rows"
    assert [(e["row"], e["code"]) for e in problem["errors"]] == [(2, "out_of_scope")]


def test_edits_outside_the_scope_are_403(client: TestClient, api_key: Headers) -> None:
    admin, scoped = api_key("admin"), api_key("researcher", ["CAF"])
    in_cmr = create(client, admin, name="Batouri", at=BATOURI_CMR)
    in_caf = create(client, admin, name="Bania", at=BERBERATI_CAF)
    cmr_id, caf_id = in_cmr.json()["id"], in_caf.json()["id"]

    refused = patch(client, cmr_id, {"properties": {"name": "x"}}, scoped, in_cmr.headers["etag"])
    assert refused.status_code == 403 and refused.json()["code"] == "out_of_scope"
    moved_out = {"geometry": {"type": "Point", "coordinates": list(BATOURI_CMR)}}
    refused = patch(client, caf_id, moved_out, scoped, in_caf.headers["etag"])
    assert refused.status_code == 403 and refused.json()["code"] == "out_of_scope"
    assert client.get(f"{URL}/{caf_id}").json()["properties"]["country"] == "CAF"  # unchanged
    refused = delete(client, cmr_id, scoped, in_cmr.headers["etag"])
    assert refused.status_code == 403
    new_in_cmr = client.post(URL, json=site_feature(*BATOURI_CMR, name="New"), headers=scoped)
    assert new_in_cmr.status_code == 403 and new_in_cmr.json()["code"] == "out_of_scope"

    renamed = patch(client, caf_id, {"properties": {"name": "Bania II"}}, scoped, "*")
    assert renamed.status_code == 200, renamed.text
    assert create(client, scoped, name="Nola", at=BERBERATI_CAF).status_code == 201
