"""The map's Content-Security-Policy lets tile images come from the configured base layer's
host, and from nowhere else."""

from __future__ import annotations

import warnings

import pytest

from app.api.hardening import generated_page_policy
from app.maps.common import tile_origins


@pytest.mark.parametrize(
    ("tiles", "origins"),
    [
        ("OpenStreetMap", ["https://tile.openstreetmap.org"]),
        ("openstreetmap", ["https://tile.openstreetmap.org"]),
        ("CartoDB positron", ["https://*.basemaps.cartocdn.com"]),
        ("https://{s}.tiles.example.org/{z}/{x}/{y}.png", ["https://*.tiles.example.org"]),
        ("http://tiles.example.org:8080/{z}/{x}/{y}.png", ["http://tiles.example.org:8080"]),
        ("none", []),
        ("", []),
        (None, []),
    ],
)
def test_tile_origins(tiles: str | None, origins: list[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Folium warns that CartoDB now wants a key
        assert tile_origins(tiles) == origins


def test_policy_allows_the_tiles_only_for_images() -> None:
    page = "<html><script>var a = 1;</script><script src='../static/x.js'></script></html>"
    policy = generated_page_policy(page, img_sources=tile_origins("OpenStreetMap"))
    directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ")}
    assert "https://tile.openstreetmap.org" in directives["img-src"]
    assert not any(
        "openstreetmap" in v for k, vs in directives.items() if k != "img-src" for v in vs
    )
    assert directives["script-src"][0] == "'self'"
    assert len([s for s in directives["script-src"] if s.startswith("'sha256-")]) == 1
    assert "'unsafe-inline'" not in directives["script-src"]
