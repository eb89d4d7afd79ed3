"""Site name search: accent- and case-insensitive, typo-tolerant, ranked, and indexed."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.db import sites as site_repo
from app.db.search import name_search

NAMES = {
    "Bétaré Oya": ["Betare-Oya"],
    "Garoua-Boulaï": [],
    "Ndélé": [],
    "Berbérati": ["Berberati comptoir"],
    "Bétou": [],
    "Carnot": [],
    "Nola": ["Salo 2"],
    "Mbaïki": [],
    "São Salvador": ["Mbanza Kongo"],
    "Dundo 50%_stock": [],
}


@pytest.fixture
def loaded(session: Session) -> dict[int, str]:
    new = [
        site_repo.NewSite(
            kind="mine",
            name=name,
            lon=15.0 + i / 10,
            lat=4.0,
            location_status="country",
            aliases=aliases,
        )
        for i, (name, aliases) in enumerate(NAMES.items())
    ]
    ids = site_repo.insert_sites(session, new)
    return dict(zip(ids, NAMES, strict=True))


def search(session: Session, loaded: dict[int, str], q: str) -> list[str]:
    table = site_repo.sites
    found = name_search(table.c.name, table.c.aliases, q)
    rows = session.execute(
        select(table.c.id)
        .where(table.c.id.in_(loaded), found.where)
        .order_by(found.rank.desc(), table.c.id)
    )
    return [loaded[i] for i in rows.scalars()]


@pytest.mark.parametrize(
    "q",
    ["betare", "betaré", "BÉTARÉ", "Betare Oya", "bétaré oya", "oya", "betare-oya", "bettare",
     "betar oya", "Betare Oyaa"],
)  # fmt: skip
def test_betare_oya_is_found_first_however_spelled(
    session: Session, loaded: dict[int, str], q: str
) -> None:
    found = search(session, loaded, q)
    assert found[:1] == ["Bétaré Oya"], found


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("garoua boulai", "Garoua-Boulaï"),
        ("ndele", "Ndélé"),
        ("NDÉLÉ", "Ndélé"),
        ("berberati", "Berbérati"),
        ("comptoir", "Berbérati"),  # an alias
        ("mbanza", "São Salvador"),  # an alias
        ("sao salvador", "São Salvador"),
        ("mbaiki", "Mbaïki"),
        ("carnott", "Carnot"),  # one letter too many
        ("50%_", "Dundo 50%_stock"),  # wildcards taken literally
    ],
)
def test_names_and_aliases_are_found(
    session: Session, loaded: dict[int, str], q: str, expected: str
) -> None:
    assert search(session, loaded, q)[:1] == [expected]


@pytest.mark.parametrize("q", ["kisangani", "%x%", "a_c", "zzzz", "oyo"])
def test_unrelated_queries_find_nothing_related(
    session: Session, loaded: dict[int, str], q: str
) -> None:
    assert search(session, loaded, q) == []


def test_search_uses_the_trigram_index(session: Session, loaded: dict[int, str]) -> None:
    table = site_repo.sites
    found = name_search(table.c.name, table.c.aliases, "betare")
    session.execute(text("SET LOCAL enable_seqscan = off"))
    statement = select(table.c.id).where(found.where)
    compiled = statement.compile(dialect=session.get_bind().dialect)
    explained = session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
    plan = "\n".join(row[0] for row in explained)
    assert "ix_sites_search_trgm" in plan, plan
