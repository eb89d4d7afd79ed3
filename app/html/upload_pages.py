"""The upload pages: the upload form, an upload's report (counts, map, rejected rows with
their reasons in the page's language, rejected.csv, fix and resend), a job in progress, and
"my uploads". Each is drawn from the JSON document of the same resource, plus the extras the
route passes in."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import HTMLResponse
from starlette.requests import Request

from app.html.pages import render_page
from app.html.upload_text import failure_text, issue_reason, script_json
from geo.countries import central_africa_iso3
from geo.vocab import SITE_KINDS

#: What the file picker offers (every format uploads accept).
ACCEPT = ".csv,.txt,.xlsx,.geojson,.json,.kml,.kmz,.gpx,.gpkg,.zip"


def _form_context(
    lang: str, resend_of: str | None = None, defaults: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "accept": ACCEPT,
        "kinds": SITE_KINDS,
        "countries": sorted(central_africa_iso3()),
        "resend_of": resend_of,
        "defaults": defaults or {},
        "open_options": bool(defaults),
        "script_text": script_json(lang),
    }


def render_form(request: Request, lang: str) -> HTMLResponse:
    return render_page(request, "upload_form.html", lang, **_form_context(lang))


def _issues(report: dict[str, Any], severity: str, lang: str) -> list[dict[str, Any]]:
    found = []
    for issue in report.get("issues", []):
        if issue.get("severity") != severity:
            continue
        reason, hint = issue_reason(str(issue.get("code")), lang)
        found.append({**issue, "reason": reason, "hint": hint})
    return found


def render_report(
    request: Request, report: dict[str, Any], lang: str, extras: dict[str, Any] | None = None
) -> HTMLResponse:
    """An upload's report page; ``extras`` (stored uploads): see
    :func:`app.services.upload_views.report_extras`."""
    extras = extras or {}
    upload = report.get("upload") or {}
    points = extras.get("points")
    public_id = upload.get("id")
    stored = bool(public_id) and not upload.get("dry_run")
    defaults = {
        "kind": upload.get("kind"),
        "source": upload.get("source"),
        "country": upload.get("declared_country"),
    }
    return render_page(
        request,
        "upload_report.html",
        lang,
        upload=upload,
        counts=report.get("counts") or {},
        repeat=report.get("repeat"),
        rejected=_issues(report, "error", lang),
        warnings=_issues(report, "warning", lang),
        truncated=bool(report.get("issues_truncated") or report.get("rows_truncated")),
        points_json=(
            orjson.dumps(points).decode().replace("<", "\\u003c")
            if points and points["features"]
            else None
        ),
        map_data="" if points and points["features"] else None,  # Leaflet assets, no map.js
        csv_href=f"/uploads/{public_id}/rejected.csv" if stored else None,
        corrects=extras.get("corrects"),
        corrected_rejected=extras.get("corrected_rejected"),
        corrected_by=extras.get("corrected_by") or [],
        **_form_context(lang, public_id if stored else None, defaults),
    )


def render_job(request: Request, job: dict[str, Any], lang: str) -> HTMLResponse:
    """A job's page: its progress while it runs; a dry run's report once done."""
    if job["state"] == "done" and job.get("report"):
        return render_report(request, job["report"], lang)
    problem = job.get("problem") or {}
    return render_page(
        request,
        "upload_job.html",
        lang,
        job=job,
        failure=failure_text(problem.get("code"), lang),
        script_text=script_json(lang),
    )


def render_list(
    request: Request,
    document: dict[str, Any],
    lang: str,
    jobs: list[dict[str, Any]],
    everyone: bool,
) -> HTMLResponse:
    """My uploads (an admin's: everyone's): jobs not yet stored, then stored uploads."""
    return render_page(
        request,
        "uploads_list.html",
        lang,
        uploads=document.get("uploads", []),
        jobs=[job for job in jobs if job["state"] != "done" or not job["upload"]],
        everyone=everyone,
        next_href=document.get("next"),
    )
