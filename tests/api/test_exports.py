"""Exports of items queries: each format, read back by GDAL, equals the GeoJSON of the query.

Every export is opened with pyogrio (real GDAL) and compared feature by feature with the
GeoJSON pages of the same query: the same ids, coordinates, and every property (lists and
objects come back as their JSON text). Filters apply; restricted values follow the caller;
text cells of CSV/XLSX are neutralised against formula injection; every file carries its
provenance where the format allows, and every response in its headers.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import collections as registry
from app.collections.base import ReadContext
from app.csv_safe import FORMULA_TRIGGERS, is_plain_number
from app.errors import Unprocessable
from app.queries import Caller, FeatureQuery
from app.services import exports
from app.services.sites import SiteDraft
from tests.api.test_items import add_sites

# A creation option a driver ignores would silently drop the provenance: make it fail.
pytestmark = pytest.mark.filterwarnings("error:.*does not support .*option")

URL = "/collections/sites/items"
FORMATS = ("csv", "kml", "gpkg", "fgb", "shp", "xlsx")
SPREADSHEETS = ("csv", "xlsx")
#: Text a spreadsheet would execute, and look-alikes that must stay as they are.
TRICKY = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2.5", "Béka"]


def drafts() -> list[SiteDraft]:
    """Sites on both sides of the CAR-Cameroon border (about 15.6E at 5-6N) and far away."""
    out = []
    for i in range(24):
        near = i % 3 != 0
        lon = (14.9 + (i % 6) * 0.25) if near else (21.0 + (i % 6) * 0.3)
        lat = 5.0 + (i // 6) * 0.3
        out.append(
            SiteDraft(
                kind="mine" if i % 2 == 0 else "sales_point",
                name=TRICKY[i % len(TRICKY)] + f" {i}" if i % 4 else TRICKY[i % len(TRICKY)],
                lon=lon,
                lat=lat,
                minerals=["diamond", "gold"][: 1 + i % 2],
                aliases=[f"alias {i}", "=1+1"] if i % 3 == 1 else [],
                accuracy_m=5.0 + i if i % 2 else None,
                source="survey 2026",
                attributes={"team": f"t{i % 3}", "n": i},
                restricted={"owner": f"=owner {i}"} if i % 2 == 0 else {},
            )
        )
    return out


def geojson(
    client: TestClient, params: dict[str, str], headers: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Every feature of the query (following next links), by id."""
    features: dict[str, dict[str, Any]] = {}
    body = client.get(URL, params={**params, "limit": "7"}, headers=headers).json()
    while True:
        features.update({f["id"]: f for f in body["features"]})
        nxt = next((x for x in body["links"] if x["rel"] == "next"), None)
        if nxt is None:
            return features
        body = client.get(nxt["href"], headers=headers).json()


def read_back(content: bytes, fmt: str, tmp_path: Path) -> list[dict[str, Any]]:
    """The export's rows as GDAL reads them: properties plus ``_lon``/``_lat``."""
    fields: dict[str, str] = {}
    if fmt == "shp":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            archive.extractall(tmp_path / "shp")
        path = next((tmp_path / "shp").glob("*.shp"))
        fields = json.loads((tmp_path / "shp" / "provenance.json").read_text())["fields"]
    else:
        path = tmp_path / f"export.{fmt}"
        path.write_bytes(content)
    if fmt in SPREADSHEETS:  # located by lon/lat columns, checked against the WKT
        options = {"X_POSSIBLE_NAMES": "lon", "Y_POSSIBLE_NAMES": "lat"} if fmt == "csv" else {}
        layer = "sites" if fmt == "xlsx" else None
        frame = pyogrio.read_dataframe(path, layer=layer, read_geometry=False, **options)
        records = frame.to_dict("records")
        for record in records:
            lon, lat = float(record.pop("lon")), float(record.pop("lat"))
            assert shapely.equals(shapely.from_wkt(record.pop("wkt")), shapely.Point(lon, lat))
            record["_lon"], record["_lat"] = lon, lat
        return records
    frame = pyogrio.read_dataframe(path, layer="sites" if fmt != "shp" else None)
    rows = []
    for record, shape in zip(
        frame.drop(columns="geometry").to_dict("records"), frame.geometry, strict=True
    ):
        record["_lon"], record["_lat"] = shape.x, shape.y
        if fmt == "shp":  # dBase shortens names to 10 characters: provenance.json names them
            record = {fields.get(k, k): v for k, v in record.items()}
        if fmt == "kml":  # LIBKML writes `name` as the Placemark's <name>, read back as Name
            record["name"] = record.pop("Name")
            record["id"] = record.pop("feature_id")  # KML's own id is the Placemark's
        rows.append(record)
    return rows


def empty(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def same_value(exported: object, expected: object, fmt: str) -> bool:
    """Whether a cell read back by GDAL holds the GeoJSON property value."""
    if expected is None or expected == [] or expected == {}:
        return empty(exported) or exported in ("[]", "{}")
    if isinstance(expected, bool):
        return str(exported).lower() in (str(expected).lower(), "1" if expected else "0")
    if isinstance(expected, int | float):
        return exported is not None and math.isclose(float(str(exported)), expected, rel_tol=1e-9)
    text = expected if isinstance(expected, str) else None
    if text is None:  # lists and objects travel as JSON text
        return isinstance(exported, str) and json.loads(exported.lstrip("'")) == expected
    if (
        fmt in SPREADSHEETS
        and text.lstrip(" ")[:1] in FORMULA_TRIGGERS
        and not is_plain_number(text)
    ):
        return exported == "'" + text
    return str(exported) == text


def check_same_features(
    rows: list[dict[str, Any]], features: dict[str, dict[str, Any]], fmt: str
) -> None:
    by_id = {str(row["id"]): row for row in rows}
    assert sorted(by_id) == sorted(features)
    names = [k for k in rows[0] if not k.startswith("_")]
    for fid, feature in features.items():
        row = by_id[fid]
        lon, lat = feature["geometry"]["coordinates"]
        assert math.isclose(row["_lon"], lon, abs_tol=1e-9)
        assert math.isclose(row["_lat"], lat, abs_tol=1e-9)
        properties = feature["properties"]
        for name, value in properties.items():
            assert name in names, (fmt, name)
            assert same_value(row[name], value, fmt), (fmt, name, row[name], value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_equals_the_geojson_of_the_same_query(
    client: TestClient,
    session: Session,
    api_key: Callable[..., dict[str, str]],
    tmp_path: Path,
    fmt: str,
) -> None:
    add_sites(session, drafts())
    admin = api_key("admin")
    params = {"border": "CAF-CMR", "within_km": "300", "kind": "mine"}
    features = geojson(client, params, admin)
    everything = geojson(client, {}, admin)
    assert 0 < len(features) < len(everything)  # the filters select
    response = client.get(URL, params={**params, "f": fmt}, headers=admin)
    assert response.status_code == 200, response.text
    extension = "zip" if fmt == "shp" else fmt
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert disposition == f'attachment; filename="borderlens-sites-{today}.{extension}"'
    provenance = json.loads(response.headers["x-borderlens-provenance"])
    assert provenance["query"] == "border=CAF-CMR&within_km=300&kind=mine"
    assert provenance["boundary_source"]["version"]
    assert int(response.headers["x-borderlens-features"]) == len(features)
    check_same_features(read_back(response.content, fmt, tmp_path), features, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_restricted_values_only_for_callers_who_may_see_them(
    client: TestClient,
    session: Session,
    api_key: Callable[..., dict[str, str]],
    tmp_path: Path,
    fmt: str,
) -> None:
    add_sites(session, drafts())
    anonymous = client.get(URL, params={"f": fmt})
    admin = client.get(URL, params={"f": fmt}, headers=api_key("admin"))
    assert anonymous.status_code == admin.status_code == 200

    def owners(content: bytes, folder: str) -> list[object]:
        (tmp_path / folder).mkdir()
        rows = read_back(content, fmt, tmp_path / folder)
        return [row.get("restricted") for row in rows]

    assert all(empty(v) for v in owners(anonymous.content, "anonymous"))
    seen = [v for v in owners(admin.content, "admin") if not empty(v) and v != "{}"]
    assert len(seen) == 12 and all("owner" in str(v) for v in seen)


@pytest.mark.parametrize("fmt", SPREADSHEETS)
def test_formula_cells_are_neutralised(
    client: TestClient, session: Session, tmp_path: Path, fmt: str
) -> None:
    add_sites(session, drafts())
    rows = read_back(client.get(URL, params={"f": fmt}).content, fmt, tmp_path)
    texts = [v for row in rows for v in row.values() if isinstance(v, str)]
    executable = [
        t for t in texts if t.lstrip(" ")[:1] in FORMULA_TRIGGERS and not is_plain_number(t)
    ]
    assert executable == []
    assert any(t.startswith("'=HYPERLINK") for t in texts)
    assert any(t.startswith("-2.5") for t in texts)  # a number-looking name stays as typed


def test_provenance_inside_each_file(client: TestClient, session: Session, tmp_path: Path) -> None:
    add_sites(session, drafts())

    def get(fmt: str) -> bytes:
        response = client.get(URL, params={"f": fmt, "kind": "mine"})
        assert response.status_code == 200
        return response.content

    (tmp_path / "x.gpkg").write_bytes(get("gpkg"))
    info = pyogrio.read_info(tmp_path / "x.gpkg", layer="sites")
    gpkg = json.loads(info["layer_metadata"]["DESCRIPTION"])
    assert gpkg["query"] == "kind=mine" and gpkg["boundary_source"]["version"]
    with zipfile.ZipFile(io.BytesIO(get("shp"))) as archive:
        assert json.loads(archive.read("provenance.json"))["query"] == "kind=mine"
    (tmp_path / "x.xlsx").write_bytes(get("xlsx"))
    # An all-text sheet: GDAL reads its header row as data (Field1, Field2).
    sheet = pyogrio.read_dataframe(tmp_path / "x.xlsx", layer="provenance").values.tolist()
    assert sheet[0] == ["key", "value"]
    assert dict(sheet[1:])["query"] == "kind=mine"
    kml = ElementTree.fromstring(get("kml"))
    described = kml.find("k:Document/k:description", {"k": "http://www.opengis.net/kml/2.2"})
    assert described is not None and json.loads(str(described.text))["query"] == "kind=mine"
    (tmp_path / "x.fgb").write_bytes(get("fgb"))
    fgb = pyogrio.read_info(tmp_path / "x.fgb")
    assert "kind=mine" in json.dumps(fgb["layer_metadata"])


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        ("text/csv", "text/csv"),
        ("application/vnd.google-earth.kml+xml", "application/vnd.google-earth.kml+xml"),
        ("application/geopackage+sqlite3", "application/geopackage+sqlite3"),
        ("application/flatgeobuf", "application/flatgeobuf"),
        ("application/x-shapefile", "application/zip"),
        ("application/zip", "application/zip"),
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("application/json", "application/geo+json"),
        ("application/geo+json", "application/geo+json"),
        ("*/*", "application/geo+json"),
        ("text/csv;q=0.5, application/geo+json", "application/geo+json"),
        ("application/geo+json;q=0.2, text/csv", "text/csv"),
    ],
)
def test_accept_chooses_the_format_and_json_stays_the_default(
    client: TestClient, session: Session, accept: str, media: str
) -> None:
    add_sites(session, drafts()[:3])
    response = client.get(URL, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media
    assert client.get(URL).headers["content-type"] == "application/geo+json"


@pytest.mark.parametrize("name", ["limit", "cursor"])
def test_paging_parameters_are_refused_with_an_export(client: TestClient, name: str) -> None:
    value = "10" if name == "limit" else "eyJrIjpbMV0sImIiOmZhbHNlLCJuIjpudWxsfQ"
    response = client.get(URL, params={"f": "csv", name: value})
    assert response.status_code == 400
    assert name in response.text


def test_openapi_lists_the_export_formats(client: TestClient) -> None:
    document = client.get("/api").json()
    text = json.dumps(document)
    for fmt in FORMATS:
        assert f'"{fmt}"' in text
    assert "application/flatgeobuf" in text


def test_an_xlsx_larger_than_a_sheet_is_refused_before_writing(session: Session) -> None:
    add_sites(session, drafts())
    ctx = ReadContext(session, Caller(role="admin"), "http://testserver")
    sites = registry.get("sites")
    xlsx = exports.FORMATS["xlsx"]
    with pytest.raises(Unprocessable) as refused:
        exports.write_export(ctx, sites, FeatureQuery(), xlsx, "", xlsx_max_features=23)
    assert refused.value.code == "export_too_large"
    written = exports.write_export(ctx, sites, FeatureQuery(), xlsx, "", xlsx_max_features=24)
    try:
        assert written.features == 24 and written.path.exists()
    finally:
        written.close()
    assert not written.directory.exists()
