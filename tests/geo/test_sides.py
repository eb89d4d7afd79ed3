"""geo.sides: side-of-border probability and labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.sides import (
    CONFIDENT_PROBABILITY,
    LIKELY_PROBABILITY,
    side_label,
    side_of_border,
    side_probability,
)

metres = st.floats(0, 1e6, allow_nan=False)


def test_examples_from_the_issue() -> None:
    probability, label = side_of_border([300.0, 200.0], [50.0, 2_000.0], 100.0)
    assert label.tolist() == ["confident", "ambiguous"]
    # Φ(300 / √(50² + 100²)) and Φ(200 / √(2000² + 100²))
    assert probability[0] == pytest.approx(
        0.5 * (1 + math.erf(300 / math.sqrt(12_500) / math.sqrt(2)))
    )
    assert probability[1] == pytest.approx(0.5398, abs=1e-4)


def test_missing_accuracy_is_unknown() -> None:
    probability, label = side_of_border([300.0, np.nan, 300.0], [np.nan, 50.0, -1.0])
    assert np.isnan(probability).all()
    assert label.tolist() == ["unknown", "unknown", "unknown"]


def test_thresholds_and_edges() -> None:
    assert side_probability(0.0, 50.0) == 0.5
    assert side_probability(10.0, 0.0, 0.0) == 1.0
    assert side_probability(0.0, 0.0, 0.0) == 0.5
    assert side_probability(-300.0, 50.0) == side_probability(300.0, 50.0)  # signed input
    labels = side_label([CONFIDENT_PROBABILITY, LIKELY_PROBABILITY, 0.89, 0.5, np.nan])
    assert labels.tolist() == ["confident", "likely", "ambiguous", "ambiguous", "unknown"]
    with pytest.raises(ValueError):
        side_probability(1.0, 1.0, -1.0)


def test_per_site_boundary_uncertainty_broadcasts() -> None:
    probability, label = side_of_border(
        np.full(3, 1_000.0), np.full(3, 50.0), [10.0, 500.0, 5_000.0]
    )
    assert probability[0] > probability[1] > probability[2]
    assert label.tolist() == ["confident", "likely", "ambiguous"]  # 20, 2.0 and 0.2 sigma


@given(metres, metres, metres, metres)
def test_farther_or_sharper_is_never_less_confident(
    distance: float, more: float, accuracy: float, boundary: float
) -> None:
    base = side_probability(distance, accuracy, boundary)
    assert 0.5 <= base <= 1.0
    assert side_probability(distance + more, accuracy, boundary) >= base
    assert side_probability(distance, accuracy + more, boundary) <= base
    assert side_probability(distance, accuracy, boundary + more) <= base
