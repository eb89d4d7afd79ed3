"""Columns of one name in a CSV or XLSX header (found by a helper): the second ``lat`` was
read as ``lat (2)`` and the first silently used. A column the reader reads (coordinates,
accuracy, name, date, kind, minerals, a mapped one) is refused when another shares its name,
naming the file, the column and why; the others are kept apart and said in a note."""

from __future__ import annotations

import io
import zipfile

import pytest

from geo.errors import DuplicateColumn
from geo.readers import ReadOptions, read_survey
from geo.readers.tabular import same_names
from tests.geo.conftest import SAMPLES_DIR

OPTIONS = ReadOptions()


@pytest.mark.parametrize(
    ("header", "row", "column", "role"),
    [
        ("name,lat,lon,lat", "A,4.1,15.2,5.5", "lat", "latitude"),
        ("name,lon,lat,lon", "A,15.2,4.1,16", "lon", "longitude"),
        ("Name,name,lat,lon", "A,B,4.1,15.2", "Name", "site name"),  # case aside
        ("name,lat,lon,Date de visite,date_de_visite", "A,4.1,15.2,x,y", "Date de visite", "date"),
        ("name,lat,lon,kind,kind", "A,4.1,15.2,mine,sales_point", "kind", "kind"),
        ("name,lat,lon,minerals,minerals", "A,4.1,15.2,or,diamant", "minerals", "minerals"),
        ("name,lat,lon,accuracy,accuracy", "A,4.1,15.2,5,50", "accuracy", "accuracy"),
        ("gps,x,gps", "4.1 15.2 0 5,1,4.2 15.3 0 5", "gps", "coordinates"),
    ],
)
def test_a_read_column_sharing_its_name_is_refused(
    header: str, row: str, column: str, role: str
) -> None:
    with pytest.raises(DuplicateColumn) as raised:
        read_survey(f"{header}\n{row}\n".encode(), "field.csv", options=OPTIONS)
    assert raised.value.code == "duplicate_column"
    assert raised.value.column == column
    message = raised.value.message
    assert message.startswith("field.csv: columns ")
    assert f"which one holds the {role} cannot be told" in message
    assert "ambiguous duplicate column" in message


def test_a_mapped_column_sharing_its_name_is_refused() -> None:
    options = ReadOptions(column_map={"lon": "x", "lat": "y", "name": "label"})
    data = b"label,x,y,label\nA,15.2,4.1,B\n"
    with pytest.raises(DuplicateColumn, match=r"both named 'label'.*site name"):
        read_survey(data, "mapped.csv", options=options)


def test_an_unread_column_sharing_its_name_is_kept_and_noted() -> None:
    survey = read_survey(
        b"name,lat,lon,notes,notes\nA,4.1,15.2,first,second\n", "field.csv", options=OPTIONS
    )
    assert survey.columns == ("name", "lat", "lon", "notes", "notes (2)")
    assert survey.properties[0]["notes"] == "first"
    assert survey.properties[0]["notes (2)"] == "second"
    assert survey.notes == (
        "columns 4 and 5 are both named 'notes'; the upload reads none of them, each is kept "
        "among the row's attributes, as 'notes', 'notes (2)'",
    )


def test_an_xlsx_header_is_checked_as_a_csv_one() -> None:
    """GDAL hands both Latitude columns of a sheet over; the second was read as Latitude (2)."""
    with zipfile.ZipFile(SAMPLES_DIR / "comptoirs.xlsx") as workbook:
        members = {name: workbook.read(name) for name in workbook.namelist()}
    strings = "xl/sharedStrings.xml"
    members[strings] = members[strings].replace("<t>Précision (m)</t>".encode(), b"<t>Latitude</t>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(DuplicateColumn) as raised:
        read_survey(buffer.getvalue(), "comptoirs.xlsx", options=OPTIONS)
    assert raised.value.column == "Latitude"
    assert "columns 5 and 7 are both named 'Latitude'" in raised.value.message


def test_same_names_are_the_names_the_readers_compare() -> None:
    header = ["Nom_du_site", "nom du site", "lat", " ", "", "lat", "Lat"]
    columns = ["Nom_du_site", "nom du site", "lat", "column_4", "column_5", "lat (2)", "Lat"]
    groups = same_names(header, columns)
    assert [(g.read_as, g.positions) for g in groups] == [
        (("Nom_du_site", "nom du site"), (1, 2)),
        (("lat", "lat (2)", "Lat"), (3, 6, 7)),
    ]
    assert groups[1].describe() == "columns 3, 6 and 7 ('lat', 'lat', 'Lat') have one name " + (
        "(case, accents and _ aside)"
    )
