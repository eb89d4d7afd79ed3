"""HTML pages of OGC API - Features, each rendered from the JSON document its JSON response
carries (landing dict, conformance dict, collections dict, collection dict, FeatureCollection,
Feature): HTML is one more representation of the same resource, never a second query.

Every ``render_*`` takes the request (for URLs, the session and the language switcher), the
document and the page language (``en``, ``fr`` or ``pt``) and returns an ``HTMLResponse``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from fastapi.responses import HTMLResponse, Response
from starlette.requests import Request

from app.api.urls import base_url
from app.html import i18n
from app.html import session as web_session
from app.html.negotiation import LANGUAGES, pick_language, wants_html
from app.html.templating import environment
from app.maps.assets import AssetUrls, ensure_assets, local_urls
from geo.vocab import actor_types, minerals

BRAND = "borderlens"
STATIC_PREFIX = "/static/html"
#: Site properties shown as table columns on the sites items page, in this order.
SITE_COLUMNS = ("name", "kind", "minerals", "country", "border_pair", "border_distance_km")
GENERIC_COLUMNS_MAX = 6
#: Representations vary with these request headers (caches must key on them).
VARY = "Accept, Accept-Language, Cookie"


Renderer = Callable[[Request, dict[str, Any], str], HTMLResponse]


def negotiated(request: Request, response: Response, render: Renderer) -> Response:
    """``response`` (the JSON representation), or the HTML page ``render`` makes from the very
    document it carries when the request asks for HTML. The route's one line of wiring."""
    if not wants_html(request):
        response.headers.append("Vary", "Accept")
        return response
    return render(request, orjson.loads(response.body), pick_language(request))


def _map_assets(request: Request, base: str) -> AssetUrls | None:
    """Local Leaflet URLs once the pinned assets are cached (checked once per process, the
    same flag the /maps pages use); None: the page goes without its map, never to a CDN."""
    state = request.app.state
    if not hasattr(state, "map_assets_ok"):
        state.map_assets_ok = ensure_assets(state.settings.cache_dir)
    return local_urls(base) if state.map_assets_ok else None


def _with_params(url: str, **changes: str | None) -> str:
    """``url`` with query parameters set (``None`` removes one)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in changes]
    query += [(k, v) for k, v in changes.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _html_link(request: Request, href: str) -> str:
    """A link to another page of the service that stays HTML and in the same language when the
    current page got there by ``f=html`` / ``lang=`` rather than by headers."""
    keep: dict[str, str | None] = {}
    if request.query_params.get("f") == "html":
        keep["f"] = "html"
    if request.query_params.get("lang"):
        keep["lang"] = request.query_params["lang"]
    return _with_params(href, **keep) if keep else href


def _map_json(document: dict[str, Any]) -> str:
    """The GeoJSON for the page's map, safe inside ``<script type="application/json">``."""
    features = document.get("features", [document] if document.get("type") == "Feature" else [])
    plain = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": feature.get("id"),
                "geometry": feature.get("geometry"),
                "properties": {"name": (feature.get("properties") or {}).get("name")},
            }
            for feature in features
            if feature.get("geometry")
        ],
    }
    # orjson escapes nothing HTML-special; "<" is the one character that can end the block.
    return orjson.dumps(plain).decode().replace("<", "\\u003c")


def _vocabulary_json(lang: str) -> str:
    """Mineral labels in ``lang`` for the observations table the page script fills in."""
    labels = {code: i18n.mineral_label(code, lang) for code in minerals().codes}
    return orjson.dumps({"lang": lang, "minerals": labels}).decode().replace("<", "\\u003c")


def render_page(
    request: Request, template: str, lang: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """``template`` (extending ``base.html``: header, language switcher, sign-in state, CSRF
    token for forms when signed in) rendered in ``lang``, for any page of the service."""
    base = base_url(request, request.app.state.settings)
    # Built on the public base URL (BORDERLENS_PUBLIC_URL behind a proxy), not the internal one.
    here = f"{base}{request.url.path}?{request.url.query}"
    assets = _map_assets(request, base) if context.get("map_data") is not None else None
    page = (
        environment()
        .get_template(template)
        .render(
            lang=lang,
            brand=BRAND,
            base=base,
            static=f"{base}{STATIC_PREFIX}",
            assets=assets,
            signed_in=web_session.signed_in(request),
            csrf_token=web_session.csrf_token(request) if web_session.signed_in(request) else None,
            languages=[(code, _with_params(here, lang=code)) for code in LANGUAGES],
            here_path=_with_params(request.url.path + "?" + request.url.query, lang=lang),
            json_url=_with_params(here, f="json", lang=None),
            html_link=lambda href: _html_link(request, href),
            **context,
        )
    )
    return HTMLResponse(page, status_code=status_code, headers={"Vary": VARY})


def render_landing(request: Request, document: dict[str, Any], lang: str) -> HTMLResponse:
    return render_page(request, "landing.html", lang, document=document)


def render_conformance(request: Request, document: dict[str, Any], lang: str) -> HTMLResponse:
    return render_page(request, "conformance.html", lang, document=document)


def render_subscriptions(request: Request, document: dict[str, Any], lang: str) -> HTMLResponse:
    return render_page(request, "subscriptions.html", lang, document=document)


def render_collections(request: Request, document: dict[str, Any], lang: str) -> HTMLResponse:
    return render_page(request, "collections.html", lang, document=document)


def render_collection(request: Request, document: dict[str, Any], lang: str) -> HTMLResponse:
    return render_page(request, "collection.html", lang, document=document, collection=document)


def _columns(collection_id: str, features: list[dict[str, Any]]) -> tuple[str, ...]:
    if collection_id == "sites":
        return SITE_COLUMNS
    columns: list[str] = []
    for feature in features[:1]:
        for name, value in (feature.get("properties") or {}).items():
            if isinstance(value, str | int | float) and len(columns) < GENERIC_COLUMNS_MAX:
                columns.append(name)
    return tuple(columns)


def render_items(request: Request, document: dict[str, Any], lang: str) -> HTMLResponse:
    """The items page: a table of the features, a small map, numberMatched and paging links."""
    collection_id = str(request.path_params.get("collectionId", ""))
    features = document.get("features", [])
    links = {link["rel"]: link["href"] for link in document.get("links", [])}
    return render_page(
        request,
        "items.html",
        lang,
        document=document,
        collection_id=collection_id,
        features=features,
        columns=_columns(collection_id, features),
        next_href=links.get("next"),
        prev_href=links.get("prev"),
        collection_href=links.get("collection"),
        map_data=_map_json(document),
    )


def render_item(request: Request, document: dict[str, Any], lang: str) -> HTMLResponse:
    """One feature; sites get the site page (border figures with their boundary source, side
    confidence, a map, and the visits the site's ``related`` link leads to, which the page
    script lists in a table whose headings the server wrote)."""
    collection_id = str(request.path_params.get("collectionId", ""))
    links = {link["rel"]: link["href"] for link in document.get("links", [])}
    is_site = collection_id == "sites"
    return render_page(
        request,
        "site.html" if is_site else "item.html",
        lang,
        document=document,
        feature=document,
        properties=document.get("properties") or {},
        collection_id=collection_id,
        collection_href=links.get("collection"),
        map_data=_map_json(document),
        vocabulary=_vocabulary_json(lang) if is_site else None,
        actor_labels=_actor_labels_json(lang) if is_site else None,
    )


def _actor_labels_json(lang: str) -> str:
    """Actor type labels in ``lang`` for the site page's actors table (from geo.vocab)."""
    labels = {term.code: term.label(lang) for term in actor_types().terms}
    return json.dumps(labels, ensure_ascii=False).replace("</", "<\\/")


def render_signin(
    request: Request, lang: str, next_url: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    """The sign-in form (``error``: ``invalid_key`` or ``revoked_key``, shown translated)."""
    return render_page(
        request,
        "signin.html",
        lang,
        status_code=status_code,
        form_token=web_session.csrf_token(request),
        next_url=next_url,
        error=error,
    )


def render_dashboard(request: Request, dashboard: Any, lang: str) -> HTMLResponse:
    """The statistics dashboard (:mod:`app.services.dashboard`) in ``lang``."""
    return render_page(request, "dashboard.html", lang, dashboard=dashboard)


def render_keys(
    request: Request,
    document: dict[str, Any],
    lang: str,
    *,
    created: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The admins' keys page: every key, a form to create one (its secret shown once, in
    ``created``), a revoke button per active key; forms carry the session's CSRF token."""
    return render_page(
        request,
        "keys.html",
        lang,
        status_code=status_code,
        keys=document.get("keys", []),
        created=created,
        error=error,
    )
