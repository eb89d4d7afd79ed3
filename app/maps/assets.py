"""Leaflet and its marker-cluster plugin, served by borderlens itself.

Maps must work where field teams are: offline or on thin links, and inside pages with strict
policies. The JavaScript and CSS come from pinned npm packages (``data/web/assets.json``),
fetched once into the cache and served under ``/static/vendor``. When they cannot be fetched
the map falls back to Folium's default CDN links.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from app.npm import NpmFetchError, PinnedPackage, fetch_members
from app.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

RECIPE_PATH = PROJECT_ROOT / "data" / "web" / "assets.json"
STATIC_PREFIX = "/static/vendor"


@dataclass(frozen=True)
class AssetPackage:
    package: PinnedPackage
    licence: str
    members: dict[str, str]


def load_recipe(path: Path = RECIPE_PATH) -> list[AssetPackage]:
    entries = json.loads(path.read_text(encoding="utf-8"))
    return [
        AssetPackage(
            PinnedPackage(e["npm_package"], e["version"], e["sha256"], e["integrity"]),
            e["licence"],
            dict(e["members"]),
        )
        for e in entries
    ]


def web_dir(cache_dir: Path) -> Path:
    return cache_dir / "web"


def ensure_assets(cache_dir: Path) -> bool:
    """Fetch (or verify the cached copy of) every pinned asset; False if that failed."""
    try:
        for asset in load_recipe():
            destination = web_dir(cache_dir) / asset.package.name / asset.package.version
            fetch_members(asset.package, asset.members, destination)
    except NpmFetchError as error:
        log.warning("map assets unavailable (%s); maps will load Leaflet from a CDN", error)
        return False
    return True


@dataclass(frozen=True)
class AssetUrls:
    """URLs the map page loads Leaflet from (``None``: Folium's defaults)."""

    leaflet_js: str
    leaflet_css: str
    markercluster_js: str
    markercluster_css: tuple[str, str]


def local_urls(base: str = "..") -> AssetUrls:
    """URLs of the cached assets under ``base``: by default relative to a page under /maps/,
    so they follow the address the page was loaded from (never a Host header) and keep
    working behind a proxy that serves the service under a path."""
    versions = {a.package.name: a.package.version for a in load_recipe()}
    leaflet = f"{base}{STATIC_PREFIX}/leaflet/{versions['leaflet']}/dist"
    cluster = (
        f"{base}{STATIC_PREFIX}/leaflet.markercluster/{versions['leaflet.markercluster']}/dist"
    )
    return AssetUrls(
        leaflet_js=f"{leaflet}/leaflet.js",
        leaflet_css=f"{leaflet}/leaflet.css",
        markercluster_js=f"{cluster}/leaflet.markercluster.js",
        markercluster_css=(f"{cluster}/MarkerCluster.css", f"{cluster}/MarkerCluster.Default.css"),
    )


@dataclass(frozen=True)
class MapLibreUrls:
    """URLs of MapLibre GL JS (its CSP build: the worker is a file of the service, not a
    ``blob:`` script, so the page keeps ``script-src 'self'``)."""

    js: str
    worker: str
    css: str


def maplibre_urls(base: str) -> MapLibreUrls:
    versions = {a.package.name: a.package.version for a in load_recipe()}
    dist = f"{base}{STATIC_PREFIX}/maplibre-gl/{versions['maplibre-gl']}/dist"
    return MapLibreUrls(
        js=f"{dist}/maplibre-gl-csp.js",
        worker=f"{dist}/maplibre-gl-csp-worker.js",
        css=f"{dist}/maplibre-gl.css",
    )
