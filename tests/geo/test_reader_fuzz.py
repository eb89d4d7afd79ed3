"""No bytes a sender can send make reading (and validating) fail but with a ``GeoError``.

Issue 8 item 2: each format's sample file, mutated the ways damaged and hostile files are
(bytes flipped, truncated, NULs inserted, ranges deleted or repeated, invalid UTF-8, huge
fields), is either read into a Survey or refused with a :class:`geo.errors.GeoError` whose
message names the file and no server path. Zips are mutated twice over: as bytes (which the
archive checks must catch) and member by member, rezipped honestly (which reaches the reader
behind them). Examples are bounded so the whole module runs in seconds.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.errors import GeoError, ReaderFailure
from geo.readers import ReadOptions, read_survey
from geo.validate import ValidationRules, validate_survey
from tests.geo.conftest import SAMPLES_DIR
from tests.geo.test_validate import BoxLocator

SAMPLES = {
    "gpx": "handheld.gpx",
    "kml": "my_maps.kml",
    "kmz": "google_earth.kmz",
    "geojson": "sites.geojson",
    "shapefile": "sites_utm34n.zip",
    "gpkg": "field_team.gpkg",
    "csv": "kobo_survey.csv",
    "csv-dms": "dms_coordinates.csv",
    "xlsx": "comptoirs.xlsx",
}
ZIPPED = ("kmz", "shapefile", "xlsx")
OPTIONS = ReadOptions(max_rows=5_000)
FUZZ = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` after one to three mutations of the kinds damaged files show."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(["flip", "truncate", "nul", "insert", "delete", "repeat", "huge"])
        )
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        if kind == "flip" and out:
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del out[at:]
        elif kind == "nul":
            out[at:at] = b"\x00" * draw(st.integers(1, 4))
        elif kind == "insert":
            out[at:at] = draw(
                st.one_of(
                    st.binary(min_size=1, max_size=8),
                    st.sampled_from([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b'"', b"<", b"]]>"]),
                )
            )
        elif kind == "delete":
            del out[at : at + draw(st.integers(1, 64))]
        elif kind == "repeat":
            out[at:at] = out[at : at + draw(st.integers(1, 256))] * draw(st.integers(2, 50))
        elif kind == "huge":
            # A field or token far beyond every parser's comfortable size (csv: 128 KiB).
            # (Not 140 000 delimiters: absurdly wide tables are the column limit's business.)
            out[at:at] = draw(st.sampled_from([b"A", b"9", b" ", b"\t", b"\n"])) * 140_000
    return bytes(out)


def read_or_refuse(data: bytes, name: str) -> None:
    """The property: a Survey whose columns agree, or a GeoError fit for the sender."""
    try:
        survey = read_survey(data, name, options=OPTIONS)
    except GeoError as error:
        message = error.message
        # Refused on purpose, not by the safety net that catches a reader's own defects.
        assert not isinstance(error, ReaderFailure), message
        assert name in message
        assert tempfile.gettempdir() not in message and "/vsi" not in message
        assert "borderlens-upload" not in message
        return
    n = len(survey)
    assert len(survey.lon) == len(survey.lat) == len(survey.properties) == n
    assert np.all(np.isnan(survey.lon) | (np.abs(survey.lon) < np.inf))
    # What was read validates too: every row accepted or reported, nothing raised.
    result = validate_survey(
        survey, rules=ValidationRules(kind_default="mine"), locate=BoxLocator()
    )
    reported = {issue.row for issue in result.errors}
    assert set(survey.row[result.accepted].tolist()).isdisjoint(reported)


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
@FUZZ
@given(data=st.data())
def test_mutated_bytes_are_read_or_refused(fmt: str, data: st.DataObject) -> None:
    name = SAMPLES[fmt]
    original = (SAMPLES_DIR / name).read_bytes()
    read_or_refuse(data.draw(mutated(original)), name)


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


@pytest.mark.parametrize("fmt", ZIPPED)
@FUZZ
@given(data=st.data())
def test_mutated_members_rezipped_honestly_are_read_or_refused(
    fmt: str, data: st.DataObject
) -> None:
    name = SAMPLES[fmt]
    members = _members(SAMPLES_DIR / name)
    target = data.draw(st.sampled_from(sorted(members)))
    members[target] = data.draw(mutated(members[target]))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    read_or_refuse(buffer.getvalue(), name)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("long-field.csv", b"name,lat,lon,kind\n" + b"A" * 131_073 + b",4.3,15.8,mine\n"),
        ("long-line.csv", b"name,lat,lon\n" + b"x," * 2_500_000 + b"\n"),
        ("long-header.csv", b"A" * 200_000 + b"\n1\n"),
        ("nul.csv", b"name,lat,lon\n\x00A,4.3,15.8\n"),
        ("nul-header.csv", b"na\x00me,lat,lon\nA,4.3,15.8\n"),
        ("invalid-utf8.csv", b"name,lat,lon\n\xff\xfe\xc3(,4.3,15.8\n"),
        ("quote.csv", b'name,lat,lon\n"A,4.3,15.8\n'),
        ("nul.gpx", b'<?xml version="1.0"?><gpx version="1.1">\x00<wpt lat="4" lon="15"/></gpx>'),
        ("nul.geojson", b'{"type":"FeatureCollection","features":[\x00]}'),
        ("truncated.geojson", b'{"type":"FeatureCollection","features":[{"type":"Feat'),
        ("not-really.gpkg", b"SQLite format 3\x00" + b"garbage" * 2),
        ("empty.gpkg", b"SQLite format 3\x00"),
    ],
)
def test_the_named_damage_kinds(name: str, data: bytes) -> None:
    read_or_refuse(data, name)


def test_a_csv_field_beyond_the_limit_names_its_line() -> None:
    data = b"name,lat,lon,kind\nB,4.2,15.7,mine\n" + b"A" * 131_073 + b",4.3,15.8,mine\n"
    with pytest.raises(GeoError) as raised:
        read_survey(data, "long-field.csv", options=OPTIONS)
    assert raised.value.code == "unreadable_file"
    assert raised.value.row == 3 and "line 3" in raised.value.message
