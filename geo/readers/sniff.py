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
from pathlib import Path, PurePosixPath

from geo.errors import UnreadableFile
from geo.readers.archives import SafeZip, is_zip, open_zip
from geo.readers.xml_guard import PROLOG_LIMIT_BYTES, guard_xml_part, xml_root
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
    """An upload after sniffing: its bytes, its name, what it holds and, for zips, the checks.

    ``workdir`` is a private directory that lives as long as the read: zip members are
    extracted there, and readers write what GDAL opens there.
    """

    data: bytes
    filename: str
    content: str
    workdir: Path
    archive: SafeZip | None = None

    @property
    def suffix(self) -> str:
        return extension(self.filename)


def extension(filename: str) -> str:
    """Lower-cased extension of the file's base name (``'C:\\\\x\\\\Sites.KMZ'`` → ``'.kmz'``)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return PurePosixPath(base).suffix.casefold()


def sniff(data: bytes, filename: str, options: ReadOptions, workdir: Path) -> Upload:
    """Decide the content kind of ``data``; hostile zips and XML raise here.

    A zip is extracted under ``workdir`` (every member checked, see
    :mod:`geo.readers.archives`) and every XML part of it goes through the XML guard.
    """
    if not data.strip():
        raise UnreadableFile("the file is empty")
    if is_zip(data):
        archive = open_zip(data, options, workdir / "members")
        for name in archive.names:
            guard_xml_part(archive.read(name, limit=PROLOG_LIMIT_BYTES), name)
        return Upload(data, filename, _zip_content(archive), workdir, archive)
    if data.startswith(SQLITE_MAGIC):
        return Upload(data, filename, "gpkg", workdir)
    start = _text_start(data)
    if start.startswith(b"<"):
        root = xml_root(data[:PROLOG_LIMIT_BYTES])
        return Upload(data, filename, root if root in ("gpx", "kml") else "xml", workdir)
    if start.startswith((b"{", b"[")):
        geojson = start.startswith(b"{") and b'"type"' in data
        return Upload(data, filename, "geojson" if geojson else "json", workdir)
    return Upload(data, filename, "text" if _is_text(data) else "binary", workdir)


def _text_start(data: bytes) -> bytes:
    """The first bytes after any BOM and leading blanks, as ASCII-compatible bytes."""
    head = data[:_TEXT_PROBE_BYTES]
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            text = head[len(bom) :].decode(codec, errors="ignore")
            return text.lstrip().encode("utf-8", errors="ignore")
    return head.removeprefix(codecs.BOM_UTF8).lstrip()


def _is_text(data: bytes) -> bool:
    """Text: a UTF-16 byte-order mark, or NUL bytes in at most one byte in a thousand of the
    head. Binary formats are full of them; a text file with a stray one (a corrupt cell) is
    text with a bad row, which its reader names (a single NUL made a CSV "binary data")."""
    head = data[:_TEXT_PROBE_BYTES]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    return head.count(b"\x00") <= len(head) // 1000


def _zip_content(archive: SafeZip) -> str:
    if any(name.casefold() == "xl/workbook.xml" for name in archive.names):
        return "xlsx"
    if archive.with_suffix(".kml"):
        return "kmz"
    if archive.with_suffix(".shp"):
        return "shapefile"
    return "zip"
