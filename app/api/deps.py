"""Request-scoped dependencies: database session, settings, caller, boundary set."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Iterator
from contextlib import AbstractContextManager
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app import audit
from app.api.read_your_writes import LSN_COOKIE, MIN_LSN_HEADER
from app.collections.parsing import bad
from app.db.replicas import parse_lsn
from app.errors import Forbidden, NotAuthenticated, ServiceUnavailable
from app.html import session as web_session
from app.html.negotiation import LANGUAGES
from app.queries import Caller
from app.roles import ADMIN, WRITERS
from app.services import keys as key_service
from app.services import subscriptions
from app.services.boundary_state import BoundaryCache, BoundarySet
from app.settings import Settings


def get_session(request: Request) -> Iterator[Session]:
    """A session whose service commits (or rolls back) one transaction: for writes."""
    with request.app.state.sessionmaker() as session:
        yield session


#: ``Session.info`` flag: a read session on the pool's autocommit connections, which holds
#: no transaction, so its connection may go back to the pool between its uses.
RELEASABLE = "borderlens_releasable"


def release_connection(session: Session) -> None:
    """Give a read session's connection back to the pool before the route runs (it takes one
    again if it reads). The key check and the dataset version header read through the
    request's read session, which held its connection until the answer ended: a write route
    held two (that one and its write session's) and an SSE stream one for its whole life,
    so about twenty of either at once took the whole pool and every request waited 30 s
    (found by a helper). A session bound to one connection (a replica's, a test's
    transaction) keeps it."""
    if session.info.get(RELEASABLE):
        session.close()


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """A session on an autocommit connection: for reads, no BEGIN/ROLLBACK round trips.

    Async on purpose: creating a Session does no I/O (the connection is taken at the first
    query, in the route's worker thread), so this saves a hop to the thread pool.
    """
    router = getattr(request.app.state, "read_router", None)
    if router is None:
        session = request.app.state.read_sessionmaker()
        session.info[RELEASABLE] = True
        try:
            yield session
        finally:
            session.close()
        return
    # Replicas: choosing one takes a connection (and may ask it how far it has replayed).
    min_lsn = parse_lsn(request.headers.get(MIN_LSN_HEADER) or request.cookies.get(LSN_COOKIE))
    connection = await run_in_threadpool(router.connect, min_lsn)
    session = Session(bind=connection)
    try:
        yield session
    finally:
        session.close()
        await run_in_threadpool(connection.close)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session_factory(request: Request) -> Callable[[], AbstractContextManager[Session]]:
    """Opens a write session on demand (for reads that may refresh derived data)."""
    factory: Callable[[], AbstractContextManager[Session]] = request.app.state.sessionmaker
    return factory


SessionDep = Annotated[Session, Depends(get_session)]
SessionFactoryDep = Annotated[
    Callable[[], AbstractContextManager[Session]], Depends(get_session_factory)
]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_caller(request: Request, session: ReadSessionDep) -> Caller:
    header = request.headers.get("authorization")
    if header is None:
        caller = await web_session.cookie_caller(request, session)
    else:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated(
                "use `Authorization: Bearer <key>`", code="invalid_authorization_header"
            )
        caller = await run_in_threadpool(key_service.authenticate, session, token)
    audit.note_caller(caller.key_id, caller.role)
    release_connection(session)
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


async def check_session_cookie(request: Request, caller: CallerDep) -> None:
    """Every route: the caller is known before the route runs (a sign-in cookie checked: key
    not revoked, CSRF token on unsafe methods; a bearer key checked), so the audit log names
    the key of every request and rate limits apply per key, even where the route itself does
    not ask who the caller is (FastAPI resolves ``get_caller`` once per request)."""
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        await limiter.hit(caller, request.client.host if request.client else "unknown")


def require_writer(caller: CallerDep) -> Caller:
    if caller.is_anonymous:
        raise NotAuthenticated("writing needs an API key (researcher or admin)")
    if caller.role not in WRITERS:
        raise Forbidden(
            f"a {caller.role} key cannot write; researcher or admin keys can", code="wrong_role"
        )
    return caller


WriterDep = Annotated[Caller, Depends(require_writer)]


def require_admin(caller: CallerDep) -> Caller:
    if caller.is_anonymous:
        raise NotAuthenticated("this needs an admin key")
    if caller.role != ADMIN:
        raise Forbidden(f"a {caller.role} key cannot do this; admin keys can", code="wrong_role")
    return caller


AdminDep = Annotated[Caller, Depends(require_admin)]


def require_subscriber(caller: CallerDep) -> Caller:
    """Alerts are for authority and admin keys (401 anonymous, 403 another role)."""
    return subscriptions.require_subscriber(caller)


SubscriberDep = Annotated[Caller, Depends(require_subscriber)]


def get_boundaries(request: Request, session: ReadSessionDep) -> BoundarySet:
    cache: BoundaryCache = request.app.state.boundaries
    state = cache.current(session)
    if state is None:
        raise ServiceUnavailable(
            "no boundary dataset is loaded yet; run `borderlens borders load`",
            code="boundaries_missing",
        )
    return state


BoundariesDep = Annotated[BoundarySet, Depends(get_boundaries)]


def reject_undeclared_query(request: Request) -> None:
    """Query parameters a route does not declare are a 400 (as on the OGC routes), not
    silently ignored: a misspelt ``limit`` should say so."""
    refuse_undeclared(request)


def refuse_undeclared(
    request: Request, carried: Collection[str] = frozenset(), carried_note: str = ""
) -> None:
    """400 ``unknown_parameter`` naming the first query parameter the route does not declare
    (in its signature or its dependencies'), unless it is one of ``carried``: names taken and
    ignored, which ``carried_note`` explains in the answer."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    declared = {param.alias for param in _query_params(dependant)}
    unknown = sorted(set(request.query_params) - declared - set(carried))
    if unknown:
        raise bad(
            unknown[0][:64],
            "unknown query parameter; this endpoint accepts "
            + (", ".join(sorted(declared)) or "none")
            + (f" ({carried_note})" if carried and carried_note else ""),
            code="unknown_parameter",
        )


def _query_params(dependant: Any) -> list[Any]:
    found = list(dependant.query_params)
    for sub in dependant.dependencies:
        found.extend(_query_params(sub))
    return found


# No pattern: an id no collection has is a 404 (unknown_collection) to every method, as
# OPTIONS and Allow say (a pattern made "SITES" a 400 to GET and a 404 to OPTIONS).
CollectionId = Annotated[str, Path(alias="collectionId", description="Collection id")]


Format = Annotated[
    Literal["json", "html"] | None,
    Query(description="`html`: the page (a browser's Accept header asks for it too)"),
]
JsonFormat = Annotated[Literal["json"] | None, Query(description="Format: JSON only")]
Language = Annotated[
    str | None, Query(pattern=f"^({'|'.join(LANGUAGES)})$", description="Page language")
]


def page_parameters(f: Format = None, lang: Language = None) -> None:
    """``f`` and ``lang`` of a route that also answers an HTML page: read by the page
    negotiation (app.html.negotiation), declared here so that they are documented, checked
    and not refused as unknown."""


def json_parameters(f: JsonFormat = None, lang: Language = None) -> None:
    """``f`` and ``lang`` of a route that answers JSON only (``f=json``; ``lang`` as on every
    route, though no page reads it here)."""
