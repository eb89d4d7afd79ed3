"""``POST /uploads`` gives each survey-file field case of ``../shared/cases`` its expected result.

The inputs are read in place; each test asserts the status, the counts and the row codes that
the case's ``case.md`` calls right (issue 8 items 1-7), and that a refusal is a 4xx problem
detail naming the file and no server path.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Observation, Site, Upload
from app.settings import PROJECT_ROOT

Headers = Callable[..., dict[str, str]]
CASES = PROJECT_ROOT.parent / "shared" / "cases"


def case_bytes(case: str, name: str) -> bytes:
    path: Path = CASES / case / name
    if not path.is_file():
        pytest.skip(f"field case absent: {path}")
    return path.read_bytes()


def post(client: TestClient, headers: dict[str, str], name: str, data: bytes, **fields: Any) -> Any:
    return client.post("/uploads", files={"file": (name, data)}, data=fields, headers=headers)


def row_codes(report: dict[str, Any]) -> dict[int, list[str]]:
    return {row["row"]: row.get("issues", []) for row in report["rows"]}


def stored(session: Session) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        session.execute(select(func.count()).select_from(model)).scalar_one()
        for model in (Upload, Site, Observation)
    )


def test_13_geopackage_with_an_empty_point(
    client: TestClient, api_key: Headers, session: Session
) -> None:
    data = case_bytes("13-gpkg-empty-and-3d-points", "empty_and_3d.gpkg")
    response = post(client, api_key("researcher"), "empty_and_3d.gpkg", data)
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["counts"]["accepted"] == 2 and report["counts"]["rejected"] == 2
    codes = row_codes(report)
    assert codes[2] == ["missing_coordinates"] and codes[3] == ["missing_coordinates"]
    assert report["counts"]["sites_created"] == 2


@pytest.mark.parametrize("name", ["empty_point.geojson", "empty_coordinates.kml"])
def test_13_empty_geojson_and_kml_points(client: TestClient, api_key: Headers, name: str) -> None:
    data = case_bytes("13-gpkg-empty-and-3d-points", name)
    response = post(client, api_key("researcher"), name, data, kind="mine", dry_run="true")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["counts"]["accepted"] == 1
    assert row_codes(report)[2] == ["missing_coordinates"]


def test_04_na_answers(client: TestClient, api_key: Headers) -> None:
    data = case_bytes("04-csv-ona-na-empty-values", "ona_export_na.csv")
    response = post(client, api_key("researcher"), "ona_export_na.csv", data, dry_run="true")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["counts"]["accepted"], report["counts"]["rejected"]) == (3, 1)
    assert row_codes(report)[3] == ["missing_coordinates"]
    assert not any(i["code"] == "unknown_mineral" for i in report["issues"])


def test_02_serial_dates_are_stored_as_dates(client: TestClient, api_key: Headers) -> None:
    data = case_bytes("02-xlsx-excel-serial-dates", "serial_numbers.xlsx")
    response = post(client, api_key("researcher"), "serial_numbers.xlsx", data, source="case 02")
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["counts"]["accepted"] == 3
    assert [i["code"] for i in report["issues"]] == ["excel_serial_date"] * 3
    first = sorted(
        client.get(f"/collections/sites/items/{row['site']}").json()["properties"]["first_observed"]
        for row in report["rows"]
    )
    assert first == ["2024-03-05", "2024-04-15", "2024-06-02"]


def test_01_utf8_shapefile_without_cpg(client: TestClient, api_key: Headers) -> None:
    data = case_bytes("01-shp-latin1-no-cpg", "utf8_no_cpg.zip")
    response = post(client, api_key("researcher"), "utf8_no_cpg.zip", data, kind="mine")
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["upload"]["encoding"] == "UTF-8"
    assert not report["issues"]
    names = sorted(
        client.get(f"/collections/sites/items/{row['site']}").json()["properties"]["name"]
        for row in report["rows"]
    )
    assert names == ["Chantier Gbabélé", "Comptoir Bétaré Sud", "Dépôt Garoua-Boulaï Est"]


def test_08_every_typographic_notation(client: TestClient, api_key: Headers) -> None:
    data = case_bytes("08-dms-unicode-marks", "gps_screen_unicode.csv")
    response = post(client, api_key("researcher"), "gps_screen_unicode.csv", data, dry_run="true")
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["accepted"] == 10


REFUSED = {
    "rel-01 lying kmz": (
        "rel-01-kmz-lying-zip-size", "lying-50mb.kmz", 422, "zip_bomb"),
    "rel-13 not a geopackage": (
        "rel-13-error-detail-temp-path", "not-really.gpkg", 422, "unreadable_file"),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_refusals_are_4xx_naming_the_file_and_no_server_path(
    client: TestClient, api_key: Headers, session: Session, case: tuple[str, str, int, str]
) -> None:
    folder, name, status, code = case
    before = stored(session)
    response = post(client, api_key("researcher"), name, case_bytes(folder, name), kind="mine")
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code and name in problem["detail"]
    assert tempfile.gettempdir() not in response.text and "borderlens-upload" not in response.text
    assert stored(session) == before


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("long-field.csv", b"name,lat,lon,kind\n" + b"A" * 131_073 + b",4.3,15.8,mine\n"),
        ("long-line.csv", b"name,lat,lon\n" + b"x," * 2_500_000 + b"\n"),
        ("nul.csv", b"name,lat,lon\n\x00A\x00,4.3,15.8\n\xff\xfe\x00"),
        ("truncated.gpkg", b"SQLite format 3\x00" + b"\x00" * 100),
        ("truncated.gpx", b'<?xml version="1.0"?><gpx version="1.1"><wpt lat="4" lon='),
    ],
)
def test_rel05_no_reader_error_is_a_500(
    client: TestClient, api_key: Headers, name: str, data: bytes
) -> None:
    response = post(client, api_key("researcher"), name, data, kind="mine", dry_run="true")
    assert 400 <= response.status_code < 500 or response.status_code == 200, response.text
    if response.status_code != 200:
        assert name in response.json()["detail"]
        assert tempfile.gettempdir() not in response.text
