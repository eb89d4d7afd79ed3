"""Issue 11 acceptance: upload A creates sites, upload B matches some and creates others, a
person edits one site, merges two, rejects a review pair, and A is retracted. Every site's
history tells the story in order, ``as_of`` each step returns exactly that step's features,
and the merged id answers 308."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi.testclient import TestClient

Headers = Callable[..., dict[str, str]]
ITEMS = "/collections/sites/items"
MERGE_PATCH = "application/merge-patch+json"


def survey(*rows: tuple[str, float, float, str]) -> bytes:
    lines = ["name,kind,longitude,latitude,visit_date,minerals"]
    lines += [f"{name},chantier,{lon},{lat},{date},diamant" for name, lon, lat, date in rows]
    return ("\n".join(lines) + "\n").encode()


def upload(client: TestClient, headers: dict[str, str], name: str, data: bytes) -> Any:
    response = client.post("/uploads", files={"file": (name, data)}, headers=headers)
    assert response.status_code == 201, response.text
    return response


def features_now(client: TestClient, headers: dict[str, str], as_of: int | None = None) -> Any:
    """Every current site's feature text (as PostGIS wrote it), by id."""
    url = f"{ITEMS}?limit=10000" + ("" if as_of is None else f"&as_of={as_of}")
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    features = orjson.loads(response.content)["features"]
    return {f["id"]: orjson.dumps(f) for f in features}, response


def site_of(report: Any, row: int) -> str:
    return next(r["site"] for r in report["rows"] if r["row"] == row)


def actions(client: TestClient, site: str) -> list[str]:
    response = client.get(f"{ITEMS}/{site}/history")
    assert response.status_code == 200, response.text
    return [v["action"] for v in response.json()["versions"]]


def test_the_story_of_two_uploads_curation_and_a_retraction(
    client: TestClient, api_key: Headers
) -> None:
    team_a, team_b, admin = api_key("researcher"), api_key("researcher"), api_key("admin")
    steps: list[tuple[int, dict[str, bytes]]] = []

    def step(response: Any) -> int:
        version = int(response.headers["dataset-version"])
        snapshot, _ = features_now(client, admin)
        steps.append((version, snapshot))
        return version

    # 1. Upload A creates four sites.
    a = upload(
        client,
        team_a,
        "a.csv",
        survey(
            ("Chantier Bania", 16.0521, 3.8410, "2021-03-16"),
            ("Chantier Kette", 14.7560, 4.3150, "2021-04-01"),
            ("Mine Carnot", 15.9400, 4.9400, "2021-05-01"),
            ("Mine Zaza", 16.3000, 3.6000, "2021-06-01"),
        ),
    )
    step(a)
    report_a = a.json()
    bania, kette, carnot, zaza = (site_of(report_a, row) for row in (2, 3, 4, 5))
    # 2. Upload B matches Bania and creates two sites the matching leaves apart.
    b = upload(
        client,
        team_b,
        "b.csv",
        survey(
            ("BANIA", 16.0524, 3.8412, "2023-01-10"),
            ("Chantier Kettè", 14.7590, 4.3150, "2023-01-11"),  # ~330 m from Kette
            ("Chantier Bania Sud", 16.0521, 3.8340, "2023-01-12"),  # ~780 m from Bania
        ),
    )
    step(b)
    report_b = b.json()
    assert site_of(report_b, 2) == bania
    kette2, bania_sud = site_of(report_b, 3), site_of(report_b, 4)
    assert len({bania, kette, carnot, zaza, kette2, bania_sud}) == 6

    # The review queue proposes both near-duplicates.
    queue = client.get("/review/duplicates", headers=team_a)
    assert queue.status_code == 200, queue.text
    proposed = {frozenset(p["sites"]) for p in queue.json()["pairs"]}
    assert frozenset((kette, kette2)) in proposed
    assert frozenset((bania, bania_sud)) in proposed

    # 3. A person edits Carnot.
    item = client.get(f"{ITEMS}/{carnot}")
    edited = client.patch(
        f"{ITEMS}/{carnot}",
        content=orjson.dumps({"properties": {"name": "Mine de Carnot"}}),
        headers={**team_a, "If-Match": item.headers["etag"], "Content-Type": MERGE_PATCH},
    )
    assert edited.status_code == 200, edited.text
    step(edited)

    # 4. Kettè is merged into Kette.
    merged = client.post(
        f"{ITEMS}/{kette2}/merge",
        json={"into": kette, "reason": "same pit, two spellings"},
        headers=team_b,
    )
    assert merged.status_code == 200, merged.text
    assert "Chantier Kettè" in merged.json()["properties"]["aliases"]
    step(merged)

    # 5. Bania and Bania Sud are different pits: rejected, never proposed again.
    rejected = client.post(
        "/review/duplicates/reject",
        json={"sites": [bania, bania_sud], "reason": "two pits, 800 m apart"},
        headers=team_a,
    )
    assert rejected.status_code == 200, rejected.text
    proposed = {
        frozenset(p["sites"])
        for p in client.get("/review/duplicates", headers=team_a).json()["pairs"]
    }
    assert frozenset((bania, bania_sud)) not in proposed
    assert frozenset((kette, kette2)) not in proposed  # merged

    # 6. Upload A is retracted: only Zaza (A's alone, untouched since) goes.
    retracted = client.post(
        f"/uploads/{report_a['upload']['id']}/retract",
        json={"reason": "wrong GPS unit"},
        headers=team_a,
    )
    assert retracted.status_code == 200, retracted.text
    summary = retracted.json()
    assert summary["sitesRetired"] == [zaza]
    kept = {k["site"]: k["why"] for k in summary["sitesKept"]}
    assert kept == {
        bania: "observed_by_other_uploads",
        kette: "observed_by_other_uploads",  # Kettè's visit (upload B) moved to it
        carnot: "changed_since",
    }
    assert summary["observationsRemoved"] == 4
    step(retracted)
    again = client.post(
        f"/uploads/{report_a['upload']['id']}/retract",
        json={"reason": "wrong GPS unit"},
        headers=team_a,
    )
    assert again.status_code == 200
    assert {**again.json(), "repeat": False} == summary  # idempotent

    # Every site's history tells its story in order.
    assert actions(client, bania) == ["created", "matched", "retracted"]
    assert actions(client, kette) == ["created", "merged", "retracted"]
    assert actions(client, carnot) == ["created", "edited", "retracted"]
    assert actions(client, zaza) == ["created", "retracted"]
    assert actions(client, bania_sud) == ["created"]
    versions = [v for v, _ in steps]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)

    # as_of each step returns exactly the features of that step, byte for byte, every time.
    for version, snapshot in steps:
        then, response = features_now(client, admin, as_of=version)
        assert then == snapshot, f"as_of={version}"
        again_response = client.get(f"{ITEMS}?limit=10000&as_of={version}", headers=admin)
        assert again_response.content == response.content
        assert again_response.headers["etag"] == response.headers["etag"]
    assert zaza not in steps[-1][1] and zaza in steps[0][1]

    # The merged id answers 308 with the survivor, for the item and its history.
    moved = client.get(f"{ITEMS}/{kette2}", follow_redirects=False)
    assert moved.status_code == 308
    assert moved.headers["location"].endswith(f"{ITEMS}/{kette}")
    moved_history = client.get(f"{ITEMS}/{kette2}/history", follow_redirects=False)
    assert moved_history.status_code == 308
    assert moved_history.headers["location"].endswith(f"{ITEMS}/{kette}/history")
    # ...but the merged site as it was is still there to read, as of before the merge.
    before_merge = steps[2][0]
    old = client.get(f"{ITEMS}/{kette2}?as_of={before_merge}")
    assert old.status_code == 200
    assert old.json()["properties"]["name"] == "Chantier Kettè"

    # Kettè's visit belonged to Kettè before the merge, and belongs to Kette since.
    visit_then = client.get(
        f"/collections/observations/items?upload={report_b['upload']['id']}&as_of={before_merge}"
    ).json()["features"]
    visit_now = client.get(
        f"/collections/observations/items?upload={report_b['upload']['id']}"
    ).json()["features"]
    row_then = {f["properties"]["row"]: f["properties"]["site"] for f in visit_then}
    row_now = {f["properties"]["row"]: f["properties"]["site"] for f in visit_now}
    assert (row_then[3], row_now[3]) == (kette2, kette)

    # Observations as of before the retraction still include A's visits; now they are gone.
    a_id = report_a["upload"]["id"]
    before = client.get(f"/collections/observations/items?upload={a_id}&as_of={steps[-2][0]}")
    assert before.json()["numberReturned"] == 4
    assert (
        client.get(f"/collections/observations/items?upload={a_id}").json()["numberReturned"] == 0
    )
