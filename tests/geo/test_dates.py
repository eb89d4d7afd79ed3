"""Visit dates: ISO, numeric with a per-column order, Briefcase and French month names."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.dates import parse_dates

DATES = st.dates(min_value=date(1990, 1, 1), max_value=date(2060, 12, 31))
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MOIS = (
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre",
)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05", date(2024, 3, 5)),
        ("2021-11-20T00:29:36", date(2021, 11, 20)),  # KoBo _submission_time
        ("2018-04-26T08:56:00.000+01:00", date(2018, 4, 26)),
        ("2024-03-06T10:15:42.118Z", date(2024, 3, 6)),  # ODK Central SubmissionDate
        ("2024-03-05T23:30:00-05:00", date(2024, 3, 5)),  # the date as written, not UTC
        ("2024/03/05 00:00:00", date(2024, 3, 5)),  # GDAL's text for an XLSX date cell
        ("Apr 26, 2018", date(2018, 4, 26)),  # ODK Briefcase
        ("Apr 26, 2018 8:56:00 AM", date(2018, 4, 26)),
        ("April 26, 2018", date(2018, 4, 26)),
        ("26 avril 2018", date(2018, 4, 26)),
        ("26 avr. 2018", date(2018, 4, 26)),
        ("1er mai 2024", date(2024, 5, 1)),
        ("5 févr. 2023", date(2023, 2, 5)),
        ("02-OCT-10 16:01:13", date(2010, 10, 2)),  # Garmin comment
    ],
)
def test_unambiguous_formats(text: str, expected: date) -> None:
    parsed = parse_dates([text])
    assert parsed.dates == [expected]
    assert not parsed.errors and not parsed.ambiguous


def test_empty_cells_are_no_date_and_no_error() -> None:
    parsed = parse_dates(["", None, "  "])
    assert parsed.dates == [None, None, None] and not parsed.errors


@pytest.mark.parametrize("text", ["yesterday", "2024-02-30", "31/31/2024", "Foo 3, 2020"])
def test_unparseable_dates_are_reported(text: str) -> None:
    parsed = parse_dates([text])
    assert parsed.dates == [None] and set(parsed.errors) == {0}


def test_one_day_above_twelve_makes_the_column_day_first() -> None:
    parsed = parse_dates(["03/05/2024", "25/12/2023", "4.5.24"])
    assert parsed.order == "dmy" and not parsed.ambiguous
    assert parsed.dates == [date(2024, 5, 3), date(2023, 12, 25), date(2024, 5, 4)]


def test_one_day_above_twelve_in_second_place_makes_it_month_first() -> None:
    parsed = parse_dates(["03/05/2024", "12/25/2023"])
    assert parsed.order == "mdy" and not parsed.ambiguous
    assert parsed.dates == [date(2024, 3, 5), date(2023, 12, 25)]


def test_an_undecided_column_uses_the_order_given_and_flags_each_ambiguous_value() -> None:
    parsed = parse_dates(["03/05/2024", "04/04/2024", "2024-01-02"])
    assert parsed.order == "dmy" and parsed.ambiguous == [0]  # 04/04 reads the same both ways
    assert parse_dates(["03/05/2024"], default_order="mdy").dates == [date(2024, 3, 5)]


def test_an_explicit_order_is_not_a_guess() -> None:
    parsed = parse_dates(["03/05/2024", "25/03/2024"], order="mdy")
    assert parsed.dates[0] == date(2024, 3, 5) and not parsed.ambiguous
    assert set(parsed.errors) == {1}


def test_a_value_impossible_in_both_orders_decides_nothing() -> None:
    parsed = parse_dates(["5/24/2024", "13/45/2024", "2/26/2024"])
    assert parsed.order == "mdy"
    assert parsed.dates == [date(2024, 5, 24), None, date(2024, 2, 26)]
    assert set(parsed.errors) == {1}


def test_a_contradicting_column_follows_its_majority() -> None:
    parsed = parse_dates(["25/03/2024", "26/03/2024", "03/27/2024", "01/02/2024"])
    assert parsed.order == "dmy" and set(parsed.errors) == {2} and parsed.ambiguous == [3]


@given(DATES, st.sampled_from(["iso", "briefcase", "french", "dmy", "mdy"]))
def test_any_date_written_in_a_known_style_reads_back(day: date, style: str) -> None:
    text = {
        "iso": day.isoformat(),
        "briefcase": f"{MONTHS_EN[day.month - 1]} {day.day}, {day.year}",
        "french": f"{day.day} {MOIS[day.month - 1]} {day.year}",
        "dmy": f"{day.day:02d}/{day.month:02d}/{day.year}",
        "mdy": f"{day.month:02d}/{day.day:02d}/{day.year}",
    }[style]
    order = "mdy" if style == "mdy" else "dmy"
    assert parse_dates([text], order=order).dates == [day]  # type: ignore[arg-type]
