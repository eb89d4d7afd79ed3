"""Absolute URLs for links (clients such as QGIS have trouble with relative ones)."""

from __future__ import annotations

from fastapi import Request

from app.settings import Settings


def base_url(request: Request, settings: Settings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")
