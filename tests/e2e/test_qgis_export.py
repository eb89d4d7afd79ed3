"""QGIS 3.22 (Debian's, through ``qgis_process``) adds each collection as an OGC API - Features
layer and saves it to a GeoPackage: every feature arrives, numbers are numeric fields with the
exact values the API serves, lists and objects arrive as their JSON text.

QGIS types its fields from the first ten features, so the sites are made such that every
accuracy on the first page is whole (15.0) and later ones are not (6.5), and no site on the
first page has an alias: the two shapes that broke the export.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pyogrio
import pytest

from app import collections as registry
from app.queries import Caller
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from tests.e2e.conftest import LiveServer

QGIS_PROCESS = "qgis_process.bin"  # Debian's `qgis_process` script passes a flag it rejects
FIRST_PAGE = 10  # what QGIS 3.22 asks for (items?limit=10) to type the layer's fields
# Groups of five sites 0.008 degrees (under 1 km) apart: clusters at the default 5 km / 3 sites.
GROUP_CENTRES = ((14.6, 4.0), (15.08, 4.05), (14.9, 5.0), (15.3, 3.8))
LATER_ACCURACIES = (6.5, None, 2.25, 40.0)


def _drafts() -> list[SiteDraft]:
    points = [(lon + k * 0.008, lat) for lon, lat in GROUP_CENTRES for k in range(5)]
    points += [(14.5 + (i % 5) * 0.25, 3.6 + (i // 5) * 0.9) for i in range(10)]
    drafts = []
    for i, (lon, lat) in enumerate(points):
        first_page = i < FIRST_PAGE + 2
        drafts.append(
            SiteDraft(
                kind="mine" if i % 3 else "sales_point",
                name=f"site {i:03d}",
                lon=lon,
                lat=lat,
                minerals=["diamond"] if i % 2 else ["gold", "diamond"],
                aliases=[] if first_page or i % 3 else [f"Mbala {i}, lower", "Zone"],
                accuracy_m=15.0 if first_page else LATER_ACCURACIES[i % 4],
                attributes={"depth_m": i * 1.5, "pits": i} if i % 4 == 1 else {},
                source="qgis e2e",
            )
        )
    return drafts


@pytest.fixture(scope="module")
def served(live_server: LiveServer) -> LiveServer:
    with live_server.sessions() as session:
        state = BoundaryCache().current(session)
        assert state is not None
        create_sites(session, state, _drafts(), Caller(role="admin", name="qgis"))
    return live_server


@pytest.fixture(scope="module")
def qgis_process() -> str:
    path = shutil.which(QGIS_PROCESS)
    if path is None:
        pytest.fail("QGIS is not installed: run `borderlens setup --test` (as root)")
    return path


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=60) as response:
        document: dict[str, Any] = json.load(response)
    return document


def api_features(served: LiveServer, collection: str, query: str = "") -> dict[str, dict[str, Any]]:
    """Every feature the API serves (default profile), by id, following the next links."""
    found: dict[str, dict[str, Any]] = {}
    url: str | None = f"{served.url}/collections/{collection}/items?limit=7{query}"
    while url:
        page = _get(url)
        found |= {str(f["id"]): f["properties"] for f in page["features"]}
        url = next((x["href"] for x in page["links"] if x["rel"] == "next"), None)
    return found


def export(qgis: str, served: LiveServer, collection: str, query: str, out: Path) -> None:
    """What a QGIS user does: add the layer from the landing URL (its query is sent with
    every request), then Export > Save Features As... GeoPackage."""
    uri = f"url='{served.url}/?{query}' typename='{collection}'"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(out.parent)}
    result = subprocess.run(
        [qgis, "run", "native:savefeatures", f"--INPUT=oapif://{uri}", f"--OUTPUT={out}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


# JSON Schema type -> what GDAL must report for the saved field (pyogrio dtype prefix).
NUMERIC_DTYPES = {"number": "float", "integer": "int", "boolean": "bool"}


def assert_saved_exactly(gpkg: Path, collection: str, served_features: dict[str, Any]) -> None:
    info = pyogrio.read_info(gpkg)
    dtypes = dict(zip(info["fields"], info["dtypes"], strict=True))
    frame = pyogrio.read_dataframe(gpkg, read_geometry=False)
    assert len(frame) == len(served_features)
    rows = {row["id"]: row for row in frame.to_dict("records")}
    assert set(rows) == set(served_features), "every feature, under its own id"
    declared = registry.get(collection).schema()
    served_names = {name for props in served_features.values() for name in props}
    assert served_names <= set(dtypes), "every served property is a field"
    for name in served_names:
        json_type = declared[name].get("type")
        if json_type in NUMERIC_DTYPES:
            assert dtypes[name].startswith(NUMERIC_DTYPES[json_type]), (
                f"{collection}.{name} saved as {dtypes[name]}"
            )
        for feature_id, props in served_features.items():
            saved, want = rows[feature_id][name], props[name]
            if want is None:
                assert saved is None or (isinstance(saved, float) and math.isnan(saved))
            elif json_type in ("array", "object"):
                assert json.loads(saved) == want, f"{collection}.{name} of {feature_id}"
            elif "format" not in declared[name]:
                assert saved == want, f"{collection}.{name} of {feature_id}: {saved!r}"


def test_the_data_has_the_shapes_that_broke_the_export(served: LiveServer) -> None:
    first = _get(f"{served.url}/collections/sites/items?limit={FIRST_PAGE}")["features"]
    assert {f["properties"]["accuracy_m"] for f in first} == {15.0}
    assert all(f["properties"]["aliases"] == [] for f in first)
    everything = api_features(served, "sites").values()
    assert 6.5 in {p["accuracy_m"] for p in everything}
    assert any(p["aliases"] for p in everything)
    assert api_features(served, "clusters"), "the grouped sites form clusters"


@pytest.mark.parametrize("collection", ["sites", "borders", "clusters"])
def test_qgis_saves_the_collection_to_geopackage(
    served: LiveServer, qgis_process: str, tmp_path: Path, collection: str
) -> None:
    out = tmp_path / f"{collection}.gpkg"
    export(qgis_process, served, collection, "", out)  # QGIS gets the flat profile unasked
    assert_saved_exactly(out, collection, api_features(served, collection))


def test_qgis_saves_a_filtered_layer_as_the_readme_says(
    served: LiveServer, qgis_process: str, tmp_path: Path
) -> None:
    """The README's QGIS recipe: the landing URL with the filter in its query (and, for another
    tabular client, ``profile=flat`` asked for explicitly gives the same)."""
    query = "border=CAF-CMR&within_km=25"
    out = tmp_path / "near.gpkg"
    export(qgis_process, served, "sites", query, out)
    wanted = api_features(served, "sites", "&border=CAF-CMR&within_km=25")
    assert wanted, "some sites lie within 25 km of CAF-CMR"
    assert len(wanted) < len(api_features(served, "sites")), "the filter filters"
    assert_saved_exactly(out, "sites", wanted)
