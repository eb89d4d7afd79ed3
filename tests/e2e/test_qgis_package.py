"""QGIS (Debian's QGIS 3.22, its own Python API run by the system Python, as QGIS's console
would) opens every layer of the offline package and of the GPKG and KML exports: each layer is
valid, holds every feature, and the package's layers open with the package's own styles
(QGIS reads them from the GeoPackage's ``layer_styles`` table).

``qgis_process`` is not used here: its "Package layers" algorithm in 3.22 takes one layer of a
repeated ``--LAYERS`` and names it after the file, so it cannot show every layer was read.

The package also comes from the command line (``borderlens export --package``), and equals
the one the API sends for the same filters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import pyogrio
import pytest

from app.queries import Caller
from app.services import keys as key_service
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from tests.e2e.conftest import LiveServer
from tests.e2e.test_qgis_export import qgis_process  # noqa: F401  (fixture)

BORDERLENS = str(Path(sys.executable).parent / "borderlens")
SURVEY = (
    "name,lon,lat,date,kind,minerals\n"
    "Chantier Nola,16.05,3.53,2024-03-02,mine,diamant\n"
    "Chantier Nola,16.05,3.53,2024-05-20,mine,diamant|or\n"
    "Chantier Salo,16.12,3.19,2024-04-11,mine,or\n"
)


def _drafts() -> list[SiteDraft]:
    """Groups of four sites under 1 km apart near the CAR-Cameroon border (clusters), and
    scattered ones."""
    points = [(lon + k * 0.008, lat) for lon, lat in ((15.0, 5.0), (15.3, 4.2)) for k in range(4)]
    points += [(14.2 + i * 0.4, 3.0 + (i % 3) * 0.7) for i in range(8)]
    return [
        SiteDraft(
            kind="mine" if i % 3 else "sales_point",
            name=f"Site «{i}», Berbérati",
            lon=lon,
            lat=lat,
            minerals=["diamond", "gold"][: 1 + i % 2],
            accuracy_m=10.0 + i,
        )
        for i, (lon, lat) in enumerate(points)
    ]


@pytest.fixture(scope="module")
def packaged(live_server: LiveServer) -> LiveServer:
    with live_server.sessions() as session:
        state = BoundaryCache().current(session)
        assert state is not None
        create_sites(session, state, _drafts(), Caller(role="admin", name="qgis"))
        key = key_service.create_key(session, name="terrain", role="researcher", countries=[])
    upload = httpx.post(
        f"{live_server.url}/uploads",
        headers={"Authorization": f"Bearer {key.key}"},
        files={"file": ("visits.csv", SURVEY.encode(), "text/csv")},
        timeout=120,
    )
    assert upload.status_code in (200, 201), upload.text
    return live_server


def download(url: str, target: Path) -> Path:
    with urllib.request.urlopen(url, timeout=600) as response:
        target.write_bytes(response.read())
    return target


QGIS_OPEN = """
import json, os, sys
from qgis.core import QgsApplication, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
opened = {}
for name in sys.argv[2:]:
    layer = QgsVectorLayer(sys.argv[1] + "|layername=" + name, name, "ogr")
    renderer = layer.renderer() if layer.isValid() else None
    opened[name] = {
        "valid": layer.isValid(),
        "features": layer.featureCount() if layer.isValid() else None,
        "renderer": renderer.type() if renderer is not None else None,
        "attribute": getattr(renderer, "classAttribute", lambda: None)(),
        "ids": sorted(str(f["id"] if "id" in layer.fields().names() else f["feature_id"])
                      for f in layer.getFeatures()) if name == "sites" else None,
    }
print(json.dumps(opened), flush=True)
os._exit(0)  # QGIS 3.22's exitQgis() crashes (SIGSEGV) on this headless platform
"""
SYSTEM_PYTHON = "/usr/bin/python3"


def qgis_open(source: Path, layers: list[str]) -> dict[str, Any]:
    """What QGIS makes of each of ``layers`` of ``source``."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(source.parent)}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [SYSTEM_PYTHON, "-c", QGIS_OPEN, str(source), *layers],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    opened: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return opened


@pytest.fixture(scope="module")
def pyqgis(qgis_process: str) -> None:  # noqa: F811
    """QGIS's Python API (Debian's python3-qgis, installed with QGIS)."""
    found = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True)
    if found.returncode != 0:
        pytest.fail("QGIS's Python API is missing: apt-get install python3-qgis")


def counts(path: Path, skip: tuple[str, ...] = ()) -> dict[str, int]:
    return {
        str(name): int(pyogrio.read_info(path, layer=str(name))["features"])
        for name, _ in pyogrio.list_layers(path)
        if name not in skip
    }


def test_qgis_opens_every_layer_of_the_package(
    packaged: LiveServer, pyqgis: None, tmp_path: Path
) -> None:
    package = download(f"{packaged.url}/package?border=CAF-CMR&within_km=150", tmp_path / "p.gpkg")
    written = counts(package)
    assert {"sites", "observations", "borders", "countries", "clusters", "distance_bands"} <= set(
        written
    )
    assert written["sites"] > 0 and written["observations"] == 3 and written["clusters"] >= 1
    opened = qgis_open(package, list(written))
    for name, count in written.items():
        assert opened[name]["valid"], f"QGIS opens {name}"
        assert opened[name]["features"] == count, f"every feature of {name}"
    assert opened["sites"]["renderer"] == "categorizedSymbol", "the package's own style"
    assert opened["sites"]["attribute"] == "kind"
    sites = pyogrio.read_dataframe(package, layer="sites", read_geometry=False)
    assert opened["sites"]["ids"] == sorted(sites["id"])
    assert opened["distance_bands"]["renderer"] == "singleSymbol"


def test_cli_writes_the_same_package(packaged: LiveServer, cache_dir: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": str(packaged.settings.database_url),
        "BORDERLENS_DATA_DIR": str(cache_dir),
        "BORDERLENS_BOUNDARY_SOURCE": packaged.settings.boundary_source,
        "COLUMNS": "200",
    }
    out = tmp_path / "cli.gpkg"
    done = subprocess.run(
        [BORDERLENS, "export", "--package", str(out), "--kind", "mine", "--country", "CAF"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "distance_bands" in done.stdout
    api = download(f"{packaged.url}/package?kind=mine&country=CAF", tmp_path / "api.gpkg")
    assert counts(out) == counts(api)
    ids = sorted(pyogrio.read_dataframe(out, layer="sites", read_geometry=False)["id"])
    assert ids == sorted(pyogrio.read_dataframe(api, layer="sites", read_geometry=False)["id"])
    about = pyogrio.read_info(out, layer="sites")["dataset_metadata"]["BORDERLENS_PROVENANCE"]
    assert json.loads(about)["query"] == "kind=mine&country=CAF"
    refused = subprocess.run(
        [BORDERLENS, "export", "--package", str(tmp_path / "x.gpkg"), "--kind", "volcano"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert refused.returncode == 1 and "kind" in refused.stderr
    assert not (tmp_path / "x.gpkg").exists()


@pytest.mark.parametrize("fmt", ["gpkg", "kml"])
def test_qgis_opens_the_exports(
    packaged: LiveServer, pyqgis: None, tmp_path: Path, fmt: str
) -> None:
    """Issue 10 part 3: QGIS opens the exported GeoPackage and KML with every feature."""
    query = "kind=mine&border=CAF-CMR&within_km=300"
    exported = download(
        f"{packaged.url}/collections/sites/items?f={fmt}&{query}", tmp_path / f"x.{fmt}"
    )
    with urllib.request.urlopen(
        f"{packaged.url}/collections/sites/items?limit=1000&{query}", timeout=60
    ) as response:
        features = json.load(response)["features"]
    assert features, "the query selects sites"
    opened = qgis_open(exported, ["sites"])["sites"]
    assert opened["valid"] and opened["features"] == len(features)
    assert opened["ids"] == sorted(f["id"] for f in features)
