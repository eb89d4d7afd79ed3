"""Sign-in for people: a signed session cookie that names an API key, and CSRF tokens.

The cookie (Starlette's ``SessionMiddleware``: itsdangerous-signed, HttpOnly, SameSite=Lax,
Secure when the public URL is https) holds the key's id and a synchronizer CSRF token; never
the key itself. The id is re-checked against the database on every request,
so a revoked key stops working at once. Any unsafe request authenticated by the cookie (a form
post, or a JSON API POST made with it) must carry the session's CSRF token in the
``X-CSRF-Token`` header or a ``csrf_token`` form field, else it is refused with 403.

The signing secret is ``BORDERLENS_SECRET_KEY``; unset, one is generated on first start and
kept in ``<data dir>/secret_key`` (mode 0600), so sessions survive restarts.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request

from app.errors import Forbidden
from app.queries import ANONYMOUS, Caller
from app.roles import WRITERS
from app.services import keys as key_service
from app.settings import Settings

COOKIE_NAME = "borderlens_session"
SESSION_MAX_AGE_S = 12 * 3600  # one working day in the field
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
SECRET_FILE = "secret_key"


def secret_key(settings: Settings) -> str:
    """The configured secret, else the one stored in the data dir (created 0600 if missing)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path: Path = settings.data_dir / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker wrote it first: read theirs
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="ascii").strip()


def install(app: Starlette, settings: Settings) -> None:
    """Add the session cookie middleware to ``app``."""
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(settings),
        session_cookie=COOKIE_NAME,
        max_age=SESSION_MAX_AGE_S,
        same_site="lax",
        https_only=(settings.public_url or "").lower().startswith("https://"),
    )


def _session(request: Request) -> dict[str, object]:
    if "session" not in request.scope:
        return {}
    return request.session


def signed_in(request: Request) -> dict[str, str] | None:
    """``{"name", "role"}`` of the person this request's cookie signs in (checked against the
    keys by ``cookie_caller`` earlier in the request), else None."""
    caller = getattr(request.state, "cookie_caller", None)
    if not isinstance(caller, Caller) or caller.is_anonymous:
        return None
    return {
        "name": caller.name or "",
        "role": caller.role or "",
        "writer": "yes" if caller.role in WRITERS else "",
    }


def csrf_token(request: Request) -> str:
    """The session's synchronizer token (made on first use)."""
    data = request.session
    token = data.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        data["csrf"] = token
    return token


def check_csrf(request: Request, presented: str | None) -> None:
    expected = _session(request).get("csrf")
    if not (
        isinstance(expected, str)
        and presented
        and hmac.compare_digest(expected.encode(), presented.encode())
    ):
        raise Forbidden(
            "this request needs the page's CSRF token (X-CSRF-Token header or csrf_token field)",
            code="csrf_failed",
        )


async def presented_csrf(request: Request) -> str | None:
    """The token a request carries: the header, else the form field of a form post."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").split(";")[0].strip().lower() in FORM_TYPES:
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def sign_in(request: Request, caller: Caller) -> None:
    """Start a fresh session for ``caller`` (a new CSRF token: no fixation of the old one)."""
    request.session.clear()
    request.session.update({"key_id": caller.key_id, "csrf": secrets.token_urlsafe(32)})


def sign_out(request: Request) -> None:
    request.session.clear()


async def cookie_caller(request: Request, session: Session) -> Caller:
    """The caller the session cookie names (anonymous without one, or once its key is revoked);
    unsafe methods must also present the CSRF token. Checked once per request."""
    checked = getattr(request.state, "cookie_caller", None)
    if isinstance(checked, Caller):
        return checked
    caller = await _check_cookie(request, session)
    request.state.cookie_caller = caller
    return caller


async def _check_cookie(request: Request, session: Session) -> Caller:
    data = _session(request)
    key_id = data.get("key_id")
    if not isinstance(key_id, int):
        return ANONYMOUS
    caller = await run_in_threadpool(key_service.caller_for_id, session, key_id)
    if caller is None:
        data.clear()
        return ANONYMOUS
    if request.method not in SAFE_METHODS:
        check_csrf(request, await presented_csrf(request))
    return caller
