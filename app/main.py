"""The FastAPI application factory.

``create_app(settings)`` builds everything from the settings it is given; nothing is built
at import time. ``uvicorn --factory app.main:create_app_from_env`` runs it from the
environment (``borderlens serve`` does that after preparing the database).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import sqlalchemy.exc
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api import (
    access,
    alerts,
    core,
    crs,
    explore,
    federation,
    filter,
    flows,
    health,
    html,
    json_body,
    maps,
    openapi,
    package,
    schema_routes,
    statistics,
    stewardship,
    tiles,
    transactions,
    uploads,
    validation_messages,
)
from app.api.audit_middleware import AuditMiddleware
from app.api.dataset_headers import DatasetHeaders, note_dataset_version
from app.api.deps import check_session_cookie
from app.api.hardening import BASE_HEADERS, HttpHardening
from app.api.limits import MULTIPART_OVERHEAD, BodySizeLimit
from app.api.rate_limits import RateLimiter
from app.api.read_your_writes import ReadYourWrites
from app.api.responses import problem_response
from app.db.embedded import EmbeddedCluster
from app.db.engine import make_engine, make_sessionmaker, read_router
from app.errors import (
    SERVICE_BUSY,
    AppError,
    InvalidBody,
    InvalidParameter,
    MalformedBody,
    MethodNotAllowed,
    NotFound,
    Problem,
    ProblemItem,
    problem_for,
)
from app.maps.assets import STATIC_PREFIX, web_dir
from app.services import delivery, event_stream
from app.services.audit_log import AuditLog
from app.services.boundary_state import BoundaryCache
from app.settings import Settings
from geo.errors import GeoError

log = logging.getLogger(__name__)

JSON_BODY_LIMIT = 1024 * 1024  # a GeoJSON Feature of one site is a few kB

DESCRIPTION = (
    "Mine sites and mineral sales points along Central Africa's international borders, "
    "served as OGC API - Features (GeoJSON, RFC 7946) and embeddable maps."
)


async def _unread_body(request: Request, exc: RequestValidationError) -> AppError | None:
    """Bytes FastAPI could not parse as JSON, said as ``app.api.json_body`` says them: a 400,
    "the body is empty" for white space only (FastAPI's 422 "1: JSON decode error"). None: a
    fault of the JSON itself, the validation's 422. What FastAPI parses, the routers check
    first by ``json_body.read_strictly`` (media type, no body, what JSON cannot store)."""
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            try:  # a compressed body is unread, not broken: a 415
                json_body.refuse_content_coding(request.headers)
            except AppError as refused:
                return refused
            # the route read the body before validating it: it is at hand
            empty = not (await request.body()).strip()
            reason = (error.get("ctx") or {}).get("error") or "not JSON"
            return json_body.not_json(json_body.EMPTY if empty else str(reason))
    return None


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        cluster: EmbeddedCluster | None = None
        url = settings.database_url
        if url is None:
            cluster = EmbeddedCluster(settings.data_dir)
            url = cluster.start()
        engine = make_engine(url, pool_size=settings.db_pool_size)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.read_sessionmaker = make_sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        app.state.read_router = read_router(engine, settings)
        audit_log: AuditLog | None = app.state.audit_log
        if audit_log is not None:
            audit_log.start(engine)
        # The webhook worker (and peer sync schedule) run beside the app unless told not to.
        background = delivery.start_background(settings, url) if settings.delivery_worker else None
        try:
            yield
        finally:
            if background is not None:
                background.stop()
            if audit_log is not None:
                audit_log.stop()  # everything still queued is written before the pool closes
            if app.state.read_router is not None:
                app.state.read_router.dispose()
            engine.dispose()
            if cluster is not None:
                cluster.stop()

    app = FastAPI(
        title="borderlens",
        description=DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
        # No Swagger UI: it loads from a CDN and needs inline scripts; /api.html documents
        # the API with no script at all, and /api is the definition for tools.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        dependencies=[Depends(check_session_cookie), Depends(note_dataset_version)],
    )
    app.state.settings = settings
    app.state.boundaries = BoundaryCache()
    app.state.event_streams = event_stream.StreamSlots()
    _install_error_handlers(app)
    app.add_middleware(DatasetHeaders)  # Dataset-Version and X-Request-Id on every answer
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=5)
    app.add_middleware(BodySizeLimit, limit_for=_body_limit(settings))
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "If-Match", "X-Borderlens-Min-Lsn"],
        expose_headers=[
            "Location",
            "ETag",
            "Link",
            "Content-Crs",
            "Content-Disposition",
            "X-Borderlens-Provenance",
            "X-Borderlens-Features",
            "Dataset-Version",
            "X-Request-Id",
            "X-Borderlens-Lsn",  # with replicas: bring it back to read your own writes
        ],
    )
    if settings.database_replica_urls:
        app.add_middleware(ReadYourWrites)
    app.add_middleware(HttpHardening)  # Host check, HEAD, Allow, security headers
    app.state.rate_limiter = RateLimiter(settings) if RateLimiter.enabled(settings) else None
    app.state.audit_log = None
    if settings.audit_log:
        app.state.audit_log = AuditLog(retention_days=settings.audit_retention_days)
        # outermost: the status and bytes the client got, the whole duration
        app.add_middleware(AuditMiddleware, log=app.state.audit_log)
    # One module per OGC API part (and the service's own routes); each declares the
    # conformance classes it implements, so /conformance lists exactly what is served.
    app.state.conformance = []
    modules = (
        core,
        crs,
        filter,
        schema_routes,
        transactions,
        tiles,
        stewardship,
        uploads,
        access,
        alerts,
        federation,
        maps,
        explore,
        statistics,
        flows,
        package,
        health,
        openapi,
        html,
    )
    # What each concrete URL answers, narrowed from its route templates (app.api.hardening).
    app.state.allows = []
    for module in modules:
        app.include_router(module.router)
        app.state.conformance.extend(getattr(module, "CONFORMANCE", ()))
        if (allows := getattr(module, "allows", None)) is not None:
            app.state.allows.append(allows)
    app.include_router(access.html_router)  # the keys page's forms (not in /api)
    html.install(app, settings)
    assets = web_dir(settings.cache_dir)
    assets.mkdir(parents=True, exist_ok=True)
    app.mount(STATIC_PREFIX, StaticFiles(directory=assets), name="vendor")
    return app


def _body_limit(settings: Settings) -> Callable[[str], int]:
    def limit_for(path: str) -> int:
        if path.rstrip("/") == "/uploads":
            return settings.upload_max_bytes + MULTIPART_OVERHEAD
        return JSON_BODY_LIMIT

    return limit_for


def create_app_from_env() -> FastAPI:
    return create_app(Settings())


def _is_json(content_type: str | None) -> bool:
    media = json_body.media_type(content_type) or ""
    return media == "application/json" or media.endswith("+json")


#: What the framework answers itself, by status: the service's error of that status.
FRAMEWORK_ERRORS: dict[int, type[AppError]] = {
    400: MalformedBody,
    404: NotFound,
    405: MethodNotAllowed,
}


def _install_error_handlers(app: FastAPI) -> None:
    async def domain_error(request: Request, exc: Exception) -> Response:
        problem = problem_for(exc)
        problem.instance = request.url.path
        headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else {}
        if isinstance(exc, AppError):
            headers.update(exc.headers)  # e.g. Allow with a 405
        if problem.code == SERVICE_BUSY:
            headers["Retry-After"] = "5"
        # A 500 is answered outside the middlewares, so it gets the common headers here.
        return problem_response(problem, {**BASE_HEADERS, **headers})

    # Domain errors are answered by Starlette's exception middleware; the bare Exception
    # handler runs in the outermost server-error middleware for anything unforeseen (500).
    app.add_exception_handler(AppError, domain_error)
    app.add_exception_handler(GeoError, domain_error)
    # An exhausted pool is answered here too (503 service_busy): left to the bare handler it
    # was answered, then re-raised to the server, which logged a traceback per request.
    app.add_exception_handler(sqlalchemy.exc.TimeoutError, domain_error)
    app.add_exception_handler(Exception, domain_error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        unread = await _unread_body(request, exc)
        if unread is not None:
            return await domain_error(request, unread)
        items = [
            ProblemItem(
                code=str(error.get("type", "invalid")),
                message=validation_messages.message(error),
                column=".".join(str(part) for part in error.get("loc", ())[1:]) or None,
            )
            for error in exc.errors()
        ]
        in_query = all(
            error.get("loc", ("",))[0] in ("query", "path", "header") for error in exc.errors()
        )
        # a parameter's fault or a body's, titled as the service's own errors of each are
        kind = InvalidParameter if in_query else InvalidBody
        detail = "; ".join(
            f"{item.column}: {item.message}" if item.column else item.message for item in items
        )
        problem = Problem(kind.status, kind.title, kind.code, detail, request.url.path, items)
        return problem_response(problem)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # 400 here is a body the framework could not parse (bytes that are not JSON or form);
        # a JSON one is said as app.api.json_body says it ("nested too deeply", "not UTF-8")
        if exc.status_code == 400 and _is_json(request.headers.get("content-type")):
            try:  # a compressed body is unread, not broken: a 415
                json_body.refuse_content_coding(request.headers)
            except AppError as refused:
                return await domain_error(request, refused)
            return await domain_error(request, json_body.unreadable(exc.__cause__))
        # a body the framework could not split (a broken form), an unknown path, a method
        # the path does not take: code and title as the service's own errors of that status
        known = FRAMEWORK_ERRORS.get(exc.status_code)
        code, title = (known.code, known.title) if known else ("http_error", str(exc.detail))
        problem = Problem(exc.status_code, title, code, str(exc.detail), request.url.path)
        return problem_response(problem)
