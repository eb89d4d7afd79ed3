"""Issue 8's survey-file kinds, each as a family (items 1, 4, 5, 7, 11, 12).

Each family is written beyond the field case that found it, and the right value is the
assertion: the row numbers and positions a sender would expect, the codes validation gives.
Inputs are built here (geopandas/pyogrio write the GDAL formats) so nothing skips.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import wkt

from geo.dates import SERIAL_WINDOW, parse_dates
from geo.readers import ReadOptions, read_survey
from geo.survey import Survey
from geo.validate import ValidationRules, repaired_mojibake, validate_survey
from geo.vocab import EMPTY_VALUES, site_kinds, split_list
from tests.geo.test_validate import BoxLocator

OPTIONS = ReadOptions()
GPX_HEAD = (
    '<?xml version="1.0"?><gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">'
)
KML_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
)


def read(data: bytes, name: str, options: ReadOptions = OPTIONS) -> Survey:
    return read_survey(data, name, options=options)


def validated(survey: Survey, **rules: object) -> dict[int, list[str]]:
    """Codes per row after validation (rows without issues map to [])."""
    result = validate_survey(
        survey,
        rules=ValidationRules(kind_default="mine", **rules),
        locate=BoxLocator(),  # type: ignore[arg-type]
    )
    codes: dict[int, list[str]] = {int(r): [] for r in survey.row}
    for issue in result.issues:
        codes[issue.row].append(issue.code)
    return codes


# -- item 1: empty geometries ------------------------------------------------------------------


def _gdal_file(tmp_path: Path, suffix: str, geometries: list[str | None]) -> bytes:
    frame = gpd.GeoDataFrame(
        {"name": [f"S{i}" for i in range(len(geometries))]},
        geometry=[None if g is None else wkt.loads(g) for g in geometries],
        crs=4326,
    )
    path = tmp_path / f"sites{suffix}"
    frame.to_file(path, engine="pyogrio")
    if suffix != ".shp":
        return path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in tmp_path.glob("sites.*"):
            archive.write(part, part.name)
    return buffer.getvalue()


EMPTY_WKT = ["POINT EMPTY", "POINT Z EMPTY", None, "MULTIPOINT EMPTY"]


@pytest.mark.parametrize("empty", EMPTY_WKT, ids=lambda e: str(e))
@pytest.mark.parametrize(("suffix", "name"), [(".gpkg", "s.gpkg"), (".geojson", "s.geojson")])
def test_an_empty_point_is_a_row_without_coordinates(
    tmp_path: Path, suffix: str, name: str, empty: str | None
) -> None:
    if empty == "POINT Z EMPTY" and suffix == ".geojson":
        empty = "POINT EMPTY"  # GeoJSON has no 3-D empty point
    data = _gdal_file(
        tmp_path, suffix, ["POINT Z (18.7212 8.6977 372.5)", empty, "POINT (18.6489 8.6412)"]
    )
    survey = read(data, name)
    assert survey.row.tolist() == [1, 2, 3]
    assert np.isnan(survey.lon[1]) and np.isnan(survey.lat[1])
    assert survey.lon[[0, 2]].tolist() == [18.7212, 18.6489]
    assert validated(survey) == {1: [], 2: ["missing_coordinates"], 3: []}


def test_a_shapefile_null_shape_is_a_row_without_coordinates(tmp_path: Path) -> None:
    survey = read(_gdal_file(tmp_path, ".shp", ["POINT (18.7 8.6)", None]), "s.zip")
    assert validated(survey) == {1: [], 2: ["missing_coordinates"]}


@pytest.mark.parametrize(
    "point",
    [
        "<Point/>",
        "<Point></Point>",
        "<Point><coordinates></coordinates></Point>",
        "<Point><coordinates/></Point>",
        "<Point><coordinates>  \n </coordinates></Point>",
    ],
)
@pytest.mark.parametrize("container", ["kml", "kmz"])
def test_an_empty_kml_point_is_a_row_without_coordinates(point: str, container: str) -> None:
    kml = (
        f"{KML_HEAD}<Placemark><name>A</name><Point><coordinates>18.7212,8.6977</coordinates>"
        f"</Point></Placemark><Placemark><name>B</name>{point}</Placemark>"
        "<Placemark><name>C</name><Point><coordinates>18.6489,8.6412,0</coordinates></Point>"
        "</Placemark></Document></kml>"
    ).encode()
    if container == "kmz":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("doc.kml", kml)
        kml = buffer.getvalue()
    survey = read(kml, f"e.{container}")
    assert validated(survey) == {1: [], 2: ["missing_coordinates"], 3: []}


def test_a_real_zero_zero_in_kml_stays_zero_zero() -> None:
    kml = (
        f"{KML_HEAD}<Placemark><name>A</name><Point><coordinates>0,0</coordinates></Point>"
        "</Placemark><Placemark><name>B</name><Point/></Placemark></Document></kml>"
    ).encode()
    # A file that writes 0,0 somewhere cannot tell its 0,0s apart: both stay an empty fix.
    assert validated(read(kml, "z.kml")) == {1: ["zero_zero"], 2: ["zero_zero"]}


@pytest.mark.parametrize(
    ("attributes", "codes"),
    [
        ('lat="" lon="18.5"', ["missing_coordinates"]),
        ('lon="18.5"', ["missing_coordinates"]),
        ('lat="4.1"', ["missing_coordinates"]),
        ('lat="" lon=""', ["missing_coordinates"]),
        ('lat=" " lon="18.5"', ["missing_coordinates"]),
        ('lat="abc" lon="18.5"', ["unparseable_coordinate"]),
        ('lat="4,1" lon="18.1"', ["unparseable_coordinate"]),
        ("lat='4.1' lon='18.1'", []),
    ],
)
@pytest.mark.parametrize("tracks", [False, True])
def test_gpx_waypoints_keep_their_place_whatever_their_position(
    attributes: str, codes: list[str], tracks: bool
) -> None:
    gpx = (
        f'{GPX_HEAD}<wpt lat="4.3" lon="18.5"><name>A</name></wpt>'
        f"<wpt {attributes}><name>B</name></wpt>"
        '<wpt lat="4.2" lon="18.4"><name>C</name></wpt>'
        '<trk><trkseg><trkpt lat="4.25" lon="18.45"/></trkseg></trk></gpx>'
    ).encode()
    survey = read(gpx, "w.gpx", ReadOptions(include_tracks=tracks))
    assert survey.row.tolist() == ([1, 2, 3, 4] if tracks else [1, 2, 3])
    assert survey.lat[[0, 2]].tolist() == [4.3, 4.2]
    found = validated(survey)
    assert found[1] == [] and found[3] == [] and found[2] == codes
    if tracks:
        assert survey.lat[3] == 4.25


# -- item 4: spreadsheet serial dates ----------------------------------------------------------


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.dates(min_value=SERIAL_WINDOW[0], max_value=SERIAL_WINDOW[1]),
    st.sampled_from([1900, 1904]),
    st.sampled_from(["", ".0", ".5", ",25"]),
)
def test_a_serial_day_number_in_the_window_is_its_date(
    day: date, system: int, fraction: str
) -> None:
    epoch = date(1899, 12, 30) if system == 1900 else date(1904, 1, 1)
    serial = f"{(day - epoch).days}{fraction}"
    parsed = parse_dates([serial], date_system=system)  # type: ignore[arg-type]
    assert parsed.dates == [day] and not parsed.errors
    assert f"{system} date system" in parsed.serials[0] and str(day) in parsed.serials[0]


@pytest.mark.parametrize(
    ("text", "system", "shown"),
    [("1", 1900, "1900-01-01"), ("60", 1900, None), ("12345", 1900, "1933-10-18"),
     ("2024", 1900, "1905-07-16"), ("80000", 1900, "2119-01-11"), ("0", 1904, "1904-01-01"),
     ("9999999", 1900, None)],
)  # fmt: skip
def test_a_serial_outside_the_window_names_the_value_and_the_convention(
    text: str, system: int, shown: str | None
) -> None:
    parsed = parse_dates([text], date_system=system)  # type: ignore[arg-type]
    assert parsed.dates == [None]
    message = parsed.errors[0]
    assert repr(text) in message and f"Excel serial day number ({system} date system)" in message
    if shown:
        assert shown in message


def test_real_excel_serials_match_excel() -> None:
    # Known pairs from Excel itself (1900 system): 45356 is 2024-03-05, 36526 is 2000-01-01.
    parsed = parse_dates(["45356", "45397", "45445", "36526", "32874"])
    assert parsed.dates == [
        date(2024, 3, 5), date(2024, 4, 15), date(2024, 6, 2), date(2000, 1, 1), date(1990, 1, 1)
    ]  # fmt: skip
    assert parse_dates(["43893"], date_system=1904).dates == [date(2024, 3, 4)]


@pytest.mark.parametrize("as_text", [False, True])
def test_serials_in_a_csv_date_column_are_dates_with_a_warning(as_text: bool) -> None:
    serials = [(date(2024, 3, 5) + timedelta(days=k) - date(1899, 12, 30)).days for k in range(3)]
    cells = [f'"{s}"' if as_text else str(s) for s in serials]
    data = "name,lat,lon,date_visite\n" + "".join(
        f"S{k},4.3{k},18.5{k},{cell}\n" for k, cell in enumerate(cells)
    )
    survey = read(data.encode(), "d.csv")
    result = validate_survey(
        survey, rules=ValidationRules(kind_default="mine"), locate=BoxLocator()
    )
    assert result.dates == [date(2024, 3, 5), date(2024, 3, 6), date(2024, 3, 7)]
    assert [i.code for i in result.issues] == ["excel_serial_date"] * 3
    assert len(result.accepted) == 3


def _workbook_1904(tmp_path: Path) -> bytes:
    frame = gpd.GeoDataFrame(
        {"Nom": ["A"], "Latitude": [3.53], "Longitude": [16.07], "Date visite": [43893]},
    )
    path = tmp_path / "w.xlsx"
    frame.to_file(path, driver="XLSX", engine="pyogrio")
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    workbook = members["xl/workbook.xml"]
    if b"<workbookPr" in workbook:
        workbook = workbook.replace(b"<workbookPr", b'<workbookPr date1904="1"', 1)
    else:
        workbook = workbook.replace(b"<sheets>", b'<workbookPr date1904="1"/><sheets>', 1)
    members["xl/workbook.xml"] = workbook
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_a_1904_workbook_counts_serials_from_1904(tmp_path: Path) -> None:
    survey = read(_workbook_1904(tmp_path), "w.xlsx")
    assert survey.date_system == 1904
    result = validate_survey(
        survey, rules=ValidationRules(kind_default="mine"), locate=BoxLocator()
    )
    assert result.dates == [date(2024, 3, 4)]


# -- item 5: empty-value tokens ----------------------------------------------------------------

TOKENS = sorted(EMPTY_VALUES - {""})


@pytest.mark.parametrize("token", TOKENS)
def test_an_empty_token_is_empty_in_every_column(token: str) -> None:
    for spelled in (token, token.upper(), f"  {token} "):
        data = (
            "nom_site,type_site,minerais,date_visite,latitude,longitude,precision\n"
            f"Good,chantier,{spelled},{spelled},4.3,18.5,{spelled}\n"
            f"{spelled},{spelled},or,2024-02-13,{spelled},{spelled},5\n"
        ).encode()
        survey = read(data, "na.csv")
        result = validate_survey(
            survey, rules=ValidationRules(kind_default="mine"), locate=BoxLocator()
        )
        assert [(i.row, i.code) for i in result.issues] == [(3, "missing_coordinates")], spelled
        assert result.minerals == [(), ("gold",)]
        assert result.dates[0] is None and result.names == ["Good", None]
        assert result.kinds == ["mine", "mine"]
        assert np.isnan(survey.accuracy_m[0])


def test_the_tokens_can_be_replaced_per_upload() -> None:
    data = b"name,latitude,longitude,minerais\nnone,4.3,18.5,n/a\nA,4.4,18.6,-\n"
    own = ReadOptions(empty_values=frozenset({"-"}))
    survey = read(data, "own.csv", own)
    assert [p["name"] for p in survey.properties] == ["none", "A"]
    assert [p["minerais"] for p in survey.properties] == ["n/a", ""]
    default = read(data, "own.csv")
    assert [p["name"] for p in default.properties] == ["", "A"]


@pytest.mark.parametrize(
    ("cell", "items"),
    [("n/a", []), ("or; n/a", ["or"]), ("#N/A, diamant", ["diamant"]), ("N/D", []),
     ("or / diamant", ["or", "diamant"]), ("-", []), ("or, -, coltan", ["or", "coltan"])],
)  # fmt: skip
def test_a_mineral_list_never_splits_an_empty_token(cell: str, items: list[str]) -> None:
    assert split_list(cell) == items


def test_gdal_fields_with_empty_tokens_are_absent() -> None:
    geojson = (
        b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        b'{"name":"A","minerals":"N/A","accuracy":"-"},"geometry":{"type":"Point",'
        b'"coordinates":[18.5,4.3]}}]}'
    )
    survey = read(geojson, "g.geojson")
    assert survey.properties == [{"name": "A"}] and np.isnan(survey.accuracy_m[0])


def test_a_geopoint_with_empty_parts_keeps_what_it_has() -> None:
    data = b"name,gps\nA,3.9455 17.1688 n/a n/a\nB,n/a\nC,n/a n/a 400 5\n"
    survey = read(data, "g.csv", ReadOptions(column_map={"geopoint": "gps"}))
    assert survey.lat[0] == 3.9455 and np.isnan(survey.accuracy_m[0])
    assert np.isnan(survey.lat[1:]).all() and not survey.issues


# -- item 7: text encodings without a declaration ----------------------------------------------

NAMES = ["Comptoir Bétaré Sud", "Chantier Gbabélé", "Dépôt Garoua-Boulaï Est", "L\u2019\u0153uvre"]


def _shapefile_zip(tmp_path: Path, encoding: str, cpg: str | None) -> bytes:
    frame = gpd.GeoDataFrame(
        {"nom": NAMES}, geometry=gpd.points_from_xy([15.7, 15.6, 14.1, 14.2], [4.3, 4.2, 5.7, 5.6]),
        crs=4326,
    )  # fmt: skip
    path = tmp_path / "sites.shp"
    frame.to_file(path, engine="pyogrio", encoding=encoding)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in sorted(tmp_path.glob("sites.*")):
            if part.suffix == ".cpg":
                continue
            data = part.read_bytes()
            if part.suffix == ".dbf":
                data = data[:29] + b"\x00" + data[30:]  # no code page byte either
            archive.write(part, part.name) if part.suffix != ".dbf" else archive.writestr(
                part.name, data
            )
        if cpg is not None:
            archive.writestr("sites.cpg", cpg)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("encoding", "cpg", "label"),
    [("UTF-8", None, "UTF-8"), ("cp1252", None, "windows-1252"),
     ("cp1252", "1252", "windows-1252"), ("UTF-8", "UTF-8", "UTF-8"),
     ("cp1252", "UTF-8", "windows-1252")],
)  # fmt: skip
def test_a_shapefile_is_read_in_the_encoding_its_bytes_have(
    tmp_path: Path, encoding: str, cpg: str | None, label: str
) -> None:
    survey = read(_shapefile_zip(tmp_path, encoding, cpg), "sites.zip")
    assert [p["nom"] for p in survey.properties] == NAMES
    assert survey.encoding == label
    assert not any(validated(survey).values())


@pytest.mark.parametrize("fmt", ["csv", "kml", "gpx", "geojson"])
@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_every_text_format_is_utf8_when_it_is_else_windows_1252(fmt: str, encoding: str) -> None:
    name = NAMES[3]
    text = {
        "csv": f"name,lat,lon\n{name},4.3,18.5\n",
        "kml": f"<kml xmlns='http://www.opengis.net/kml/2.2'><Document><Placemark><name>{name}"
        "</name><Point><coordinates>18.5,4.3</coordinates></Point></Placemark></Document></kml>",
        "gpx": f"<gpx version='1.1' creator='t' xmlns='http://www.topografix.com/GPX/1/1'>"
        f"<wpt lat='4.3' lon='18.5'><name>{name}</name></wpt></gpx>",
        "geojson": '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        f'{{"name":"{name}"}},"geometry":{{"type":"Point","coordinates":[18.5,4.3]}}}}]}}',
    }[fmt]
    survey = read(text.encode(encoding), f"t.{fmt}")
    value = survey.properties[0].get("name") or survey.properties[0].get("Name")
    assert value == name
    assert survey.encoding == ("UTF-8" if encoding == "utf-8" else "windows-1252")


@pytest.mark.parametrize("name", [*NAMES, "São Tomé", "Ngoïla", "\u00c7a va \u2013 bien"])
def test_mojibake_is_flagged_with_the_probable_name(name: str) -> None:
    garbled = name.encode("utf-8").decode("cp1252", errors="replace")
    assert repaired_mojibake(garbled) == name
    assert repaired_mojibake(name) is None
    survey = read(f"name,lat,lon\n{garbled},4.3,18.5\n{name},4.4,18.6\n".encode(), "m.csv")
    assert validated(survey) == {2: ["mojibake"], 3: []}


# -- item 11: kind from the file's own structure -----------------------------------------------

FOLDERS = {
    "Chantiers": "mine", "Mines": "mine", "Garimpos": "mine", "Sites miniers": "mine",
    "chantiers_miniers": "mine", "Mining sites": "mine", "Minas": "mine",
    "Comptoirs": "sales_point", "Points de vente": "sales_point", "Sales points": "sales_point",
    "Bureaux d\u2019achat": "sales_point", "Bureaux d'achat": "sales_point",
    "Pontos de venda": "sales_point", "Buying houses": "sales_point", "Marchés": "sales_point",
}  # fmt: skip


@pytest.mark.parametrize(("folder", "kind"), sorted(FOLDERS.items()))
def test_a_kml_folder_named_for_a_kind_gives_it(folder: str, kind: str) -> None:
    assert site_kinds().lookup(folder.replace("\u2019", "'").replace("_", " ")) == kind
    kml = (
        f"{KML_HEAD}<Folder><name>{folder}</name><Placemark><name>A</name><Point><coordinates>"
        "18.5,4.3</coordinates></Point></Placemark></Folder><Folder><name>Divers</name>"
        "<Placemark><name>B</name><Point><coordinates>18.6,4.4</coordinates></Point>"
        "</Placemark></Folder></Document></kml>"
    ).encode()
    survey = read(kml, "f.kml")
    result = validate_survey(survey, rules=ValidationRules(), locate=BoxLocator())
    # The folder speaks for its rows; a folder named for no kind leaves the row without one.
    assert result.kinds == [kind, None]
    with_default = validate_survey(
        survey, rules=ValidationRules(kind_default="mine"), locate=BoxLocator()
    )
    assert with_default.kinds == [kind, "mine"]


def test_a_kind_column_beats_the_folder() -> None:
    kml = (
        f"{KML_HEAD}<Folder><name>Comptoirs</name><Placemark><name>A</name><ExtendedData>"
        '<Data name="type"><value>chantier</value></Data></ExtendedData><Point><coordinates>'
        "18.5,4.3</coordinates></Point></Placemark></Folder></Document></kml>"
    ).encode()
    survey = read(kml, "f.kml")
    result = validate_survey(survey, rules=ValidationRules(), locate=BoxLocator())
    assert result.kinds == ["mine"]


@pytest.mark.parametrize(
    ("style", "kind"),
    [("Chantiers", "mine"), ("icon-comptoir-rouge", "sales_point"), ("garimpo_azul", "mine"),
     ("style-point-de-vente", "sales_point"), ("Mines", "mine"), ("icon-1899-0288D1", None),
     ("mine-et-comptoir", None)],
)  # fmt: skip
@pytest.mark.parametrize("container", ["kml", "kmz"])
def test_a_kml_style_named_for_a_kind_gives_it(
    style: str, kind: str | None, container: str
) -> None:
    kml = (
        f'{KML_HEAD}<Style id="{style}"><IconStyle><scale>1</scale></IconStyle></Style>'
        f"<Placemark><name>A</name><styleUrl>#{style}</styleUrl><Point><coordinates>18.5,4.3"
        "</coordinates></Point></Placemark><Placemark><name>B</name><Point><coordinates>"
        "18.6,4.4</coordinates></Point></Placemark></Document></kml>"
    ).encode()
    if container == "kmz":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("doc.kml", kml)
        kml = buffer.getvalue()
    survey = read(kml, f"s.{container}")
    result = validate_survey(survey, rules=ValidationRules(), locate=BoxLocator())
    assert result.kinds == [kind, None]


# -- item 12: a lone outlier is questioned -----------------------------------------------------

# Boxes standing for countries (as in test_validate), with one far away for swapped digits.
OUTLIER_BOXES = {
    "CAF": (14.0, 2.2, 27.0, 11.0),
    "COD": (12.0, -13.0, 31.0, 2.2),
    "NER": (0.0, 11.0, 14.0, 23.0),
    "IND": (70.0, 0.0, 90.0, 30.0),
}


def locate_boxes(
    lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
) -> npt.NDArray[np.object_]:
    found = np.full(len(lon), None, dtype=object)
    for iso3, (west, south, east, north) in OUTLIER_BOXES.items():
        inside = (lon >= west) & (lon < east) & (lat >= south) & (lat < north)
        found[inside] = iso3
    return found


def _survey_with(stray: tuple[float, float] | None, *extra: tuple[float, float]) -> Survey:
    from tests.geo.test_validate import survey_of

    rng = np.random.default_rng(7)
    lons = (18.5 + rng.uniform(-1, 1, 12)).tolist()
    lats = (4.4 + rng.uniform(-1, 1, 12)).tolist()
    for lon, lat in [*extra, *([stray] if stray else [])]:
        lons.append(lon)
        lats.append(lat)
    return survey_of(lons, lats)


@pytest.mark.parametrize(
    ("stray", "hint", "when_declared"),
    [
        # A lost minus sign (a CAF point read in COD), swapped columns (in NER), 18.5 typed as
        # 81.5 (no correction explains it). With the country declared, the first two are the
        # existing rejections; without, only the lone-outlier rule can notice them.
        ((18.6, -4.4), "with the latitude negated", "dropped_minus_sign"),
        ((4.4, 18.6), "with latitude and longitude swapped", "swapped_lat_lon"),
        ((81.5, 4.3), None, "lone_outlier"),
    ],
)
def test_a_row_far_from_all_others_in_another_country_is_questioned(
    stray: tuple[float, float], hint: str | None, when_declared: str
) -> None:
    survey = _survey_with(stray)
    rules = ValidationRules(kind_default="mine")
    result = validate_survey(survey, rules=rules, locate=locate_boxes)
    assert [(i.row, i.code) for i in result.issues] == [(int(survey.row[-1]), "lone_outlier")]
    flagged = result.issues[0]
    assert flagged.severity == "warning" and "km from every other row" in flagged.message
    assert (hint in flagged.message) if hint else ("it would lie" not in flagged.message)
    assert len(result.accepted) == len(survey)
    declared = ValidationRules(kind_default="mine", declared_country="CAF")
    codes = {i.code for i in validate_survey(survey, rules=declared, locate=locate_boxes).issues}
    assert when_declared in codes


def test_no_outlier_among_neighbours_or_in_a_shared_country() -> None:
    rules = ValidationRules(kind_default="mine")
    result = validate_survey(_survey_with(None), rules=rules, locate=locate_boxes)
    assert not [i for i in result.issues if i.code == "lone_outlier"]
    # Two far rows in one country are a second team, not strays; nor is anything in a pair.
    result = validate_survey(
        _survey_with(None, (28.0, -4.0), (28.1, -4.1)), rules=rules, locate=locate_boxes
    )
    assert not [i for i in result.issues if i.code == "lone_outlier"]
