"""Handing upload bytes to GDAL, and GDAL's values back as plain JSON-able Python.

pyogrio reads bytes straight from memory for GPX, KML, GeoJSON, GeoPackage and zipped
Shapefiles, but it opens *every* zip buffer as ``/vsizip/`` of an anonymous ``.zip``, which
GDAL's XLSX and KMZ handling do not recognise, and it cannot name members. So each upload is
written once to a private temporary directory under its canonical extension, and GDAL is given
an explicit path (``/vsizip/<tmp>/upload.kmz/doc.kml``). The directory is removed on exit,
whatever happens: a failed read leaves nothing behind.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
from pyogrio import raw
from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError

from geo.errors import UnreadableFile
from geo.survey import JSONScalar

GDAL_ERRORS = (DataSourceError, DataLayerError, FieldError, GeometryError, RuntimeError)


@contextmanager
def upload_path(data: bytes, suffix: str) -> Iterator[Path]:
    """Write ``data`` to a temporary ``upload<suffix>`` and yield its path; always cleaned up."""
    with tempfile.TemporaryDirectory(prefix="borderlens-upload-") as directory:
        path = Path(directory) / f"upload{suffix}"
        path.write_bytes(data)
        yield path


def zip_member_path(archive: Path, member: str) -> str:
    """GDAL's path to one member of a zip on disk."""
    return f"/vsizip/{archive}/{member}"


def list_layers(path: str | Path) -> list[tuple[str, str | None]]:
    """(name, geometry type) of each layer; GDAL failures become :class:`UnreadableFile`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            layers = pyogrio.list_layers(path)
    except GDAL_ERRORS as exc:
        raise UnreadableFile(f"GDAL cannot open the file: {exc}") from exc
    return [(str(name), None if kind is None else str(kind)) for name, kind in layers]


def read_layer(path: str | Path, layer: str, **kwargs: Any) -> tuple[dict[str, Any], Any, Any, Any]:
    """``pyogrio.raw.read`` with date-times as ISO text and GDAL failures as UnreadableFile."""
    try:
        with warnings.catch_warnings():
            # GDAL warns about harmless things (non-conformant GPKG name, unknown KML tags).
            warnings.simplefilter("ignore", RuntimeWarning)
            result: tuple[dict[str, Any], Any, Any, Any] = raw.read(
                path, layer=layer, datetime_as_string=True, **kwargs
            )
    except GDAL_ERRORS as exc:
        raise UnreadableFile(f"GDAL cannot read layer {layer!r}: {exc}") from exc
    return result


def plain(value: Any) -> JSONScalar:
    """A GDAL field value as a JSON scalar; None for nulls, NaN and binary blobs."""
    if value is None or isinstance(value, bytes | bytearray | memoryview):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple | np.ndarray):
        # GDAL list fields (a GeoJSON array, a GPKG StringList): "diamant; or", which the
        # mineral and alias parsers split again, rather than numpy's "['diamant' 'or']".
        items = [plain(item) for item in value]
        return "; ".join(str(item) for item in items if item is not None)
    return str(value)


def field_rows(names: list[str], arrays: list[np.ndarray], n: int) -> list[dict[str, JSONScalar]]:
    """Per-row dicts of the non-null fields (GDAL fills absent GPX/KML elements with null)."""
    if not names:
        return [{} for _ in range(n)]
    columns = [[plain(v) for v in array.tolist()] for array in arrays]
    return [
        {name: value for name, value in zip(names, values, strict=True) if value is not None}
        for values in zip(*columns, strict=True)
    ]
