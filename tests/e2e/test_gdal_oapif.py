"""GDAL's OGC API - Features driver (the one QGIS uses, bundled in the pyogrio wheel) reads
every collection, and every feature of ``sites`` across many pages."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pyogrio
import pytest

from app import collections as registry
from app.queries import Caller
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from tests.e2e.conftest import LiveServer

N_SITES = 173
PAGE_SIZE = 25


@pytest.fixture(scope="module")
def served(live_server: LiveServer) -> LiveServer:
    drafts = [
        SiteDraft(
            kind="mine" if i % 3 else "sales_point",
            name=f"site {i:03d}",
            lon=14.5 + (i % 20) * 0.3,
            lat=3.0 + (i // 20) * 0.4,
            minerals=["diamond"] if i % 2 else ["gold"],
        )
        for i in range(N_SITES)
    ]
    with live_server.sessions() as session:
        state = BoundaryCache().current(session)
        assert state is not None
        create_sites(session, state, drafts, Caller(role="admin", name="gdal"))
    return live_server


def test_gdal_lists_the_collections(served: LiveServer) -> None:
    layers = {name for name, _ in pyogrio.list_layers(f"OAPIF:{served.url}")}
    assert {"sites", "borders", "countries"} <= layers


def test_gdal_reads_every_site_across_pages(served: LiveServer) -> None:
    frame = pyogrio.read_dataframe(f"OAPIF:{served.url}", layer="sites", PAGE_SIZE=PAGE_SIZE)
    assert N_SITES > 5 * PAGE_SIZE, "the read spans several pages"
    assert len(frame) == N_SITES
    assert frame["id"].is_unique if "id" in frame else True
    assert sorted(frame["name"]) == [f"site {i:03d}" for i in range(N_SITES)]
    assert frame.crs is not None and frame.crs.to_string() == "OGC:CRS84"
    first = frame.set_index("name").loc["site 000"].geometry
    assert (round(first.x, 6), round(first.y, 6)) == (14.5, 3.0), "lon/lat order kept"


def test_gdal_reads_a_filtered_url(served: LiveServer) -> None:
    """The collection URL with the service's filters, as a QGIS user would paste it."""
    frame = pyogrio.read_dataframe(
        f"OAPIF:{served.url}/collections/sites?kind=sales_point&mineral=gold",
        PAGE_SIZE=PAGE_SIZE,
    )
    expected = {f"site {i:03d}" for i in range(N_SITES) if i % 3 == 0 and i % 2 == 0}
    assert set(frame["name"]) == expected


def test_gdal_where_clause_is_answered(served: LiveServer) -> None:
    frame = pyogrio.read_dataframe(
        f"OAPIF:{served.url}", layer="sites", where="kind = 'sales_point'", PAGE_SIZE=PAGE_SIZE
    )
    assert len(frame) == len([i for i in range(N_SITES) if i % 3 == 0])


def test_gdal_reads_borders(served: LiveServer) -> None:
    frame = pyogrio.read_dataframe(f"OAPIF:{served.url}", layer="borders")
    assert "CAF-CMR" in set(frame["pair_code"])
    assert (frame["length_km"] > 0).all()


def test_gdal_reads_the_border_query(served: LiveServer) -> None:
    """The authority's question, pasted as a collection URL into a GIS client."""
    query = "border=CAF-CMR&within_km=25&kind=sales_point&mineral=diamond"
    frame = pyogrio.read_dataframe(f"OAPIF:{served.url}/collections/sites?{query}", PAGE_SIZE=5)
    expected: set[str] = set()
    url: str | None = f"{served.url}/collections/sites/items?{query}&limit=3"
    while url:
        with urllib.request.urlopen(url) as response:
            page = json.load(response)
        expected |= {f["properties"]["name"] for f in page["features"]}
        url = next((x["href"] for x in page["links"] if x["rel"] == "next"), None)
    assert expected, "the served sites include diamond sales points near CAF-CMR"
    assert set(frame["name"]) == expected
    assert (frame["query_border_distance_m"] <= 25_000).all()


def _gdal_dtype(schema: dict[str, Any]) -> str:
    """What pyogrio reports for a field GDAL typed from this JSON Schema."""
    kind, fmt = schema.get("type"), schema.get("format")
    if kind == "string":
        return {"date": "datetime64[D]", "date-time": "datetime64[ms]"}.get(fmt or "", "object")
    if kind == "array" and schema["items"].get("type") == "string":
        return "list(str)"
    return {"number": "float64", "integer": "int32", "boolean": "bool"}.get(str(kind), "object")


@pytest.mark.parametrize("collection", [provider.id for provider in registry.PROVIDERS])
def test_gdal_types_every_field_from_the_collection_schema(
    served: LiveServer, collection: str
) -> None:
    """Through the describedby link: a field is typed even when the first page cannot tell
    (every accuracy here is null, every claimants list empty, and there are no clusters)."""
    info = pyogrio.read_info(f"OAPIF:{served.url}", layer=collection)
    dtypes = dict(zip(info["fields"], info["dtypes"], strict=True))
    declared = registry.get(collection).schema()
    expected = {n: _gdal_dtype(s) for n, s in declared.items() if n != "geometry"}
    assert {name: dtypes.get(name) for name in expected} == expected
