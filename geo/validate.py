"""Row-by-row validation of a survey: every problem reported, the good rows kept.

Each problem is an :class:`~geo.survey.Issue` with the row number the sender sees, the column,
a stable code and a message saying what to fix. Codes and severities are in
:data:`ISSUE_SEVERITY`: an ``error`` rejects the row, a ``warning`` keeps it flagged.

Coordinates are checked as whole arrays. A point should lie in the declared country, else in
the region, else on land. A point that does not is tried corrected: lon/lat swapped, latitude
negated, longitude negated, one lookup call per correction on the points still unexplained (so
at most four calls per survey, never one per row). Then:

- a point that is *implausible* (at sea, out of range, outside the region; without a region,
  outside the declared country) and that a correction brings into the region (or the declared
  country) is rejected as ``swapped_lat_lon`` or ``dropped_minus_sign``, the message giving the
  corrected point: borderlens never fixes a coordinate silently;
- other implausible points are rejected as ``out_of_range``, ``at_sea`` or ``outside_region``
  (without a region, a point on land outside the declared country is a ``country_mismatch``);
- a point in the region but in another country than the declared one is kept with a
  ``country_mismatch`` warning, because border surveys cross borders (a DRC team maps a
  comptoir in Bangui); if a correction would put it in the declared country, the message says so.

A point in no single country is still a place. In a disputed area (Abyei, Kafia Kingi) it is
kept with a ``disputed_area`` warning naming the claimants, and it is in the declared country
(or the region) when one of its claimants is. Exactly on a border line (or at a tripoint) it
is in each country whose outline runs there, not only in the one the lookup names first. Only
a lookup that answers with a :class:`~geo.countries.Location` tells these apart; a plain array
of codes cannot tell a disputed area from the sea.

A lone outlier is questioned even when nothing is declared: a row more than
``outlier_distance_km`` from every other located row of the upload, in a country none of them
is in, is kept with a ``lone_outlier`` warning (a lost minus sign or swapped digits), the
message giving a correction that brings it back among the others when one does.

A stored name that looks like UTF-8 read as Windows-1252 (``BÃ©tarÃ©``) is kept with a
``mojibake`` warning that gives the probable text.

So with a region, a southern DRC point that lost its minus sign and lands in the CAR is flagged,
not rejected. Rejecting it would also reject nearly every genuine CAR point of a DRC team: the
CAR's mirror image across the equator is mostly DRC.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from geo.countries import ELSEWHERE, Location
from geo.dates import DateOrder, order_text, parse_dates
from geo.errors import quoted
from geo.geodesic import ecef_m, inverse_distance_m
from geo.survey import FloatArray, IntArray, Issue, Severity, Survey
from geo.vocab import SiteKind, minerals, site_kinds, split_list

ObjectArray = npt.NDArray[np.object_]
BoolArray = npt.NDArray[np.bool_]

ISSUE_SEVERITY: dict[str, Severity] = {
    "malformed_row": "error",
    "nul_character": "error",
    "unclosed_quote": "error",
    "mixed_encoding": "error",
    "unparseable_coordinate": "error",
    "missing_coordinates": "error",
    "zero_zero": "error",
    "out_of_range": "error",
    "swapped_lat_lon": "error",
    "dropped_minus_sign": "error",
    "at_sea": "error",
    "outside_region": "error",
    "country_mismatch": "warning",
    "disputed_area": "warning",
    "low_accuracy": "warning",
    "invalid_accuracy": "error",
    "unparseable_date": "error",
    "ambiguous_date": "warning",
    "unknown_mineral": "warning",
    "unknown_kind": "warning",
    "excel_serial_date": "warning",
    "lone_outlier": "warning",
    "mojibake": "warning",
    "name_too_long": "error",
}

#: Longest site name accepted (uploads and the API alike): a survey's names are a few words; a
#: cell of kilobytes is a shifted column or a pasted document, not a name.
MAX_NAME_LENGTH = 300


class CountryLookup(Protocol):
    """Vectorised point-in-country lookup, one answer per point.

    Either a :class:`~geo.countries.Location` (``CountryLocator.locate``: countries, sea, land
    elsewhere, disputed areas with their claimants, points shared by several countries), or an
    array of ISO3 codes, None at sea or unknown, and :data:`geo.countries.ELSEWHERE` on land
    outside the countries the lookup knows (such an array takes a disputed area for the sea).
    """

    def __call__(self, lon: FloatArray, lat: FloatArray, /) -> ObjectArray | Location: ...


@dataclass(frozen=True)
class ValidationRules:
    """What a good row is, for one upload.

    Parameters
    ----------
    declared_country
        ISO3 of the country the survey says it covers; points elsewhere are checked for swaps
        and lost signs, then flagged ``country_mismatch``.
    region
        ISO3 codes of the region's countries; a point outside them is rejected.
    max_accuracy_m
        Rows with a worse reported accuracy are kept and flagged ``low_accuracy``.
    allow_zero_zero
        Accept the point 0, 0 (otherwise it is an empty GPS fix and rejected).
    date_order
        ``"dmy"``/``"mdy"`` for numeric dates when the sender knows; ``"auto"`` decides per column.
    kind_default
        ``"mine"`` or ``"sales_point"`` for rows whose file says nothing (the upload's ``kind``).
    outlier_distance_km
        A row farther than this from every other row, in a country none of them is in, is a
        ``lone_outlier``. 800 km: a latitude of 4° that lost its minus sign moves ~890 km.
    """

    declared_country: str | None = None
    region: Collection[str] = frozenset()
    max_accuracy_m: float = 100.0
    allow_zero_zero: bool = False
    date_order: DateOrder = "auto"
    kind_default: SiteKind | None = None
    outlier_distance_km: float = 800.0


@dataclass(frozen=True, eq=False)
class ValidationResult:
    """Validation of a survey; per-row lists are aligned with the survey's rows.

    Attributes
    ----------
    accepted
        Indices (into the survey's arrays) of the rows without an error.
    iso3
        Country of each point as given (None when missing, at sea, in a disputed area or not
        located; :data:`geo.countries.ELSEWHERE` on land outside the lookup's countries).
    dates, minerals, names, kinds
        Normalised fields of every row: the visit date, mineral vocabulary codes, the site name
        (stripped, None if empty), ``"mine"``/``"sales_point"``/None.
    issues
        Read-time and validation issues, sorted by row.
    """

    accepted: IntArray
    iso3: ObjectArray
    dates: list[date | None]
    minerals: list[tuple[str, ...]]
    names: list[str | None]
    kinds: list[str | None]
    issues: tuple[Issue, ...] = field(default=())

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(issue for issue in self.issues if issue.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        return tuple(issue for issue in self.issues if issue.severity == "warning")


def issue(row: int, column: str | None, code: str, message: str) -> Issue:
    """An :class:`Issue` with the severity :data:`ISSUE_SEVERITY` gives its code."""
    return Issue(row, column, code, message, ISSUE_SEVERITY[code])


def validate_survey(
    survey: Survey, *, rules: ValidationRules, locate: CountryLookup
) -> ValidationResult:
    """Check every row of ``survey``; see the module docstring for the rules."""
    issues = list(survey.issues)
    unreadable = np.isin(survey.row, [i.row for i in survey.issues if i.severity == "error"])
    places, coordinate_issues = _coordinate_issues(survey, rules, locate, skip=unreadable)
    issues.extend(coordinate_issues)
    issues.extend(_accuracy_issues(survey, rules))
    dates, date_issues = _dates(survey, rules)
    mineral_codes, mineral_issues = _minerals(survey)
    kinds, kind_issues = _kinds(survey, rules)
    names = _names(survey)
    issues.extend(date_issues + mineral_issues + kind_issues + _mojibake_issues(survey, names))
    issues.extend(_name_issues(survey, names))
    rejected = {i.row for i in issues if i.severity == "error"}
    issues.extend(_lone_outliers(survey, places, rules, ~np.isin(survey.row, list(rejected))))
    accepted = np.flatnonzero(~np.isin(survey.row, list(rejected)))
    return ValidationResult(
        accepted=accepted.astype(np.int64),
        iso3=places.iso3,
        dates=dates,
        minerals=mineral_codes,
        names=names,
        kinds=kinds,
        issues=tuple(sorted(issues, key=lambda i: i.row)),
    )


#: Where a point in no country of the lookup is, as far as a plain array of codes tells.
_NOWHERE = "in no country of the boundary data (at sea, disputed, or beyond its coverage)"


@dataclass(frozen=True, eq=False)
class _Places:
    """Where each point is, aligned with the survey's rows.

    ``iso3``: the lookup's country, None (at sea, disputed, unknown) or ``ELSEWHERE``;
    ``claimants``: the claimants where the point is in a disputed area, else ();
    ``shared_by``: every country the point lies in or on where more than one, else ();
    ``disputed``: in a disputed area; ``several``: may belong to more than one country.
    """

    iso3: ObjectArray
    claimants: ObjectArray
    shared_by: ObjectArray
    disputed: BoolArray
    several: BoolArray

    @property
    def located(self) -> BoolArray:
        """On land: in a country, in a disputed area, or on land elsewhere."""
        found = np.fromiter((code is not None for code in self.iso3), bool, len(self.iso3))
        return found | self.disputed

    def countries(self, i: int) -> set[str]:
        """Every country point ``i`` may belong to (``ELSEWHERE`` counts as one)."""
        code = self.iso3[i]
        return {*(() if code is None else (code,)), *self.claimants[i], *self.shared_by[i]}

    def within(self, countries: Collection[str] | None) -> BoolArray:
        """In one of ``countries`` (any of them, for a point several countries share or claim);
        on land when ``countries`` is None."""
        if countries is None:
            return self.located
        inside = np.isin(self.iso3, list(countries))
        wanted = set(countries)
        for k in np.flatnonzero(self.several & ~inside).tolist():
            inside[k] = not wanted.isdisjoint(self.countries(k))
        return inside

    def text(self, i: int) -> str:
        """Where point ``i`` lies, for a message: ``in CAF``, ``on the border of CAF and
        CMR``, ``in an area disputed by SDN and SSD``..."""
        code = self.iso3[i]
        if self.disputed[i]:
            claimants = self.claimants[i]
            return (
                f"in an area disputed by {_and(claimants)}" if claimants else "in a disputed area"
            )
        if code is None:
            return _NOWHERE
        if code == ELSEWHERE:
            return "on land outside the countries borderlens covers"
        if len(self.shared_by[i]) > 1:
            return f"on the border of {_and(self.shared_by[i])}"
        return f"in {code}"


def _and(codes: Sequence[str]) -> str:
    """``SDN and SSD``, ``CAF, CMR and COG``."""
    return codes[0] if len(codes) == 1 else f"{', '.join(codes[:-1])} and {codes[-1]}"


def _empty_tuples(n: int) -> ObjectArray:
    empty = np.empty(n, dtype=object)
    empty.fill(())
    return empty


def _locate(locate: CountryLookup, lon: FloatArray, lat: FloatArray, where: BoolArray) -> _Places:
    """Where the points selected by ``where`` are (one lookup call); nowhere for the others."""
    n = len(lon)
    iso3 = np.full(n, None, dtype=object)
    claimants, shared_by = _empty_tuples(n), _empty_tuples(n)
    disputed = np.zeros(n, dtype=bool)
    if where.any():
        found = locate(lon[where], lat[where])
        if isinstance(found, Location):
            codes = np.array(found.iso3, dtype=object)
            codes[found.status == "outside"] = ELSEWHERE
            iso3[where] = codes
            disputed[where] = found.status == "disputed"
            claimants[where] = found.claimants
            shared_by[where] = found.shared_by
        else:
            iso3[where] = np.asarray(found, dtype=object)
    several = disputed | np.fromiter(map(bool, shared_by), dtype=bool, count=n)
    return _Places(iso3, claimants, shared_by, disputed, several)


def _in_range(lon: FloatArray, lat: FloatArray) -> BoolArray:
    return (np.abs(lon) <= 180) & (np.abs(lat) <= 90)


@dataclass(frozen=True)
class _Expectation:
    """Where points should be (target) and where they may plausibly be (tolerance)."""

    target: Collection[str] | None
    tolerance: Collection[str] | None

    @classmethod
    def of(cls, rules: ValidationRules) -> _Expectation:
        declared = [rules.declared_country] if rules.declared_country else None
        region = list(rules.region) or None
        # The region is the tolerance of a border survey: a CAR team maps a comptoir in
        # Cameroon. Without a region, only the declared country (or any land) is plausible.
        return cls(target=declared or region, tolerance=region or declared)


# Corrections tried, in order: (code, what looks wrong, how it is corrected, lon factor,
# lat factor, swap).
_CORRECTIONS = (
    ("swapped_lat_lon", "latitude and longitude look swapped", "swapped", 1, 1, True),
    (
        "dropped_minus_sign",
        "the latitude looks like it lost its minus sign",
        "with the latitude negated",
        1,
        -1,
        False,
    ),
    (
        "dropped_minus_sign",
        "the longitude's sign looks wrong",
        "with the longitude negated",
        -1,
        1,
        False,
    ),
)


@dataclass(frozen=True)
class _Correction:
    code: str
    column: str
    what: str
    how: str
    point: str
    place: str  # where the corrected point lies: "in CAF"


def _coordinate_issues(
    survey: Survey, rules: ValidationRules, locate: CountryLookup, *, skip: BoolArray
) -> tuple[_Places, list[Issue]]:
    lon, lat, rows = survey.lon, survey.lat, survey.row
    columns = ", ".join(survey.coordinate_columns)
    present = np.isfinite(lon) & np.isfinite(lat)
    zero = present & (lon == 0) & (lat == 0) & (not rules.allow_zero_zero)
    checked = present & ~zero & ~skip
    places = _locate(locate, lon, lat, checked & _in_range(lon, lat))
    issues = [
        issue(int(rows[i]), columns, "missing_coordinates", "no coordinates (empty or absent)")
        for i in np.flatnonzero(~present & ~skip)
    ]
    issues += [
        issue(
            int(rows[i]),
            columns,
            "zero_zero",
            "coordinates are 0, 0: an empty GPS fix, not a place (in the Gulf of Guinea)",
        )
        for i in np.flatnonzero(zero & ~skip)
    ]
    expected = _Expectation.of(rules)
    misplaced = checked & ~places.within(expected.target)
    implausible = misplaced & ~places.within(expected.tolerance)
    corrections = _try_corrections(survey, locate, misplaced, implausible, expected)
    rejected = np.zeros(len(lon), dtype=bool)
    for i in np.flatnonzero(misplaced).tolist():
        fix = corrections.get(i)
        if fix is not None and implausible[i]:
            where = _where(lon[i], lat[i], places.text(i))
            message = (
                f"{fix.what}: as given ({_point(lon[i], lat[i])}) the point is {where}; "
                f"{fix.how} ({fix.point}) it lies {fix.place}. "
                "Correct the file and send it again."
            )
            found = issue(int(rows[i]), fix.column, fix.code, message)
        else:
            found = _placement_issue(survey, i, places, rules, columns, fix)
        rejected[i] = found.severity == "error"
        issues.append(found)
    issues += _disputed_issues(survey, places, checked & ~rejected, columns)
    return places, issues


def _disputed_issues(survey: Survey, places: _Places, kept: BoolArray, column: str) -> list[Issue]:
    """A ``disputed_area`` warning for every kept point in a disputed area: a real place,
    stored with its claimants and no single country."""
    return [
        issue(
            int(survey.row[i]),
            column,
            "disputed_area",
            f"{_point(survey.lon[i], survey.lat[i])} lies {places.text(i)}: kept, flagged; "
            "the site is stored with its claimants and no single country",
        )
        for i in np.flatnonzero(kept & places.disputed).tolist()
    ]


def _try_corrections(
    survey: Survey,
    locate: CountryLookup,
    misplaced: BoolArray,
    implausible: BoolArray,
    expected: _Expectation,
) -> dict[int, _Correction]:
    """For misplaced points, the first correction that puts them where they should be.

    An implausible point (at sea, outside the region) is explained by a correction that lands
    it anywhere plausible; a plausible one in a neighbouring country only by a correction that
    lands it in the declared country (and then it is a hint, not a rejection). One lookup per
    correction, on the points still unexplained.
    """
    lon, lat = survey.lon, survey.lat
    columns = survey.coordinate_columns
    found: dict[int, _Correction] = {}
    open_ = misplaced.copy()
    for code, what, how, lon_factor, lat_factor, swap in _CORRECTIONS:
        alt_lon, alt_lat = (lat, lon) if swap else (lon_factor * lon, lat_factor * lat)
        tried = open_ & _in_range(alt_lon, alt_lat)
        alt = _locate(locate, alt_lon, alt_lat, tried)
        goal = np.where(implausible, alt.within(expected.tolerance), alt.within(expected.target))
        fixed = tried & goal
        column = ", ".join(columns) if swap else columns[-1 if lat_factor < 0 else 0]
        for i in np.flatnonzero(fixed).tolist():
            point = _point(alt_lon[i], alt_lat[i])
            found[i] = _Correction(code, column, what, how, point, alt.text(i))
        open_ &= ~fixed
    return found


def _placement_issue(
    survey: Survey,
    i: int,
    places: _Places,
    rules: ValidationRules,
    column: str,
    fix: _Correction | None,
) -> Issue:
    """A point not where it should be, that no correction explains (or that may be right)."""
    lon, lat, row = float(survey.lon[i]), float(survey.lat[i]), int(survey.row[i])
    point = _point(lon, lat)
    country = places.iso3[i]
    if not abs(lon) <= 180 or not abs(lat) <= 90:
        return issue(row, column, "out_of_range", f"{point} is outside -180..180, -90..90")
    if country is None and not places.disputed[i]:
        return issue(row, column, "at_sea", f"{point} lies {_where(lon, lat)}")
    if country == ELSEWHERE:
        return issue(
            row,
            column,
            "outside_region",
            f"{point} lies on land outside the countries borderlens covers (Africa)",
        )
    where = places.text(i)
    if rules.region and places.countries(i).isdisjoint(rules.region):
        region = ", ".join(sorted(rules.region))
        return issue(row, column, "outside_region", f"{point} lies {where}, outside {region}")
    hint = (
        f" If that is a mistake: {fix.how} ({fix.point}) it would lie {fix.place}." if fix else ""
    )
    return issue(
        row,
        column,
        "country_mismatch",
        f"{point} lies {where}, not in {rules.declared_country}; kept, flagged.{hint}",
    )


def _point(lon: float, lat: float) -> str:
    return f"lon {_degrees(lon)}, lat {_degrees(lat)}"


def _degrees(value: float) -> str:
    """Six decimals (about 0.1 m), or six significant digits for a value no place has
    (a 300-digit number in the file printed 300 digits)."""
    return f"{value:.6f}" if abs(value) < 1e6 else f"{value:.6g}"


def _where(lon: float, lat: float, place: str = _NOWHERE) -> str:
    if not (abs(lon) <= 180 and abs(lat) <= 90):
        return "outside -180..180, -90..90"
    return place


def _accuracy_issues(survey: Survey, rules: ValidationRules) -> list[Issue]:
    located = np.isfinite(survey.lon) & np.isfinite(survey.lat)
    accuracy = survey.accuracy_m
    # NaN is "unknown"; below zero (a device's -1 for "no fix") or infinite is no distance, and
    # no site may store it (the row would break the whole upload at the database)
    invalid = ~np.isnan(accuracy) & ~(np.isfinite(accuracy) & (accuracy >= 0))
    with np.errstate(invalid="ignore"):
        poor = located & (accuracy > rules.max_accuracy_m) & ~invalid
    return [
        issue(
            int(survey.row[i]),
            survey.accuracy_column,
            "invalid_accuracy",
            f"accuracy {accuracy[i]:g} m is not a distance (an accuracy is 0 m or more); "
            "give the device's accuracy in metres, or leave the cell empty when it is unknown",
        )
        for i in np.flatnonzero(invalid)
    ] + [
        issue(
            int(survey.row[i]),
            survey.accuracy_column,
            "low_accuracy",
            f"accuracy {survey.accuracy_m[i]:g} m is worse than {rules.max_accuracy_m:g} m; "
            "the row is kept and flagged",
        )
        for i in np.flatnonzero(poor)
    ]


def _column(survey: Survey, role: str) -> str | None:
    columns = survey.field_columns.get(role, ())
    return columns[0] if columns else None


def _texts(survey: Survey, column: str | None) -> list[str]:
    if column is None:
        return [""] * len(survey)
    return ["" if v is None else str(v).strip() for v in survey.values(column)]


def _names(survey: Survey) -> list[str | None]:
    return [text or None for text in _texts(survey, _column(survey, "name"))]


def _name_issues(survey: Survey, names: list[str | None]) -> list[Issue]:
    column = _column(survey, "name")
    return [
        issue(
            int(survey.row[i]),
            column,
            "name_too_long",
            f"the name has {len(name):,} characters; at most {MAX_NAME_LENGTH} are kept "
            "(is a column shifted?)",
        )
        for i, name in enumerate(names)
        if name is not None and len(name) > MAX_NAME_LENGTH
    ]


def _dates(survey: Survey, rules: ValidationRules) -> tuple[list[date | None], list[Issue]]:
    column = _column(survey, "date")
    if column is None:
        return [None] * len(survey), []
    parsed = parse_dates(
        survey.values(column), order=rules.date_order, date_system=survey.date_system
    )
    rows = survey.row
    issues = [
        issue(int(rows[i]), column, "unparseable_date", message)
        for i, message in parsed.errors.items()
    ]
    issues += [
        issue(int(rows[i]), column, "excel_serial_date", message)
        for i, message in parsed.serials.items()
    ]
    if parsed.order is not None:
        how = order_text(parsed.order)
        issues.extend(
            issue(
                int(rows[i]),
                column,
                "ambiguous_date",
                f"{quoted(survey.properties[i].get(column))} read as {how} ({parsed.dates[i]}): no "
                "date in this column decides the order; give the date order if that is wrong",
            )
            for i in parsed.ambiguous
        )
    return parsed.dates, issues


def _minerals(survey: Survey) -> tuple[list[tuple[str, ...]], list[Issue]]:
    columns: Sequence[str] = survey.field_columns.get("minerals", ())
    if not columns:
        return [()] * len(survey), []
    vocabulary = minerals()
    cache: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}
    codes: list[tuple[str, ...]] = []
    issues: list[Issue] = []
    cells_by_column = [_texts(survey, column) for column in columns]
    for i, cells in enumerate(zip(*cells_by_column, strict=True)):
        if cells not in cache:
            spellings = [part for cell in cells if cell for part in split_list(cell)]
            known, unknown = vocabulary.normalise(spellings)
            cache[cells] = (tuple(known), tuple(unknown))
        known_codes, unknown_names = cache[cells]
        codes.append(known_codes)
        if unknown_names:
            issues.append(
                issue(
                    int(survey.row[i]),
                    ", ".join(columns),
                    "unknown_mineral",
                    f"not in the mineral vocabulary: {', '.join(map(repr, unknown_names))}; "
                    "known minerals are kept, correct the name or ask for a synonym",
                )
            )
    return codes, issues


def _kinds(survey: Survey, rules: ValidationRules) -> tuple[list[str | None], list[Issue]]:
    column = _column(survey, "kind")
    texts = _texts(survey, column)
    vocabulary = site_kinds()
    # Few distinct spellings in a column: look each up once.
    lookup = {text: vocabulary.lookup(text.replace("\u2019", "'")) for text in set(texts) if text}
    kinds: list[str | None] = []
    issues: list[Issue] = []
    # The file's own structure (a KML folder named "Comptoirs") speaks for rows whose kind
    # column is silent, before the upload's default.
    hints = survey.kind_hints or (None,) * len(survey)
    for i, text in enumerate(texts):
        code = lookup.get(text)
        if text and code is None:
            issues.append(
                issue(
                    int(survey.row[i]),
                    column,
                    "unknown_kind",
                    f"{quoted(text)} is neither a mine (mine, site minier, chantier) "
                    "nor a sales point "
                    "(comptoir, point de vente, buying house, market)"
                    + (f"; recorded as {rules.kind_default}" if rules.kind_default else ""),
                )
            )
        kinds.append(code or hints[i] or rules.kind_default)
    return kinds, issues


def _lone_outliers(
    survey: Survey, places: _Places, rules: ValidationRules, candidates: BoolArray
) -> list[Issue]:
    """Rows far from every other row of the upload, in a country none of them is in (a point
    several countries share or claim is in each of them)."""
    iso3 = places.iso3
    located = candidates & places.located
    index = np.flatnonzero(located)
    if len(index) < 3:
        return []  # with two rows, which one is the stray cannot be told
    lon, lat = survey.lon[index], survey.lat[index]
    xyz = ecef_m(lon, lat)
    chord_m, _ = cKDTree(xyz).query(xyz, k=2)
    # A chord is shorter than the geodesic: a chord beyond the limit is a geodesic beyond it.
    far = np.flatnonzero(chord_m[:, 1] > rules.outlier_distance_km * 1000)
    issues = []
    for k in far.tolist():
        others = np.ones(len(index), dtype=bool)
        others[k] = False
        countries = set(iso3[index[others]].tolist()) - {None}
        for j in index[others & places.several[index]].tolist():
            countries |= places.countries(j)
        if not countries.isdisjoint(places.countries(int(index[k]))):
            continue
        distance_km = _nearest_km(lon[k], lat[k], lon[others], lat[others])
        hint = ""
        for how, alt_lon, alt_lat in (
            ("with the latitude negated", lon[k], -lat[k]),
            ("with the longitude negated", -lon[k], lat[k]),
            ("with latitude and longitude swapped", lat[k], lon[k]),
        ):
            if abs(alt_lat) > 90:
                continue
            near_km = _nearest_km(alt_lon, alt_lat, lon[others], lat[others])
            if near_km <= rules.outlier_distance_km:
                hint = f" {how} ({_point(alt_lon, alt_lat)}) it would lie {near_km:,.0f} km away."
                break
        row = int(survey.row[index[k]])
        issues.append(
            issue(
                row,
                ", ".join(survey.coordinate_columns),
                "lone_outlier",
                f"{_point(lon[k], lat[k])} lies {_outlier_place(places, int(index[k]))}, "
                f"{distance_km:,.0f} km from "
                f"every other row of this upload (which lie in {', '.join(sorted(countries))}): "
                f"a lost minus sign or swapped digits? Kept, flagged.{hint}",
            )
        )
    return issues


def _outlier_place(places: _Places, i: int) -> str:
    if places.iso3[i] == ELSEWHERE:
        return "outside the countries borderlens covers"
    return places.text(i)


def _nearest_km(lon: float, lat: float, lons: FloatArray, lats: FloatArray) -> float:
    distances = inverse_distance_m(np.full(len(lons), lon), np.full(len(lons), lat), lons, lats)
    return float(distances.min()) / 1000


# Two or three characters of UTF-8 read one byte at a time as Windows-1252: a lead byte
# (Â Ã Å â ...) then a continuation byte shown as itself or as a Windows-1252 symbol.
_MOJIBAKE = re.compile(
    "[\u00c2-\u00c5\u00e2][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e"
    "\u0192\u02c6\u02dc\u2013\u2014\u2018\u2019\u201a\u201c\u201d\u201e\u2020\u2021"
    "\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)


def repaired_mojibake(text: str) -> str | None:
    """The text ``text`` was before UTF-8 was read as Windows-1252 (or Latin-1); else None.

    >>> repaired_mojibake("Comptoir BÃ©tarÃ© Sud")
    'Comptoir Bétaré Sud'
    >>> repaired_mojibake("Comptoir Bétaré Sud") is None
    True
    """
    if not _MOJIBAKE.search(text):
        return None
    for codec in ("cp1252", "latin-1"):
        try:
            fixed = text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
        if fixed != text:
            return fixed
    return None


def _mojibake_issues(survey: Survey, names: list[str | None]) -> list[Issue]:
    column = _column(survey, "name")
    issues = []
    for i, name in enumerate(names):
        fixed = repaired_mojibake(name) if name else None
        if fixed is not None:
            issues.append(
                issue(
                    int(survey.row[i]),
                    column,
                    "mojibake",
                    f"{quoted(name)} looks like UTF-8 text read as Windows-1252: "
                    f"probably {quoted(fixed)}. "
                    "Kept as sent; correct the file's encoding (or its .cpg) and send it again",
                )
            )
    return issues
