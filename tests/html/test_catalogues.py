"""Every word a person reads on an HTML page comes from the EN/FR/PT catalogues: templates
hold no visible text outside translation calls, and every message has French and Portuguese."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from app.html import i18n
from app.html.templating import TEMPLATE_DIR, environment
from app.settings import PROJECT_ROOT

VISIBLE_ATTRIBUTES = ("alt", "title", "aria-label", "placeholder", "label")
PLACEHOLDER = "\u00a7"  # stands for an expression: not a letter
FIELD = re.compile(r"%\((\w+)\)s")


class VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in VISIBLE_ATTRIBUTES:
            self._check(attributes.get(name))
        if tag == "input" and attributes.get("type") in ("submit", "button", "reset"):
            self._check(attributes.get("value"))

    def handle_data(self, data: str) -> None:
        self._check(data)

    def _check(self, text: str | None) -> None:
        if text and any(ch.isalpha() for ch in text):
            self.found.append(text.strip())


def untranslated_text(source: str) -> list[str]:
    """Visible text of a template outside ``{% trans %}`` blocks and ``{{ ... }}``."""
    kept: list[str] = []
    in_trans = False
    block: list[str] = []
    for _, token, value in environment().lex(source):
        if token == "block_begin":
            block = []
        elif token == "name" and not block:
            block.append(value)
            in_trans = {"trans": True, "endtrans": False}.get(value, in_trans)
        if token == "data" and not in_trans:
            kept.append(value)
        elif token in ("variable_begin", "block_begin"):
            kept.append(PLACEHOLDER)
    parser = VisibleText()
    parser.feed("".join(kept))
    parser.close()
    return parser.found


TEMPLATES = sorted(TEMPLATE_DIR.glob("*.html"))


def test_the_checker_finds_hard_coded_text() -> None:
    assert untranslated_text("<p>Sites near {{ border }}</p>") == ["Sites near \u00a7"]
    assert untranslated_text('<nav aria-label="Main"></nav>') == ["Main"]
    assert untranslated_text('<input type="submit" value="Go">') == ["Go"]
    assert untranslated_text("<p>{% trans %}Sites near{% endtrans %} · {{ _('x') }}</p>") == []
    assert untranslated_text('<a href="{{ u }}" class="button">{{ _("Next") }}</a>') == []


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_templates_have_no_text_outside_translation_calls(template: Path) -> None:
    assert untranslated_text(template.read_text(encoding="utf-8")) == []


def extracted() -> dict[str | tuple[str, ...], tuple[str, ...]]:
    """msgid -> its %(name)s fields, straight from the sources (not from the .pot file)."""
    with (i18n.LOCALE_DIR / "babel.cfg").open(encoding="utf-8") as handle:
        methods, options = parse_mapping_cfg(handle)
    messages: dict[str | tuple[str, ...], tuple[str, ...]] = {}
    for _, _, message, _, _ in extract_from_dir(str(PROJECT_ROOT / "app"), methods, options):
        key = message if isinstance(message, str) else tuple(message)
        text = key if isinstance(key, str) else key[0]
        messages[key] = tuple(sorted(FIELD.findall(text)))
    return messages


def test_there_are_messages() -> None:
    assert len(extracted()) > 50


@pytest.mark.parametrize("lang", ["fr", "pt"])
def test_every_message_is_translated(lang: str) -> None:
    with i18n.catalogue_path(lang).open("rb") as handle:
        catalogue = read_po(handle, locale=lang)
    for msgid, fields in extracted().items():
        message = catalogue.get(msgid if isinstance(msgid, str) else msgid[0])
        assert message is not None, f"{lang}: no entry for {msgid!r}"
        assert not message.fuzzy, f"{lang}: fuzzy translation of {msgid!r}"
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"{lang}: {msgid!r} is not translated"
        for string in strings:
            assert tuple(sorted(set(FIELD.findall(string)))) == tuple(sorted(set(fields))), (
                f"{lang}: {msgid!r} and its translation {string!r} name different fields"
            )


def test_template_catalogue_is_current() -> None:
    with (i18n.LOCALE_DIR / "messages.pot").open("rb") as handle:
        template = read_po(handle)
    ids = {m.id if isinstance(m.id, str) else tuple(m.id) for m in template if m.id}
    assert ids == set(extracted()), "run the pybabel extract/update lines in app/locale/babel.cfg"


@pytest.mark.parametrize("lang", ["fr", "pt"])
def test_catalogues_compile_and_translate(lang: str) -> None:
    assert i18n.gettext(lang, "Next page") != "Next page"
    one, many = (
        i18n.ngettext(lang, "%(count)s feature shown", "%(count)s features shown", n)
        for n in (1, 3)
    )
    assert one != many and "feature" not in one + many


def test_vocabulary_labels_come_from_the_vocabularies() -> None:
    from geo.countries import read_country_table
    from geo.vocab import minerals, site_kinds

    for lang in ("en", "fr", "pt"):
        for term in site_kinds().terms:
            assert i18n.kind_label(term.code, lang) == term.label(lang)
        for term in minerals().terms:
            assert i18n.mineral_label(term.code, lang) == term.label(lang)
        for country in read_country_table():
            assert i18n.country_name(country.iso3, lang) == country.name(lang)
    assert i18n.border_label("CAF-CMR", "fr") == "République centrafricaine \u2013 Cameroun"
