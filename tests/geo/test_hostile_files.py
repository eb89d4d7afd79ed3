"""Hostile and mislabelled uploads are refused with a specific error before GDAL parses them."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from geo.errors import (
    FileTooLarge,
    FormatMismatch,
    GeoError,
    HostileFile,
    TooManyRows,
    UnreadableFile,
    UnsafeArchiveMember,
    UnsupportedFormat,
    XMLDeclarationRefused,
    ZipBomb,
)
from geo.readers import ReadOptions, read_survey
from tests.geo.conftest import SAMPLES_DIR

OPTIONS = ReadOptions()
KML_POINT = (
    b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark>'
    b"<name>A</name><Point><coordinates>18.5,4.3</coordinates></Point></Placemark></Document></kml>"
)
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE gpx [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<gpx version="1.1" creator="x" xmlns="http://www.topografix.com/GPX/1/1">
<wpt lat="4.3" lon="18.5"><name>&lol3;</name></wpt></gpx>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE kml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>&xxe;</name>
<Point><coordinates>18.5,4.3</coordinates></Point></Placemark></kml>"""


def zip_of(members: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        if symlink is not None:
            info = zipfile.ZipInfo(symlink)
            info.create_system = 3
            info.external_attr = 0o120777 << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def declare_size(data: bytes, size: int) -> bytes:
    """Rewrite every uncompressed-size field of a zip (local and central headers) to ``size``."""
    patched = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = patched.find(signature)
        while start != -1:
            patched[start + offset : start + offset + 4] = struct.pack("<I", size)
            start = patched.find(signature, start + 4)
    return bytes(patched)


def refuse(data: bytes, name: str, error: type[GeoError], options: ReadOptions = OPTIONS) -> str:
    with pytest.raises(error) as raised:
        read_survey(data, name, options=options)
    return raised.value.message


def test_zip_bomb_is_refused_before_extraction() -> None:
    bomb = zip_of({"doc.kml": KML_POINT + b" " * (20 * 1024 * 1024)})
    assert len(bomb) < 100_000
    message = refuse(bomb, "bomb.kmz", ZipBomb)
    assert "doc.kml" in message and ":1" in message


def test_a_declared_size_of_one_gigabyte_is_refused() -> None:
    honest = zip_of({"doc.kml": KML_POINT})
    liar = declare_size(honest, 1024**3)
    message = refuse(liar, "liar.kmz", ZipBomb)
    assert "1,073,741,824" in message


def test_honest_archives_over_the_uncompressed_limit_are_too_large() -> None:
    data = (SAMPLES_DIR / "sites_utm34n.zip").read_bytes()
    with pytest.raises(FileTooLarge) as raised:
        read_survey(data, "s.zip", options=ReadOptions(max_uncompressed_bytes=1_000))
    assert raised.value.code == "uncompressed_too_large"


@pytest.mark.parametrize(
    "member", ["../doc.kml", "a/../../doc.kml", "/etc/doc.kml", "C:\\doc.kml", "..\\..\\doc.kml"]
)
def test_path_traversal_members_are_refused(member: str) -> None:
    message = refuse(zip_of({member: KML_POINT}), "evil.kmz", UnsafeArchiveMember)
    assert "outside the archive" in message


def test_symlink_members_are_refused() -> None:
    data = zip_of({"doc.kml": KML_POINT}, symlink="link.kml")
    assert "symbolic link" in refuse(data, "evil.kmz", UnsafeArchiveMember)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (BILLION_LAUGHS, "laughs.gpx"),
        (EXTERNAL_ENTITY, "xxe.kml"),
        (zip_of({"doc.kml": EXTERNAL_ENTITY}), "xxe.kmz"),
        (BILLION_LAUGHS.replace(b"gpx", b"kml"), "laughs.kml"),
    ],
)
def test_xml_with_entity_declarations_is_refused(data: bytes, name: str) -> None:
    assert "DOCTYPE" in refuse(data, name, XMLDeclarationRefused)


def test_a_workbook_part_with_a_doctype_is_refused() -> None:
    with zipfile.ZipFile(SAMPLES_DIR / "comptoirs.xlsx") as workbook:
        members = {name: workbook.read(name) for name in workbook.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    members[sheet] = members[sheet].replace(b"?>", b'?><!DOCTYPE x [<!ENTITY a "b">]>', 1)
    assert sheet in refuse(zip_of(members), "c.xlsx", XMLDeclarationRefused)


@pytest.mark.parametrize(
    ("sample", "name", "holds"),
    [
        ("handheld.gpx", "handheld.csv", "GPX"),
        ("kobo_survey.csv", "kobo.gpx", "delimited text"),
        ("field_team.gpkg", "team.kml", "GeoPackage"),
        ("google_earth.kmz", "earth.zip", "KMZ"),
        ("sites_utm34n.zip", "sites.kmz", "Shapefile"),
        ("comptoirs.xlsx", "comptoirs.gpkg", "XLSX"),
        ("sites.geojson", "sites.xlsx", "GeoJSON"),
        ("my_maps.kml", "my_maps.gpx", "KML"),
    ],
)
def test_the_extension_must_match_the_content(sample: str, name: str, holds: str) -> None:
    message = refuse((SAMPLES_DIR / sample).read_bytes(), name, FormatMismatch)
    assert name in message and holds in message


@pytest.mark.parametrize("name", ["sites.xls", "sites.shp", "sites.docx", "sites"])
def test_unknown_extensions_are_unsupported(name: str) -> None:
    refuse(b"whatever", name, UnsupportedFormat)


def test_the_file_size_limit_comes_first() -> None:
    data = (SAMPLES_DIR / "kobo_survey.csv").read_bytes()
    with pytest.raises(FileTooLarge) as raised:
        read_survey(data, "k.csv", options=ReadOptions(max_file_bytes=100))
    assert raised.value.code == "file_too_large"


@pytest.mark.parametrize("sample", ["kobo_survey.csv", "handheld.gpx", "comptoirs.xlsx"])
def test_more_rows_than_the_limit(sample: str) -> None:
    data = (SAMPLES_DIR / sample).read_bytes()
    refuse(data, sample, TooManyRows, ReadOptions(max_rows=3))
    read_survey(data, sample, options=ReadOptions(max_rows=20))


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"", "empty.csv"),
        (b"   \n", "blank.gpx"),
        (b"PK\x03\x04 this is not really a zip", "broken.kmz"),
        (b"<gpx><wpt", "truncated.gpx"),
        (b"<?xml version='1.0'?>" + b"<!-- padding -->" * 70_000, "no_root.kml"),
    ],
)
def test_unreadable_files(data: bytes, name: str) -> None:
    refuse(data, name, UnreadableFile)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"<gpx><wpt lat='1' lon=", "cut.gpx"),
        (b"SQLite format 3\x00garbage", "damaged.gpkg"),
        (b'{"type": "Feat', "cut.geojson"),
    ],
)
def test_a_file_gdal_does_not_recognise_is_said_without_gdal_s_driver_advice(
    data: bytes, name: str
) -> None:
    """GDAL's message advised prefixing the path with a driver name (``'CSV:path'``), which
    a sender of a file cannot do (found by a helper): the reason names the file and what it
    likely is instead."""
    with pytest.raises(UnreadableFile) as refused:
        read_survey(data, name, options=OPTIONS)
    message = str(refused.value)
    assert "driver" not in message and "CSV:path" not in message
    assert message == (
        f"GDAL cannot open the file: '{name}' is not a file GDAL recognises "
        "(damaged, cut short, or of another format)"
    )


def test_every_refusal_is_a_geo_error_with_a_stable_code() -> None:
    assert issubclass(ZipBomb, HostileFile) and ZipBomb.code == "zip_bomb"
    assert issubclass(UnsafeArchiveMember, HostileFile)
    assert issubclass(XMLDeclarationRefused, HostileFile)
    assert issubclass(TooManyRows, FileTooLarge) and issubclass(FormatMismatch, UnsupportedFormat)
