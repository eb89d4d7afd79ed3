"""Supply-chain actors through the API: a registry imports row by row, the same registry twice
stores nothing new, an actor links to two sites and shows on both pages, and the contact points
follow the roles."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

Headers = Callable[..., dict[str, str]]
SITES = [("Mine Nola", (16.05, 3.53)), ("Comptoir Berberati", (15.7883, 4.2612))]


def upload(
    client: TestClient, headers: dict[str, str], name: str, data: bytes, **fields: Any
) -> Any:
    return client.post("/uploads", files={"file": (name, data)}, data=fields, headers=headers)


def registry(site_ids: list[str], extra_column: bool = False) -> bytes:
    header = "Nom,Type,Agrément,Pays,Téléphone,Travaille à,Achète à,Fournit" + (
        ",Note" if extra_column else ""
    )
    note = ",re-export" if extra_column else ""
    rows = [
        f"Coopérative Lobaye,coopérative,COOP-01,CAF,+236 70 00 00 01,{site_ids[0]};{site_ids[1]},,"
        f"Comptoir Sangha{note}",
        f"Comptoir Sangha,bureau d'achat,BA-7,CAF,+236 70 00 00 02,,{site_ids[1]},{note}",
        f"cooperative lobaye,cooperative,coop-01,CAF,,,,{note}",
        f",collecteur,X-1,CAF,,,,{note}",
        f"Equipe Bako,volcano,,CAF,,,,{note}",
        f"Négociant Doko,négociant,N-3,CAF,,Nowhere,,{note}",
    ]
    return ("\n".join([header, *rows]) + "\n").encode()


@pytest.fixture
def sites(client: TestClient, api_key: Headers) -> list[str]:
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(xy)},
         "properties": {"name": name, "kind": "mine" if "Mine" in name else "sales_point"}}
        for name, xy in SITES
    ]  # fmt: skip
    data = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    answer = upload(client, api_key("researcher"), "s.geojson", data)
    assert answer.status_code == 201, answer.text
    return [row["site"] for row in answer.json()["rows"]]


def test_registry_imports_dedups_links_and_restricts(
    client: TestClient, api_key: Headers, sites: list[str]
) -> None:
    writer = api_key("researcher")
    answer = upload(client, writer, "registre.csv", registry(sites), target="actors")
    assert answer.status_code == 201, answer.text
    report = answer.json()
    counts = report["counts"]
    assert counts["actors_created"] == 2 and counts["rejected"] == 4
    assert counts["site_links_added"] == 3 and counts["actor_links_added"] == 1
    codes = {(i["row"], i["code"]) for i in report["issues"]}
    assert {(4, "duplicate_actor"), (5, "missing_name"), (6, "unknown_actor_type"),
            (7, "unknown_site")} <= codes  # fmt: skip

    # The same registry twice: nothing new; re-exported with another column: matched.
    again = upload(client, writer, "registre.csv", registry(sites), target="actors")
    assert again.status_code == 200 and "repeat" in again.json()
    other = upload(client, writer, "export.csv", registry(sites, True), target="actors")
    assert other.status_code == 201, other.text
    assert other.json()["counts"]["actors_created"] == 0
    assert other.json()["counts"]["actors_matched"] == 2
    assert other.json()["counts"]["site_links_added"] == 0
    everyone = client.get("/collections/actors/items").json()["features"]
    assert len(everyone) == 2

    coop = next(f for f in everyone if f["properties"]["actor_type"] == "cooperative")
    assert sorted(coop["properties"]["works_at"]) == sorted(sites)
    comptoir = next(f for f in everyone if f["properties"]["actor_type"] == "buying_house")
    assert coop["properties"]["supplies"] == [comptoir["id"]]
    # Placed at the first site it works at (no office point given).
    assert coop["geometry"]["type"] == "Point"

    for site in sites:
        linked = client.get("/collections/actors/items", params={"site": site}).json()
        assert coop["id"] in {f["id"] for f in linked["features"]}
        page = client.get(f"/collections/sites/items/{site}", params={"f": "html", "lang": "fr"})
        assert page.status_code == 200
        assert "Acteurs de la chaîne d'approvisionnement" in page.text
        assert f"/collections/actors/items?site={site}" in page.text

    # Contact points follow the roles.
    assert "contact" not in coop["properties"]  # anonymous
    as_researcher = client.get(f"/collections/actors/items/{coop['id']}", headers=writer).json()
    assert "contact" not in as_researcher["properties"]
    as_admin = client.get(
        f"/collections/actors/items/{coop['id']}", headers=api_key("admin")
    ).json()
    assert as_admin["properties"]["contact"] == {"phone": "+236 70 00 00 01"}
    elsewhere = client.get(
        f"/collections/actors/items/{coop['id']}", headers=api_key("authority", ["CMR"])
    ).json()
    assert elsewhere["properties"]["contact"] is None
    in_scope = client.get(
        f"/collections/actors/items/{coop['id']}", headers=api_key("authority", ["CAF"])
    ).json()
    assert in_scope["properties"]["contact"] == {"phone": "+236 70 00 00 01"}

    by_type = client.get("/collections/actors/items", params={"actor_type": "comptoir"}).json()
    assert [f["id"] for f in by_type["features"]] == [comptoir["id"]]


def test_a_registry_without_usable_rows_is_refused(client: TestClient, api_key: Headers) -> None:
    data = b"Nom,Type\n,cooperative\nX,volcano\n"
    answer = upload(client, api_key("researcher"), "r.csv", data, target="actors")
    assert answer.status_code == 422
    assert answer.json()["code"] == "no_usable_rows"
    assert [e["row"] for e in answer.json()["errors"]] == [2, 3]


# -- rows the reader could not read ---------------------------------------------------------------


def test_rows_the_reader_could_not_read_are_rejected_with_its_reason(
    client: TestClient, api_key: Headers
) -> None:
    """A quote left open, a ragged row, a NUL and a value that is not UTF-8 were blank records
    rejected as nameless (or, not UTF-8, stored as Windows-1252 guessed it): each is now its
    row's error with the reader's reason and column, and only the rows read are stored."""
    note = "x" * 1200  # a NUL is a stray byte of text, not binary data, past a thousand bytes
    data = (
        "Nom,Type,Agrément,Pays,Note\n"
        f"Coopérative Lobaye,coopérative,COOP-01,CAF,{note}\n"
        '"Coopérative Ouverte,coopérative,COOP-02,CAF,\n'
        "Comptoir Sangha,bureau d'achat,BA-7,CAF,,en trop\n"
    ).encode()
    data += "Négociant Doko,négociant,N-3,CAF,\n".encode("cp1252")
    data += "Equipe Ba\x00ko,coopérative,EB-1,CAF,\n".encode()
    data += b"Comptoir Nola,bureau d'achat,BA-9,CAF,\n"
    answer = upload(client, api_key("researcher"), "registre.csv", data, target="actors")
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert report["counts"]["rows"] == 6 and report["counts"]["rejected"] == 4
    assert [(i["row"], i["column"], i["code"]) for i in report["issues"]] == [
        (3, "Nom", "unclosed_quote"),
        (4, None, "malformed_row"),
        (5, "Nom", "mixed_encoding"),
        (5, "Type", "mixed_encoding"),
        (6, "Nom", "nul_character"),
    ]
    assert "'Négociant Doko'" in report["issues"][2]["message"]
    stored = client.get("/collections/actors/items").json()["features"]
    assert sorted(f["properties"]["name"] for f in stored) == [
        "Comptoir Nola",
        "Coopérative Lobaye",
    ]


def test_a_registry_of_unreadable_rows_is_refused_naming_file_row_column_and_reason(
    client: TestClient, api_key: Headers
) -> None:
    data = (
        "Nom,Type\nCoop é,cooperative,é\n".encode()  # one field too many
        + b'"Coop,cooperative\n'
        + "Négociant,négociant\n".encode("cp1252")
    )
    answer = upload(client, api_key("researcher"), "r.csv", data, target="actors")
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "no_usable_rows" and problem["file"] == "r.csv"
    assert [(e["row"], e.get("column"), e["code"]) for e in problem["errors"]] == [
        (2, None, "malformed_row"),
        (3, "Nom", "unclosed_quote"),
        (4, "Nom", "mixed_encoding"),
        (4, "Type", "mixed_encoding"),
    ]
    assert all(e["message"].startswith("r.csv: line ") for e in problem["errors"])
    assert client.get("/collections/actors/items").json()["features"] == []


def test_a_registry_column_sharing_its_name_is_refused(
    client: TestClient, api_key: Headers
) -> None:
    """Two Nom columns: the first filled one was taken for each row, silently."""
    data = "Nom,Type,Pays,nom\nCoopérative A,coopérative,CAF,Coop B\n".encode()
    answer = upload(client, api_key("researcher"), "registre.csv", data, target="actors")
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "duplicate_column"
    assert problem["errors"][0]["column"] == "Nom"
    assert problem["detail"].startswith("registre.csv: columns 1 and 4 ('Nom', 'nom')")
    assert "which one holds the name cannot be told" in problem["detail"]


def test_a_registry_column_the_upload_does_not_read_may_repeat(
    client: TestClient, api_key: Headers
) -> None:
    data = "Nom,Type,Pays,Note,Note\nCoopérative A,coopérative,CAF,x,y\n".encode()
    answer = upload(client, api_key("researcher"), "registre.csv", data, target="actors")
    assert answer.status_code == 201, answer.text
    assert any("both named 'Note'" in note for note in answer.json()["notes"])
