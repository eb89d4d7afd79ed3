"""Sign-in and sign-out for people, and what the HTML pages need from the application
(session cookie middleware, page styles and scripts under ``/static/html``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.api.deps import ReadSessionDep, page_parameters, reject_undeclared_query
from app.errors import NotAuthenticated
from app.html import pages
from app.html import session as web_session
from app.html.negotiation import pick_language
from app.services import keys as key_service
from app.settings import Settings

router = APIRouter(tags=["Sign-in"], include_in_schema=False)
CONFORMANCE = ["http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html"]


def install(app: FastAPI, settings: Settings) -> None:
    """Session cookies and the pages' own static files (the routes are included with the
    other API modules)."""
    web_session.install(app, settings)
    app.mount(pages.STATIC_PREFIX, StaticFiles(packages=[("app.html", "static")]), name="html")


def _local(next_url: str | None) -> str:
    """Only redirect to a path of this service (never ``//other.example`` or a full URL)."""
    if not next_url or not next_url.startswith("/") or next_url.startswith(("//", "/\\")):
        return "/"
    if next_url.startswith(("/signin", "/signout")):
        return "/"
    return next_url


@router.get("/signin", dependencies=[Depends(page_parameters), Depends(reject_undeclared_query)])
def signin_form(request: Request, next: str | None = None) -> Response:
    return pages.render_signin(request, pick_language(request), _local(next))


@router.post("/signin")
def signin(
    request: Request,
    session: ReadSessionDep,
    key: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    web_session.check_csrf(request, csrf_token)
    try:
        caller = key_service.authenticate(session, key)
    except NotAuthenticated as error:
        return pages.render_signin(
            request, pick_language(request), _local(next), error=error.code, status_code=401
        )
    web_session.sign_in(request, caller)
    return RedirectResponse(_local(next), status_code=303)


@router.post("/signout")
def signout(
    request: Request,
    csrf_token: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    web_session.check_csrf(request, csrf_token)
    web_session.sign_out(request)
    return RedirectResponse(_local(next), status_code=303)
