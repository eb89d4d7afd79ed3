"""The ``observations`` collection: every visit of every site, filterable, linked from sites."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.support.geojson import assert_feature_collection

Headers = Callable[..., dict[str, str]]


def survey(rows: list[tuple[str, float, float, str]]) -> bytes:
    lines = ["name,lon,lat,date,kind,minerals,workers"]
    lines += [f"{name},{lon},{lat},{date},mine,diamant,12" for name, lon, lat, date in rows]
    return ("\n".join(lines) + "\n").encode()


def upload(client: TestClient, headers: dict[str, str], name: str, data: bytes) -> dict[str, Any]:
    response = client.post("/uploads", headers=headers, files={"file": (name, data, "text/csv")})
    assert response.status_code == 201, response.text
    report: dict[str, Any] = response.json()
    return report


def items(client: TestClient, headers: dict[str, str] | None = None, **params: Any) -> Any:
    response = client.get("/collections/observations/items", params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert_feature_collection(response.json())
    return response.json()


def test_every_visit_is_an_observation_of_its_site(client: TestClient, api_key: Headers) -> None:
    researcher = api_key("researcher")
    first = upload(
        client,
        researcher,
        "visit1.csv",
        survey([("Bania", 16.1, 3.9, "2023-05-02"), ("Nola", 16.05, 3.52, "2023-05-03")]),
    )
    second = upload(client, researcher, "visit2.csv", survey([("Bania", 16.1, 3.9, "2024-02-10")]))
    first_id, second_id = first["upload"]["id"], second["upload"]["id"]

    by_first = items(client, upload=first_id)
    assert by_first["numberMatched"] == 2
    assert {f["properties"]["row"] for f in by_first["features"]} == {2, 3}
    bania = next(f for f in by_first["features"] if f["properties"]["name"] == "Bania")
    site_id = bania["properties"]["site"]

    visits = items(client, site=site_id)
    assert [f["properties"]["upload"] for f in visits["features"]] == [first_id, second_id]
    assert [f["properties"]["observed_on"] for f in visits["features"]] == [
        "2023-05-02",
        "2024-02-10",
    ]
    assert [f["properties"]["outcome"] for f in visits["features"]] == ["created", "matched"]

    in_2024 = items(client, site=site_id, datetime="2024-01-01/2024-12-31")
    assert [f["properties"]["upload"] for f in in_2024["features"]] == [second_id]
    assert items(client, country="CAF", upload=first_id)["numberMatched"] == 2
    assert items(client, country="CMR", upload=first_id)["numberMatched"] == 0
    assert items(client, upload=first_id, bbox="16.0,3.8,16.2,4.0")["numberMatched"] == 1

    one = client.get(f"/collections/observations/items/{first_id}-2")
    assert one.status_code == 200
    assert one.json()["properties"]["site"] == site_id

    site = client.get(f"/collections/sites/items/{site_id}").json()
    related = [link for link in site["links"] if link["rel"] == "related"]
    assert related and related[0]["href"].endswith(
        f"/collections/observations/items?site={site_id}"
    )
    assert client.get(related[0]["href"]).json()["numberMatched"] == 2


def test_raw_survey_attributes_only_for_those_who_see_restricted(
    client: TestClient, api_key: Headers
) -> None:
    report = upload(
        client, api_key("researcher"), "v.csv", survey([("Bania", 16.1, 3.9, "2023-05-02")])
    )
    query = {"upload": report["upload"]["id"]}
    anonymous = items(client, **query)["features"][0]["properties"]
    # the upload declared no restricted columns: all its attributes stay restricted
    assert anonymous["attributes"] is None and "restricted" not in anonymous
    admin = items(client, api_key("admin"), **query)["features"][0]["properties"]
    assert admin["attributes"]["workers"] in ("12", 12)
    in_scope = items(client, api_key("authority", ["CAF"]), **query)["features"][0]
    assert in_scope["properties"]["attributes"] is not None
    out_of_scope = items(client, api_key("authority", ["CMR"]), **query)["features"][0]
    assert out_of_scope["properties"]["attributes"] is None


def test_unknown_and_malformed_observation_ids_are_404(client: TestClient) -> None:
    for feature_id in ("UP-0000000000-2", "nothing", "UP-0000000000-99999999999"):
        response = client.get(f"/collections/observations/items/{feature_id}")
        assert response.status_code == 404
