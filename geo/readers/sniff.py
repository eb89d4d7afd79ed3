"""What a file really is, from its first bytes, whatever its name says.

The content kind is decided from magic numbers and structure only: a zip (then which members it
holds: a ``.kml``, a ``.shp``, ``xl/workbook.xml``), the SQLite header of a GeoPackage, the root
element of XML (``gpx`` or ``kml``), a JSON object with a ``"type"`` member, or text. Zips are
checked for bombs and unsafe members here, and XML for DOCTYPE/ENTITY declarations, so nothing
hostile reaches a parser.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import PurePosixPath

from geo.errors import UnreadableFile
from geo.readers.archives import SafeZip, inspect_zip, is_zip, read_member
from geo.readers.xml_guard import PROLOG_LIMIT_BYTES, xml_root
from geo.survey import ReadOptions

SQLITE_MAGIC = b"SQLite format 3\x00"
_TEXT_PROBE_BYTES = 64 * 1024

# What each content kind is called in messages.
CONTENT_NAMES = {
    "gpx": "GPX (XML with a <gpx> root)",
    "kml": "KML (XML with a <kml> root)",
    "xml": "XML that is neither GPX nor KML",
    "kmz": "KMZ (a zip holding a .kml)",
    "shapefile": "a zipped Shapefile",
    "xlsx": "an XLSX workbook",
    "zip": "a zip holding no KML, Shapefile or workbook",
    "gpkg": "a GeoPackage (SQLite)",
    "geojson": "GeoJSON (a JSON object with a 'type')",
    "json": "JSON that is not GeoJSON",
    "text": "delimited text (CSV)",
    "binary": "binary data of no known format",
}


@dataclass(frozen=True)
class Upload:
    """An upload after sniffing: its bytes, its name, what it holds and, for zips, the checks."""

    data: bytes
    filename: str
    content: str
    archive: SafeZip | None = None

    @property
    def suffix(self) -> str:
        return extension(self.filename)


def extension(filename: str) -> str:
    """Lower-cased extension of the file's base name (``'C:\\\\x\\\\Sites.KMZ'`` → ``'.kmz'``)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return PurePosixPath(base).suffix.casefold()


def sniff(data: bytes, filename: str, options: ReadOptions) -> Upload:
    """Decide the content kind of ``data``; hostile zips and XML raise here."""
    if not data.strip():
        raise UnreadableFile("the file is empty")
    if is_zip(data):
        archive = inspect_zip(data, options)
        return Upload(data, filename, _zip_content(archive), archive)
    if data.startswith(SQLITE_MAGIC):
        return Upload(data, filename, "gpkg")
    start = _text_start(data)
    if start.startswith(b"<"):
        root = xml_root(data[:PROLOG_LIMIT_BYTES])
        return Upload(data, filename, root if root in ("gpx", "kml") else "xml")
    if start.startswith((b"{", b"[")):
        geojson = start.startswith(b"{") and b'"type"' in data
        return Upload(data, filename, "geojson" if geojson else "json")
    return Upload(data, filename, "text" if _is_text(data) else "binary")


def _text_start(data: bytes) -> bytes:
    """The first bytes after any BOM and leading blanks, as ASCII-compatible bytes."""
    head = data[:_TEXT_PROBE_BYTES]
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            text = head[len(bom) :].decode(codec, errors="ignore")
            return text.lstrip().encode("utf-8", errors="ignore")
    return head.removeprefix(codecs.BOM_UTF8).lstrip()


def _is_text(data: bytes) -> bool:
    head = data[:_TEXT_PROBE_BYTES]
    return head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" not in head


def _zip_content(archive: SafeZip) -> str:
    if any(name.casefold() == "xl/workbook.xml" for name in archive.names):
        _guard_xml_members(archive, (".xml", ".rels"))
        return "xlsx"
    if archive.with_suffix(".kml"):
        _guard_xml_members(archive, (".kml",))
        return "kmz"
    if archive.with_suffix(".shp"):
        return "shapefile"
    return "zip"


def _guard_xml_members(archive: SafeZip, suffixes: tuple[str, ...]) -> None:
    for name in archive.with_suffix(*suffixes):
        head = read_member(archive, name, limit=PROLOG_LIMIT_BYTES)
        xml_root(head, what=f"zip member {name!r}")
