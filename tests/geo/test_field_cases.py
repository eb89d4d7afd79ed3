"""The survey-file field cases of ``../shared/cases``, read in place, expected results asserted.

Each case.md gives the input and the right result; the reader (and validation, with a country
lookup over Natural Earth Africa) must give exactly that. The families these cases belong to
are tested in ``test_survey_kinds``, ``test_archives``, ``test_reader_fuzz`` and
``test_coord_typography``.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from geo.errors import GeoError, UnreadableFile
from geo.readers import ReadOptions, read_survey
from geo.survey import Survey
from geo.validate import ValidationResult, ValidationRules, validate_survey
from tests.geo.conftest import SHARED_DIR, Locate

CASES = SHARED_DIR / "cases"
OPTIONS = ReadOptions()


def case_file(case: str, name: str) -> Path:
    path = CASES / case / name
    if not path.is_file():
        pytest.skip(f"field case absent: {path}")
    return path


def read(path: Path) -> Survey:
    return read_survey(path.read_bytes(), path.name, options=OPTIONS)


def validate(survey: Survey, locate: Locate, kind: str | None = "mine") -> ValidationResult:
    rules = ValidationRules(kind_default=kind)  # type: ignore[arg-type]
    return validate_survey(survey, rules=rules, locate=locate)


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("latin1_no_cpg.zip", "windows-1252"),
        ("latin1_cpg1252.zip", "windows-1252"),
        ("utf8_no_cpg.zip", "UTF-8"),
    ],
)
def test_01_shapefile_names_are_right_whatever_the_encoding(
    name: str, encoding: str, africa_locate: Locate
) -> None:
    survey = read(case_file("01-shp-latin1-no-cpg", name))
    assert [p["nom"] for p in survey.properties] == [
        "Comptoir Bétaré Sud", "Chantier Gbabélé", "Dépôt Garoua-Boulaï Est",
    ]  # fmt: skip
    assert survey.encoding == encoding
    result = validate(survey, africa_locate)
    assert len(result.accepted) == 3 and not result.issues
    assert ("cassiterite",) in result.minerals  # not the unknown "cassitÃ©rite"


@pytest.mark.parametrize("name", ["date_cells.xlsx", "serial_numbers.xlsx"])
def test_02_serial_dates_are_the_dates(name: str, africa_locate: Locate) -> None:
    result = validate(read(case_file("02-xlsx-excel-serial-dates", name)), africa_locate)
    assert result.dates == [date(2024, 3, 5), date(2024, 4, 15), date(2024, 6, 2)]
    assert len(result.accepted) == 3
    expected = ["excel_serial_date"] * 3 if name.startswith("serial") else []
    assert [i.code for i in result.issues] == expected


def test_04_na_is_an_empty_answer(africa_locate: Locate) -> None:
    survey = read(case_file("04-csv-ona-na-empty-values", "ona_export_na.csv"))
    result = validate(survey, africa_locate, kind=None)
    assert [(i.row, i.code) for i in result.issues] == [(3, "missing_coordinates")]
    assert survey.row[result.accepted].tolist() == [2, 4, 5]
    assert np.isnan(survey.accuracy_m[0])
    assert result.dates[2] is None and result.minerals[3] == ()


def test_13_empty_points_are_missing_coordinates(africa_locate: Locate) -> None:
    survey = read(case_file("13-gpkg-empty-and-3d-points", "empty_and_3d.gpkg"))
    result = validate(survey, africa_locate)
    assert survey.row[result.accepted].tolist() == [1, 4]
    assert [(i.row, i.code) for i in result.errors] == [
        (2, "missing_coordinates"), (3, "missing_coordinates"),
    ]  # fmt: skip
    assert survey.lon[[0, 3]].tolist() == [18.7212, 18.6489]


@pytest.mark.parametrize("name", ["empty_point.geojson", "empty_coordinates.kml"])
def test_13_empty_geojson_and_kml_points(name: str, africa_locate: Locate) -> None:
    survey = read(case_file("13-gpkg-empty-and-3d-points", name))
    result = validate(survey, africa_locate)
    assert survey.row[result.accepted].tolist() == [1]
    assert [(i.row, i.code) for i in result.errors] == [(2, "missing_coordinates")]


def test_rel05_a_field_beyond_the_csv_limit_is_unreadable_not_a_crash() -> None:
    data = b"name,lat,lon,kind\n" + b"A" * 131_073 + b",4.3,15.8,mine\n"
    with pytest.raises(UnreadableFile) as raised:
        read_survey(data, "long-field.csv", options=OPTIONS)
    assert raised.value.code == "unreadable_file"
    assert "field larger than field limit" in raised.value.message
    assert raised.value.row == 2


def test_rel13_gdal_errors_name_the_file_not_the_server_path() -> None:
    path = case_file("rel-13-error-detail-temp-path", "not-really.gpkg")
    with pytest.raises(GeoError) as raised:
        read(path)
    message = raised.value.message
    assert raised.value.code == "unreadable_file"
    assert "not-really.gpkg" in message
    assert tempfile.gettempdir() not in message and "borderlens-upload" not in message


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("broken.gpx", b'<?xml version="1.0"?><gpx version="1.1"><wpt lat="4" lon="15"><name>'),
        ("broken.xlsx", None),
        ("broken.kml", b'<?xml version="1.0"?><kml><Document><Placemark><Point><coordinates>'),
    ],
)
def test_rel13_family_no_server_path_in_any_reader_error(name: str, data: bytes | None) -> None:
    if data is None:  # a workbook whose sheet is cut short
        import io
        import zipfile

        from tests.geo.conftest import SAMPLES_DIR

        with zipfile.ZipFile(SAMPLES_DIR / "comptoirs.xlsx") as workbook:
            members = {n: workbook.read(n) for n in workbook.namelist()}
        sheet = "xl/worksheets/sheet1.xml"
        members[sheet] = members[sheet][: len(members[sheet]) // 2]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for member, content in members.items():
                archive.writestr(member, content)
        data = buffer.getvalue()
    with pytest.raises(GeoError) as raised:
        read_survey(data, name, options=OPTIONS)
    message = raised.value.message
    assert name in message
    assert tempfile.gettempdir() not in message and "/vsi" not in message
