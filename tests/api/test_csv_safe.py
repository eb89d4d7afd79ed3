"""Every CSV the service writes is safe to open in a spreadsheet (CSV/formula injection).

The family: any text cell whose first character a spreadsheet executes (``=``, ``+``, ``-``,
``@``, tab, CR, and the full-width look-alikes) comes back as text; real numbers, including
negative ones, come back untouched; nothing else changes.
"""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.csv_safe import FORMULA_TRIGGERS, csv_lines, csv_text, is_plain_number, neutralise

ATTACKS = [
    '=HYPERLINK("http://evil.example/x","click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    "=1+1",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "\uff1d1+1",
    "-",
    "+",
    "-cmd|' /C calc'!A0",
    "=",
]
NUMBERS = ["-2.5", "-12", "+3", "0", "15.82", "-1e-5", "2E10", "-2,5", ".5", "-.5", "4."]
TEXT = ["Chantier Bania", "Point zéro", "'=already quoted", "", "a=b", "1-2", "x@y.org"]


def starts_a_formula(cell: str) -> bool:
    if cell[:1] in ("\t", "\r", "\n"):
        return True
    first = cell.lstrip(" ")[:1]
    return first in FORMULA_TRIGGERS and not is_plain_number(cell.strip(" "))


@pytest.mark.parametrize("cell", ATTACKS)
def test_formulas_become_text(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", NUMBERS + TEXT)
def test_numbers_and_plain_text_are_untouched(cell: str) -> None:
    assert neutralise(cell) == cell


@pytest.mark.parametrize(
    ("value", "text"), [(None, ""), (-2.5, "-2.5"), (-12, "-12"), (True, "True"), (0.0, "0.0")]
)
def test_non_text_values_are_their_text(value: object, text: str) -> None:
    assert neutralise(value) == text  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_cell_is_kept_or_only_prefixed(cell: str) -> None:
    out = neutralise(cell)
    assert out in (cell, "'" + cell)
    assert not starts_a_formula(out)
    assert (out != cell) == starts_a_formula(cell)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.integers(min_value=-(10**12), max_value=10**12).map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.decimals(allow_nan=False, allow_infinity=False, places=6).map(str),
    )
)
def test_real_numbers_are_never_mangled(number: str) -> None:
    assert neutralise(number) == number


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(st.text(), st.sampled_from(ATTACKS + NUMBERS)), min_size=3, max_size=3),
        max_size=20,
    )
)
def test_written_csv_reads_back_safe_and_whole(rows: list[list[str]]) -> None:
    header = ["=name", "lat", "lon"]
    text = csv_text(header, rows)
    read = list(csv.reader(io.StringIO(text, newline="")))
    assert len(read) == len(rows) + 1
    for written, original in zip(read, [header, *rows], strict=True):
        for cell, before in zip(written, original, strict=True):
            assert not starts_a_formula(cell)
            assert cell in (before, "'" + before)


def test_large_outputs_come_in_chunks() -> None:
    rows = ([str(i), "-2.5", "=1+1"] for i in range(50_000))
    chunks = list(csv_lines(["a", "b", "c"], rows))
    assert len(chunks) > 1
    assert "".join(chunks).count("\r\n") == 50_001
