"""read_survey over every sample format, the real device GPX files, and header conventions."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.errors import (
    CRSRequired,
    InvalidColumnMap,
    InvalidCRS,
    NoCoordinateColumns,
    UnreadableFile,
)
from geo.readers import FORMATS, ReadOptions, read_survey
from geo.readers.tabular import unique_columns
from geo.survey import Survey
from geo.vocab import empty_value_test
from tests.geo.conftest import SAMPLES_DIR, SHARED_SAMPLES_DIR, Locate

OPTIONS = ReadOptions()
EXPECTED = list(csv.DictReader((SAMPLES_DIR / "expected.csv").open(encoding="utf-8")))
SAMPLE_FILES = sorted({row["file"] for row in EXPECTED})
FORMAT_OF = {
    "kobo_survey.csv": ("kobo-csv", "EPSG:4326"),
    "odk_central.csv": ("odk-csv", "EPSG:4326"),
    "handheld.gpx": ("gpx", "EPSG:4326"),
    "google_earth.kmz": ("kmz", "EPSG:4326"),
    "my_maps.kml": ("kml", "EPSG:4326"),
    "sites_utm34n.zip": ("shapefile", "EPSG:32634"),
    "field_team.gpkg": ("gpkg", "EPSG:4326"),
    "sites.geojson": ("geojson", "EPSG:4326"),
    "comptoirs.xlsx": ("xlsx", "EPSG:4326"),
    "dms_coordinates.csv": ("csv", "EPSG:4326"),
    "decimal_comma.csv": ("csv", "EPSG:4326"),
    "mixed_bad_rows.csv": ("csv", "EPSG:4326"),
}
# Waypoints, and all points with tracks, per ../shared/data/samples/README.md.
SHARED_GPX = {
    "gpxpy__korita-zbevnica.gpx": (2, 871),
    "gpxpy__cerknicko-jezero.gpx": (7, 296),
    "togeojson__blue_hills.gpx": (46, 1243),
}


def read_sample(name: str, options: ReadOptions = OPTIONS) -> Survey:
    return read_survey((SAMPLES_DIR / name).read_bytes(), name, options=options)


def read_text(text: str, name: str = "survey.csv", **options: object) -> Survey:
    return read_survey(text.encode("utf-8"), name, options=ReadOptions(**options))  # type: ignore[arg-type]


def test_every_sample_file_has_expected_positions() -> None:
    on_disk = {
        p.name
        for p in SAMPLES_DIR.iterdir()
        if p.suffix != ".py" and p.suffix != ".md" and "expected" not in p.name
    }
    assert on_disk == set(SAMPLE_FILES) == set(FORMAT_OF)
    assert {spec.format for spec in FORMATS} <= {
        fmt.split("-")[-1] for fmt, _ in FORMAT_OF.values()
    }


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_sample_points_are_where_they_were_written(name: str) -> None:
    survey = read_sample(name)
    assert (survey.format, survey.source_crs) == FORMAT_OF[name]
    index = {row: i for i, row in enumerate(survey.row.tolist())}
    for expected in (row for row in EXPECTED if row["file"] == name):
        i = index[int(expected["row"])]
        assert survey.lon[i] == pytest.approx(float(expected["lon"]), abs=1e-6)
        assert survey.lat[i] == pytest.approx(float(expected["lat"]), abs=1e-6)


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_sample_rows_have_properties_and_roles(name: str) -> None:
    survey = read_sample(name)
    assert len(survey.properties) == len(survey) > 0
    assert all(
        isinstance(v, str | int | float | bool) for p in survey.properties for v in p.values()
    )
    json.dumps(list(survey.properties))
    assert "name" in survey.field_columns


def test_sample_sites_lie_in_their_countries(africa_locate: Locate) -> None:
    iso3 = africa_locate(
        np.array([float(r["lon"]) for r in EXPECTED]), np.array([float(r["lat"]) for r in EXPECTED])
    )
    assert iso3.tolist() == [r["iso3"] for r in EXPECTED]


@pytest.mark.parametrize("name", sorted(SHARED_GPX))
def test_real_device_gpx_waypoints(name: str, shared_samples_dir: Path) -> None:
    path = shared_samples_dir / name
    if not path.is_file():
        pytest.skip(f"shared sample not present: {path}")
    waypoints, track_points = SHARED_GPX[name]
    survey = read_survey(path.read_bytes(), name, options=OPTIONS)
    assert survey.format == "gpx" and len(survey) == waypoints
    assert survey.row.tolist() == list(range(1, waypoints + 1))
    # An independent read of the same layer through GDAL gives the same points.
    _, _, wkb, _ = pyogrio.raw.read(path, layer="waypoints")
    geometries = shapely.from_wkb(wkb)
    np.testing.assert_allclose(survey.lon, shapely.get_x(geometries), atol=1e-12)
    np.testing.assert_allclose(survey.lat, shapely.get_y(geometries), atol=1e-12)
    assert "tracks" in " ".join(survey.notes)
    with_tracks = read_survey(path.read_bytes(), name, options=ReadOptions(include_tracks=True))
    assert len(with_tracks) >= waypoints + track_points
    assert np.all(np.diff(with_tracks.row) > 0)


def test_shared_gpx_paths_exist_or_skip() -> None:
    if not SHARED_SAMPLES_DIR.is_dir():
        pytest.skip("shared samples absent")
    assert {p.name for p in SHARED_SAMPLES_DIR.glob("*.gpx")} == set(SHARED_GPX)


def test_handheld_tracks_are_rows_only_when_asked() -> None:
    survey = read_sample("handheld.gpx", ReadOptions(include_tracks=True))
    assert len(survey) == 4 + 12
    assert survey.row.tolist() == list(range(1, 17))
    assert survey.field_columns["date"] == ("time",)


def test_kobo_conventions() -> None:
    survey = read_sample("kobo_survey.csv")
    assert survey.coordinate_columns == ("groupe_site/_gps_longitude", "groupe_site/_gps_latitude")
    assert survey.accuracy_column == "groupe_site/_gps_precision"
    assert survey.accuracy_m.tolist() == [4.0, 6.5, 8.0, 12.0, 5.0, 9.5]
    assert survey.row.tolist() == [2, 3, 4, 5, 6, 7]
    assert survey.field_columns["date"] == ("today",)


def test_odk_conventions() -> None:
    survey = read_sample("odk_central.csv")
    assert survey.coordinate_columns == ("site-location-Longitude", "site-location-Latitude")
    assert survey.accuracy_column == "site-location-Accuracy"
    assert survey.field_columns["date"] == ("site-date_visite",)


def test_a_geopoint_column_alone_is_found_by_its_content() -> None:
    text = "position_du_site,nom\n4.36 18.55 512 4.5,A\n-4.3 15.3 300 12,B\n"
    survey = read_text(text)
    assert survey.format == "csv" and survey.coordinate_columns == ("position_du_site",)
    assert survey.lon.tolist() == [18.55, 15.3] and survey.lat.tolist() == [4.36, -4.3]
    assert survey.accuracy_m.tolist() == [4.5, 12.0]


def test_kobo_metadata_geopoints_are_not_the_site() -> None:
    text = (
        "_start-geopoint_latitude,_start-geopoint_longitude,g/_gps_latitude,g/_gps_longitude\n"
        "1,2,4.5,18.5\n"
    )
    assert read_text(text).lon.tolist() == [18.5]


def test_plain_headers_with_group_prefix_and_units() -> None:
    text = "groupe/Longitude (DD);groupe/Latitude (DD);précision_m\n18,5;4,25;7,5\n"
    survey = read_text(text)
    assert (survey.lon[0], survey.lat[0], survey.accuracy_m[0]) == (18.5, 4.25, 7.5)


def test_explicit_column_map_wins() -> None:
    text = "E_coord,N_coord,lon,lat\n18.5,4.25,0,0\n"
    survey = read_text(text, column_map={"lon": "E_coord", "lat": "N_coord"})
    assert (survey.lon[0], survey.lat[0]) == (18.5, 4.25)
    assert survey.coordinate_columns == ("E_coord", "N_coord")


@pytest.mark.parametrize(
    "column_map",
    [{"lon": "nope", "lat": "N_coord"}, {"lon": "E_coord"}, {"colour": "E_coord"}],
)
def test_a_bad_column_map_is_refused(column_map: dict[str, str]) -> None:
    with pytest.raises(InvalidColumnMap):
        read_text("E_coord,N_coord\n18.5,4.25\n", column_map=column_map)


def test_no_coordinate_columns() -> None:
    with pytest.raises(NoCoordinateColumns, match="column mapping"):
        read_text("nom,minerai\nA,or\n")


def test_projected_columns_need_a_crs_and_then_land_right() -> None:
    text = "nom,easting,northing\nA,500000,482000\n"
    with pytest.raises(CRSRequired, match="never guesses"):
        read_text(text)
    survey = read_text(text, crs="UTM 34N")
    assert survey.source_crs == "EPSG:32634"
    assert survey.lon[0] == pytest.approx(21.0, abs=1e-9)
    assert 4.3 < survey.lat[0] < 4.4


def test_x_y_in_metres_without_a_crs_are_refused() -> None:
    with pytest.raises(CRSRequired):
        read_text("x,y\n523456.1,482001.7\n612000,512000\n")


def test_dms_csv_reports_a_bad_cell_with_row_and_column() -> None:
    text = "site,lat,lon\nA,4°21'33\"N,18°33'20\"E\nB,4°75'N,18°33'20\"E\nC,18°33'20\"E,4°21'N\n"
    survey = read_text(text)
    assert survey.lat[0] == pytest.approx(4.359166667)
    assert [(i.row, i.column, i.code) for i in survey.issues] == [
        (3, "lat", "unparseable_coordinate"),
        (4, "lat", "unparseable_coordinate"),
        (4, "lon", "unparseable_coordinate"),
    ]


def test_shapefile_crs_rules() -> None:
    data = (SAMPLES_DIR / "sites_utm34n.zip").read_bytes()
    with pytest.raises(InvalidCRS, match="EPSG:32634"):
        read_survey(data, "s.zip", options=ReadOptions(crs="UTM 33N"))
    same = read_survey(data, "s.zip", options=ReadOptions(crs="32634"))
    assert same.source_crs == "EPSG:32634"
    without_prj = _rezip(data, drop=".prj")
    with pytest.raises(CRSRequired, match=r"\.prj"):
        read_survey(without_prj, "s.zip", options=OPTIONS)
    given = read_survey(without_prj, "s.zip", options=ReadOptions(crs="UTM 34N"))
    np.testing.assert_allclose(given.lon, read_survey(data, "s.zip", options=OPTIONS).lon)


def _rezip(data: bytes, *, drop: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if not info.filename.endswith(drop):
                target.writestr(info, source.read(info))
    return out.getvalue()


def test_non_points_are_noted_not_read_and_keep_their_numbers() -> None:
    kmz = read_sample("google_earth.kmz")
    assert kmz.row.tolist() == [1, 2, 3, 4]
    assert "1 LineString" in " ".join(kmz.notes)
    gpkg = read_sample("field_team.gpkg")
    assert "'equipe' (no geometry)" in " ".join(gpkg.notes)


def test_geojson_null_geometry_is_a_row_without_coordinates() -> None:
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": "a"}, "geometry": None},
            {
                "type": "Feature",
                "properties": {"name": "b"},
                "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
            },
            {
                "type": "Feature",
                "properties": {"name": "c"},
                "geometry": {"type": "MultiPoint", "coordinates": [[18.5, 4.3]]},
            },
        ],
    }
    survey = read_text(json.dumps(collection), "s.geojson")
    assert survey.row.tolist() == [1, 3]
    assert np.isnan(survey.lon[0]) and survey.lon[1] == 18.5
    assert "1 Polygon" in survey.notes[0]


def test_csv_encodings_and_blank_lines() -> None:
    text = "nom;lat;lon\r\nKémo;4,5;18,5\r\n\r\n;;\r\nBaïbokoum;7,7;15,6\r\n"
    for encoding in ("utf-8-sig", "cp1252", "utf-16"):
        survey = read_survey(text.encode(encoding), "s.csv", options=OPTIONS)
        assert survey.row.tolist() == [2, 5]
        assert [p["nom"] for p in survey.properties] == ["Kémo", "Baïbokoum"]
        assert survey.lat.tolist() == [4.5, 7.7]


def test_a_ragged_row_is_reported_not_shifted() -> None:
    survey = read_text("nom,lat,lon\nComptoir Zongo, Beach,4.33,18.6\nB,4.5,18.5\nC,4.6\n")
    assert [(i.row, i.code) for i in survey.issues] == [(2, "malformed_row")]
    assert np.isnan(survey.lat[0]) and survey.lat[1] == 4.5
    assert np.isnan(survey.lon[2]) and survey.properties[0] == {}


GOOD_ROWS = st.lists(
    st.tuples(
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
        st.decimals(min_value=-180, max_value=180, places=6),
        st.decimals(min_value=-90, max_value=90, places=6),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(GOOD_ROWS, st.sampled_from([",", ";", "\t"]))
def test_any_csv_of_good_rows_reads_back_exactly(
    rows: list[tuple[str, object, object]], delimiter: str
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(["name", "longitude", "latitude"])
    for name, lon, lat in rows:
        as_text = (str(lon), str(lat))
        if delimiter != ",":  # the locale that uses ; or tabs writes decimal commas
            as_text = (as_text[0].replace(".", ","), as_text[1].replace(".", ","))
        writer.writerow([name, *as_text])
    survey = read_survey(buffer.getvalue().encode("utf-8"), "g.csv", options=OPTIONS)
    assert survey.lon.tolist() == [float(str(lon)) for _, lon, _ in rows]
    assert survey.lat.tolist() == [float(str(lat)) for _, _, lat in rows]
    # Names that are empty-value tokens ("n/a", "néant") are read as empty cells.
    is_empty = empty_value_test()
    assert [p["name"] for p in survey.properties] == [
        "" if is_empty(name) else name for name, _, _ in rows
    ]
    assert not survey.issues


def test_list_properties_become_readable_lists() -> None:
    """GeoJSON arrays (GDAL list fields) arrive as "a; b", which the field parsers split."""
    data = (
        b'{"type": "FeatureCollection", "features": [{"type": "Feature", '
        b'"geometry": {"type": "Point", "coordinates": [15.79, 4.26]}, '
        b'"properties": {"name": "Comptoir", "kind": "comptoir", '
        b'"minerals": ["diamant", "or"], "observed_on": "2021-03-14"}}]}'
    )
    survey = read_survey(data, "sites.geojson", options=ReadOptions())
    assert survey.properties[0]["minerals"] == "diamant; or"
    assert survey.field_columns["date"] == ("observed_on",)


@given(
    st.lists(st.sampled_from(["name", "name (2)", "name (3)", "", " lat ", "column_2"]), max_size=8)
)
def test_header_names_come_out_unique_and_keep_the_unrepeated(header: list[str]) -> None:
    """A repeat is numbered past every name the header already has (``name, name,
    name (2)``: the second ``name`` was renamed ``name (2)`` and one value was lost)."""
    names = unique_columns(header)
    assert len(names) == len(header) == len(set(names))
    stripped = [h.strip() for h in header]
    for position, raw in enumerate(stripped):
        if raw and stripped.index(raw) == position:
            assert names[position] == raw


@pytest.mark.parametrize("line_end", [b"\r", b"\n", b"\r\n"])
@pytest.mark.parametrize("delimiter", [b";", b"\t", b","])
def test_any_line_end_with_any_delimiter(line_end: bytes, delimiter: bytes) -> None:
    """A file of "\\r" line ends with ";" was one long line to the delimiter sniffing: every
    row was refused."""
    rows = [b"lat", b"lon", b"name", b"kind"], [b"4.32", b"15.81", b"A", b"mine"]
    data = line_end.join(delimiter.join(row) for row in rows) + line_end
    survey = read_survey(data, "ends.csv", options=ReadOptions())
    assert survey.columns == ("lat", "lon", "name", "kind")
    assert survey.lon.tolist() == [15.81] and survey.properties[0]["name"] == "A"


@pytest.mark.parametrize("line", [3, 3_000])  # within the first 64 KB the sniffing reads, and past
def test_a_row_holding_a_nul_character_is_rejected_alone(line: int) -> None:
    """No text may hold a NUL (nor PostgreSQL): past the sniffed head it failed the whole
    upload at the database, within it the file was called binary."""
    rows = [b"4.5,16.0,D,mine,fine"] * 4_000
    rows[line - 2] = b"4.4,15.9,C,mine,n\x00te"
    data = b"lat,lon,name,kind,note\n" + b"\n".join(rows) + b"\n"
    survey = read_survey(data, "nul.csv", options=ReadOptions())
    assert [(i.row, i.column, i.code) for i in survey.issues] == [(line, "note", "nul_character")]
    assert len(survey) == 4_000 and survey.properties[line - 2] == {}
    assert not any("\x00" in str(v) for p in survey.properties for v in p.values())


def test_a_header_holding_a_nul_character_is_unreadable() -> None:
    with pytest.raises(UnreadableFile, match="NUL"):
        read_survey(b"lat,lon,na\x00me\n" + b"4.5,16.0,D\n" * 4_000, "h.csv", options=ReadOptions())
