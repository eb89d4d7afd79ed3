"""Handing upload bytes to GDAL, and GDAL's values back as plain JSON-able Python.

Each upload is written once to the read's private directory (:attr:`Upload.workdir`, removed
by :func:`geo.readers.read_survey` whatever happens) under its canonical extension, and GDAL is
given that path. Zips are never handed over as uploaded: their members were extracted and
checked (:mod:`geo.readers.archives`) and GDAL opens those files. GDAL's messages name the
paths it was given; :func:`geo.readers.read_survey` replaces them with the sender's file name.
"""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
from pyogrio import raw
from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError

from geo.errors import UnreadableFile
from geo.survey import JSONScalar

GDAL_ERRORS = (DataSourceError, DataLayerError, FieldError, GeometryError, RuntimeError)

#: GDAL's advice to name a driver (``'CSV:path'``), which a sender of a file cannot act on.
_DRIVER_HINT = re.compile(r"[.;\s]*It might help to specify the correct driver explicitly.*$", re.S)
_NOT_RECOGNIZED = "not recognized as being in a supported file format"


def gdal_reason(exc: BaseException) -> str:
    """GDAL's message for a sender: its advice to name a driver dropped, and a file it does
    not recognise said as what it likely is (damaged, cut short, or of another format)."""
    message = _DRIVER_HINT.sub("", str(exc)).strip()
    if _NOT_RECOGNIZED in message:
        name = message.split(_NOT_RECOGNIZED, 1)[0].strip()
        return f"{name} is not a file GDAL recognises (damaged, cut short, or of another format)"
    return message


def upload_path(workdir: Path, data: bytes, suffix: str) -> Path:
    """Write ``data`` to ``workdir/upload<suffix>`` and return the path."""
    path = workdir / f"upload{suffix}"
    path.write_bytes(data)
    return path


def list_layers(path: str | Path) -> list[tuple[str, str | None]]:
    """(name, geometry type) of each layer; GDAL failures become :class:`UnreadableFile`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            layers = pyogrio.list_layers(path)
    except GDAL_ERRORS as exc:
        raise UnreadableFile(f"GDAL cannot open the file: {gdal_reason(exc)}") from exc
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
        raise UnreadableFile(f"GDAL cannot read layer {layer!r}: {gdal_reason(exc)}") from exc
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
