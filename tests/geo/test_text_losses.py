"""A text file's content is never lost or garbled silently: an unclosed quote, a row not read,
a few bytes that are not UTF-8 in a UTF-8 file (CSV, KoBo CSV, GPX, KML, GeoJSON, a Shapefile's
DBF, GeoPackage, zones)."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

from geo.errors import UnreadableFile
from geo.readers import ReadOptions, read_survey
from geo.readers.shapes import read_records, read_shapes
from geo.survey import Survey

OPTIONS = ReadOptions()
HEADER = "id,name,lon,lat"


def read(data: bytes, name: str = "s.csv") -> Survey:
    return read_survey(data, name, options=OPTIONS)


def codes(survey: Survey) -> list[tuple[int, str | None, str]]:
    return [(i.row, i.column, i.code) for i in survey.issues]


# -- an unclosed quote ----------------------------------------------------------------------------


def test_an_unclosed_quote_rejects_its_row_and_the_rest_is_read() -> None:
    survey = read(
        f'{HEADER}\n1,Bele,16.0,4.0\n2,Ngoto,16.05,4.1\n3,"Kambi,16.1,4.2\n4,Zanga,16.2,4.3\n'
        "5,Nola,16.3,4.4\n".encode()
    )
    assert survey.row.tolist() == [2, 3, 4, 5, 6]
    assert codes(survey) == [(4, "name", "unclosed_quote")]
    assert "line 4" in survey.issues[0].message
    assert [p.get("name") for p in survey.properties] == ["Bele", "Ngoto", None, "Zanga", "Nola"]
    assert survey.lat.tolist()[3:] == [4.3, 4.4]
    # the row as sent, the quote where it was, each value in its column
    assert survey.original_values(2) == {"id": "3", "name": '"Kambi', "lon": "16.1", "lat": "4.2"}


def test_a_quote_closing_on_another_row_loses_neither_row() -> None:
    """The quote of row 3 pairs with row 4's: csv gave row 3 the values of row 4 and lost it."""
    survey = read(
        f'{HEADER}\n1,"Bele",16.0,4.0\n3,"Kambi,16.1,4.2\n4,"Zanga",16.2,4.3\n5,"Nola",16.3,4.4\n'.encode()
    )
    assert survey.row.tolist() == [2, 3, 4, 5]
    assert codes(survey) == [(3, "name", "unclosed_quote")]
    assert survey.properties[2] == {"id": "4", "name": "Zanga", "lon": "16.2", "lat": "4.3"}


def test_a_value_on_several_lines_is_still_one_value() -> None:
    survey = read(
        f'{HEADER},note\n1,Bele,16.0,4.0,"first line\nsecond ""line"""\n2,B,16,4,x\n'.encode()
    )
    assert survey.row.tolist() == [2, 4] and not survey.issues
    assert survey.properties[0]["note"] == 'first line\nsecond "line"'


def test_an_unclosed_quote_on_the_last_line_is_reported() -> None:
    survey = read(f'{HEADER}\n1,Bele,16.0,4.0\n2,"Nola,16.3,4.4\n'.encode())
    assert codes(survey) == [(3, "name", "unclosed_quote")]


def test_an_unclosed_quote_in_a_kobo_export() -> None:
    header = "start,end,_site_latitude,_site_longitude,_site_altitude,_site_precision,site_name"
    data = (
        f'{header}\n2024-01-01,2024-01-01,4.1,16.1,500,5,"Chantier A\n'
        "2024-01-01,2024-01-01,4.2,16.2,500,5,Chantier B\n"
    ).encode()
    survey = read(data)
    assert survey.format == "kobo-csv"
    assert codes(survey) == [(2, "site_name", "unclosed_quote")]
    assert survey.properties[1]["site_name"] == "Chantier B"


def test_a_header_whose_quote_does_not_close_is_refused_naming_its_line() -> None:
    with pytest.raises(UnreadableFile, match="line 1"):
        read(b'id,"name,lon,lat\n1,"Bele",16.0,4.0\n')


def test_an_unclosed_quote_past_the_field_limit_is_a_row_not_a_refusal() -> None:
    rows = "".join(f"{i},Site {i} {'x' * 200},16.{i % 9},4.{i % 7}\n" for i in range(1000))
    survey = read(f'{HEADER}\n0,"Open,16,4\n{rows}'.encode())
    assert codes(survey) == [(2, "name", "unclosed_quote")] and len(survey) == 1001


def test_many_unclosed_quotes_take_linear_time() -> None:
    data = (HEADER + "\n" + "".join(f'{i},"Site {i},16.1,4.2\n' for i in range(20_000))).encode()
    started = time.perf_counter()
    survey = read(data)
    assert time.perf_counter() - started < 10
    assert len(survey) == 20_000 and {i.code for i in survey.issues} == {"unclosed_quote"}


NAMES = st.text(st.sampled_from("abcdeéïôKZ '"), min_size=1, max_size=10).filter(str.strip)


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(NAMES, st.booleans()), min_size=1, max_size=15))
def test_every_row_is_read_or_rejected_alone_whatever_quotes_are_left_open(
    rows: list[tuple[str, bool]],
) -> None:
    """A quote opening a name and never closed costs that row and no other: every other row
    is read with its own name and position, every broken one reported on its line."""
    lines = [
        f"{i},{chr(34) if broken else ''}{name},16.{i},4.5\n"
        for i, (name, broken) in enumerate(rows)
    ]
    survey = read((HEADER + "\n" + "".join(lines)).encode())
    assert survey.row.tolist() == [i + 2 for i in range(len(rows))]
    assert [(i.row, i.code) for i in survey.issues] == [
        (i + 2, "unclosed_quote") for i, (_, broken) in enumerate(rows) if broken
    ]
    for i, (name, broken) in enumerate(rows):
        if broken:
            assert survey.original_values(i)["name"] == chr(34) + name
        else:
            assert survey.properties[i]["name"] == name
            assert survey.lon[i] == pytest.approx(float(f"16.{i}"))


# -- rows not read keep their values --------------------------------------------------------------


def test_a_malformed_row_keeps_its_values_for_rejected_csv() -> None:
    survey = read(b"nom,lat,lon\nComptoir Zongo, Beach,4.33,18.6\nB,4.5,18.5\n")
    assert codes(survey) == [(2, None, "malformed_row")] and survey.properties[0] == {}
    assert survey.original_values(0) == {
        "nom": "Comptoir Zongo",
        "lat": " Beach",
        "lon": "4.33",
        "column_4": "18.6",
    }
    assert survey.original_values(1) == survey.properties[1]


def test_a_nul_row_keeps_its_values_for_rejected_csv() -> None:
    # a NUL in the head is taken for binary data: the row is past the first 64 KB
    padding = b"".join(b"Site %d,4.5,18.5\n" % i for i in range(4000))
    survey = read(b"nom,lat,lon\n" + padding + b"N\x00ola,4.33,18.6\n")
    assert survey.properties[4000] == {}
    assert survey.original_values(4000) == {"nom": "N\x00ola", "lat": "4.33", "lon": "18.6"}


# -- a few bytes that are not UTF-8 -------------------------------------------------------------

GOOD = "Bélé".encode()
BAD = "Bétaré".encode("cp1252")


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_a_utf8_csv_with_a_few_stray_bytes_stays_utf8(bom: bytes) -> None:
    survey = read(
        bom + b"name,lon,lat\n" + GOOD + b",16.0,4.0\nNola,16.1,4.1\n" + BAD + b",16.2,4.2\n"
    )
    assert survey.encoding == "UTF-8"
    assert survey.columns == ("name", "lon", "lat")
    assert [p["name"] for p in survey.properties] == ["Bélé", "Nola", "Bétaré"]
    assert codes(survey) == [(4, "name", "mixed_encoding")]
    assert "'Bétaré'" in survey.issues[0].message


def test_a_windows_1252_csv_is_still_read_as_such() -> None:
    text = "name,lon,lat\nBétaré,16.0,4.0\nNgoïla,16.1,4.1\nBaïbokoum,16.2,4.2\n"
    survey = read(text.encode("cp1252"))
    assert survey.encoding == "windows-1252" and not survey.issues
    assert [p["name"] for p in survey.properties] == ["Bétaré", "Ngoïla", "Baïbokoum"]


def test_stray_bytes_in_the_header_are_read_as_windows_1252() -> None:
    survey = read("name,lon,lat,Année\n".encode("cp1252") + "Bélé,16.0,4.0,2024\n".encode())
    assert survey.columns == ("name", "lon", "lat", "Année")
    assert survey.properties[0]["name"] == "Bélé" and not survey.issues
    assert any("header" in note for note in survey.notes)


def _gpx(*names: bytes) -> bytes:
    points = b"".join(
        b"<wpt lat='4.%d' lon='18.5'><name>%s</name></wpt>" % (i, name)
        for i, name in enumerate(names)
    )
    return (
        b"<gpx version='1.1' creator='t' xmlns='http://www.topografix.com/GPX/1/1'>%s</gpx>"
        % points
    )


def _kml(*names: bytes) -> bytes:
    marks = b"".join(
        b"<Placemark><name>%s</name><Point><coordinates>18.5,4.%d</coordinates></Point>"
        b"</Placemark>" % (name, i)
        for i, name in enumerate(names)
    )
    return b"<kml xmlns='http://www.opengis.net/kml/2.2'><Document>%s</Document></kml>" % marks


def _geojson(*names: bytes) -> bytes:
    features = b",".join(
        b'{"type":"Feature","properties":{"name":"%s"},"geometry":{"type":"Point",'
        b'"coordinates":[18.5,4.%d]}}' % (name, i)
        for i, name in enumerate(names)
    )
    return b'{"type":"FeatureCollection","features":[%s]}' % features


@pytest.mark.parametrize(("make", "suffix"), [(_gpx, "gpx"), (_kml, "kml"), (_geojson, "geojson")])
def test_every_text_format_with_a_few_stray_bytes_stays_utf8(make: object, suffix: str) -> None:
    survey = read(make(GOOD, b"Nola", BAD), f"t.{suffix}")  # type: ignore[operator]
    values = [p.get("name") or p.get("Name") for p in survey.properties]
    assert values == ["Bélé", "Nola", "Bétaré"]
    assert survey.encoding == "UTF-8"
    assert [(i.row, i.code) for i in survey.issues] == [(3, "mixed_encoding")]
    assert not any("\uf700" <= ch <= "\uf7ff" for v in values for ch in str(v))


def test_a_gpx_waypoint_put_back_keeps_the_issues_on_their_waypoints() -> None:
    data = _gpx(GOOD, BAD).replace(b"<wpt lat='4.0'", b"<wpt lat=''", 1)
    survey = read(data, "t.gpx")
    assert [(i.row, i.code) for i in survey.issues if i.code == "mixed_encoding"] == [
        (2, "mixed_encoding")
    ]


def test_zones_with_a_few_stray_bytes_stay_utf8() -> None:
    polygon = '"geometry":{"type":"Polygon","coordinates":[[[18,4],[19,4],[19,5],[18,4]]]}'
    data = (
        (
            '{"type":"FeatureCollection","features":['
            f'{{"type":"Feature","properties":{{"name":"Bélé"}},{polygon}}},'
            f'{{"type":"Feature","properties":{{"name":"BAD"}},{polygon}}}]}}'
        )
        .encode()
        .replace(b"BAD", BAD)
    )
    table = read_shapes(data, "z.geojson", options=OPTIONS, family="polygon")
    assert [p["name"] for p in table.properties] == ["Bélé", "Bétaré"]
    assert [(i.row, i.code) for i in table.issues] == [(2, "mixed_encoding")]


# -- a few bytes that are not UTF-8 in a Shapefile's DBF or a GeoPackage --------------------------
# The DBF and the GeoPackage are written by GDAL with ASCII placeholders of the same length as the
# Windows-1252 bytes put in their place (a DBF's fields and SQLite's records have fixed lengths).

PLACES = ["Comptoir Bétaré Sud", "Chantier Gbabélé", "PLACE1", "Dépôt Garoua-Boulaï Est"]
NGOILA = "Ngoïla".encode("cp1252")  # six bytes, as PLACE1
XY = ([15.7, 15.6, 14.1, 14.2], [4.3, 4.2, 5.7, 5.6])


def _shapefile(
    tmp_path: Path,
    places: list[str],
    *,
    encoding: str = "UTF-8",
    cpg: str | None = None,
    ldid: int = 0,
    replace: tuple[tuple[bytes, bytes], ...] = ((b"PLACE1", NGOILA),),
    geometry: object = None,
) -> bytes:
    """A zipped Shapefile of ``places`` (column ``nom``, and ``année``), its DBF written in
    ``encoding`` with code page byte ``ldid``, bytes replaced, and a ``.cpg`` when given."""
    folder = tmp_path / f"shp{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    frame = gpd.GeoDataFrame(
        {"nom": places, "année": ["2024"] * len(places)},
        geometry=geometry if geometry is not None else gpd.points_from_xy(*XY),
        crs=4326,
    )
    frame.to_file(folder / "sites.shp", engine="pyogrio", encoding=encoding)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in sorted(folder.glob("sites.*")):
            data = part.read_bytes()
            if part.suffix == ".cpg":
                continue
            if part.suffix == ".dbf":
                data = data[:29] + bytes([ldid]) + data[30:]
                for old, new in replace:
                    assert data.count(old) == 1
                    data = data.replace(old, new)
            archive.writestr(part.name, data)
        if cpg is not None:
            archive.writestr("sites.cpg", cpg)
    return buffer.getvalue()


def _geopackage(
    tmp_path: Path, places: list[str], replace: dict[bytes, bytes], geometry: object = None
) -> bytes:
    path = tmp_path / f"g{len(list(tmp_path.iterdir()))}.gpkg"
    gpd.GeoDataFrame(
        {"nom": places},
        geometry=geometry if geometry is not None else gpd.points_from_xy(*XY),
        crs=4326,
    ).to_file(path, engine="pyogrio")
    data = path.read_bytes()
    for old, new in replace.items():
        assert data.count(old) == 1
        data = data.replace(old, new)
    return data


@pytest.mark.parametrize("cpg", [None, "UTF-8"])
def test_a_utf8_shapefile_with_a_few_stray_bytes_stays_utf8(
    tmp_path: Path, cpg: str | None
) -> None:
    """One Windows-1252 value read the whole DBF as Windows-1252: every accented name mojibake,
    silently. Field names are decoded one by one too (``année`` written in Windows-1252)."""
    stray_name = (b"ann\xc3\xa9e\x00", b"ann\xe9e\x00\x00")
    survey = read(
        _shapefile(tmp_path, PLACES, cpg=cpg, replace=((b"PLACE1", NGOILA), stray_name)),
        "sites.zip",
    )
    assert survey.encoding == "UTF-8"
    assert survey.columns == ("nom", "année")
    assert [p["nom"] for p in survey.properties] == [*PLACES[:2], "Ngoïla", PLACES[3]]
    assert codes(survey) == [(3, "nom", "mixed_encoding")]
    assert "feature 3" in survey.issues[0].message and "'Ngoïla'" in survey.issues[0].message
    assert any("mixed_encoding" in note for note in survey.notes)


def test_a_shapefile_declaring_its_code_page_is_read_as_it_declares(tmp_path: Path) -> None:
    """A .cpg other than UTF-8, or a language driver id, is the DBF's own word: a UTF-8 file
    with a stray byte is read as declared, whole (GDAL decodes it); one in Windows-1252
    throughout without a word is still Windows-1252; the undeclared one is decoded value by
    value, its names right."""
    declared_1252 = read(_shapefile(tmp_path, PLACES, cpg="1252"), "sites.zip")
    by_ldid = read(_shapefile(tmp_path, PLACES, ldid=0x57), "sites.zip")  # Windows ANSI
    for survey in (declared_1252, by_ldid):
        assert survey.properties[0]["nom"] == "Comptoir BÃ©tarÃ© Sud" and not survey.issues
    assert by_ldid.encoding == "DBF code page 0x57"
    legacy = ["Comptoir Bétaré Sud", "Chantier Gbabélé", "Ngoïla", "Bangui"]
    throughout = read(_shapefile(tmp_path, legacy, encoding="cp1252", replace=()), "sites.zip")
    assert throughout.encoding == "windows-1252" and not throughout.issues
    assert [p["nom"] for p in throughout.properties] == legacy
    undeclared = read(_shapefile(tmp_path, PLACES), "sites.zip")
    assert undeclared.properties[0]["nom"] == "Comptoir Bétaré Sud"
    assert codes(undeclared) == [(3, "nom", "mixed_encoding")]


def test_a_geopackage_with_a_few_stray_bytes_stays_utf8(tmp_path: Path) -> None:
    """The layer was read again whole as Windows-1252 for one value; one in Windows-1252
    throughout still is."""
    survey = read(_geopackage(tmp_path, PLACES, {b"PLACE1": NGOILA}), "sites.gpkg")
    assert survey.encoding == "UTF-8"
    assert [p["nom"] for p in survey.properties] == [*PLACES[:2], "Ngoïla", PLACES[3]]
    assert codes(survey) == [(3, "nom", "mixed_encoding")]
    throughout = read(
        _geopackage(
            tmp_path,
            ["PLACE1", "PLACE2", "Bangui", "Nola"],
            {b"PLACE1": "Bétaré".encode("cp1252"), b"PLACE2": NGOILA},
        ),
        "sites.gpkg",
    )
    assert throughout.encoding == "windows-1252" and not throughout.issues
    assert [p["nom"] for p in throughout.properties][:2] == ["Bétaré", "Ngoïla"]


@pytest.mark.parametrize("fmt", ["zip", "gpkg"])
def test_zones_from_a_shapefile_or_geopackage_with_a_few_stray_bytes_stay_utf8(
    tmp_path: Path, fmt: str
) -> None:
    square = [Polygon([(15, 4), (15.1, 4), (15.1, 4.1)])] * len(PLACES)
    data = (
        _shapefile(tmp_path, PLACES, geometry=square)
        if fmt == "zip"
        else _geopackage(tmp_path, PLACES, {b"PLACE1": NGOILA}, geometry=square)
    )
    table = read_shapes(data, f"zones.{fmt}", options=OPTIONS, family="polygon")
    assert [p["nom"] for p in table.properties] == [*PLACES[:2], "Ngoïla", PLACES[3]]
    assert [(i.row, i.column, i.code) for i in table.issues] == [(3, "nom", "mixed_encoding")]


# -- registries and route tables keep the reader's issues -----------------------------------------


def test_a_table_of_records_keeps_the_reasons_of_the_rows_not_read() -> None:
    """``read_records`` (actors, route tables) dropped the reader's issues: a row not read was
    a blank record, a value that is not UTF-8 a record of guessed values, and nothing said so."""
    data = (
        "name,type\nCoopérative Lobaye,cooperative\n"
        '"Ouverte,cooperative\nSangha,buyer,extra\n'.encode()
        + "Négociant,trader\n".encode("cp1252")
    )
    table = read_records(data, "actors.csv", options=OPTIONS)
    assert table.row == [2, 3, 4, 5]
    assert [(i.row, i.column, i.code) for i in table.issues] == [
        (3, "name", "unclosed_quote"),
        (4, None, "malformed_row"),
        (5, "name", "mixed_encoding"),
    ]
    assert table.unread() == {3, 4, 5}
    assert table.records[0] == {"name": "Coopérative Lobaye", "type": "cooperative"}
