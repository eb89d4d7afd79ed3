"""Coordinate typography (issue 8 item 6): every look-alike of the marks parses.

Field case 08 found modifier-letter primes (U+02B9/U+02BA), the double acute accent (U+02DD)
and the letters d/m/s refused. The kind is the grammar: any degree mark of the normalisation
table, any minute mark, any second mark (or letters, or ``:``), any Unicode space, hemisphere
before or after or a sign. The property writes a value in every notation and reads it back.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.coords import DEGREE_MARKS, MINUTE_MARKS, SECOND_MARKS, parse_angle
from geo.readers import ReadOptions, read_survey
from tests.geo.conftest import SHARED_DIR

CASE_08 = SHARED_DIR / "cases" / "08-dms-unicode-marks" / "gps_screen_unicode.csv"
SPACES = ["", " ", "\u00a0", "\u202f", "\u2009", "  "]
HEMISPHERES = {"lat": ("N", "S", "Nord", "Sud"), "lon": ("E", "W", "O", "Est", "Ouest")}
SOUTH_OR_WEST = {"S", "Sud", "W", "O", "Ouest"}


@st.composite
def notation(draw: st.DrawFn) -> tuple[str, str, float]:
    """(text, axis, the value it means to 1e-6 degree)."""
    axis = draw(st.sampled_from(["lat", "lon"]))
    limit = 89 if axis == "lat" else 179
    degrees = draw(st.integers(0, limit))
    minutes = draw(st.integers(0, 59))
    seconds = draw(st.integers(0, 5999)) / 100
    style = draw(st.sampled_from(["dms", "ddm", "dd"]))
    space = draw(st.sampled_from(SPACES))
    deg_mark = draw(st.sampled_from([*DEGREE_MARKS, "d", "deg", " ", ":"]))
    min_mark = draw(st.sampled_from([*MINUTE_MARKS, "m", "min", " ", ":"]))
    sec_mark = draw(st.sampled_from([*SECOND_MARKS, "''", "s", "sec", ""]))
    if style == "dms":
        body = f"{degrees}{deg_mark}{space}{minutes}{min_mark}{space}{seconds:.2f}{sec_mark}"
        value = degrees + minutes / 60 + seconds / 3600
    elif style == "ddm":
        decimal_minutes = minutes + seconds / 60
        # "4 46.76" needs a blank or a mark between the two numbers.
        if deg_mark == ":":
            deg_mark = " "
        body = f"{degrees}{deg_mark}{space}{decimal_minutes:.6f}{min_mark.strip(':')}"
        value = degrees + round(decimal_minutes, 6) / 60
    else:
        decimal = degrees + minutes / 60 + seconds / 3600
        mark = deg_mark if deg_mark not in (":", " ") else ""
        body = f"{decimal:.6f}{mark}"
        value = round(decimal, 6)
    if body[-1:] in (" ", ":"):
        body = body.rstrip(" :")
    where = draw(st.sampled_from(["leading", "trailing", "sign"]))
    hemisphere = draw(st.sampled_from(HEMISPHERES[axis]))
    negative = hemisphere in SOUTH_OR_WEST
    if where == "leading":
        text = f"{hemisphere}{draw(st.sampled_from(SPACES[:3]))}{body}"
    elif where == "trailing":
        gap = draw(st.sampled_from(SPACES[:3]))
        # "45.84sS" would read as "45.84 s" plus S: a hemisphere letter after letter marks
        # needs a blank when the second mark is the letter s itself.
        gap = gap or " " if body[-1:].isalpha() else gap
        text = f"{body}{gap}{hemisphere}"
    else:
        text = f"-{body}" if negative else body
    return text, axis, -value if negative else value


@settings(max_examples=400, deadline=None, derandomize=True)
@given(notation())
def test_every_notation_round_trips(case: tuple[str, str, float]) -> None:
    text, axis, value = case
    assert parse_angle(text, axis=axis) == pytest.approx(value, abs=2e-6)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4°46\u02b945.84\u02baN", 4.7794),  # modifier letter prime / double prime
        ("4°46'45.84\u02ddN", 4.7794),  # double acute accent as seconds
        ("4d 46m 45.84s N", 4.7794),
        ("4d46m45.84s", 4.7794),
        ("4 deg 46 min 45.84 sec N", 4.7794),
        ("4:46:45.84 N", 4.7794),
        ("4\u1d5246\u203245.84\u2033N", 4.7794),
        ("N 4°46\u201845.84\u201c", 4.7794),
        ("4°46\u201945.84\u201dN", 4.7794),
        ("4°46\uff0745.84\uff02N", 4.7794),
        ("6°25\u203215.72\u2033 S", -6.421033),
        ("S 6°25.262\u2032", -6.421033),
        ("6°25'15.72S", -6.421033),
    ],
)
def test_field_notations(text: str, expected: float) -> None:
    assert parse_angle(text, axis="lat") == pytest.approx(expected, abs=1e-6)


def test_case_08_every_row_parses() -> None:
    if not CASE_08.is_file():
        pytest.skip(f"field case absent: {CASE_08}")
    survey = read_survey(CASE_08.read_bytes(), CASE_08.name, options=ReadOptions())
    assert not survey.issues
    assert len(survey) == 10
    north = survey.lat > 0
    assert np.allclose(survey.lat[north], 4.7794) and np.allclose(survey.lon[north], 15.1234)
    assert np.allclose(survey.lat[~north], -6.421033, atol=1e-6)
    assert np.allclose(survey.lon[~north], 20.799017, atol=1e-6)
    assert int(north.sum()) == 8


def test_the_normalisation_table_has_no_overlaps() -> None:
    marks = [*DEGREE_MARKS, *MINUTE_MARKS, *SECOND_MARKS]
    assert len(marks) == len(set(marks))
