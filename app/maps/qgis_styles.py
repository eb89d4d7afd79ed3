"""QGIS layer styles (QML) for the layers of the offline package, the same colours as the web
maps: sites by kind, borders dashed purple, bands orange, clusters purple, zones green.

QGIS reads a GeoPackage's ``layer_styles`` table and opens each layer with its default style;
QField does the same once the package is copied to a phone.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from app.maps.common import KIND_COLOURS
from app.maps.labels import labels

HEADER = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"


def _rgba(colour: str, alpha: int = 255) -> str:
    value = colour.lstrip("#")
    red, green, blue = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return f"{red},{green},{blue},{alpha}"


def _options(**values: str) -> str:
    items = "".join(
        f'<Option type="QString" name={quoteattr(k)} value={quoteattr(v)}/>'
        for k, v in values.items()
    )
    return f'<Option type="Map">{items}</Option>'


def _symbol(kind: str, symbol: str, layer_class: str, **values: str) -> str:
    return (
        f'<symbol type="{kind}" name="{symbol}" alpha="1" clip_to_extent="1" force_rhr="0">'
        f'<layer class="{layer_class}" enabled="1" locked="0" pass="0">{_options(**values)}'
        "</layer></symbol>"
    )


def _marker(name: str, colour: str, size: str = "2.4") -> str:
    return _symbol(
        "marker",
        name,
        "SimpleMarker",
        name="circle",
        color=_rgba(colour),
        outline_color="35,35,35,255",
        outline_width="0.2",
        size=size,
    )


def _fill(colour: str, alpha: int, outline: str, width: str = "0.3", style: str = "solid") -> str:
    return _symbol(
        "fill",
        "0",
        "SimpleFill",
        color=_rgba(colour, alpha),
        style=style,
        outline_color=_rgba(outline),
        outline_style="solid",
        outline_width=width,
    )


def _line(colour: str, width: str, dashed: bool) -> str:
    return _symbol(
        "line",
        "0",
        "SimpleLine",
        line_color=_rgba(colour),
        line_width=width,
        line_style="dash" if dashed else "solid",
        capstyle="round",
    )


def _single(symbol: str) -> str:
    return (
        f'{HEADER}<qgis version="3.22" styleCategories="Symbology">'
        f'<renderer-v2 type="singleSymbol" symbollevels="0" forceraster="0" enableorderby="0">'
        f"<symbols>{symbol}</symbols></renderer-v2></qgis>"
    )


def _sites() -> str:
    words = labels("en")
    categories = "".join(
        f'<category render="true" symbol="{i}" value={quoteattr(kind)} '
        f"label={quoteattr(words.get(kind, kind))}/>"
        for i, kind in enumerate(KIND_COLOURS)
    )
    symbols = "".join(_marker(str(i), colour) for i, colour in enumerate(KIND_COLOURS.values()))
    return (
        f'{HEADER}<qgis version="3.22" styleCategories="Symbology">'
        '<renderer-v2 type="categorizedSymbol" attr="kind" symbollevels="0" forceraster="0" '
        f'enableorderby="0"><categories>{categories}</categories><symbols>{symbols}</symbols>'
        "</renderer-v2></qgis>"
    )


STYLES = {
    "countries": lambda: _single(_fill("#f4f1ea", 255, "#b8b0a0")),
    "borders": lambda: _single(_line("#6a3d9a", "0.6", dashed=True)),
    "distance_bands": lambda: _single(_fill("#e67e22", 40, "#e67e22")),
    "clusters": lambda: _single(_fill("#8e44ad", 40, "#8e44ad", "0.4")),
    "zones": lambda: _single(_fill("#2e8b57", 40, "#2e8b57", "0.4")),
    "observations": lambda: _single(_marker("0", "#555555", "1.6")),
    "sites": _sites,
}


def qml(layer: str) -> str | None:
    """The QML style of a package layer, or None for a layer drawn with QGIS's defaults."""
    make = STYLES.get(layer)
    return make() if make is not None else None
