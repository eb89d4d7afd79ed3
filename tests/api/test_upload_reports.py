"""An upload's report stays bounded whatever the file (rel-08), and its rejected rows come back
as a CSV that is safe to open in a spreadsheet (rel-07).

The families: absurd shapes (too many columns, in every format that has columns) are refused
before the rows are read with a 413 that says why; a file with many rejected rows keeps its
totals per code, a bounded sample of issues and every rejected row in rejected.csv; the stored
report does not grow with the number of columns nor with the length of a bad cell; every text
cell of rejected.csv that a spreadsheet would execute comes back as text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.csv_safe import FORMULA_TRIGGERS, is_plain_number
from app.db.models import Observation, Site, Upload
from app.services.upload_report import MESSAGE_CHARS
from bench.bench_upload_memory import rejected_heavy_csv, wide_csv
from tests.conftest import SHARED

Headers = Callable[..., dict[str, str]]
RELAXED_REGION = {"region_countries": ["CAF", "CMR", "COD", "COG", "TCD"]}


def counts(session: Session) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        session.execute(select(func.count()).select_from(model)).scalar_one()
        for model in (Upload, Site, Observation)
    )


def post(client: TestClient, headers: dict[str, str], name: str, data: bytes, **fields: Any) -> Any:
    return client.post("/uploads", files={"file": (name, data)}, data=fields, headers=headers)


def rejected_csv(client: TestClient, headers: dict[str, str], upload_id: str) -> list[list[str]]:
    response = client.get(f"/uploads/{upload_id}/rejected.csv", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


# -- absurd shapes are refused early ------------------------------------------------------------


def test_field_case_rel08_is_refused_fast_with_a_clear_code(
    client: TestClient, api_key: Headers, session: Session
) -> None:
    """The case's own input, rebuilt: 10 000 columns, 2 000 bad rows, 40 MB."""
    before = counts(session)
    data = wide_csv(columns=10_000, bad_rows=2_000)
    assert len(data) > 40_000_000
    response = post(client, api_key("researcher"), "wide.csv", data)
    assert response.status_code == 413, response.text
    problem = response.json()
    assert problem["code"] == "too_many_columns"
    assert "10,000 columns" in problem["detail"] and "1,000" in problem["detail"]
    assert counts(session) == before


def _geojson(properties: int) -> bytes:
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [16.71, 4.71]},
        "properties": {"name": "Chantier", "kind": "mine"}
        | {f"p{i}": "v" for i in range(properties - 2)},
    }
    return json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()


WIDE_FILES: dict[str, Callable[[int], tuple[str, bytes]]] = {
    "csv": lambda n: ("wide.csv", wide_csv(columns=n, bad_rows=3)),
    "csv semicolons": lambda n: (
        "wide.csv",
        wide_csv(columns=n, bad_rows=3).replace(b",", b";"),
    ),
    "geojson": lambda n: ("wide.geojson", _geojson(n)),
}


@pytest.mark.parametrize("make", WIDE_FILES.values(), ids=WIDE_FILES.keys())
def test_one_column_over_the_limit_is_refused_and_the_limit_is_accepted(
    app: FastAPI, client: TestClient, api_key: Headers, make: Callable[[int], tuple[str, bytes]]
) -> None:
    limit = 40
    app.state.settings = app.state.settings.model_copy(update={"upload_max_columns": limit})
    headers = api_key("researcher")
    name, data = make(limit + 1)
    refused = post(client, headers, name, data)
    assert refused.status_code == 413, refused.text
    assert refused.json()["code"] == "too_many_columns"
    name, data = make(limit)
    assert post(client, headers, name, data).status_code == 201


# -- many rejected rows: bounded report, every row in rejected.csv ---------------------------


def test_many_rejected_rows_keep_totals_a_sample_and_every_row(
    app: FastAPI, client: TestClient, api_key: Headers, session: Session
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"upload_report_max_issues": 50})
    headers = api_key("researcher")
    rows = 1_500
    response = post(client, headers, "heavy.csv", rejected_heavy_csv(rows, good_every=100))
    assert response.status_code == 201, response.text
    report = response.json()
    good = len(range(0, rows, 100))
    assert report["counts"]["accepted"] == good
    assert report["counts"]["rejected"] == rows - good
    assert len(report["issues"]) == 50
    assert report["issues_truncated"] is True
    assert report["issues_total"] == 2 * (rows - good)  # lat and lon of each bad row
    assert report["issue_counts"] == {"unparseable_coordinate": {"error": 2 * (rows - good)}}
    assert any("issue_counts" in note for note in report["notes"])
    assert "rejected" not in report  # the values live in rejected.csv only
    for issue in report["issues"]:
        assert set(issue) == {"row", "column", "code", "message", "severity"}
    stored = client.get(f"/uploads/{report['upload']['id']}", headers=headers).json()
    assert stored["issue_counts"] == report["issue_counts"]

    table = rejected_csv(client, headers, report["upload"]["id"])
    header, body = table[0], table[1:]
    assert header[:4] == ["name", "lat", "lon", "kind"]
    assert header[-2:] == ["borderlens_row", "borderlens_problems"]
    assert len(body) == rows - good
    listed = [r for r in report["rows"] if r["outcome"] == "rejected"]
    assert len(listed) == 50 and report["rows_truncated"] is True
    accepted = {r["row"] for r in report["rows"] if r["outcome"] != "rejected"}
    assert len(accepted) == good
    every_row = set(range(2, rows + 2))
    assert {int(line[-2]) for line in body} == every_row - accepted
    assert {r["row"] for r in listed} <= every_row - accepted
    first = body[0]
    assert first[:3] == ["Site 1", "lat?1", "lon?1"]
    assert first[-1].count("unparseable_coordinate") == 2


def _stored_report_bytes(session: Session, upload_id: str) -> int:
    return int(
        session.execute(
            text("SELECT octet_length(report::text) FROM uploads WHERE public_id = :id"),
            {"id": upload_id},
        ).scalar_one()
    )


@pytest.mark.parametrize(
    "wider",
    [
        pytest.param(lambda data: data, id="same file"),
        pytest.param(lambda data: wide_csv(columns=900, bad_rows=40), id="900 columns"),
        pytest.param(
            # under the csv module's 128 kB field limit (longer fields are the readers' kind)
            lambda data: data.replace(b",x,y,", b",x" + b"9" * 100_000 + b",y,", 40),
            id="100 kB cells",
        ),
    ],
)
def test_stored_report_does_not_grow_with_the_file(
    app: FastAPI,
    client: TestClient,
    api_key: Headers,
    session: Session,
    wider: Callable[[bytes], bytes],
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"upload_report_max_issues": 20})
    headers = api_key("researcher")
    base = wide_csv(columns=10, bad_rows=40)
    small = post(client, headers, "narrow.csv", base).json()["upload"]["id"]
    data = wider(base)
    if data == base:
        data = base.replace(b"Chantier amp", b"Chantier bis")
    large = post(client, headers, "wide.csv", data)
    assert large.status_code == 201, large.text
    report = large.json()
    assert all(len(issue["message"]) <= MESSAGE_CHARS for issue in report["issues"])
    baseline = _stored_report_bytes(session, small)
    # At most the listed issues' messages grow (each cut at MESSAGE_CHARS), nothing else.
    growth = _stored_report_bytes(session, report["upload"]["id"]) - baseline
    assert growth < 20 * MESSAGE_CHARS + 500


def test_no_rejected_rows_give_a_header_only_csv(client: TestClient, api_key: Headers) -> None:
    headers = api_key("researcher")
    data = b"name,lat,lon,kind\nChantier seul,4.71,16.71,mine\n"
    upload_id = post(client, headers, "clean.csv", data).json()["upload"]["id"]
    assert rejected_csv(client, headers, upload_id) == [["borderlens_row", "borderlens_problems"]]


def test_database_limits_are_not_reported_as_unavailable(session: Session) -> None:
    """A value beyond a PostgreSQL limit is the request's fault (413), never a 503."""
    from app.db.errors import translate_db_errors
    from app.errors import PayloadTooLarge

    with pytest.raises(PayloadTooLarge) as raised, session.begin_nested(), translate_db_errors():
        session.execute(text("SELECT array_fill(0, ARRAY[200000000])"))
    assert raised.value.code == "too_large_to_store"


# -- formula injection ----------------------------------------------------------------------


FORMULAS = [
    '=HYPERLINK("http://evil.example/y","fix me")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
    " =1+1",
    "\uff1d1+1",
]


def _is_live_formula(cell: str) -> bool:
    if cell[:1] in ("\t", "\r", "\n"):
        return True
    first = cell.lstrip(" ")[:1]
    return first in FORMULA_TRIGGERS and not is_plain_number(cell.strip(" "))


def test_field_case_rel07_rejected_csv_carries_no_formula(
    client: TestClient, api_key: Headers
) -> None:
    """The case's own file (rebuilt inline), then its checks as assertions."""
    data = (
        b"name,lat,lon,kind,mineral,notes\n"
        b'"=HYPERLINK(""http://evil.example/x"",""click"")",4.311,15.811,mine,diamant,"=1+1"\n'
        b'"=HYPERLINK(""http://evil.example/y"",""fix me"")",not-a-lat,15.82,mine,diamant,'
        b"\"+cmd|' /C calc'!A0\"\n"
        b'"@SUM(1+1)",4.33,abc,mine,or,"-2+3"\n'
        b"Chantier ok,4.341,15.841,mine,or,plain\n"
    )
    headers = api_key("researcher")
    upload_id = post(client, headers, "formula.csv", data).json()["upload"]["id"]
    table = rejected_csv(client, headers, upload_id)
    assert [line[-2] for line in table[1:]] == ["3", "4"]
    assert table[1][0] == "'" + '=HYPERLINK("http://evil.example/y","fix me")'
    assert table[1][5] == "'+cmd|' /C calc'!A0"
    assert table[2][0] == "'@SUM(1+1)" and table[2][5] == "'-2+3"
    assert not any(_is_live_formula(cell) for line in table for cell in line)


def _family_csv() -> tuple[str, bytes, list[str]]:
    # A CR inside a quoted CSV cell is the readers' kind (it breaks the delimiter sniffing);
    # the GeoJSON file below carries that member through the same writer.
    formulas = [f for f in FORMULAS if "\r" not in f]
    lines = [",".join(["name", "lat", "lon", "kind", "=evil header", "depth_m", "note"])]
    for i, formula in enumerate(formulas):
        quoted = '"' + formula.replace('"', '""') + '"'
        # bad latitude: rejected; the numbers in other columns must come back unchanged
        lines.append(f"{quoted},north,16.{i},mine,x,-2.5,{quoted}")
    lines.append("Chantier ok,4.71,16.71,mine,x,-12,plain")
    return "family.csv", "\n".join(lines).encode(), formulas


def _family_geojson() -> tuple[str, bytes, list[str]]:
    def feature(name: str, lon: float, lat: float, note: str) -> dict[str, Any]:
        properties = {"name": name, "kind": "mine", "=evil header": "x", "depth_m": -2.5}
        return {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": properties | {"note": note},
        }

    # (0, 0) is rejected as the null island; the good one keeps the upload going
    features = [feature(f, 0.0, 0.0, f) for f in FORMULAS]
    features.append(feature("Chantier ok", 16.71, 4.71, "plain"))
    data = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    return "family.geojson", data, FORMULAS


@pytest.mark.parametrize("make", [_family_csv, _family_geojson], ids=["csv", "geojson"])
def test_every_formula_family_member_is_neutralised_numbers_are_not(
    client: TestClient, api_key: Headers, make: Callable[[], tuple[str, bytes, list[str]]]
) -> None:
    name, data, formulas = make()
    headers = api_key("researcher")
    response = post(client, headers, name, data)
    assert response.status_code == 201, response.text
    table = rejected_csv(client, headers, response.json()["upload"]["id"])
    header, body = table[0], table[1:]
    assert "'=evil header" in header and "=evil header" not in header
    assert len(body) == len(formulas)
    column = {name: header.index(name) for name in ("name", "note", "depth_m")}
    for line, formula in zip(body, formulas, strict=True):
        assert line[column["name"]] == line[column["note"]] == "'" + formula
        assert line[column["depth_m"]] == "-2.5"
    assert not any(_is_live_formula(cell) for line in table for cell in line)


@pytest.mark.skipif(not SHARED.exists(), reason="the shared field cases are not beside the repo")
def test_field_case_rel07_input_in_place(client: TestClient, api_key: Headers) -> None:
    path = SHARED / "cases" / "rel-07-rejected-csv-formula-injection" / "formula.csv"
    headers = api_key("researcher")
    upload_id = post(client, headers, path.name, path.read_bytes()).json()["upload"]["id"]
    table = rejected_csv(client, headers, upload_id)
    assert len(table) == 3
    assert not any(_is_live_formula(cell) for line in table for cell in line)


# -- a CSV's content is not lost or garbled silently --------------------------------------------


def test_an_unclosed_quote_rejects_its_row_and_rejected_csv_holds_it(
    client: TestClient, api_key: Headers
) -> None:
    """The quote swallowed every following row into one value; the upload said nothing."""
    data = (
        b"id,name,lon,lat,kind\n1,Bele,16.0,4.0,mine\n2,Ngoto,16.05,4.1,mine\n"
        b'3,"Kambi,16.1,4.2,mine\n4,Zanga,16.2,4.3,mine\n5,Nola,16.3,4.4,mine\n'
    )
    headers = api_key("researcher")
    report = post(client, headers, "quote.csv", data).json()
    assert report["counts"]["rows"] == 5 and report["counts"]["rejected"] == 1
    assert [(i["row"], i["column"], i["code"]) for i in report["issues"]] == [
        (4, "name", "unclosed_quote")
    ]
    table = rejected_csv(client, headers, report["upload"]["id"])
    assert table[0][:5] == ["id", "name", "lon", "lat", "kind"]
    assert table[1][:6] == ["3", '"Kambi', "16.1", "4.2", "mine", "4"]


def test_a_malformed_row_keeps_its_values_in_rejected_csv(
    client: TestClient, api_key: Headers
) -> None:
    data = b"name,lat,lon,kind\nComptoir Zongo, Beach,4.33,18.6,mine\nB,4.5,18.5,mine\n"
    headers = api_key("researcher")
    report = post(client, headers, "ragged.csv", data).json()
    table = rejected_csv(client, headers, report["upload"]["id"])
    assert table[0] == ["name", "lat", "lon", "kind", "column_5", "borderlens_row",
                        "borderlens_problems"]  # fmt: skip
    assert table[1][:6] == ["Comptoir Zongo", " Beach", "4.33", "18.6", "mine", "2"]
    assert "malformed_row" in table[1][6]


def test_a_few_stray_bytes_do_not_garble_a_utf8_csv(
    client: TestClient, api_key: Headers, session: Session
) -> None:
    data = (
        "\ufeffname,lat,lon,kind\nBélé,4.3,18.5,mine\n".encode()
        + "Bétaré,4.31,18.51,mine\n".encode("cp1252")
    )
    headers = api_key("researcher")
    report = post(client, headers, "mixed.csv", data).json()
    assert report["upload"]["encoding"] == "UTF-8"
    assert [(i["row"], i["column"], i["code"]) for i in report["issues"]] == [
        (3, "name", "mixed_encoding")
    ]
    assert session.execute(select(Site.name)).scalars().all() == ["Bélé"]
    table = rejected_csv(client, headers, report["upload"]["id"])
    assert table[1][:2] == ["Bétaré", "4.31"]
