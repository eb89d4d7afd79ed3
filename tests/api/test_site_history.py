"""Site history and reads as of a dataset version (issue 11, parts 1 and 2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.services import boundaries as boundary_service
from tests.support.sites import BATOURI_CMR, BERBERATI_CAF, site_feature

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


def create(client: TestClient, headers: dict[str, str], **properties: Any) -> str:
    lon, lat = properties.pop("at", BATOURI_CMR)
    response = client.post(ITEMS, json=site_feature(lon, lat, **properties), headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_history_shows_restricted_values_only_to_callers_in_scope(
    client: TestClient, api_key: Headers
) -> None:
    site = create(client, api_key("admin"), name="Mine A", restricted={"workers": 12})
    url = f"{ITEMS}/{site}/history"
    cases = [
        ({}, None),
        (api_key("researcher"), None),
        (api_key("authority", ["CAF"]), "null"),
        (api_key("authority", ["CMR"]), {"workers": 12}),
        (api_key("authority"), {"workers": 12}),
        (api_key("admin"), {"workers": 12}),
    ]
    for headers, expected in cases:
        props = client.get(url, headers=headers).json()["versions"][0]["feature"]["properties"]
        if expected is None:
            assert "restricted" not in props, headers
        elif expected == "null":
            assert props["restricted"] is None, headers
        else:
            assert props["restricted"] == expected, headers
    as_of = client.get(f"{ITEMS}/{site}/history").json()["versions"][0]["datasetVersion"]
    then = client.get(f"{ITEMS}/{site}?as_of={as_of}", headers=api_key("authority", ["CAF"]))
    assert then.json()["properties"]["restricted"] is None
    then = client.get(f"{ITEMS}/{site}?as_of={as_of}", headers=api_key("authority", ["CMR"]))
    assert then.json()["properties"]["restricted"] == {"workers": 12}
    then = client.get(f"{ITEMS}/{site}?as_of={as_of}")
    assert "restricted" not in then.json()["properties"]


def test_retire_then_restore_then_undo_an_edit(client: TestClient, api_key: Headers) -> None:
    headers = api_key("researcher")
    site = create(client, headers, name="Mine B", status="active")
    tag = client.get(f"{ITEMS}/{site}").headers["etag"]
    retired = client.delete(f"{ITEMS}/{site}?reason=mistake", headers={**headers, "If-Match": tag})
    assert retired.status_code == 200
    not_retired = create(client, headers, name="Mine C")
    refused = client.post(f"{ITEMS}/{not_retired}/restore", json={"reason": "x"}, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "not_retired"
    restored = client.post(
        f"{ITEMS}/{site}/restore", json={"reason": "not a mistake"}, headers=headers
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["properties"]["status"] == "active", "the status it had"
    assert restored.json()["properties"]["retired_at"] is None
    assert site in {f["id"] for f in client.get(f"{ITEMS}?limit=1000").json()["features"]}
    history = client.get(f"{ITEMS}/{site}/history").json()["versions"]
    assert [v["action"] for v in history] == ["created", "retired", "restored"]
    assert history[1]["reason"] == "mistake" and history[2]["reason"] == "not a mistake"
    first = history[0]["datasetVersion"]
    # An edit (a move) undone by restoring the first version.
    tag = client.get(f"{ITEMS}/{site}").headers["etag"]
    moved = client.patch(
        f"{ITEMS}/{site}",
        json={"geometry": {"type": "Point", "coordinates": list(BERBERATI_CAF)}},
        headers={**headers, "If-Match": tag, "Content-Type": "application/merge-patch+json"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["properties"]["country"] == "CAF"
    extra = client.post(
        f"{ITEMS}/{site}/restore", json={"reason": "r", "version": first, "x": 1}, headers=headers
    )
    assert extra.status_code == 422, extra.text  # members it does not know: refused, named
    for spelled in (str(first), float(first), True):  # a JSON integer, nothing like one
        lax = client.post(
            f"{ITEMS}/{site}/restore",
            json={"reason": "wrong point", "version": spelled},
            headers=headers,
        )
        assert lax.status_code == 422, (spelled, lax.text)
    undo = client.post(
        f"{ITEMS}/{site}/restore", json={"reason": "wrong point", "version": first}, headers=headers
    )
    assert undo.status_code == 200, undo.text
    assert undo.json()["geometry"]["coordinates"] == list(BATOURI_CMR)
    assert undo.json()["properties"]["country"] == "CMR", "re-measured"
    actions = [v["action"] for v in client.get(f"{ITEMS}/{site}/history").json()["versions"]]
    assert actions == ["created", "retired", "restored", "moved", "restored"]
    missing = client.post(
        f"{ITEMS}/{site}/restore", json={"reason": "x", "version": 0}, headers=headers
    )
    assert missing.status_code == 404
    current = int(client.get(f"{ITEMS}?limit=1").headers["dataset-version"])
    future = client.post(
        f"{ITEMS}/{site}/restore", json={"reason": "x", "version": current + 1}, headers=headers
    )
    assert future.status_code == 422, future.text  # it restored today's state, 200, before
    assert future.json()["code"] == "unknown_dataset_version"
    assert f"the current version is {current}" in future.json()["detail"]
    actions = [v["action"] for v in client.get(f"{ITEMS}/{site}/history").json()["versions"]]
    assert actions == ["created", "retired", "restored", "moved", "restored"], "nothing written"


def test_as_of_refuses_versions_that_do_not_exist(client: TestClient) -> None:
    current = int(client.get(f"{ITEMS}?limit=1").headers["dataset-version"])
    future = client.get(f"{ITEMS}?as_of={current + 5}")
    assert future.status_code == 400
    assert future.json()["code"] == "unknown_dataset_version"
    assert client.get(f"{ITEMS}?as_of=2999-01-01T00:00:00Z").json()["code"] == "as_of_in_future"
    assert client.get(f"{ITEMS}?as_of=1990-01-01").json()["code"] == "before_history"
    assert client.get(f"{ITEMS}?as_of=yesterday").status_code == 400
    assert client.get("/collections/borders/items?as_of=1").status_code == 400, "not versioned"


def test_a_change_of_boundaries_is_a_recomputed_entry(
    client: TestClient, api_key: Headers, session: Session
) -> None:
    site = create(client, api_key("admin"), name="Mine D")
    session.execute(
        text("UPDATE sites SET country_iso3 = NULL, border_distance_m = 1 WHERE public_id = :p"),
        {"p": site},
    )
    changed, _ = boundary_service.recompute(session)
    assert changed >= 1
    history = client.get(f"{ITEMS}/{site}/history").json()["versions"]
    assert history[-1]["action"] == "recomputed"
    assert history[-1]["feature"]["properties"]["country"] == "CMR"


def test_split_moves_chosen_visits_to_a_new_site(client: TestClient, api_key: Headers) -> None:
    headers = api_key("researcher")
    first = upload(
        client, headers, "s1.csv", survey(("Chantier Gbado", 16.0521, 3.8410, "2021-03-16"))
    )
    site = first.json()["rows"][0]["site"]
    second = upload(client, headers, "s2.csv", survey(("Gbado", 16.0522, 3.8411, "2024-01-10")))
    assert second.json()["rows"][0]["site"] == site
    visit = f"{second.json()['upload']['id']}-2"
    refused = client.post(
        f"{ITEMS}/{site}/split",
        json={"observations": [visit, f"{first.json()['upload']['id']}-2"], "reason": "x"},
        headers=headers,
    )
    assert refused.status_code == 422 and refused.json()["code"] == "split_takes_all"
    unknown = client.post(
        f"{ITEMS}/{site}/split",
        json={"observations": ["UP-0000000000-9"], "reason": "x"},
        headers=headers,
    )
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_observation"
    split = client.post(
        f"{ITEMS}/{site}/split",
        json={"observations": [visit], "reason": "a second pit", "name": "Gbado Nord"},
        headers=headers,
    )
    assert split.status_code == 201, split.text
    new = split.json()
    assert new["properties"]["name"] == "Gbado Nord"
    assert new["properties"]["first_observed"] == "2024-01-10"
    assert split.headers["location"].endswith(f"{ITEMS}/{new['id']}")
    old = client.get(f"{ITEMS}/{site}").json()["properties"]
    assert (old["first_observed"], old["last_observed"]) == ("2021-03-16", "2021-03-16")
    visits = client.get(f"/collections/observations/items?site={new['id']}").json()
    assert [f["id"] for f in visits["features"]] == [visit]
    for one, other in ((site, new["id"]), (new["id"], site)):
        last = client.get(f"{ITEMS}/{one}/history").json()["versions"][-1]
        assert (last["action"], last["relatedSite"], last["reason"]) == (
            "split",
            other,
            "a second pit",
        )


def test_writes_to_a_merged_site_name_the_site_it_was_merged_into(
    client: TestClient, api_key: Headers
) -> None:
    """A merged site is retired, but "restore it first" was wrong advice (restore refuses a
    merged site): every write says where it went instead."""
    headers = api_key("researcher")
    a = client.post(ITEMS, json=site_feature(*BATOURI_CMR, name="Dup A"), headers=headers)
    b = client.post(ITEMS, json=site_feature(*BATOURI_CMR, name="Dup B"), headers=headers)
    merged, survivor = a.json()["id"], b.json()["id"]
    done = client.post(
        f"{ITEMS}/{merged}/merge", json={"into": survivor, "reason": "same"}, headers=headers
    )
    assert done.status_code == 200, done.text
    star = {**headers, "If-Match": "*"}
    answers = [
        client.patch(
            f"{ITEMS}/{merged}",
            json={"properties": {"name": "x"}},
            headers={**star, "Content-Type": "application/merge-patch+json"},
        ),
        client.put(f"{ITEMS}/{merged}", json=site_feature(*BATOURI_CMR, name="x"), headers=star),
        client.delete(f"{ITEMS}/{merged}", params={"reason": "r"}, headers=star),
        client.post(f"{ITEMS}/{merged}/restore", json={"reason": "r"}, headers=headers),
    ]
    for answer in answers:
        assert answer.status_code == 409, answer.text
        assert answer.json()["code"] == "already_merged", answer.text
        assert survivor in answer.json()["detail"]
