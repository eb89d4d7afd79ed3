"""No filter a caller can write makes the database fail: random trees over the sites
queryables, with literals of every type, either compile and run or are refused with a 400."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.collections.cql2 import parse_filter
from app.db import sites as site_repo
from app.db.cql2 import compile_filter
from app.errors import InvalidParameter

FIELDS = [*site_repo.SITE_FIELDS, "nope"]
POINT = {"type": "Point", "coordinates": [15.0, 4.0]}
OPS = ["=", "<>", "<", ">=", "like", "between", "in", "isNull", "s_intersects", "s_within",
       "s_dwithin", "t_before", "t_during", "t_intersects", "a_contains", "a_overlaps",
       "casei", "accenti", "and", "or", "not", "+", "upper"]  # fmt: skip

literals = st.one_of(
    st.text(max_size=8),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.integers(-(10**6), 10**6),
    st.booleans(),
    st.none(),
    st.sampled_from(
        [
            {"date": "2020-01-01"},
            {"date": "2020-02-30"},
            {"timestamp": "2020-01-01T00:00:00Z"},
            {"interval": ["2019-01-01", ".."]},
            {"interval": [{"property": "first_observed"}, "nope"]},
            {"bbox": [10, 0, 20, 8]},
            {"bbox": [20, 8, 10]},
            POINT,
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            ["gold", "diamond"],
            [1, "a"],
            [],
        ]
    ),
)
properties = st.sampled_from(FIELDS).map(lambda name: {"property": name})
leaves = st.one_of(literals, properties)


def nodes(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(
        lambda op, args: {"op": op, "args": args},
        st.sampled_from(OPS),
        st.lists(children, min_size=0, max_size=4),
    )


trees = st.recursive(leaves, nodes, max_leaves=12)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tree=trees)
def test_random_filters_compile_and_run_or_are_refused(session: Session, tree: Any) -> None:
    try:
        parsed = parse_filter(json.dumps(tree), "cql2-json")
        clause = compile_filter(parsed.ast, site_repo.SITE_FIELDS)
    except InvalidParameter as refused:
        assert refused.status == 400
        return
    table = site_repo.sites
    with session.begin_nested():
        session.execute(select(table.c.id).where(clause).limit(1)).all()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_random_text_parses_or_is_refused(text: str) -> None:
    try:
        parse_filter(text)
    except InvalidParameter as refused:
        assert refused.code == "invalid_filter"
