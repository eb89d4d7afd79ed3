"""``POST /uploads``: every sample format lands where it should, bad rows are reported one by
one, repeats store nothing, hostile files are refused and leave no trace."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Observation, Site, Upload
from app.settings import PROJECT_ROOT

Headers = Callable[..., dict[str, str]]
SAMPLES = PROJECT_ROOT / "data" / "samples"
SHARED_GPX = PROJECT_ROOT.parent / "shared" / "data" / "samples"
EXPECTED = list(csv.DictReader((SAMPLES / "expected.csv").open(encoding="utf-8")))
SAMPLE_FILES = sorted({row["file"] for row in EXPECTED} - {"mixed_bad_rows.csv"})
# What each sample needs besides the file (the KoBo/ODK forms say the kind per row; others not).
UPLOAD_FIELDS: dict[str, dict[str, str]] = {
    "handheld.gpx": {"kind": "mine"},
    "my_maps.kml": {"kind": "mine"},
    "dms_coordinates.csv": {"kind": "mine"},
    "decimal_comma.csv": {"kind": "mine"},
    "comptoirs.xlsx": {"kind": "sales_point"},
    "sites_utm34n.zip": {"kind": "mine"},
}


def counts(session: Session) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        session.execute(select(func.count()).select_from(model)).scalar_one()
        for model in (Upload, Site, Observation)
    )


def upload(
    client: TestClient, headers: dict[str, str], name: str, data: bytes, **fields: Any
) -> Any:
    return client.post("/uploads", files={"file": (name, data)}, data=fields, headers=headers)


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_each_sample_lands_at_the_right_place(
    client: TestClient, api_key: Headers, name: str
) -> None:
    fields = {"kind": "mine", **UPLOAD_FIELDS.get(name, {})}
    if name in (
        "kobo_survey.csv",
        "odk_central.csv",
        "sites.geojson",
        "field_team.gpkg",
        "google_earth.kmz",
    ):
        fields.pop("kind")  # their rows say what they are
    response = upload(client, api_key("researcher"), name, (SAMPLES / name).read_bytes(), **fields)
    assert response.status_code == 201, response.text
    report = response.json()
    expected = [row for row in EXPECTED if row["file"] == name]
    assert report["counts"]["accepted"] == len(expected)
    sites = {row["row"]: row["site"] for row in report["rows"] if row["outcome"] != "rejected"}
    for row in expected:
        site = client.get(f"/collections/sites/items/{sites[int(row['row'])]}").json()
        lon, lat = site["geometry"]["coordinates"]
        assert lon == pytest.approx(float(row["lon"]), abs=1e-6), (name, row["name"])
        assert lat == pytest.approx(float(row["lat"]), abs=1e-6), (name, row["name"])
        assert site["properties"]["country"] == row["iso3"]


def test_utm_zip_is_read_through_its_prj(client: TestClient, api_key: Headers) -> None:
    response = upload(
        client,
        api_key("researcher"),
        "sites_utm34n.zip",
        (SAMPLES / "sites_utm34n.zip").read_bytes(),
        kind="mine",
    )
    assert response.json()["upload"]["source_crs"] == "EPSG:32634"


def test_mixed_bad_rows_keep_exactly_the_good_ones(
    app: FastAPI, client: TestClient, api_key: Headers
) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"region_countries": ["CAF", "CMR", "COD", "COG", "TCD"]}
    )
    response = upload(
        client,
        api_key("researcher"),
        "mixed_bad_rows.csv",
        (SAMPLES / "mixed_bad_rows.csv").read_bytes(),
        country="COD",
        kind="sales_point",
    )
    assert response.status_code == 201, response.text
    report = response.json()
    expected_issues = list(
        csv.DictReader((SAMPLES / "mixed_bad_rows.expected.csv").open(encoding="utf-8"))
    )
    got = {(i["row"], i["column"] or "", i["code"], i["severity"]) for i in report["issues"]}
    want = {(int(i["row"]), i["column"], i["code"], i["severity"]) for i in expected_issues}
    assert got == want
    kept = {int(r["row"]) for r in EXPECTED if r["file"] == "mixed_bad_rows.csv"}
    accepted = {r["row"] for r in report["rows"] if r["outcome"] != "rejected"}
    assert accepted == kept
    rejected = {r["row"] for r in report["rows"] if r["outcome"] == "rejected"}
    assert rejected == {int(i["row"]) for i in expected_issues if i["severity"] == "error"}
    for issue in report["issues"]:
        assert issue["row"] and issue["code"] and issue["message"]


def test_rejected_rows_download_as_csv(client: TestClient, api_key: Headers) -> None:
    headers = api_key("researcher")
    report = upload(
        client,
        headers,
        "mixed_bad_rows.csv",
        (SAMPLES / "mixed_bad_rows.csv").read_bytes(),
        country="COD",
        kind="sales_point",
    ).json()
    response = client.get(f"/uploads/{report['upload']['id']}/rejected.csv", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {int(r["borderlens_row"]) for r in rows} == {
        r["row"] for r in report["rows"] if r["outcome"] == "rejected"
    }
    zero = next(r for r in rows if r["borderlens_row"] == "6")
    assert zero["name"] == "Point zéro" and "zero_zero" in zero["borderlens_problems"]


def test_a_rejected_csv_sent_back_keeps_only_the_files_own_columns(
    client: TestClient, api_key: Headers, session: Session
) -> None:
    """Its borderlens_row and borderlens_problems columns were stored as the corrected rows'
    attributes, and the next rejected.csv had each of them twice."""
    headers = api_key("researcher")
    first = upload(
        client,
        headers,
        "two.csv",
        b"lat,lon,name,kind,team\n0,0,Zero,mine,A\n4.1,16.2,Good,mine,A\n",
    ).json()
    download = client.get(f"/uploads/{first['upload']['id']}/rejected.csv", headers=headers)
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    fixed = io.StringIO()
    writer = csv.DictWriter(fixed, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerow({**rows[0], "lat": "4.2", "lon": "16.3"})  # the row fixed
    writer.writerow({**rows[0], "lat": "0", "lon": "0", "name": "Still zero"})  # still wrong
    second = upload(
        client, headers, "two-fixed.csv", fixed.getvalue().encode(), corrects=first["upload"]["id"]
    ).json()
    assert second["counts"]["accepted"] == 1, second
    stored = session.execute(
        select(Observation.attributes).where(Observation.name == "Zero")
    ).scalar_one()
    assert stored == {"lat": "4.2", "lon": "16.3", "name": "Zero", "kind": "mine", "team": "A"}
    again = client.get(f"/uploads/{second['upload']['id']}/rejected.csv", headers=headers)
    header = next(csv.reader(io.StringIO(again.content.decode("utf-8-sig"))))
    assert header == ["lat", "lon", "name", "kind", "team", "borderlens_row", "borderlens_problems"]


def test_resending_stores_nothing_new(
    client: TestClient, api_key: Headers, session: Session
) -> None:
    headers = api_key("researcher")
    data = (SAMPLES / "sites.geojson").read_bytes()
    first = upload(client, headers, "sites.geojson", data)
    assert first.status_code == 201
    before = counts(session)
    again = upload(client, headers, "renamed.geojson", data)
    assert again.status_code == 200
    assert again.json()["repeat"]["upload"] == first.json()["upload"]["id"]
    assert again.json()["counts"] == first.json()["counts"]
    assert counts(session) == before


def test_two_uploads_of_one_place_make_one_site(
    client: TestClient, api_key: Headers, session: Session
) -> None:
    headers = api_key("researcher")

    def survey(name: str, lon: float, lat: float, date: str) -> bytes:
        return (
            "name,kind,longitude,latitude,visit_date,minerals\n"
            f"{name},chantier,{lon},{lat},{date},diamant\n"
        ).encode()

    first = upload(
        client, headers, "team_a.csv", survey("Chantier Bania", 16.0521, 3.8410, "2021-03-16")
    )
    second = upload(client, headers, "team_b.csv", survey("BANIA", 16.0524, 3.8412, "2023-01-10"))
    assert first.status_code == second.status_code == 201
    site = first.json()["rows"][0]["site"]
    assert second.json()["rows"][0] == {"row": 2, "outcome": "matched", "site": site}
    assert second.json()["counts"]["sites_created"] == 0
    feature = client.get(f"/collections/sites/items/{site}").json()["properties"]
    assert (feature["first_observed"], feature["last_observed"]) == ("2021-03-16", "2023-01-10")
    assert "BANIA" in feature["aliases"]
    site_id = session.execute(select(Site.id).where(Site.public_id == site)).scalar_one()
    observations = session.execute(
        select(func.count()).select_from(Observation).where(Observation.site_id == site_id)
    ).scalar_one()
    assert observations == 2


def test_a_mine_and_the_comptoir_next_door_stay_two_sites(
    client: TestClient, api_key: Headers
) -> None:
    data = (
        b"name,kind,longitude,latitude\n"
        b"Chantier Kette,chantier,14.7560,4.3150\n"
        b"Comptoir Ali,comptoir,14.7561,4.3151\n"
        b"Chantier Kette,chantier,14.7562,4.3150\n"
    )
    report = upload(client, api_key("researcher"), "two.csv", data).json()
    assert report["counts"]["sites_created"] == 2
    outcomes = [(r["outcome"], r["site"]) for r in report["rows"]]
    assert outcomes[0][1] == outcomes[2][1] != outcomes[1][1]


def test_dry_run_stores_nothing(client: TestClient, api_key: Headers, session: Session) -> None:
    before = counts(session)
    response = upload(
        client,
        api_key("researcher"),
        "sites.geojson",
        (SAMPLES / "sites.geojson").read_bytes(),
        dry_run="true",
    )
    assert response.status_code == 200
    assert response.json()["upload"]["dry_run"] is True
    assert response.json()["counts"]["sites_created"] == 5
    assert counts(session) == before


@pytest.mark.parametrize(
    ("name", "data"),
    [
        (
            "n.csv",
            b"lat,lon,name,kind,accuracy\n4.95,16.6,NegAcc,mine,-5\n4.96,16.61,Good,mine,5\n",
        ),
        (
            "n.geojson",
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "geometry": {"type": "Point", "coordinates": [16.6, 4.95]},
                            "properties": {"name": "NegAcc", "kind": "mine", "accuracy": -1},
                        },
                        {
                            "type": "Feature",
                            "geometry": {"type": "Point", "coordinates": [16.61, 4.96]},
                            "properties": {"name": "Good", "kind": "mine", "accuracy": 5},
                        },
                    ],
                }
            ).encode(),
        ),
    ],
)
def test_an_accuracy_below_zero_rejects_its_row_not_the_upload(
    client: TestClient, api_key: Headers, session: Session, name: str, data: bytes
) -> None:
    """It broke the database's rule for sites, refusing the whole upload with no row named,
    while a dry run said both rows were fine."""
    for dry_run in ("true", "false"):
        response = upload(client, api_key("researcher"), name, data, dry_run=dry_run)
        assert response.status_code in (200, 201), response.text
        report = response.json()
        assert report["counts"]["accepted"] == 1 and report["counts"]["rejected"] == 1
        assert [(i["row"], i["code"]) for i in report["issues"]] == [
            (2 if name.endswith("csv") else 1, "invalid_accuracy")
        ]
    assert session.execute(
        select(Site.name).where(Site.name.in_(["NegAcc", "Good"]))
    ).scalars().all() == ["Good"]


def test_a_nul_character_rejects_its_row_not_the_upload(
    client: TestClient, api_key: Headers
) -> None:
    """Past the head the sniffing reads, a NUL reached the database and failed the upload."""
    rows = [f"4.{i % 9},16.0{i % 7},Site {i},mine,fine".encode() for i in range(5_000)]
    rows[4_500] = b"4.4,15.9,Nul site,mine,n\x00te"
    data = b"lat,lon,name,kind,note\n" + b"\n".join(rows) + b"\n"
    response = upload(client, api_key("researcher"), "nul.csv", data)
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["counts"]["rejected"] == 1
    assert [(i["row"], i["column"], i["code"]) for i in report["issues"]] == [
        (4_502, "note", "nul_character")
    ]


def test_uploads_need_a_writer_key(client: TestClient, api_key: Headers) -> None:
    data = (SAMPLES / "sites.geojson").read_bytes()
    assert upload(client, {}, "sites.geojson", data).status_code == 401
    assert upload(client, api_key("authority"), "sites.geojson", data).status_code == 403


def test_upload_list_and_report(client: TestClient, api_key: Headers) -> None:
    headers = api_key("researcher")
    created = upload(client, headers, "sites.geojson", (SAMPLES / "sites.geojson").read_bytes())
    upload_id = created.json()["upload"]["id"]
    assert created.headers["location"].endswith(f"/uploads/{upload_id}")
    listed = client.get("/uploads", headers=headers).json()["uploads"]
    assert upload_id in [u["public_id"] for u in listed]
    report = client.get(f"/uploads/{upload_id}", headers=headers).json()
    assert report["upload"]["sha256"] == created.json()["upload"]["sha256"]
    assert client.get("/uploads/UP-NOPE", headers=headers).status_code == 404


@pytest.mark.parametrize(
    "path", sorted(SHARED_GPX.glob("*.gpx")) if SHARED_GPX.exists() else [], ids=lambda p: p.name
)
def test_real_device_gpx_files_are_read(
    app: FastAPI, client: TestClient, api_key: Headers, path: Path
) -> None:
    """Real Garmin/ExpertGPS recordings (Europe, America): read fine, rejected as outside the
    region, with a 422 that names the rows."""
    response = upload(client, api_key("researcher"), path.name, path.read_bytes(), kind="mine")
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "no_usable_rows"
    assert {e["code"] for e in problem["errors"]} == {"outside_region"}
    assert all(e["row"] >= 1 for e in problem["errors"])


# -- hostile and wrong files ------------------------------------------------------------------


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<gpx version="1.1" creator="x"><wpt lat="4.2" lon="15.7"><name>&lol3;</name></wpt></gpx>"""

HOSTILE = {
    "zip bomb": (
        "bomb.kmz",
        zip_bytes({"doc.kml": b"<kml>" + b" " * 60_000_000 + b"</kml>"}),
        (413, 422),
    ),
    "path traversal": ("evil.zip", zip_bytes({"../../etc/x.shp": b"x", "a.dbf": b"x"}), (422,)),
    "billion laughs": ("laughs.gpx", BILLION_LAUGHS, (422,)),
    "csv named gpx": ("survey.gpx", b"name,lat,lon\nx,4.2,15.7\n", (415,)),
    "zip named csv": ("survey.csv", zip_bytes({"a.txt": b"hello"}), (415,)),
    "unknown extension": ("survey.docx", b"PK\x03\x04", (415,)),
    "not json": ("survey.geojson", b"{nope", (415, 422)),
}


@pytest.mark.parametrize("case", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_files_are_refused_and_leave_no_trace(
    client: TestClient, api_key: Headers, session: Session, case: tuple[str, bytes, tuple[int]]
) -> None:
    name, data, statuses = case
    before = counts(session)
    response = upload(client, api_key("researcher"), name, data, kind="mine")
    assert response.status_code in statuses, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (
        problem["code"]
        and name.split(".")[0] in problem["detail"] + json.dumps(problem.get("errors", []))
    ) or problem["detail"]
    assert counts(session) == before


def test_declared_gigabyte_is_refused_before_reading(client: TestClient, api_key: Headers) -> None:
    headers = {
        **api_key("researcher"),
        "Content-Length": str(1024**3),
        "Content-Type": "multipart/form-data; boundary=x",
    }
    response = client.post("/uploads", content=b"--x--", headers=headers)
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


def test_file_over_the_limit_is_413(app: FastAPI, client: TestClient, api_key: Headers) -> None:
    app.state.settings = app.state.settings.model_copy(update={"upload_max_bytes": 1000})
    response = upload(client, api_key("researcher"), "big.csv", b"a,b\n" + b"1,2\n" * 1000)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_a_read_column_sharing_its_name_is_a_422_naming_file_and_column(
    client: TestClient, api_key: Headers, session: Session
) -> None:
    """Two lat columns: the second was read as 'lat (2)' and the first used, silently."""
    before = counts(session)
    data = b"name,lat,lon,lat\nMine A,4.26,15.79,5.5\n"
    response = upload(client, api_key("researcher"), "twins.csv", data, kind="mine")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "duplicate_column"
    assert problem["title"] == "Ambiguous duplicate column"
    assert problem["detail"].startswith("twins.csv: columns 2 and 4 are both named 'lat'")
    assert "latitude" in problem["detail"]
    assert problem["errors"][0]["column"] == "lat"
    assert counts(session) == before


def test_an_unread_column_sharing_its_name_is_stored_with_a_note(
    client: TestClient, api_key: Headers
) -> None:
    data = b"name,lat,lon,notes,notes\nMine A,4.26,15.79,first,second\n"
    response = upload(client, api_key("researcher"), "notes.csv", data, kind="mine")
    assert response.status_code == 201, response.text
    report = response.json()
    assert any("columns 4 and 5 are both named 'notes'" in note for note in report["notes"])
    site = report["rows"][0]["site"]
    observation = client.get(
        "/collections/observations/items", params={"site": site}, headers=api_key("admin")
    ).json()["features"][0]
    assert observation["properties"]["attributes"]["notes (2)"] == "second"
