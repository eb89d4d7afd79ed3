"""``borderlens_json_real`` (migration 0009): every finite double becomes a JSON number that
parses back as a real (never an integer) with exactly its value; what JSON cannot hold is null."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, text

SQL = text("SELECT borderlens_json_real(CAST(:value AS double precision))::text")


def as_json(connection: Connection, value: float) -> str:
    result = connection.execute(SQL, {"value": value}).scalar_one()
    assert isinstance(result, str)
    return result


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(min_value=-(10**18), max_value=10**18).map(float),
        st.integers(min_value=-1000, max_value=1000).map(lambda n: n / 8),
    )
)
def test_every_finite_double_is_a_real_with_its_value(connection: Connection, value: float) -> None:
    written = as_json(connection, value)
    parsed = json.loads(written)
    assert isinstance(parsed, float), written
    assert parsed == value


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_what_json_cannot_hold_is_null(connection: Connection, value: float) -> None:
    assert as_json(connection, value) == "null"


def test_null_stays_null(connection: Connection) -> None:
    assert connection.execute(SQL, {"value": None}).scalar_one() is None
