"""Read a survey upload, whatever tool wrote it, into one :class:`~geo.survey.Survey`.

One table, :data:`FORMATS`, says which extensions each format uses, what its content must look
like, and which reader reads it. :func:`read_survey` checks the size, sniffs the content (zip
bombs, unsafe zip members and XML declarations are refused there), insists that the name and
the content agree, and calls the reader. GDAL (pyogrio) parses every format it has a driver
for; only CSV goes through Python's ``csv`` module (see :mod:`geo.readers.tabular`).

>>> from geo.readers import FORMATS
>>> [spec.format for spec in FORMATS]
['gpx', 'kml', 'kmz', 'geojson', 'shapefile', 'gpkg', 'csv', 'xlsx']
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from geo.errors import (
    FileTooLarge,
    FormatMismatch,
    GeoError,
    ReaderFailure,
    UnsupportedFormat,
    quoted,
)
from geo.readers import ogr, tabular
from geo.readers.sniff import CONTENT_NAMES, Upload, extension, sniff
from geo.survey import ReadOptions, Survey

__all__ = ["FORMATS", "FormatSpec", "ReadOptions", "Survey", "find_format", "read_survey"]

Reader = Callable[[Upload, ReadOptions], Survey]


@dataclass(frozen=True)
class FormatSpec:
    """One supported format: its name, its extensions, the content it must have, its reader."""

    format: str
    extensions: tuple[str, ...]
    content: str
    read: Reader


FORMATS: tuple[FormatSpec, ...] = (
    FormatSpec("gpx", (".gpx",), "gpx", ogr.read_gpx),
    FormatSpec("kml", (".kml",), "kml", ogr.read_kml),
    FormatSpec("kmz", (".kmz",), "kmz", ogr.read_kmz),
    FormatSpec("geojson", (".geojson", ".json"), "geojson", ogr.read_geojson),
    FormatSpec("shapefile", (".zip", ".shz"), "shapefile", ogr.read_shapefile_zip),
    FormatSpec("gpkg", (".gpkg",), "gpkg", ogr.read_gpkg),
    FormatSpec("csv", (".csv", ".txt", ".tsv"), "text", tabular.read_csv),
    FormatSpec("xlsx", (".xlsx",), "xlsx", tabular.read_xlsx),
)

_HINTS = {
    ".shp": "send the Shapefile as a .zip with its .shx, .dbf and .prj",
    ".xls": "save the workbook as .xlsx or CSV",
    ".ods": "save the spreadsheet as .xlsx or CSV",
}


def find_format(filename: str) -> FormatSpec:
    """The format a file name announces; :class:`UnsupportedFormat` for any other name."""
    suffix = extension(filename)
    for spec in FORMATS:
        if suffix in spec.extensions:
            return spec
    known = ", ".join(ext for spec in FORMATS for ext in spec.extensions)
    hint = _HINTS.get(suffix, f"borderlens reads {known}")
    raise UnsupportedFormat(f"{quoted(filename)} is not a survey format borderlens reads: {hint}")


def read_survey(data: bytes, filename: str, *, options: ReadOptions) -> Survey:
    """Read one uploaded survey file into a :class:`~geo.survey.Survey` (EPSG:4326).

    Parameters
    ----------
    data
        The file's bytes, as received.
    filename
        The name it was sent under; its extension must agree with the content.
    options
        CRS, explicit column roles, whether GPX tracks are sites, and every limit.

    Raises
    ------
    FileTooLarge
        Over ``max_file_bytes``; a zip expanding beyond ``max_uncompressed_bytes``;
        more than ``max_rows`` rows (:class:`~geo.errors.TooManyRows`).
    UnsupportedFormat
        An extension borderlens does not read, or content of another format
        (:class:`~geo.errors.FormatMismatch`).
    HostileFile
        Zip bombs, unsafe zip members, XML with DOCTYPE or entity declarations.
    UnreadableFile, InvalidCRS, InvalidCoordinates, InvalidColumnMap
        A file that cannot be parsed, a missing or contradictory CRS, no coordinate columns,
        a column mapping naming columns the file does not have.

    Every refusal is a :class:`~geo.errors.GeoError` whose message starts with ``filename``
    and never names a server path (GDAL's messages name the paths it opened; they are replaced
    by the sender's file name). Any other exception a reader raises on the bytes is a defect of
    the reader, logged, and refused as :class:`~geo.errors.UnreadableFile`: nothing a sender
    can put in a file makes this function fail otherwise.
    """
    if len(data) > options.max_file_bytes:
        raise FileTooLarge(
            f"the file has {len(data):,} bytes (the limit is {options.max_file_bytes:,})"
        )
    spec = find_format(filename)
    with tempfile.TemporaryDirectory(prefix="borderlens-upload-") as directory:
        workdir = Path(directory)
        try:
            return _read(data, filename, spec, options, workdir)
        except GeoError as exc:
            exc.args = (_for_sender(exc.message, filename, workdir),)
            raise
        except Exception as exc:
            log.warning("the %s reader failed on %r", spec.format, filename, exc_info=exc)
            detail = _scrub(str(exc), filename, workdir)[:300]
            raise ReaderFailure(
                f"{filename}: cannot be read as {spec.format} ({type(exc).__name__}: {detail})"
            ) from exc


log = logging.getLogger(__name__)


def _read(
    data: bytes, filename: str, spec: FormatSpec, options: ReadOptions, workdir: Path
) -> Survey:
    upload = sniff(data, filename, options, workdir)
    if upload.content != spec.content:
        raise FormatMismatch(
            f"{quoted(filename)} is named as {spec.format} ({extension(filename)}) but holds "
            f"{CONTENT_NAMES.get(upload.content, upload.content)}"
        )
    return spec.read(upload, options)


_MESSAGE_LIMIT = 2000
_TEMP_PATH = re.compile(r"(?:/vsi[a-z]+/)?\{?" + re.escape(tempfile.gettempdir()) + r"/[^\s'\",;]*")


def _for_sender(message: str, filename: str, workdir: Path) -> str:
    """``message`` naming ``filename`` and no server path, at most ~2 000 characters."""
    if len(message) > _MESSAGE_LIMIT:
        message = message[:_MESSAGE_LIMIT] + " …"
    text = _scrub(message, filename, workdir)
    return text if filename in text else f"{filename}: {text}"


def _scrub(message: str, filename: str, workdir: Path) -> str:
    """``message`` without server paths.

    A path inside the read's directory becomes the file name, with the member for zips
    (``/vsizip/{/tmp/borderlens-upload-x/upload.xlsx}/xl/s.xml`` → ``c.xlsx/xl/s.xml``).
    """
    inside = re.compile(
        r"(?:/vsi[a-z]+/)?\{?"
        + re.escape(str(workdir))
        + r"/(?P<rest>[^\s'\"{},;]*)\}?(?P<member>/[^\s'\",;]*)?"
    )

    def name(match: re.Match[str]) -> str:
        rest, member = match["rest"], match["member"] or ""
        if rest.startswith("members/"):
            return f"{filename}/{rest.removeprefix('members/')}"
        return filename + member if rest.startswith("upload.") else f"{filename}/{rest}"

    return _TEMP_PATH.sub(filename, inside.sub(name, message))
