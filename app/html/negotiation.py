"""Which representation and which language a request asks for.

Representation: an explicit ``f`` wins (``f=html`` -> HTML, any other value -> not HTML);
otherwise HTML only when ``Accept`` names ``text/html`` (or XHTML) with a higher quality than
every JSON type and wildcard it also names. Ties, ``*/*`` alone (curl) and GIS clients
(GDAL and QGIS send ``application/geo+json, application/json``) get JSON, the default.

Language: ``lang=`` (en, fr, pt), else the best supported ``Accept-Language`` range, else
English.
"""

from __future__ import annotations

from collections.abc import Iterator

from starlette.requests import Request

LANGUAGES = ("en", "fr", "pt")
DEFAULT_LANGUAGE = "en"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
JSON_TYPES = frozenset(
    {"application/json", "application/geo+json", "application/*", "*/*", "application/schema+json"}
)


def _ranges(header: str) -> Iterator[tuple[str, float]]:
    """``(lower-cased range, q)`` for each element of an Accept-style header; bad q -> 0."""
    for element in header.split(","):
        parts = [part.strip() for part in element.split(";")]
        if not parts[0]:
            continue
        quality = 1.0
        for parameter in parts[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        yield parts[0].lower(), quality


def wants_html(request: Request) -> bool:
    """True when the response should be the HTML page (see the module docstring)."""
    explicit = request.query_params.get("f")
    if explicit is not None:
        return explicit.strip().lower() == "html"
    html_q = json_q = 0.0
    for media_range, quality in _ranges(request.headers.get("accept", "")):
        if media_range in HTML_TYPES:
            html_q = max(html_q, quality)
        elif media_range in JSON_TYPES or media_range.endswith("+json"):
            json_q = max(json_q, quality)
    return html_q > json_q


def pick_language(request: Request) -> str:
    """``lang`` query parameter, else ``Accept-Language`` (q-values honoured), else English."""
    asked = (request.query_params.get("lang") or "").strip().lower()
    if asked in LANGUAGES:
        return asked
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for language_range, quality in _ranges(request.headers.get("accept-language", "")):
        primary = language_range.split("-")[0]
        if primary in LANGUAGES and quality > best_q:
            best, best_q = primary, quality
    return best
