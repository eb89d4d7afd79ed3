"""Gettext catalogues (EN/FR/PT) and the vocabulary labels pages show.

The catalogues are the ``.po`` files in ``app/locale/<lang>/LC_MESSAGES/messages.po``, managed
with Babel (``pybabel extract -F app/locale/babel.cfg -o app/locale/messages.pot app`` then
``pybabel update -i app/locale/messages.pot -d app/locale``). They are compiled in memory on
first use, so no binary ``.mo`` file is kept in the repository. English is the msgid itself.

Vocabulary labels (site kinds, minerals, country names) are not in the catalogues: they come
from their one source, ``geo.vocab`` and ``data/vocab/``.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from app.html.negotiation import LANGUAGES
from geo.countries import read_country_table
from geo.vocab import minerals, site_kinds

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"


def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> NullTranslations:
    """The compiled catalogue of ``lang``; English (and any unknown language) is the identity."""
    path = catalogue_path(lang)
    if lang == "en" or lang not in LANGUAGES or not path.is_file():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def gettext(lang: str, message: str) -> str:
    return translations(lang).gettext(message)


def ngettext(lang: str, singular: str, plural: str, n: int) -> str:
    return translations(lang).ngettext(singular, plural, n)


def kind_label(code: str, lang: str) -> str:
    """``sales_point`` -> ``point de vente`` (fr); an unknown code is shown as it is."""
    try:
        return site_kinds().term(code).label(lang)
    except KeyError:
        return code


def mineral_label(code: str, lang: str) -> str:
    try:
        return minerals().term(code).label(lang)
    except KeyError:
        return code


@cache
def _countries() -> dict[str, dict[str, str]]:
    return {country.iso3: country.names for country in read_country_table()}


def country_name(iso3: str, lang: str) -> str:
    """``CMR`` -> ``Cameroun`` (fr); unknown codes are shown as they are."""
    names = _countries().get(iso3.upper())
    if names is None:
        return iso3
    return names.get(lang) or names["en"]


def border_label(pair: str, lang: str) -> str:
    """``CAF-CMR`` -> ``Central African Republic - Cameroon`` in ``lang``."""
    return " \N{EN DASH} ".join(country_name(code, lang) for code in pair.split("-"))
