"""The upload pages show no hard-coded words: their templates are checked by
test_catalogues; here, the scripts (every word they show comes from the catalogue strings the
server writes into the page), and the reasons: every issue code an upload can report has a
plain-language reason, translated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.html import i18n
from app.html.upload_text import FAILURE_TEXT, ISSUE_TEXT, SCRIPT_TEXT, issue_reason, script_json
from geo.validate import ISSUE_SEVERITY

STATIC = Path(i18n.__file__).resolve().parent / "static"
SCRIPTS = ("upload.js", "upload_map.js")
STRING = re.compile(r"'((?:[^'\\\n]|\\.)*)'|\"((?:[^\"\\\n]|\\.)*)\"")
WORDS = re.compile(r"[^\W\d_]{2,}\s+[^\W\d_]{2,}")


def literals(source: str) -> list[str]:
    code = re.sub(r"//[^\n]*", "", source)  # comments are for developers
    return [a or b for a, b in STRING.findall(code)]


def visible_words(source: str) -> list[str]:
    """String literals that read as words (two words or more): text a person would see."""
    return [text for text in literals(source) if WORDS.search(text) and text != "use strict"]


def test_the_checker_finds_words() -> None:
    assert visible_words("status.textContent = 'Upload failed';") == ["Upload failed"]
    assert visible_words("x.querySelector('input[type=file]'); t('sending', {});") == []


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_have_no_words_of_their_own(script: str) -> None:
    assert visible_words((STATIC / script).read_text(encoding="utf-8")) == []


def test_every_script_key_is_in_the_catalogue_strings() -> None:
    source = (STATIC / "upload.js").read_text(encoding="utf-8")
    used = set(re.findall(r"\bt\('(\w+)'", source))
    assert used and used <= set(SCRIPT_TEXT)
    assert set(re.findall(r"'stage_' \+", source)), "stages are looked up by key"


def test_every_issue_code_has_a_reason() -> None:
    assert set(ISSUE_SEVERITY) | {"missing_kind"} <= set(ISSUE_TEXT)


@pytest.mark.parametrize("lang", ["fr", "pt"])
def test_reasons_hints_and_script_strings_are_translated(lang: str) -> None:
    for code, (reason, hint) in ISSUE_TEXT.items():
        translated, translated_hint = issue_reason(code, lang)
        assert translated != reason, f"{lang}: {code} reason"
        assert hint is None or translated_hint != hint, f"{lang}: {code} hint"
    for message in (*SCRIPT_TEXT.values(), *FAILURE_TEXT.values()):
        translated = i18n.gettext(lang, message)
        assert translated != message or (lang == "pt" and message.startswith("{name}: {stage}"))
        assert set(re.findall(r"\{\w+\}", translated)) == set(re.findall(r"\{\w+\}", message))
    assert "<" not in script_json(lang).replace("\\u003c", "")
