"""The Jinja2 environment of the HTML pages: autoescaping, gettext from the page's language,
and filters that turn vocabulary codes and numbers into words of that language."""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from app.html import i18n

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


@pass_context
def _gettext(context: Context, message: str) -> str:
    return i18n.gettext(context["lang"], message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return i18n.ngettext(context["lang"], singular, plural, n)


@pass_context
def _kind(context: Context, code: str) -> str:
    return i18n.kind_label(code, context["lang"])


@pass_context
def _mineral(context: Context, code: str) -> str:
    return i18n.mineral_label(code, context["lang"])


@pass_context
def _country(context: Context, iso3: str) -> str:
    return i18n.country_name(iso3, context["lang"])


@pass_context
def _border(context: Context, pair: str) -> str:
    return i18n.border_label(pair, context["lang"])


@pass_context
def _number(context: Context, value: Any, digits: int = 3) -> str:
    """A number written the language's way (``12 345,6`` in French)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return str(format_decimal(value, format=f"#,##0.{'#' * digits}", locale=context["lang"]))


@pass_context
def _percent(context: Context, value: Any) -> str:
    if not isinstance(value, int | float):
        return str(value)
    return str(format_percent(value, format="#,##0.#%", locale=context["lang"]))


@pass_context
def _date(context: Context, value: Any) -> str:
    """ISO dates and timestamps in the language's medium format; anything else as it is."""
    if not isinstance(value, str):
        return str(value)
    try:
        if "T" in value:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return str(format_datetime(moment, format="medium", locale=context["lang"]))
        return str(format_date(dt.date.fromisoformat(value), format="long", locale=context["lang"]))
    except ValueError:
        return value


def _json_text(value: Any) -> str:
    """A JSON value as readable text to show on a page: characters as themselves (an
    apostrophe, an accented letter), escaped once by the autoescaping, as any text. Jinja's
    ``tojson`` is for scripts: its ``\\u0027`` and ``\\u003c`` showed on the page."""
    return json.dumps(value, ensure_ascii=False)


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )
    env.filters.update(
        kind=_kind,
        mineral=_mineral,
        country=_country,
        border=_border,
        number=_number,
        percent=_percent,
        date=_date,
        json_text=_json_text,
    )
    return env
