"""Controlled vocabularies with English, French and Portuguese labels.

Survey teams write minerals the way they speak: ``Diamant``, ``or``, ``Cassitérite``, ``tin``.
The vocabulary maps every label and synonym, compared without case or accents, to one code.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Final, Literal, get_args

VOCAB_DIR = Path(__file__).resolve().parent.parent / "data" / "vocab"
LANGUAGES = ("en", "fr", "pt")

#: The kinds of site, the one place they are spelled (``site_kinds()`` labels them).
SiteKind = Literal["mine", "sales_point"]
SITE_KINDS: Final[tuple[SiteKind, ...]] = get_args(SiteKind)


def fold(text: str) -> str:
    """Lower-case, strip accents, squeeze blanks: ``' Cassitérite '`` equals ``cassiterite``."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().replace("_", " ").split())


@dataclass(frozen=True)
class Term:
    code: str
    labels: dict[str, str]
    synonyms: tuple[str, ...] = ()

    def label(self, lang: str = "en") -> str:
        return self.labels.get(lang) or self.labels["en"]


@dataclass(frozen=True)
class Vocabulary:
    """A closed list of terms; ``lookup`` answers the code for any label or synonym."""

    name: str
    terms: tuple[Term, ...]
    _index: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, str] = {}
        for term in self.terms:
            for spelling in (term.code, *term.labels.values(), *term.synonyms):
                index.setdefault(fold(spelling), term.code)
        object.__setattr__(self, "_index", index)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(term.code for term in self.terms)

    def lookup(self, spelling: str) -> str | None:
        """Code for ``spelling`` (any language, any case, with or without accents), else None."""
        return self._index.get(fold(spelling))

    def term(self, code: str) -> Term:
        for term in self.terms:
            if term.code == code:
                return term
        raise KeyError(code)

    def normalise(self, spellings: Iterable[str]) -> tuple[list[str], list[str]]:
        """Split spellings into (known codes without duplicates, in order; unknown spellings)."""
        known: list[str] = []
        unknown: list[str] = []
        for spelling in spellings:
            if not spelling.strip():
                continue
            code = self.lookup(spelling)
            if code is None:
                unknown.append(spelling.strip())
            elif code not in known:
                known.append(code)
        return known, unknown


def read_vocabulary(path: Path) -> Vocabulary:
    """Read a vocabulary CSV with columns ``code,en,fr,pt,synonyms`` (synonyms ``|``-separated)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    terms = tuple(
        Term(
            code=row["code"],
            labels={lang: row[lang] for lang in LANGUAGES if row.get(lang)},
            synonyms=tuple(s for s in (row.get("synonyms") or "").split("|") if s),
        )
        for row in rows
    )
    return Vocabulary(name=path.stem, terms=terms)


@cache
def minerals() -> Vocabulary:
    """The mineral vocabulary shipped in ``data/vocab/minerals.csv``."""
    return read_vocabulary(VOCAB_DIR / "minerals.csv")


def split_list(value: str) -> list[str]:
    """Split a free-text list: ``'Or, Diamant; coltan'`` or KoBo's ``'gold diamond'``."""
    for separator in (";", ",", "|", "/", " et ", " and ", " e "):
        value = value.replace(separator, "\n")
    parts = [part.strip() for part in value.splitlines() if part.strip()]
    if len(parts) == 1 and " " in parts[0] and minerals().lookup(parts[0]) is None:
        # KoBo exports select_multiple answers space-separated ("gold diamond").
        words = parts[0].split()
        if all(minerals().lookup(word) for word in words):
            return words
    return parts


@cache
def site_kinds() -> Vocabulary:
    """The two kinds of site, with the words survey teams use for them (EN/FR/PT).

    ``mine``: mine, site minier, chantier...; ``sales_point``: comptoir, point de vente, buying
    house, market, marché...
    """
    mine_code, sales_point_code = SITE_KINDS
    mine = Term(
        mine_code,
        {"en": "mine", "fr": "site minier", "pt": "mina"},
        (
            "mining site",
            "mine site",
            "artisanal mine",
            "chantier",
            "chantier minier",
            "site d'exploitation",
            "site d'orpaillage",
            "mine artisanale",
            "carrière",
            "quarry",
            "puits",
        ),
    )
    sales_point = Term(
        sales_point_code,
        {"en": "sales point", "fr": "point de vente", "pt": "ponto de venda"},
        (
            "comptoir",
            "comptoir d'achat",
            "point de vente de minerais",
            "pdv",
            "buying house",
            "buying office",
            "bureau d'achat",
            "market",
            "marché",
            "selling point",
            "trading post",
        ),
    )
    return Vocabulary("site_kinds", (mine, sales_point))
