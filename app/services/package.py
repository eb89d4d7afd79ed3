"""The offline package for field teams: ONE GeoPackage ready for QField/QGIS with no network.

Layers (EPSG:4326 lon/lat; each written by GDAL through ``pyogrio.write_arrow``, page by page,
as the exports are, so a large selection stays in bounded memory):

* ``sites``: the sites of the query (every items filter applies; restricted values follow the
  caller, as in every export);
* ``observations``: the visits of those sites, public fields only (read as an anonymous
  caller whoever asks: raw survey attributes never travel in a package);
* ``borders`` and ``countries``: the active boundary dataset;
* ``distance_bands``: the geodesic bands around the borders of the query (the asked border,
  else every border), one polygon per width, ``within_km`` from the query or
  :data:`BANDS_KM`; drawn as the maps draw them (``app.services.border_bands``: none for a
  ``within_km`` under 1 km or over 1 000 km, which the maps do not draw either);
* ``clusters``: the default clustering of the sites (``/collections/clusters``);
* ``zones`` and any other collection a provider registers for the package
  (:data:`OPTIONAL_LAYERS`) when the registry has it;
* ``layer_styles``: QGIS's own style table (QML per layer), so the layers open styled;

Provenance (service, boundary source and version, dataset version, query, time, features per
layer) is the GeoPackage's metadata (``gpkg_metadata``, GDAL ``BORDERLENS_PROVENANCE``) and
each layer's description (``gpkg_contents.description``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyogrio
import shapely

from app import collections as registry
from app.collections.base import Provider, ReadContext
from app.db.clusters import sites_version
from app.maps import qgis_styles
from app.queries import ANONYMOUS, FeatureQuery
from app.services import exports
from app.services.border_bands import MAX_BAND_KM, MIN_BAND_KM, border_band
from app.services.boundary_state import BoundarySet

#: Band widths (km) when the query names none.
BANDS_KM = (5.0, 10.0, 25.0, 50.0)
#: Site ids per observations query (one SQL ``= ANY`` list each).
SITE_CHUNK = exports.PAGE_SIZE
#: Collections added when the service has them (another helper's provider, or a later one).
OPTIONAL_LAYERS = ("zones",)
DRIVER = "GPKG"


@dataclass
class Package:
    """A written package (in ``directory``, removed by :meth:`close`)."""

    path: Path
    directory: Path
    counts: dict[str, int] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def write_package(
    ctx: ReadContext,
    boundaries: BoundarySet,
    sites_query: FeatureQuery,
    query_string: str,
    *,
    within_km: float | None = None,
    border_pairs: tuple[str, ...] = (),
) -> Package:
    """Write the package of ``sites_query`` to a temporary directory.

    ``within_km``/``border_pairs``: the band of the query, if it asked for one. Errors: GDAL
    failures propagate (every value was typed here: a bug, not user input).
    """
    sites = registry.get("sites")
    about = exports.provenance(ctx, sites, query_string)
    about["collection"] = "package"
    about["dataset_version"] = sites_version(ctx.session)
    directory = Path(tempfile.mkdtemp(prefix="borderlens-package-"))
    package = Package(directory / "borderlens-package.gpkg", directory, provenance=about)
    try:
        site_ids: list[str] = []
        site_pages = exports.feature_pages(ctx, sites, sites_query)
        package.counts["sites"] = _layer(package.path, sites, _collect_ids(site_pages, site_ids))
        observations = registry.get("observations")
        public = replace(ctx, caller=ANONYMOUS)
        package.counts["observations"] = _layer(
            package.path, observations, _observation_pages(public, observations, site_ids)
        )
        for name in ("borders", "countries", "clusters", *OPTIONAL_LAYERS):
            provider = registry.REGISTRY.get(name)
            if provider is not None:
                pages = exports.feature_pages(ctx, provider, provider.parse(FeatureQuery(), {}))
                package.counts[name] = _layer(package.path, provider, pages)
        pairs = border_pairs or tuple(sorted(b.pair_code for b in boundaries.borders))
        widths = (within_km,) if within_km is not None else BANDS_KM
        package.counts["distance_bands"] = _bands(package.path, boundaries, pairs, widths)
        about["layers"] = dict(package.counts)
        _styles(package.path, tuple(package.counts))
        _describe(package.path, about)
        return package
    except BaseException:
        package.close()
        raise


def _collect_ids(
    pages: Iterator[list[dict[str, Any]]], ids: list[str]
) -> Iterator[list[dict[str, Any]]]:
    for page in pages:
        ids.extend(str(feature["id"]) for feature in page)
        yield page


def _observation_pages(
    ctx: ReadContext, provider: Provider, site_ids: list[str]
) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(site_ids), SITE_CHUNK):
        chunk = tuple(site_ids[start : start + SITE_CHUNK])
        query = provider.parse(FeatureQuery(), {"site": chunk})
        yield from exports.feature_pages(ctx, provider, query)


def _layer(path: Path, provider: Provider, pages: Iterator[list[dict[str, Any]]]) -> int:
    """Append ``provider``'s features to the package as the layer named by its id (the first
    one creates it as a GeoPackage 1.2, which the GDAL of older QGIS/QField reads in full)."""
    counter = _Counter()
    exports.write_stream(
        provider,
        counter.count(pages),
        str(path),
        driver=DRIVER,
        geometry_name="geometry",
        geometry_type=exports.geometry_type(provider),
        crs="EPSG:4326",
        layer_metadata={"DESCRIPTION": provider.title},
        dataset_options=None if path.exists() else {"VERSION": "1.2"},
    )
    return counter.n


class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def count(self, pages: Iterator[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
        for page in pages:
            self.n += len(page)
            yield page


def _bands(
    path: Path, boundaries: BoundarySet, pairs: tuple[str, ...], widths: tuple[float, ...]
) -> int:
    features = [
        (
            width,
            ",".join(pairs),
            _multi(shapely.geometry.shape(border_band(boundaries, pairs, width))),
        )
        # widest first: narrower ones on top; none outside the widths the maps draw
        for width in sorted({w for w in widths if MIN_BAND_KM <= w <= MAX_BAND_KM}, reverse=True)
        if pairs
    ]
    table = pa.table(
        {
            "within_km": pa.array([w for w, _, _ in features], pa.float64()),
            "borders": pa.array([b for _, b, _ in features], pa.string()),
            "geometry": pa.array([shapely.to_wkb(g) for _, _, g in features], pa.binary()),
        }
    )
    pyogrio.write_arrow(
        table,
        str(path),
        layer="distance_bands",
        driver=DRIVER,
        geometry_name="geometry",
        geometry_type="MultiPolygon",
        crs="EPSG:4326",
        layer_metadata={"DESCRIPTION": "Geodesic distance bands around the borders (km)"},
    )
    return len(features)


def _multi(shape: Any) -> Any:
    """One geometry type per layer: a band that is one polygon is a one-part MultiPolygon."""
    return shapely.MultiPolygon([shape]) if shape.geom_type == "Polygon" else shape


def _styles(path: Path, layers: tuple[str, ...]) -> None:
    """QGIS's ``layer_styles`` table: one default QML style per layer QGIS should open styled."""
    styled = [(name, qml) for name in layers if (qml := qgis_styles.qml(name)) is not None]
    columns = [_geometry_column(path, name) for name, _ in styled]
    table = pa.table(
        {
            "f_table_catalog": pa.array(["" for _ in styled], pa.string()),
            "f_table_schema": pa.array(["" for _ in styled], pa.string()),
            "f_table_name": pa.array([name for name, _ in styled], pa.string()),
            "f_geometry_column": pa.array(columns, pa.string()),
            "styleName": pa.array([f"borderlens {name}" for name, _ in styled], pa.string()),
            "styleQML": pa.array([qml for _, qml in styled], pa.string()),
            "styleSLD": pa.array(["" for _ in styled], pa.string()),
            "useAsDefault": pa.array([True for _ in styled], pa.bool_()),
            "description": pa.array(["borderlens" for _ in styled], pa.string()),
            "owner": pa.array(["" for _ in styled], pa.string()),
            "ui": pa.array([None for _ in styled], pa.string()),
            "update_time": pa.array([None for _ in styled], pa.string()),
        }
    )
    pyogrio.write_arrow(table, str(path), layer="layer_styles", driver=DRIVER, geometry_type=None)


def _geometry_column(path: Path, layer: str) -> str:
    """The layer's geometry column as GDAL named it (``geom`` in a GeoPackage): QGIS matches
    a style to its layer by table and geometry column."""
    return str(pyogrio.read_info(path, layer=layer)["geometry_name"])


def _describe(path: Path, about: dict[str, Any]) -> None:
    """The provenance as the dataset's metadata (GDAL writes it to ``gpkg_metadata``)."""
    text = json.dumps(about, ensure_ascii=False)
    pyogrio.write_arrow(
        pa.table({"key": pa.array(["provenance"]), "value": pa.array([text])}),
        str(path),
        layer="provenance",
        driver=DRIVER,
        geometry_type=None,
        dataset_metadata={"BORDERLENS_PROVENANCE": text},
        layer_metadata={"DESCRIPTION": "How this package was made (JSON)"},
    )
