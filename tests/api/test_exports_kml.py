"""The KML export against the rules Google Earth holds a file to (OGC KML 2.2, 07-147r2):
read back by GDAL's LIBKML driver (libkml, Google's own KML library) feature for feature, and
checked element by element: the KML 2.2 namespace, one ``Document``, every ``schemaUrl``
resolving to a ``Schema`` declared before it is used with KML's own field types, unique
Placemark ids that are XML NCNames, children in the order of the KML 2.2 schema, and
coordinates written ``lon,lat`` in range and equal to the GeoJSON of the same query.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import pyogrio
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.api.test_exports import URL, drafts, geojson
from tests.api.test_items import add_sites

KML = "{http://www.opengis.net/kml/2.2}"
#: SimpleField types of KML 2.2 (kml:SimpleField/@type).
FIELD_TYPES = {"string", "int", "uint", "short", "ushort", "float", "double", "bool"}
#: The order of a Placemark's children (kml:AbstractFeatureGroup, then the geometry).
PLACEMARK_ORDER = (
    "name",
    "visibility",
    "open",
    "address",
    "phoneNumber",
    "Snippet",
    "description",
    "LookAt",
    "Camera",
    "TimeStamp",
    "TimeSpan",
    "styleUrl",
    "Style",
    "StyleMap",
    "Region",
    "ExtendedData",
    "Point",
    "LineString",
    "Polygon",
    "MultiGeometry",
)
NCNAME = re.compile(r"^[A-Za-z_][\w.\-]*$")


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def test_kml_keeps_the_kml_2_2_rules_and_libkml_reads_it_back(
    client: TestClient, session: Session, api_key: Callable[..., dict[str, str]], tmp_path: Path
) -> None:
    add_sites(session, drafts())
    admin = api_key("admin")
    params = {"border": "CAF-CMR", "within_km": "300"}
    features = geojson(client, params, admin)
    response = client.get(URL, params={**params, "f": "kml"}, headers=admin)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.google-earth.kml+xml"
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{KML}kml", "the KML 2.2 namespace"
    documents = root.findall(f"{KML}Document")
    assert len(documents) == 1

    schemas: dict[str, set[str]] = {}
    placemarks = []
    ids: set[str] = set()
    for element in documents[0].iter():
        name = local(element.tag)
        if name == "Schema":
            assert NCNAME.match(element.get("id", "")), "a Schema has an id"
            fields = element.findall(f"{KML}SimpleField")
            assert all(f.get("type") in FIELD_TYPES for f in fields), "KML's own field types"
            schemas[element.get("id", "")] = {str(f.get("name")) for f in fields}
        elif name == "Placemark":
            placemarks.append(element)
            placemark_id = element.get("id")
            if placemark_id is not None:
                assert NCNAME.match(placemark_id) and placemark_id not in ids
                ids.add(placemark_id)
            order = [local(child.tag) for child in element]
            assert all(tag in PLACEMARK_ORDER for tag in order), order
            ranks = [PLACEMARK_ORDER.index(tag) for tag in order]
            assert ranks == sorted(ranks), f"children out of the KML 2.2 order: {order}"
            for data in element.iter(f"{KML}SchemaData"):
                url = str(data.get("schemaUrl"))
                assert url.startswith("#") and url[1:] in schemas, "declared before use"
                names = {str(d.get("name")) for d in data.findall(f"{KML}SimpleData")}
                assert names <= schemas[url[1:]]
    assert len(placemarks) == len(features)

    by_id: dict[str, tuple[float, float]] = {}
    for placemark in placemarks:
        text = placemark.findtext(f"{KML}Point/{KML}coordinates") or ""
        parts = [float(v) for v in text.strip().split(",")]
        assert len(parts) in (2, 3) and " " not in text.strip(), "one lon,lat[,alt] tuple"
        lon, lat = parts[:2]
        assert -180 <= lon <= 180 and -90 <= lat <= 90
        fid = next(
            d.text
            for d in placemark.iter(f"{KML}SimpleData")
            if d.get("name") == "feature_id" and d.text
        )
        by_id[fid] = (lon, lat)
    assert set(by_id) == set(features)
    for fid, (lon, lat) in by_id.items():
        want = features[fid]["geometry"]["coordinates"]
        assert math.isclose(lon, want[0], abs_tol=1e-9) and math.isclose(lat, want[1], abs_tol=1e-9)

    path = tmp_path / "sites.kml"
    path.write_bytes(response.content)
    assert pyogrio.read_info(path, layer="sites")["driver"] == "LIBKML", "libkml reads it"
    frame = pyogrio.read_dataframe(path, layer="sites")
    assert sorted(frame["feature_id"]) == sorted(features)
    assert sorted(frame["Name"]) == sorted(f["properties"]["name"] for f in features.values())


UTM_33N = "http://www.opengis.net/def/crs/EPSG/0/32633"


def test_exports_in_another_crs_where_the_format_records_it(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    """``crs=`` (Part 2): GeoPackage, FlatGeobuf and Shapefile are written in that CRS with the
    coordinates the GeoJSON of the same query has; formats bound to lon/lat refuse it."""
    add_sites(session, drafts())
    params = {"kind": "mine", "crs": UTM_33N}
    served = geojson(client, params, {})
    assert served
    for fmt in ("gpkg", "fgb", "shp"):
        response = client.get(URL, params={**params, "f": fmt})
        assert response.status_code == 200, response.text
        folder = tmp_path / fmt
        folder.mkdir()
        if fmt == "shp":
            zipfile.ZipFile(io.BytesIO(response.content)).extractall(folder)
            path = next(folder.glob("*.shp"))
        else:
            path = folder / f"x.{fmt}"
            path.write_bytes(response.content)
        info = pyogrio.read_info(path)
        assert info["crs"] == "EPSG:32633", fmt
        frame = pyogrio.read_dataframe(path)
        ids = frame["id"].tolist()
        assert sorted(ids) == sorted(served)
        for fid, shape in zip(ids, frame.geometry, strict=True):
            x, y = served[fid]["geometry"]["coordinates"]
            assert math.isclose(shape.x, x, abs_tol=1e-3) and math.isclose(shape.y, y, abs_tol=1e-3)
    for fmt in ("csv", "kml", "xlsx"):
        refused = client.get(URL, params={**params, "f": fmt})
        assert refused.status_code == 400 and "crs" in refused.json()["detail"]
    # EPSG:4326 is latitude first in GeoJSON; in a GeoPackage GDAL keeps lon/lat.
    lonlat = geojson(client, {"kind": "mine"}, {})
    response = client.get(
        URL, params={"kind": "mine", "f": "gpkg", "crs": UTM_33N.replace("32633", "4326")}
    )
    assert response.status_code == 200
    (tmp_path / "ll.gpkg").write_bytes(response.content)
    frame = pyogrio.read_dataframe(tmp_path / "ll.gpkg")
    for fid, shape in zip(frame["id"], frame.geometry, strict=True):
        lon, lat = lonlat[fid]["geometry"]["coordinates"]
        assert math.isclose(shape.x, lon, abs_tol=1e-9) and math.isclose(shape.y, lat, abs_tol=1e-9)
