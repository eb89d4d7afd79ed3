"""validate_survey: every bad-row kind, the good rows kept, vectorised country lookups."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.errors import GeoError
from geo.readers import ReadOptions, read_survey
from geo.survey import Issue, JSONScalar, Survey
from geo.validate import ISSUE_SEVERITY, ValidationRules, validate_survey
from tests.geo.conftest import SAMPLES_DIR, Locate

# Boxes standing for countries: enough geography to test the rules without boundary data.
BOXES = {
    "CAF": (14.0, 2.2, 27.0, 11.0),
    "CMR": (8.5, 2.2, 14.0, 11.0),
    "COD": (12.0, -13.0, 31.0, 2.2),
    "NER": (0.0, 11.0, 14.0, 23.0),
    "DZA": (-8.0, 19.0, 12.0, 37.0),
}
REGION = frozenset({"CAF", "CMR", "COD"})
CENTRAL_AFRICA = frozenset({"CAF", "CMR", "COD", "COG", "TCD", "GAB", "GNQ", "AGO", "SSD", "SDN"})


class BoxLocator:
    """Point-in-box lookup that records how it was called."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(
        self, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.object_]:
        assert isinstance(lon, np.ndarray) and isinstance(lat, np.ndarray)
        self.calls.append(len(lon))
        found = np.full(len(lon), None, dtype=object)
        for iso3, (west, south, east, north) in BOXES.items():
            inside = (lon >= west) & (lon < east) & (lat >= south) & (lat < north)
            found[inside & (found == None)] = iso3  # noqa: E711 (element-wise on an object array)
        return found


def survey_of(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    *,
    accuracy: Sequence[float] | None = None,
    properties: Sequence[dict[str, JSONScalar]] | None = None,
    issues: Sequence[Issue] = (),
    field_columns: dict[str, tuple[str, ...]] | None = None,
) -> Survey:
    n = len(np.asarray(lon))
    return Survey(
        format="csv",
        source_crs="EPSG:4326",
        columns=("lon", "lat"),
        row=np.arange(2, n + 2, dtype=np.int64),
        lon=np.asarray(lon, dtype=np.float64),
        lat=np.asarray(lat, dtype=np.float64),
        accuracy_m=np.asarray(accuracy if accuracy is not None else [np.nan] * n, dtype=float),
        properties=list(properties) if properties is not None else [{} for _ in range(n)],
        coordinate_columns=("lon", "lat"),
        accuracy_column="accuracy" if accuracy is not None else None,
        field_columns=field_columns or {},
        issues=tuple(issues),
    )


def codes(result_issues: Sequence[Issue]) -> list[tuple[int, str | None, str, str]]:
    return [(i.row, i.column, i.code, i.severity) for i in result_issues]


def test_the_documented_codes_and_their_severities() -> None:
    assert {code for code, severity in ISSUE_SEVERITY.items() if severity == "warning"} == {
        "country_mismatch", "disputed_area", "low_accuracy", "ambiguous_date", "unknown_mineral",
        "unknown_kind", "excel_serial_date", "lone_outlier", "mojibake",
    }  # fmt: skip
    assert len(ISSUE_SEVERITY) == 24


def test_good_points_pass_and_are_located() -> None:
    locate = BoxLocator()
    result = validate_survey(
        survey_of([18.5, 10.0], [4.3, 5.0]),
        rules=ValidationRules(region=REGION),
        locate=locate,
    )
    assert result.accepted.tolist() == [0, 1] and not result.issues
    assert result.iso3.tolist() == ["CAF", "CMR"]
    assert locate.calls == [2]


def test_missing_zero_and_out_of_range() -> None:
    result = validate_survey(
        survey_of([np.nan, 0.0, 18.5, 200.0], [4.3, 0.0, 95.0, 4.0]),
        rules=ValidationRules(region=REGION),
        locate=BoxLocator(),
    )
    assert codes(result.issues) == [
        (2, "lon, lat", "missing_coordinates", "error"),
        (3, "lon, lat", "zero_zero", "error"),
        (4, "lon, lat", "out_of_range", "error"),
        (5, "lon, lat", "out_of_range", "error"),
    ]
    assert result.accepted.size == 0


def test_zero_zero_can_be_allowed() -> None:
    result = validate_survey(
        survey_of([0.0], [0.0]),
        rules=ValidationRules(allow_zero_zero=True),
        locate=BoxLocator(),
    )
    assert codes(result.issues) == [(2, "lon, lat", "at_sea", "error")]


def test_swapped_point_is_rejected_with_the_corrected_place() -> None:
    result = validate_survey(
        survey_of([4.3], [18.5]),
        rules=ValidationRules(declared_country="CAF", region=REGION),
        locate=BoxLocator(),
    )
    [issue] = result.issues
    assert (issue.code, issue.severity, issue.column) == ("swapped_lat_lon", "error", "lon, lat")
    assert "NER" in issue.message and "lon 18.500000, lat 4.300000" in issue.message
    assert "CAF" in issue.message


def test_dropped_minus_sign_outside_the_region_is_rejected() -> None:
    # A DRC point at 5.5 S that lost its sign lands in a box outside the region here.
    result = validate_survey(
        survey_of([5.0], [15.0]),
        rules=ValidationRules(declared_country="COD", region=REGION),
        locate=BoxLocator(),
    )
    assert codes(result.issues) == [(2, "lon, lat", "swapped_lat_lon", "error")]
    result = validate_survey(
        survey_of([20.0], [11.5]),
        rules=ValidationRules(declared_country="COD", region=REGION),
        locate=BoxLocator(),
    )
    assert [(i.code, i.column) for i in result.issues] == [("dropped_minus_sign", "lat")]
    assert "lat -11.500000" in result.issues[0].message


def test_a_neighbour_point_is_kept_with_a_hint_not_rejected() -> None:
    # A DRC team maps a comptoir across the river in the CAR; negating its latitude would
    # put it in the DRC, but a border survey crossing the border is normal.
    result = validate_survey(
        survey_of([18.55], [4.36]),
        rules=ValidationRules(declared_country="COD", region=REGION),
        locate=BoxLocator(),
    )
    [issue] = result.issues
    assert (issue.code, issue.severity) == ("country_mismatch", "warning")
    assert "with the latitude negated" in issue.message
    assert result.accepted.tolist() == [0]


def test_without_a_region_the_declared_country_is_the_rule() -> None:
    result = validate_survey(
        survey_of([18.55, 10.0], [4.36, 5.0]),
        rules=ValidationRules(declared_country="COD"),
        locate=BoxLocator(),
    )
    assert [i.code for i in result.issues] == ["dropped_minus_sign", "country_mismatch"]
    assert result.accepted.tolist() == [1]


def test_at_sea_and_outside_region_and_no_rules_at_all() -> None:
    rules = ValidationRules(region=frozenset({"CAF"}))
    result = validate_survey(
        survey_of([-20.0, 10.0], [-30.0, 5.0]), rules=rules, locate=BoxLocator()
    )
    assert [i.code for i in result.issues] == ["at_sea", "outside_region"]
    anywhere = validate_survey(
        survey_of([-20.0, 10.0, 5.0, 30.0], [-30.0, 5.0, -15.0, 10.0]),
        rules=ValidationRules(),
        locate=BoxLocator(),
    )
    # With neither country nor region, land is the rule: points at sea are tried corrected.
    assert [i.code for i in anywhere.issues] == ["at_sea", "dropped_minus_sign", "swapped_lat_lon"]


def test_the_lookup_is_called_on_whole_arrays_at_most_four_times() -> None:
    rng = np.random.default_rng(1)
    lon = rng.uniform(-40, 40, 5_000)
    lat = rng.uniform(-40, 40, 5_000)
    locate = BoxLocator()
    validate_survey(
        survey_of(lon, lat),
        rules=ValidationRules(declared_country="CAF", region=REGION),
        locate=locate,
    )
    assert 1 <= len(locate.calls) <= 4
    assert locate.calls[0] == 5_000


def test_low_accuracy_is_kept_and_flagged_beyond_the_threshold() -> None:
    result = validate_survey(
        survey_of([18.5] * 3, [4.3] * 3, accuracy=[100.0, 100.5, np.nan]),
        rules=ValidationRules(region=REGION, max_accuracy_m=100),
        locate=BoxLocator(),
    )
    assert codes(result.issues) == [(3, "accuracy", "low_accuracy", "warning")]
    assert result.accepted.tolist() == [0, 1, 2]


@pytest.mark.parametrize("bad", [-5.0, -1.0, -1e-9, np.inf, -np.inf])
def test_an_accuracy_that_is_no_distance_rejects_its_row_alone(bad: float) -> None:
    """Below zero (a device's -1 for "no fix") or infinite: no site may store it (the database
    refused the whole upload), so the row is rejected with its reason, the others kept."""
    result = validate_survey(
        survey_of([18.5] * 3, [4.3] * 3, accuracy=[bad, 0.0, np.nan]),
        rules=ValidationRules(region=REGION, max_accuracy_m=100),
        locate=BoxLocator(),
    )
    assert codes(result.issues) == [(2, "accuracy", "invalid_accuracy", "error")]
    assert "not a distance" in result.issues[0].message
    assert result.accepted.tolist() == [1, 2]


def test_rows_with_read_errors_are_rejected_once() -> None:
    read_issue = Issue(3, "lat", "unparseable_coordinate", "'4°75'N' has 75 minutes")
    result = validate_survey(
        survey_of([18.5, np.nan], [4.3, np.nan], issues=[read_issue]),
        rules=ValidationRules(region=REGION),
        locate=BoxLocator(),
    )
    assert result.issues == (read_issue,)
    assert result.accepted.tolist() == [0]


def test_fields_are_normalised() -> None:
    header = ("nom", "minerais", "m2", "type", "date")
    rows = [
        (" Chantier A ", "Diamant", "Or", "site minier", "03/05/2024"),
        ("", "diamant or", "", "Comptoir", "04/06/2024"),
        ("C", "Cassitérite; coltan", "kryptonite", "marché", "x"),
        ("D", "", "", "école", ""),
        ("E", "gold", "", "buying house", "05/05/2024"),
    ]
    properties: list[dict[str, JSONScalar]] = [dict(zip(header, row, strict=True)) for row in rows]
    survey = survey_of(
        [18.5] * 5,
        [4.3] * 5,
        properties=properties,
        field_columns={
            "name": ("nom",),
            "minerals": ("minerais", "m2"),
            "kind": ("type",),
            "date": ("date",),
        },
    )
    result = validate_survey(
        survey, rules=ValidationRules(region=REGION, kind_default="mine"), locate=BoxLocator()
    )
    assert result.names == ["Chantier A", None, "C", "D", "E"]
    assert result.minerals == [
        ("diamond", "gold"), ("diamond", "gold"), ("cassiterite", "coltan"), (), ("gold",),
    ]  # fmt: skip
    assert result.kinds == ["mine", "sales_point", "sales_point", "mine", "sales_point"]
    assert result.dates == [date(2024, 5, 3), date(2024, 6, 4), None, None, date(2024, 5, 5)]
    assert codes(result.issues) == [
        (2, "date", "ambiguous_date", "warning"),
        (3, "date", "ambiguous_date", "warning"),
        (4, "date", "unparseable_date", "error"),
        (4, "minerais, m2", "unknown_mineral", "warning"),
        (5, "type", "unknown_kind", "warning"),
    ]
    assert result.accepted.tolist() == [0, 1, 3, 4]


def test_an_explicit_date_order_is_used_without_warnings() -> None:
    survey = survey_of(
        [18.5], [4.3], properties=[{"d": "03/05/2024"}], field_columns={"date": ("d",)}
    )
    result = validate_survey(
        survey, rules=ValidationRules(region=REGION, date_order="mdy"), locate=BoxLocator()
    )
    assert result.dates == [date(2024, 3, 5)] and not result.issues


def test_mixed_bad_rows_keeps_exactly_the_good_rows(africa_locate: Locate) -> None:
    """The acceptance file: every bad-row kind, each reported with row, column and code."""
    name = "mixed_bad_rows.csv"
    survey = read_survey((SAMPLES_DIR / name).read_bytes(), name, options=ReadOptions())
    rules = ValidationRules(
        declared_country="COD", region=frozenset({"CAF", "CMR", "COD", "COG", "TCD"})
    )
    result = validate_survey(survey, rules=rules, locate=africa_locate)
    with (SAMPLES_DIR / "mixed_bad_rows.expected.csv").open(encoding="utf-8") as handle:
        expected = [
            (int(r["row"]), r["column"] or None, r["code"], r["severity"])
            for r in csv.DictReader(handle)
        ]
    assert codes(result.issues) == expected
    with (SAMPLES_DIR / "expected.csv").open(encoding="utf-8") as handle:
        good_rows = [int(r["row"]) for r in csv.DictReader(handle) if r["file"] == name]
    assert survey.row[result.accepted].tolist() == good_rows
    # The acceptance file holds every kind but these (tested in their own families).
    others = {
        "ambiguous_date", "excel_serial_date", "lone_outlier", "mojibake", "name_too_long",
        "disputed_area", "invalid_accuracy", "nul_character", "unclosed_quote", "mixed_encoding",
    }  # fmt: skip
    assert {code for _, _, code, _ in expected} == set(ISSUE_SEVERITY) - others


@pytest.mark.parametrize(
    "name",
    sorted(
        {r["file"] for r in csv.DictReader((SAMPLES_DIR / "expected.csv").open(encoding="utf-8"))}
        - {"mixed_bad_rows.csv"}
    ),
)
def test_every_clean_sample_validates_without_errors(name: str, africa_locate: Locate) -> None:
    survey = read_survey((SAMPLES_DIR / name).read_bytes(), name, options=ReadOptions())
    result = validate_survey(
        survey, rules=ValidationRules(region=CENTRAL_AFRICA), locate=africa_locate
    )
    assert not result.errors, result.errors
    assert result.accepted.tolist() == list(range(len(survey)))
    assert all(result.names) and all(d is not None for d in result.dates)


def test_site_kinds_are_spelled_once() -> None:
    from typing import get_args

    from geo.vocab import SITE_KINDS, SiteKind, site_kinds

    assert site_kinds().codes == SITE_KINDS == get_args(SiteKind)


#: Longest message a row's issue may carry, whatever the file holds (a value is quoted in
#: part, with its length said).
MESSAGE_MAX = 400

_long_cells = st.one_of(
    st.text(alphabet="0123456789", min_size=1, max_size=2000),
    st.text(alphabet="0123456789.-eENSWxé' °", min_size=1, max_size=2000),
    st.text(min_size=1, max_size=2000).filter(lambda t: "\n" not in t and "\r" not in t),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lat=_long_cells, lon=_long_cells, date_cell=_long_cells, kind=_long_cells)
def test_a_message_quotes_long_values_in_part(
    lat: str, lon: str, date_cell: str, kind: str
) -> None:
    """Whatever a cell holds (a 300-digit number, 2 000 characters of text), the issue
    naming it stays short: the value is quoted in part with its length (a 300-digit
    coordinate was printed whole, 300 digits, in the point's place)."""
    rows = [["name", "lat", "lon", "kind", "date"], ["A", lat, lon, kind, date_cell]]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    try:
        survey = read_survey(
            buffer.getvalue().encode(), "t.csv", options=ReadOptions(crs="EPSG:4326")
        )
    except GeoError as error:  # refused as a whole: its message is as short
        assert len(error.message) <= MESSAGE_MAX, error
        return
    result = validate_survey(survey, rules=ValidationRules(region=REGION), locate=BoxLocator())
    for found in result.issues:
        assert len(found.message) <= MESSAGE_MAX, found


def test_a_300_digit_coordinate_is_named_in_short() -> None:
    survey = read_survey(
        f"name,lat,lon\nA,{'1' * 300},14.0\nB,4.0,{'9' * 300}.5\n".encode(),
        "t.csv",
        options=ReadOptions(crs="EPSG:4326"),
    )
    result = validate_survey(survey, rules=ValidationRules(region=REGION), locate=BoxLocator())
    assert [(i.row, i.code, i.message) for i in result.issues] == [
        (2, "out_of_range", "lon 14.000000, lat 1.11111e+299 is outside -180..180, -90..90"),
        (3, "out_of_range", "lon 1e+300, lat 4.000000 is outside -180..180, -90..90"),
    ]
