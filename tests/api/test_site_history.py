"""Site history and reads as of a dataset version (issue 11, parts 1 and 2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

Headers = Callable[..., dict[str, str]]
ITEMS = "/collections/sites/items"


def survey(*rows: tuple[str, float, float, str]) -> bytes:
    lines = ["name,kind,longitude,latitude,visit_date,minerals"]
    lines += [f"{name},chantier,{lon},{lat},{date},diamant" for name, lon, lat, date in rows]
    return ("\n".join(lines) + "\n").encode()


def upload(client: TestClient, headers: dict[str, str], name: str, data: bytes) -> Any:
    response = client.post("/uploads", files={"file": (name, data)}, headers=headers)
    assert response.status_code == 201, response.text
    return response


def test_upload_then_edit_is_two_entries_and_as_of_reads_each_state(
    client: TestClient, api_key: Headers
) -> None:
    headers = api_key("researcher")
    first = upload(
        client, headers, "a.csv", survey(("Chantier Bania", 16.0521, 3.8410, "2021-03-16"))
    )
    site = first.json()["rows"][0]["site"]
    v1 = int(first.headers["dataset-version"])
    item = client.get(f"{ITEMS}/{site}")
    before = item.content
    patched = client.patch(
        f"{ITEMS}/{site}",
        json={"properties": {"name": "Bania (renamed)"}},
        headers={
            **headers,
            "If-Match": item.headers["etag"],
            "Content-Type": "application/merge-patch+json",
        },
    )
    assert patched.status_code == 200, patched.text
    v2 = int(patched.headers["dataset-version"])
    assert v2 > v1
    history = client.get(f"{ITEMS}/{site}/history").json()
    assert [v["action"] for v in history["versions"]] == ["created", "edited"]
    assert [v["datasetVersion"] for v in history["versions"]] == [v1, v2]
    assert history["versions"][1]["feature"]["properties"]["name"] == "Bania (renamed)"
    then = client.get(f"{ITEMS}/{site}?as_of={v1}")
    assert then.status_code == 200, then.text
    assert then.json()["properties"]["name"] == "Chantier Bania"
    assert then.json()["properties"] == __import__("orjson").loads(before)["properties"]
    page = client.get(f"{ITEMS}?as_of={v1}&limit=1000")
    assert page.status_code == 200, page.text
    again = client.get(f"{ITEMS}?as_of={v1}&limit=1000")
    assert page.content == again.content
    names = {f["id"]: f["properties"]["name"] for f in page.json()["features"]}
    assert names[site] == "Chantier Bania"
    assert page.json()["datasetVersion"] == v1
    obs = client.get(f"/collections/observations/items?as_of={v1}&site={site}")
    assert obs.status_code == 200, obs.text
    assert obs.json()["numberReturned"] == 1
