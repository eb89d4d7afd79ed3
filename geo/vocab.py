"""Controlled vocabularies with English, French and Portuguese labels.

Survey teams write minerals the way they speak: ``Diamant``, ``or``, ``Cassitérite``, ``tin``.
The vocabulary maps every label and synonym, compared without case or accents, to one code.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Final, Literal, get_args

VOCAB_DIR = Path(__file__).resolve().parent.parent / "data" / "vocab"
LANGUAGES = ("en", "fr", "pt")

#: The kinds of site, the one place they are spelled (``site_kinds()`` labels them).
SiteKind = Literal["mine", "sales_point"]
SITE_KINDS: Final[tuple[SiteKind, ...]] = get_args(SiteKind)

#: What happened to a site in one entry of its history (``site_versions.action``): created or
#: matched by an upload, edited or moved by a person, merged (the survivor) or merged_into
#: (the merged one), split (both sides), retired, restored, border figures recomputed after a
#: boundary change, or retracted (an upload that made or touched it was taken back).
HistoryAction = Literal[
    "created",
    "matched",
    "edited",
    "moved",
    "merged",
    "merged_into",
    "split",
    "retired",
    "restored",
    "recomputed",
    "retracted",
]
HISTORY_ACTIONS: Final[tuple[HistoryAction, ...]] = get_args(HistoryAction)


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


# What survey tools and spreadsheets write for "no answer" (issue: Ona's ``n/a``, Excel's
# ``#N/A``, pandas' ``NaN``, R's ``NA``, a lone dash). Compared after ``strip().casefold()``;
# a cell holding one of them is empty in every column: an optional field is then absent, a
# required one (coordinates) missing, a mineral list empty. Uploads may give their own list
# (``ReadOptions.empty_values``), which replaces this one.
EMPTY_VALUES: frozenset[str] = frozenset(
    {
        "",
        "n/a", "na", "n.a.", "n.a", "#n/a", "#na", "n/d", "n.d.", "nd",
        "-", "--", "---", "\u2013", "\u2014", ".", "?",
        "null", "#null!", "none", "nil", "nan", "missing", "unknown",
        "s/o", "sans objet", "neant", "n\u00e9ant", "inconnu", "non renseign\u00e9",
        "sem dados", "desconhecido",
    }
)  # fmt: skip


def empty_values_from_text(raw: str) -> frozenset[str]:
    """An upload's own "no answer" words, comma-separated (``"n/a, -, ?"``); a blank cell is
    always empty, whatever the list."""
    return frozenset({"", *(word.strip() for word in raw.split(","))})


def empty_value_test(tokens: Iterable[str] | None = None) -> Callable[[object], bool]:
    """A test saying whether a cell is empty: None, blank, or one of ``tokens``.

    ``tokens`` defaults to :data:`EMPTY_VALUES`; they are compared without case or the
    blanks around them (``' N/A '`` is ``n/a``).
    """
    table = EMPTY_VALUES if tokens is None else frozenset(t.strip().casefold() for t in tokens)
    table = table | {""}

    def is_empty(cell: object) -> bool:
        return cell is None or (isinstance(cell, str) and cell.strip().casefold() in table)

    return is_empty


# The empty-value tokens that hold the list separator "/" (split first, they would be items).
_SLASHED_EMPTY = re.compile(
    "|".join(
        rf"(?<![\w/]){re.escape(token)}(?![\w/])"
        for token in sorted(EMPTY_VALUES, key=len, reverse=True)
        if "/" in token
    ),
    re.IGNORECASE,
)


@cache
def minerals() -> Vocabulary:
    """The mineral vocabulary shipped in ``data/vocab/minerals.csv``."""
    return read_vocabulary(VOCAB_DIR / "minerals.csv")


def split_list(value: str) -> list[str]:
    """Split a free-text list: ``'Or, Diamant; coltan'`` or KoBo's ``'gold diamond'``.

    Empty-value tokens are no items: ``'n/a'`` is an empty list, ``'or; n/a'`` is ``['or']``
    (never the items ``n`` and ``a``).
    """
    value = _SLASHED_EMPTY.sub("\n", value)
    for separator in (";", ",", "|", "/", " et ", " and ", " e "):
        value = value.replace(separator, "\n")
    is_empty = empty_value_test()
    parts = [part.strip() for part in value.splitlines() if not is_empty(part)]
    if len(parts) == 1 and " " in parts[0] and minerals().lookup(parts[0]) is None:
        # KoBo exports select_multiple answers space-separated ("gold diamond").
        words = parts[0].split()
        if all(minerals().lookup(word) for word in words):
            return words
    return parts


@cache
def site_kinds() -> Vocabulary:
    """The two kinds of site, with the words survey teams use for them (EN/FR/PT).

    One table for kind columns and for the kind a file's own structure gives (KML folders
    and styles named ``Chantiers``, ``Comptoirs``, ``Garimpos``, ``Points de vente``...).

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
            # Plurals and the names survey teams give KML folders and styles.
            "mines",
            "mining sites",
            "mine sites",
            "sites miniers",
            "chantiers",
            "chantiers miniers",
            "carrières",
            "garimpo",
            "garimpos",
            "minas",
            "lavra",
            "lavras",
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
            # Plurals and the names survey teams give KML folders and styles.
            "sales points",
            "selling points",
            "buying houses",
            "buying offices",
            "markets",
            "comptoirs",
            "comptoirs d'achat",
            "points de vente",
            "bureaux d'achat",
            "marchés",
            "pontos de venda",
            "compradores",
            "casas de compra",
        ),
    )
    return Vocabulary("site_kinds", (mine, sales_point))


@cache
def zone_types() -> Vocabulary:
    """Zone types (``data/vocab/zone_types.csv``): ``kp_compliant_zone`` (a Kimberley Process
    "green zone"), ``protected_area``, ``concession``, ``security_incident_area``, ``other``."""
    return read_vocabulary(VOCAB_DIR / "zone_types.csv")


@cache
def actor_types() -> Vocabulary:
    """Supply-chain actor types (``data/vocab/actor_types.csv``): cooperative, diggers' team,
    collector/trader (négociant, collecteur), buying house (bureau d'achat, comptoir),
    exporter, transporter."""
    return read_vocabulary(VOCAB_DIR / "actor_types.csv")
