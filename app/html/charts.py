"""The dashboard's charts: Vega-Lite specifications built with Altair, rendered to SVG on the
server by vl-convert (which embeds Vega), so a page shows them with no script and no asset to
fetch, in any browser, printed or offline. Titles and axis names come from the catalogues;
country, border and mineral names from their vocabularies.

Why server-side SVG rather than vega-embed in the browser: the charts are small summaries
(tens of bars), the page stays readable without JavaScript, and nothing has to be pinned and
served beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import altair as alt
import vl_convert

from app.html import i18n

WIDTH = 560
HEIGHT = 260


def _(message: str) -> str:
    """Marks a message for the catalogues (``pybabel extract``); translated at render time."""
    return message


TITLES = {
    "border_band": _("Sites per border and distance band"),
    "monthly": _("New sites per month, per border"),
    "minerals": _("Sites per mineral"),
    "clusters": _("Cross-border clusters per border"),
}
AXES = {
    "border": _("Border"),
    "band": _("Distance to the border"),
    "sites": _("Sites"),
    "month": _("Month of first observation"),
    "mineral": _("Mineral"),
    "clusters": _("Clusters"),
    "unknown": _("unknown"),
}


@dataclass(frozen=True)
class Chart:
    """One chart: its id, title, the SVG text, and where its data is as CSV."""

    id: str
    title: str
    svg: str
    csv_href: str
    rows: int


def _t(lang: str, message: str) -> str:
    return i18n.gettext(lang, message)


def _data(rows: list[dict[str, Any]]) -> Any:
    """Rows inlined in the specification (small tables: one chart's summary)."""
    return alt.Data(values=rows)  # type: ignore[no-untyped-call]


def _svg(chart: alt.TopLevelMixin) -> str:
    spec: dict[str, Any] = chart.to_dict()
    return str(vl_convert.vegalite_to_svg(spec))


def _border(pair: str | None, lang: str) -> str:
    return i18n.border_label(pair, lang) if pair else _t(lang, AXES["unknown"])


def border_band(rows: Sequence[dict[str, Any]], bands: Sequence[str], lang: str) -> str:
    """Stacked bars: sites per border, coloured by distance band (bands in their order)."""
    data = [
        {"border": _border(r["border"], lang), "band": r["band"] or _t(lang, AXES["unknown"]),
         "sites": r["sites"]}
        for r in rows
    ]  # fmt: skip
    order = [*bands, _t(lang, AXES["unknown"])]
    chart = (
        alt.Chart(_data(data))
        .mark_bar()
        .encode(
            y=alt.Y("border:N", title=_t(lang, AXES["border"]), sort="-x"),
            x=alt.X("sum(sites):Q", title=_t(lang, AXES["sites"])),
            color=alt.Color("band:N", title=_t(lang, AXES["band"]), sort=order),
            order=alt.Order("band_order:Q"),
        )
        .transform_calculate(band_order=f"indexof({order!r}, datum.band)")
        .properties(width=WIDTH, height=HEIGHT, title=_t(lang, TITLES["border_band"]))
    )
    return _svg(chart)


def monthly(rows: Sequence[dict[str, Any]], lang: str) -> str:
    """Lines: new sites (by month of first observation) per border."""
    data = [
        {"month": r["first_month"], "border": _border(r["border"], lang), "sites": r["sites"]}
        for r in rows
        if r["first_month"]
    ]
    chart = (
        alt.Chart(_data(data))
        .mark_line(point=True)
        .encode(
            x=alt.X("month:T", timeUnit="yearmonth", title=_t(lang, AXES["month"])),
            y=alt.Y("sites:Q", title=_t(lang, AXES["sites"])),
            color=alt.Color("border:N", title=_t(lang, AXES["border"])),
        )
        .properties(width=WIDTH, height=HEIGHT, title=_t(lang, TITLES["monthly"]))
    )
    return _svg(chart)


def minerals(rows: Sequence[dict[str, Any]], lang: str) -> str:
    """Bars: sites per mineral (a site with two minerals counts under each)."""
    data = [
        {"mineral": i18n.mineral_label(r["mineral"], lang) if r["mineral"]
         else _t(lang, AXES["unknown"]), "sites": r["sites"]}
        for r in rows
    ]  # fmt: skip
    chart = (
        alt.Chart(_data(data))
        .mark_bar()
        .encode(
            x=alt.X("mineral:N", title=_t(lang, AXES["mineral"]), sort="-y"),
            y=alt.Y("sites:Q", title=_t(lang, AXES["sites"])),
        )
        .properties(width=WIDTH, height=HEIGHT, title=_t(lang, TITLES["minerals"]))
    )
    return _svg(chart)


def clusters(rows: Sequence[dict[str, Any]], lang: str) -> str:
    """Bars: cross-border clusters per pair of countries, with their member sites."""
    data = [
        {"border": _border(r["border"], lang), "clusters": r["clusters"], "sites": r["sites"]}
        for r in rows
    ]
    chart = (
        alt.Chart(_data(data))
        .mark_bar()
        .encode(
            y=alt.Y("border:N", title=_t(lang, AXES["border"]), sort="-x"),
            x=alt.X("clusters:Q", title=_t(lang, AXES["clusters"])),
            tooltip=["border:N", "clusters:Q", "sites:Q"],
        )
        .properties(width=WIDTH, height=HEIGHT, title=_t(lang, TITLES["clusters"]))
    )
    return _svg(chart)
