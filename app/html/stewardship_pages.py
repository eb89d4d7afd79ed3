"""HTML pages of stewardship (issue 11): a site's history, the review queue of likely
duplicates, merging two sites, taking back an upload. Server-rendered in the language of the
request; the buttons post the JSON API with the sign-in's CSRF token (stewardship.js)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from app.html import i18n
from app.html.pages import render_page


def N_(message: str) -> str:  # noqa: N802 - the gettext no-op marker Babel extracts
    return message


#: What each history action (``geo.vocab.HISTORY_ACTIONS``) is called on the pages.
ACTION_LABELS = {
    "created": N_("created"),
    "matched": N_("matched by an upload"),
    "edited": N_("edited"),
    "moved": N_("moved"),
    "merged": N_("merged with another site"),
    "merged_into": N_("merged into another site"),
    "split": N_("split"),
    "retired": N_("retired"),
    "restored": N_("restored"),
    "recomputed": N_("border figures recomputed"),
    "retracted": N_("upload retracted"),
}


def render_history(request: Request, document: dict[str, Any], lang: str) -> HTMLResponse:
    versions = list(reversed(document.get("versions", [])))  # newest first on the page
    return render_page(
        request,
        "history.html",
        lang,
        document=document,
        site=document.get("site"),
        versions=versions,
        history_action=lambda code: i18n.gettext(lang, ACTION_LABELS.get(str(code), str(code))),
    )


def render_review(request: Request, document: dict[str, Any], lang: str) -> HTMLResponse:
    return render_page(
        request, "review.html", lang, document=document, pairs=document.get("pairs", [])
    )


def render_retract(request: Request, report: dict[str, Any], lang: str) -> HTMLResponse:
    upload = report.get("upload") or {}
    return render_page(
        request,
        "retract.html",
        lang,
        upload=upload,
        counts=report.get("counts") or {},
        retract_url=f"{request.url.path}",
    )
