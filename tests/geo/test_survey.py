"""geo.survey.RowValues and SharedValues: rows kept as records read back as the dicts they
were, whatever the values and their repeats; equal values in repeating columns are one object."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.survey import RowValues, SharedValues

few = st.sampled_from(["", "or", "diamant", "2024-01-13", "n/a"])
cells = st.one_of(few, st.text(max_size=6))


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]], frozenset[int]]:
    width = draw(st.integers(1, 5))
    columns = [f"c{j}" for j in range(width)]
    records = draw(st.lists(st.lists(cells, min_size=width, max_size=width), max_size=40))
    blank = frozenset(draw(st.sets(st.integers(0, max(0, len(records) - 1)), max_size=3)))
    return columns, records, blank if records else frozenset()


@given(tables())
def test_rows_read_back_as_their_dicts(
    table: tuple[list[str], list[list[str]], frozenset[int]],
) -> None:
    columns, records, blank = table
    original = copy.deepcopy(records)
    rows = RowValues(columns, records, blank)
    expected = [
        {} if i in blank else dict(zip(columns, r, strict=True)) for i, r in enumerate(original)
    ]
    assert len(rows) == len(original)
    assert list(rows) == expected
    assert rows == expected
    assert rows[1:3] == expected[1:3]
    if expected:
        assert rows[-1] == expected[-1]
    for j, name in enumerate(columns):
        assert rows.column(name) == [None if i in blank else r[j] for i, r in enumerate(original)]


def test_an_index_past_the_end_is_an_index_error() -> None:
    rows = RowValues(["a"], [["x"]])
    with pytest.raises(IndexError):
        rows[1]


def test_a_record_of_another_width_is_refused() -> None:
    with pytest.raises(ValueError, match="one value per column"):
        RowValues(["a", "b"], [["x"]])


def test_a_repeating_column_holds_one_object_per_value_and_a_unique_one_is_left() -> None:
    # "".join builds each value anew, as a CSV reader does: equal, not the same object
    records = [["".join(["o", "r"]), "".join(["id", str(i)])] for i in range(3000)]
    sharing = SharedValues(2)
    for record in records:
        sharing.add(record)
    sharing.finish()
    assert len({id(r[0]) for r in records}) == 1
    assert len({id(r[1]) for r in records}) == 3000
    assert RowValues(["mineral", "id"], records, shared=True)[2999] == {
        "mineral": "or",
        "id": "id2999",
    }
