"""CQL2 filters against real PostGIS: each expression, in its text and its JSON form, selects
exactly the sites a brute-force Python evaluation of the same tree selects on the same rows.

The JSON forms are written here by hand (not produced by the parser from the text), so the
test also checks that both encodings parse to the same canonical tree.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pyproj import Transformer
from shapely.geometry import Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.collections.cql2 import parse_filter
from app.db import sites as site_repo
from app.db.cql2 import compile_filter
from app.errors import InvalidParameter
from geo import crs as crs_module
from tests.support.cql2_eval import Evaluator, fold_accents

MINERALS = ("diamond", "gold", "coltan", "cassiterite", "wolframite")
STATUSES = ("active", "inactive", "abandoned", "unknown")
NAMES = (
    "Bétaré Oya", "Garoua-Boulaï", "Ndélé", "Berbérati", "Carnot", "Nola", "Mbaïki",
    "Bangui comptoir", "Ouesso", "Sosso-Nakombo", "Gamboula", "Kentzou", "Batouri",
    "Yokadouma", "Lucapa", "Cuango", "Dundo", "Gbadolite", "Zongo", "Bossangoa", "Bouar",
    "Abba", "Baboua", "Yaloké", "Boda", "Salo", "Bayanga", "Mambéré", "Kadéï", "Sangha",
    "São Tomé 100%", "Nola_2", "BETARE", "carnot", "Ngoura", "Bambari", "Bria", "Sam Ouandja",
    "Dékoa", "Ippy",
)  # fmt: skip


def make_rows() -> list[dict[str, Any]]:
    """Forty sites with varied names, kinds, minerals, dates and places (seeded)."""
    rng = random.Random(20261130)
    rows = []
    for i, name in enumerate(NAMES):
        first = None if i % 7 == 3 else dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(3000))
        last = None
        if first is not None and i % 5 != 1:
            last = first + dt.timedelta(days=rng.randrange(1500))
        if i == 4:  # one site observed on a single day
            last = first
        rows.append(
            {
                "name": name,
                "kind": "sales_point" if i % 3 == 0 else "mine",
                "aliases": [fold_accents(name).replace(" ", "-")] if i % 4 == 0 else [],
                "minerals": rng.sample(MINERALS, rng.randrange(0, 4)),
                "status": STATUSES[i % 4],
                "country": ("CAF", "CMR", "COG", "COD")[i % 4],
                "accuracy_m": None if i % 6 == 5 else round(rng.uniform(2, 400), 1),
                "first_observed": first,
                "last_observed": last,
                "source": None if i % 2 else f"survey {i % 5}",
                "border_distance_m": round(rng.uniform(0, 90_000), 1),
                "lon": round(rng.uniform(13.0, 22.0), 5),
                "lat": round(rng.uniform(1.0, 7.0), 5),
            }
        )
    rows[0].update(lon=14.1, lat=5.6, minerals=["gold"], aliases=["Betare-Oya", "BO"])
    rows[1].update(lon=14.1, lat=5.6)  # the same place as Bétaré Oya: S_EQUALS finds both
    rows[2].update(accuracy_m=2.0)
    rows[3].update(lon=13.0, lat=3.0)  # on the edge of POLY: S_TOUCHES finds it
    return rows


@dataclass
class Loaded:
    rows: list[dict[str, Any]]  # the rows as the evaluator sees them, with "id"
    ids: list[int]


@pytest.fixture
def loaded(session: Session) -> Iterator[Loaded]:
    rows = make_rows()
    new = [
        site_repo.NewSite(
            kind=r["kind"],
            name=r["name"],
            lon=r["lon"],
            lat=r["lat"],
            location_status="country",
            country_iso3=r["country"],
            minerals=r["minerals"],
            aliases=r["aliases"],
            status=r["status"],
            accuracy_m=r["accuracy_m"],
            source=r["source"],
            first_observed=r["first_observed"],
            last_observed=r["last_observed"],
            border_distance_m=r["border_distance_m"],
        )
        for r in rows
    ]
    ids = site_repo.insert_sites(session, new)
    for row, site_id in zip(rows, ids, strict=True):
        row["id"] = site_id
        row["geometry"] = Point(row["lon"], row["lat"])
        row["location_status"] = "country"
        row["border_distance_km"] = row["border_distance_m"] / 1000.0
    yield Loaded(rows, ids)


def prop(name: str) -> dict[str, str]:
    return {"property": name}


def op(name: str, *args: Any) -> dict[str, Any]:
    return {"op": name, "args": list(args)}


def day(text: str) -> dict[str, str]:
    return {"date": text}


def ts(moment: str) -> dict[str, str]:
    return {"timestamp": moment}


def interval(start: Any, end: Any) -> dict[str, Any]:
    return {"interval": [start, end]}


POLY = {"type": "Polygon", "coordinates": [[[13, 1], [17, 1], [17, 5], [13, 5], [13, 1]]]}
POLY_TEXT = "POLYGON((13 1, 17 1, 17 5, 13 5, 13 1))"
LINE = {"type": "LineString", "coordinates": [[13, 1], [22, 7]]}
LINE_TEXT = "LINESTRING(13 1, 22 7)"
HERE = {"type": "Point", "coordinates": [14.1, 5.6]}
FAR_POLY = {"type": "Polygon", "coordinates": [[[18, 4], [23, 4], [23, 8], [18, 8], [18, 4]]]}
FAR_POLY_TEXT = "POLYGON((18 4, 23 4, 23 8, 18 8, 18 4))"
OVER_POLY = {"type": "Polygon", "coordinates": [[[16, 4], [20, 4], [20, 8], [16, 8], [16, 4]]]}
OVER_POLY_TEXT = "POLYGON((16 4, 20 4, 20 8, 16 8, 16 4))"


def _utm_box() -> tuple[str, list[float]]:
    """The lon/lat box 13..17 E, 1..5 N as a UTM 33N box (the box of its corners)."""
    to_utm = Transformer.from_crs(4326, 32633, always_xy=True)
    xs, ys = to_utm.transform([13, 17, 13, 17], [1, 1, 5, 5])
    box = [round(min(xs), 1), round(min(ys), 1), round(max(xs), 1), round(max(ys), 1)]
    return "BBOX(" + ", ".join(str(v) for v in box) + ")", box


UTM_BOX_TEXT, UTM_BOX = _utm_box()

# (text, json tree, filter-crs): every class declared by app.db.cql2.
CASES: list[tuple[str, Any, str | None]] = [
    # basic CQL2: comparisons, logic, null, booleans
    ("kind = 'mine'", op("=", prop("kind"), "mine"), None),
    ("kind <> 'mine'", op("<>", prop("kind"), "mine"), None),
    ("accuracy_m < 100", op("<", prop("accuracy_m"), 100), None),
    ("accuracy_m > 100.5", op(">", prop("accuracy_m"), 100.5), None),
    ("accuracy_m <= 200", op("<=", prop("accuracy_m"), 200), None),
    ("accuracy_m >= 200", op(">=", prop("accuracy_m"), 200), None),
    (
        "border_distance_m < 25000 AND kind = 'sales_point'",
        op("and", op("<", prop("border_distance_m"), 25000), op("=", prop("kind"), "sales_point")),
        None,
    ),
    (
        "country = 'CAF' OR country = 'CMR'",
        op("or", op("=", prop("country"), "CAF"), op("=", prop("country"), "CMR")),
        None,
    ),
    ("NOT (country = 'CAF')", op("not", op("=", prop("country"), "CAF")), None),
    ("NOT (accuracy_m < 100)", op("not", op("<", prop("accuracy_m"), 100)), None),
    ("accuracy_m IS NULL", op("isNull", prop("accuracy_m")), None),
    ("accuracy_m IS NOT NULL", op("not", op("isNull", prop("accuracy_m"))), None),
    (
        "source IS NULL AND status = 'inactive'",
        op("and", op("isNull", prop("source")), op("=", prop("status"), "inactive")),
        None,
    ),
    ("true", True, None),
    ("false OR kind = 'mine'", op("or", False, op("=", prop("kind"), "mine")), None),
    ("name = 'Bétaré Oya'", op("=", prop("name"), "Bétaré Oya"), None),
    ("name < 'C'", op("<", prop("name"), "C"), None),
    ("border_distance_km < 30", op("<", prop("border_distance_km"), 30), None),
    (
        "last_observed = DATE('2020-01-01') OR first_observed >= DATE('2021-06-01')",
        op(
            "or",
            op("=", prop("last_observed"), day("2020-01-01")),
            op(">=", prop("first_observed"), day("2021-06-01")),
        ),
        None,
    ),
    (
        "last_observed > TIMESTAMP('2019-06-01T12:00:00Z')",
        op(">", prop("last_observed"), ts("2019-06-01T12:00:00Z")),
        None,
    ),
    # property-property comparison
    (
        "first_observed = last_observed",
        op("=", prop("first_observed"), prop("last_observed")),
        None,
    ),
    (
        "first_observed < last_observed",
        op("<", prop("first_observed"), prop("last_observed")),
        None,
    ),
    (
        "accuracy_m > border_distance_km",
        op(">", prop("accuracy_m"), prop("border_distance_km")),
        None,
    ),
    ("name <> source", op("<>", prop("name"), prop("source")), None),
    # advanced comparison: LIKE, BETWEEN, IN
    ("name LIKE 'B%'", op("like", prop("name"), "B%"), None),
    ("name LIKE '%a'", op("like", prop("name"), "%a"), None),
    ("name LIKE 'Nol_'", op("like", prop("name"), "Nol_"), None),
    ("name LIKE 'Nola\\_%'", op("like", prop("name"), "Nola\\_%"), None),
    ("name LIKE '%\\%'", op("like", prop("name"), "%\\%"), None),
    ("name NOT LIKE '%o%'", op("not", op("like", prop("name"), "%o%")), None),
    ("accuracy_m BETWEEN 50 AND 250", op("between", prop("accuracy_m"), 50, 250), None),
    (
        "accuracy_m NOT BETWEEN 50 AND 250",
        op("not", op("between", prop("accuracy_m"), 50, 250)),
        None,
    ),
    (
        "first_observed BETWEEN DATE('2017-01-01') AND DATE('2019-12-31')",
        op("between", prop("first_observed"), day("2017-01-01"), day("2019-12-31")),
        None,
    ),
    ("country IN ('CAF', 'COG')", op("in", prop("country"), ["CAF", "COG"]), None),
    ("country NOT IN ('CAF', 'COG')", op("not", op("in", prop("country"), ["CAF", "COG"])), None),
    ("accuracy_m IN (1, 2, 3)", op("in", prop("accuracy_m"), [1, 2, 3]), None),
    (
        "status IN ('active') AND kind IN ('mine', 'sales_point')",
        op(
            "and",
            op("in", prop("status"), ["active"]),
            op("in", prop("kind"), ["mine", "sales_point"]),
        ),
        None,
    ),
    # case- and accent-insensitive comparison
    (
        "CASEI(name) = CASEI('CARNOT')",
        op("=", op("casei", prop("name")), op("casei", "CARNOT")),
        None,
    ),
    (
        "CASEI(name) LIKE CASEI('b%')",
        op("like", op("casei", prop("name")), op("casei", "b%")),
        None,
    ),
    (
        "ACCENTI(name) = ACCENTI('Betare Oya')",
        op("=", op("accenti", prop("name")), op("accenti", "Betare Oya")),
        None,
    ),
    (
        "CASEI(ACCENTI(name)) = CASEI(ACCENTI('betare oya'))",
        op("=", op("casei", op("accenti", prop("name"))), op("casei", op("accenti", "betare oya"))),
        None,
    ),
    (
        "ACCENTI(CASEI(name)) LIKE ACCENTI(CASEI('%KADEI%'))",
        op("like", op("accenti", op("casei", prop("name"))), op("accenti", op("casei", "%KADEI%"))),
        None,
    ),
    (
        "CASEI(name) IN (CASEI('ouesso'), CASEI('ZONGO'))",
        op("in", op("casei", prop("name")), [op("casei", "ouesso"), op("casei", "ZONGO")]),
        None,
    ),
    ("ACCENTI(name) <> name", op("<>", op("accenti", prop("name")), prop("name")), None),
    # basic spatial
    (f"S_INTERSECTS(geometry, {POLY_TEXT})", op("s_intersects", prop("geometry"), POLY), None),
    (
        "S_INTERSECTS(geometry, BBOX(15, 2, 19, 6))",
        op("s_intersects", prop("geometry"), {"bbox": [15, 2, 19, 6]}),
        None,
    ),
    ("S_INTERSECTS(geometry, POINT(14.1 5.6))", op("s_intersects", prop("geometry"), HERE), None),
    # full spatial
    (f"S_WITHIN(geometry, {FAR_POLY_TEXT})", op("s_within", prop("geometry"), FAR_POLY), None),
    (f"S_DISJOINT(geometry, {POLY_TEXT})", op("s_disjoint", prop("geometry"), POLY), None),
    (f"S_CONTAINS({FAR_POLY_TEXT}, geometry)", op("s_contains", FAR_POLY, prop("geometry")), None),
    ("S_EQUALS(geometry, POINT(14.1 5.6))", op("s_equals", prop("geometry"), HERE), None),
    (f"S_TOUCHES(geometry, {POLY_TEXT})", op("s_touches", prop("geometry"), POLY), None),
    (
        f"S_CROSSES({LINE_TEXT}, {POLY_TEXT}) AND country = 'CMR'",
        op("and", op("s_crosses", LINE, POLY), op("=", prop("country"), "CMR")),
        None,
    ),
    (
        f"S_OVERLAPS({POLY_TEXT}, {OVER_POLY_TEXT}) AND kind = 'mine'",
        op("and", op("s_overlaps", POLY, OVER_POLY), op("=", prop("kind"), "mine")),
        None,
    ),
    (
        f"S_OVERLAPS(geometry, {POLY_TEXT}) OR S_CROSSES(geometry, {LINE_TEXT})",
        op("or", op("s_overlaps", prop("geometry"), POLY), op("s_crosses", prop("geometry"), LINE)),
        None,
    ),
    (
        "NOT S_INTERSECTS(geometry, BBOX(15, 2, 19, 6)) AND kind = 'mine'",
        op(
            "and",
            op("not", op("s_intersects", prop("geometry"), {"bbox": [15, 2, 19, 6]})),
            op("=", prop("kind"), "mine"),
        ),
        None,
    ),
    # distance (geodesic)
    (
        "S_DWITHIN(geometry, POINT(16 4), 250, kilometers)",
        op(
            "s_dwithin",
            prop("geometry"),
            {"type": "Point", "coordinates": [16, 4]},
            250,
            prop("kilometers"),
        ),
        None,
    ),
    (
        "S_DWITHIN(geometry, POINT(18 3), 300000)",
        op("s_dwithin", prop("geometry"), {"type": "Point", "coordinates": [18, 3]}, 300000),
        None,
    ),
    # filter-crs: the same boxes in EPSG:4326 (latitude first) and UTM 33N
    (
        "S_INTERSECTS(geometry, BBOX(2, 15, 6, 19))",
        op("s_intersects", prop("geometry"), {"bbox": [2, 15, 6, 19]}),
        "EPSG:4326",
    ),
    (
        "S_WITHIN(geometry, POLYGON((1 13, 1 17, 5 17, 5 13, 1 13)))",
        op(
            "s_within",
            prop("geometry"),
            {"type": "Polygon", "coordinates": [[[1, 13], [1, 17], [5, 17], [5, 13], [1, 13]]]},
        ),
        "EPSG:4326",
    ),
    (
        f"S_INTERSECTS(geometry, {UTM_BOX_TEXT})",
        op("s_intersects", prop("geometry"), {"bbox": UTM_BOX}),
        "EPSG:32633",
    ),
    # temporal
    (
        "T_BEFORE(last_observed, DATE('2019-01-01'))",
        op("t_before", prop("last_observed"), day("2019-01-01")),
        None,
    ),
    (
        "T_AFTER(first_observed, DATE('2020-03-01'))",
        op("t_after", prop("first_observed"), day("2020-03-01")),
        None,
    ),
    (
        "T_AFTER(first_observed, TIMESTAMP('2020-03-01T10:00:00Z'))",
        op("t_after", prop("first_observed"), ts("2020-03-01T10:00:00Z")),
        None,
    ),
    (
        "T_INTERSECTS(INTERVAL(first_observed, last_observed),"
        " INTERVAL('2019-01-01', '2019-12-31'))",
        op(
            "t_intersects",
            interval(prop("first_observed"), prop("last_observed")),
            interval("2019-01-01", "2019-12-31"),
        ),
        None,
    ),
    (
        "T_DURING(INTERVAL(first_observed, last_observed), INTERVAL('2016-01-01', '..'))",
        op(
            "t_during",
            interval(prop("first_observed"), prop("last_observed")),
            interval("2016-01-01", ".."),
        ),
        None,
    ),
    (
        "T_CONTAINS(INTERVAL(first_observed, last_observed), DATE('2020-06-15'))",
        op(
            "t_contains", interval(prop("first_observed"), prop("last_observed")), day("2020-06-15")
        ),
        None,
    ),
    (
        "T_DISJOINT(INTERVAL(first_observed, last_observed), INTERVAL('2018-01-01', '2019-01-01'))",
        op(
            "t_disjoint",
            interval(prop("first_observed"), prop("last_observed")),
            interval("2018-01-01", "2019-01-01"),
        ),
        None,
    ),
    (
        "T_EQUALS(first_observed, last_observed)",
        op("t_equals", prop("first_observed"), prop("last_observed")),
        None,
    ),
    (
        "T_OVERLAPS(INTERVAL(first_observed, last_observed), INTERVAL('2019-01-01', '2030-01-01'))",
        op(
            "t_overlaps",
            interval(prop("first_observed"), prop("last_observed")),
            interval("2019-01-01", "2030-01-01"),
        ),
        None,
    ),
    (
        "T_OVERLAPPEDBY(INTERVAL(first_observed, last_observed), INTERVAL('..', '2019-01-01'))",
        op(
            "t_overlappedby",
            interval(prop("first_observed"), prop("last_observed")),
            interval("..", "2019-01-01"),
        ),
        None,
    ),
    (
        "T_STARTS(INTERVAL(first_observed, last_observed), INTERVAL(first_observed, '2030-01-01'))",
        op(
            "t_starts",
            interval(prop("first_observed"), prop("last_observed")),
            interval(prop("first_observed"), "2030-01-01"),
        ),
        None,
    ),
    (
        "T_STARTEDBY(INTERVAL(first_observed, '2030-01-01'),"
        " INTERVAL(first_observed, last_observed))",
        op(
            "t_startedby",
            interval(prop("first_observed"), "2030-01-01"),
            interval(prop("first_observed"), prop("last_observed")),
        ),
        None,
    ),
    (
        "T_FINISHES(INTERVAL(first_observed, last_observed),"
        " INTERVAL('2014-01-01', last_observed))",
        op(
            "t_finishes",
            interval(prop("first_observed"), prop("last_observed")),
            interval("2014-01-01", prop("last_observed")),
        ),
        None,
    ),
    (
        "T_FINISHEDBY(INTERVAL('..', last_observed), INTERVAL(first_observed, last_observed))",
        op(
            "t_finishedBy",
            interval("..", prop("last_observed")),
            interval(prop("first_observed"), prop("last_observed")),
        ),
        None,
    ),
    (
        "T_MEETS(INTERVAL('2010-01-01', first_observed), INTERVAL(first_observed, last_observed))",
        op(
            "t_meets",
            interval("2010-01-01", prop("first_observed")),
            interval(prop("first_observed"), prop("last_observed")),
        ),
        None,
    ),
    (
        "T_METBY(INTERVAL(last_observed, '..'), INTERVAL(first_observed, last_observed))",
        op(
            "t_metBy",
            interval(prop("last_observed"), ".."),
            interval(prop("first_observed"), prop("last_observed")),
        ),
        None,
    ),
    (
        "NOT T_INTERSECTS(last_observed, INTERVAL('..', '2019-01-01'))",
        op("not", op("t_intersects", prop("last_observed"), interval("..", "2019-01-01"))),
        None,
    ),
    # a site without a date relates to no interval, an open one included (all of it matched)
    (
        "T_INTERSECTS(first_observed, INTERVAL('..', '..'))",
        op("t_intersects", prop("first_observed"), interval("..", "..")),
        None,
    ),
    (
        "T_DURING(INTERVAL(first_observed, '..'), INTERVAL('..', '..'))",
        op("t_during", interval(prop("first_observed"), ".."), interval("..", "..")),
        None,
    ),
    # arrays
    ("A_CONTAINS(minerals, ('gold'))", op("a_contains", prop("minerals"), ["gold"]), None),
    (
        "A_CONTAINS(minerals, ('gold', 'diamond'))",
        op("a_contains", prop("minerals"), ["gold", "diamond"]),
        None,
    ),
    (
        "A_OVERLAPS(minerals, ('coltan', 'cassiterite'))",
        op("a_overlaps", prop("minerals"), ["coltan", "cassiterite"]),
        None,
    ),
    (
        "A_CONTAINEDBY(minerals, ('gold', 'diamond'))",
        op("a_containedBy", prop("minerals"), ["gold", "diamond"]),
        None,
    ),
    ("A_EQUALS(minerals, ('gold'))", op("a_equals", prop("minerals"), ["gold"]), None),
    (
        "NOT A_OVERLAPS(minerals, ('diamond')) AND kind = 'sales_point'",
        op(
            "and",
            op("not", op("a_overlaps", prop("minerals"), ["diamond"])),
            op("=", prop("kind"), "sales_point"),
        ),
        None,
    ),
    (
        "A_OVERLAPS(aliases, ('Betare-Oya', 'Ouesso'))",
        op("a_overlaps", prop("aliases"), ["Betare-Oya", "Ouesso"]),
        None,
    ),
]


def case_id(case: tuple[str, Any, str | None]) -> str:
    return case[0][:60]


def select_ids(session: Session, loaded: Loaded, clause: Any) -> set[int]:
    table = site_repo.sites
    statement = select(table.c.id).where(table.c.id.in_(loaded.ids), clause)
    return set(session.execute(statement).scalars())


def expected_ids(loaded: Loaded, tree: Any, filter_crs: str | None) -> set[int]:
    offered = crs_module.parse_crs(filter_crs) if filter_crs else crs_module.CRS84
    evaluator = Evaluator(offered.srid, offered.lat_first)
    return {row["id"] for row in loaded.rows if evaluator.matches(_lower_ops(tree), row)}


def _lower_ops(node: Any) -> Any:
    if isinstance(node, list):
        return [_lower_ops(n) for n in node]
    if isinstance(node, dict):
        out = {k: _lower_ops(v) for k, v in node.items()}
        if isinstance(out.get("op"), str):
            out["op"] = out["op"].lower()
        return out
    return node


def test_there_are_enough_cases_and_they_select_proper_subsets(loaded: Loaded) -> None:
    assert len(CASES) >= 60
    proper = 0
    for _text, tree, filter_crs in CASES:
        found = expected_ids(loaded, tree, filter_crs)
        proper += 0 < len(found) < len(loaded.ids)
    # A filter that selects nothing or everything proves little; nearly all must split.
    assert proper >= len(CASES) - 3


@pytest.mark.parametrize("form", ["cql2-text", "cql2-json"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_filter_matches_brute_force(
    session: Session, loaded: Loaded, case: tuple[str, Any, str | None], form: str
) -> None:
    text, tree, filter_crs = case
    source = text if form == "cql2-text" else json.dumps(tree)
    parsed = parse_filter(source, form)
    offered = crs_module.parse_crs(filter_crs) if filter_crs else crs_module.CRS84
    clause = compile_filter(parsed.ast, site_repo.SITE_FIELDS, offered)
    assert select_ids(session, loaded, clause) == expected_ids(loaded, tree, filter_crs)


def test_both_encodings_give_one_tree() -> None:
    for text, tree, _ in CASES:
        assert parse_filter(text).ast == parse_filter(json.dumps(tree), "cql2-json").ast, text


def test_is_null_of_a_literal_null_runs(session: Session, loaded: Loaded) -> None:
    """A literal NULL tested IS NULL is true for every site (its parameter had no type:
    PostgreSQL refused the statement, a 500; found by the fuzz test)."""
    for tree, expected in (
        ({"op": "isNull", "args": [None]}, set(loaded.ids)),
        ({"op": "not", "args": [{"op": "isNull", "args": [None]}]}, set()),
        ({"op": "isNull", "args": ["text"]}, set()),
    ):
        parsed = parse_filter(json.dumps(tree), "cql2-json")
        clause = compile_filter(parsed.ast, site_repo.SITE_FIELDS)
        assert select_ids(session, loaded, clause) == expected, tree


def test_accent_insensitive_finds_betare_oya(session: Session, loaded: Loaded) -> None:
    parsed = parse_filter("ACCENTI(CASEI(name)) = ACCENTI(CASEI('betare oya'))")
    clause = compile_filter(parsed.ast, site_repo.SITE_FIELDS)
    names = {row["name"] for row in loaded.rows if row["id"] in select_ids(session, loaded, clause)}
    assert names == {"Bétaré Oya"}
    parsed = parse_filter("ACCENTI(name) = ACCENTI('betare')")
    clause = compile_filter(parsed.ast, site_repo.SITE_FIELDS)
    assert select_ids(session, loaded, clause) == set()  # a whole-name comparison, not a search


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("nme = 'x'", "unknown property 'nme'"),
        ("kind = 3", "cannot compare string with number"),
        ("accuracy_m = 'high'", "cannot compare number with string"),
        ("minerals = 'gold'", "cannot compare string_array with string"),
        ("A_CONTAINS(kind, ('mine'))", "needs arrays"),
        ("S_INTERSECTS(name, POINT(1 2))", "'name' is not a geometry"),
        ("T_BEFORE(name, DATE('2020-01-01'))", "needs dates"),
        ("first_observed = DATE('2020-13-45')", "is not a date"),
        ("first_observed > TIMESTAMP('2020-01-01')", "needs a time zone"),
        ("name LIKE 3", "LIKE compares strings"),
        ("CASEI(accuracy_m) = 'a'", "CASEI applies to strings"),
        ("accuracy_m = 1 + 2", "'+' is not supported"),
        ("foo(name) = 'a'", "'foo' is not supported"),
        ("accuracy_m = NULL", "IS NULL"),
        ("S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 1 0, 0 1, 0 0)))", "invalid geometry"),
        ("S_DWITHIN(geometry, POINT(1 2), 5, furlongs)", "unit"),
        ("S_DWITHIN(geometry, POINT(1 2), -5)", ">= 0"),
        ("S_INTERSECTS(geometry, BBOX(5, 5, 1, 1))", "lower corner"),
        ("accuracy_m", "not a boolean"),
        ("A_CONTAINS(minerals, (1, 2))", "must be strings"),
        ("S_DWITHIN(geometry, POINT(200 95), 10)", "outside lon [-180, 180]"),
        ("S_INTERSECTS(geometry, BBOX(-200, 0, 10, 10))", "outside lon [-180, 180]"),
    ],
)
def test_misuse_is_a_400_naming_the_problem(text: str, needle: str) -> None:
    parsed = parse_filter(text)
    with pytest.raises(InvalidParameter) as raised:
        compile_filter(parsed.ast, site_repo.SITE_FIELDS)
    assert raised.value.status == 400
    assert raised.value.code == "invalid_filter"
    assert needle in raised.value.detail


def _json_filter(geometry: Any) -> str:
    return json.dumps({"op": "s_intersects", "args": [{"property": "geometry"}, geometry]})


OPEN_RING = [[15, 4], [16, 4], [16, 5]]


@pytest.mark.parametrize(
    ("text", "lang", "needle"),
    [
        # a ring that does not close was closed silently (by the parser's tree, then GEOS)
        (
            "S_INTERSECTS(geometry, POLYGON((15 4, 16 4, 16 5)))",
            "cql2-text",
            "POLYGON: its outer ring is not closed: it starts at (15 4) and ends at (16 5); "
            "repeat the first position last",
        ),
        (
            _json_filter({"type": "Polygon", "coordinates": [OPEN_RING]}),
            "cql2-json",
            "POLYGON: its outer ring is not closed: it starts at (15 4) and ends at (16 5)",
        ),
        (
            _json_filter({"type": "MultiPolygon", "coordinates": [[OPEN_RING]]}),
            "cql2-json",
            "MULTIPOLYGON, polygon 1: its outer ring is not closed",
        ),
        (
            "S_INTERSECTS(geometry, POLYGON((0 0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2)))",
            "cql2-text",
            "POLYGON: its inner ring 1 is not closed",
        ),
        (
            "S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 0 0)))",
            "cql2-text",
            "POLYGON: its outer ring has 3 positions; a ring needs at least 4",
        ),
        (
            _json_filter({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}),
            "cql2-json",
            "POLYGON: its outer ring has 3 positions; a ring needs at least 4",
        ),
        # shapes GEOS refuses to build (a GEOSException once, a 500), in both encodings
        (
            "S_INTERSECTS(geometry, LINESTRING(0 0))",
            "cql2-text",
            "LINESTRING: a line needs at least 2 positions",
        ),
        (
            "S_INTERSECTS(geometry, MULTILINESTRING((0 0)))",
            "cql2-text",
            "MULTILINESTRING, line 1: a line needs at least 2 positions",
        ),
        (
            "S_DWITHIN(geometry, LINESTRING(15 4), 10, kilometers)",
            "cql2-text",
            "a line needs at least 2 positions",
        ),
        (
            _json_filter({"type": "LineString", "coordinates": [[0, 0]]}),
            "cql2-json",
            "LINESTRING: a line needs at least 2 positions",
        ),
        (
            _json_filter({"type": "MultiLineString", "coordinates": [[[0, 0]]]}),
            "cql2-json",
            "a line needs at least 2 positions",
        ),
        (
            _json_filter(
                {
                    "type": "GeometryCollection",
                    "geometries": [{"type": "LineString", "coordinates": [[0, 0]]}],
                }
            ),
            "cql2-json",
            "LINESTRING: a line needs at least 2 positions",
        ),
        # coordinates out of any CRS's range, in plain words (the parser's rule names were
        # shown for 1e308; 400 digits failed inside the parser, a 500)
        (
            "S_INTERSECTS(geometry, POINT(1e308 4))",
            "cql2-text",
            "POINT at line 1, column 30: coordinate 1e308 is out of range",
        ),
        (
            "S_INTERSECTS(geometry, POINT(" + "9" * 400 + " 4))",
            "cql2-text",
            "(400 characters) is out of range",
        ),
        (
            "S_INTERSECTS(geometry, POINT(" + "9" * 40 + " 4))",
            "cql2-text",
            "(40 characters) is out of range",
        ),
        (
            _json_filter({"type": "Point", "coordinates": [1e308, 4]}),
            "cql2-json",
            "POINT: coordinate 1e+308 is out of range",
        ),
        (
            "S_INTERSECTS(geometry, BBOX(1e308, 0, 1, 1))",
            "cql2-text",
            "BBOX: coordinate 1e+308 is out of range",
        ),
        # in range, but CQL2 text has no exponent in WKT
        (
            "S_INTERSECTS(geometry, POINT(1.5e1 4))",
            "cql2-text",
            "POINT at line 1, column 30: coordinate 1.5e1 has an exponent; CQL2 text writes "
            "coordinates as plain "
            "decimal numbers (15)",
        ),
    ],
)
def test_a_malformed_geometry_is_a_400_naming_its_fault(text: str, lang: str, needle: str) -> None:
    with pytest.raises(InvalidParameter) as raised:
        parse_filter(text, lang)
    assert raised.value.status == 400
    assert raised.value.code == "invalid_filter"
    assert raised.value.items[0].column == "filter"
    assert needle in raised.value.detail, raised.value.detail


def test_a_coordinate_out_of_range_says_where_it_is() -> None:
    with pytest.raises(InvalidParameter) as raised:
        parse_filter("kind = 'mine' AND\n  S_INTERSECTS(geometry, POINT(15 1e308))")
    assert raised.value.extra["position"] == {"line": 2, "column": 35}
    assert "line 2, column 35" in raised.value.detail


def test_a_wkt_keyword_inside_a_text_is_not_a_geometry() -> None:
    assert parse_filter("name = 'POINT(1e308 4)'").ast["args"][1] == "POINT(1e308 4)"


def test_filter_crs_geometry_without_a_lonlat_image_is_a_400() -> None:
    parsed = parse_filter("S_INTERSECTS(geometry, POINT(1000000000 1000000000))")
    with pytest.raises(InvalidParameter) as raised:
        compile_filter(parsed.ast, site_repo.SITE_FIELDS, crs_module.parse_crs("EPSG:32633"))
    assert "outside the domain" in raised.value.detail


def test_unknown_property_lists_the_queryables() -> None:
    with pytest.raises(InvalidParameter) as raised:
        compile_filter(parse_filter("colour = 'red'").ast, site_repo.SITE_FIELDS)
    assert all(name in raised.value.detail for name in site_repo.SITE_FIELDS)


@pytest.mark.parametrize(
    ("text", "lang", "line", "column"),
    [
        ("name = ", "cql2-text", 1, 8),
        ("kind = 'mine' AND", "cql2-text", 1, 18),
        ("(kind = 'mine'", "cql2-text", 1, 15),
        ("kind === 'mine'", "cql2-text", 1, 7),
        ("name = 'unterminated", "cql2-text", 1, 8),
        ("kind = 'mine' AND\n  name = ", "cql2-text", 2, 10),
        ('{"op": "=", "args": [{"property": "kind"}', "cql2-json", 1, 41),
        ('{"op": "=", "args": [', "cql2-json", 1, 21),
        ("not json", "cql2-json", 1, 2),
    ],
)
def test_malformed_filter_is_a_400_with_the_position(
    text: str, lang: str, line: int, column: int
) -> None:
    with pytest.raises(InvalidParameter) as raised:
        parse_filter(text, lang)
    assert raised.value.code == "invalid_filter"
    assert raised.value.extra["position"] == {"line": line, "column": column}
    assert f"line {line}, column {column}" in raised.value.detail


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "name = ",
            "expected a geometry, a property name, -, NOT, TRUE, FALSE, NULL, a number, "
            "a 'text', ( or a list (...)",
        ),
        (
            "kind = 'mine' name",
            "expected the end of the filter, NOT, AND, OR, +, -, *, /, %, ^, =, >, >=, <, <=, <> "
            "or IS NULL",
        ),
    ],
)
def test_a_syntax_error_says_what_was_expected_in_the_language_s_words(
    text: str, said: str
) -> None:
    """The parser's rule names (NotFlag, IsNullPostfix, SingleQuotedString) were shown."""
    with pytest.raises(InvalidParameter) as raised:
        parse_filter(text)
    assert raised.value.detail.endswith(said), raised.value.detail


POINT_1_2 = {"type": "Point", "coordinates": [1, 2]}


@pytest.mark.parametrize(
    ("text", "lang", "shown"),
    [
        ("S_DWITHIN(geometry, POINT(1 2), 5, furlongs)", "cql2-text", "unit furlongs unknown"),
        (
            json.dumps(
                {
                    "op": "s_dwithin",
                    "args": [{"property": "geometry"}, POINT_1_2, 5, {"property": "furlongs"}],
                }
            ),
            "cql2-json",
            'unit {"property": "furlongs"} unknown',
        ),
        (
            json.dumps(
                {"op": "s_dwithin", "args": [{"property": "geometry"}, POINT_1_2, 5, "Fürlongs"]}
            ),
            "cql2-json",
            'unit "Fürlongs" unknown',
        ),
    ],
)
def test_a_part_of_a_filter_is_shown_as_its_author_wrote_it(
    text: str, lang: str, shown: str
) -> None:
    """An error showed the part as Python's spelling of the tree ({'property': 'furlongs'}):
    it is CQL2 text or JSON text, the language the filter came in."""
    parsed = parse_filter(text, lang)
    with pytest.raises(InvalidParameter) as raised:
        compile_filter(parsed.ast, site_repo.SITE_FIELDS, lang=parsed.lang)
    assert shown in raised.value.detail
    assert "{'" not in raised.value.detail
