"""The API keeps what ``/api`` promises: schemathesis generates requests from the OpenAPI
document (valid ones, and ones that break it) and checks every answer against it, on the real
app and a real PostGIS, once anonymously and once with a researcher key.

Checks: no server error; every status, content type and JSON body as declared. Bounded and
derandomised, so a run is reproducible and short. Each request runs in a savepoint rolled back
after it, as each real request has its own transaction.
"""

from __future__ import annotations

from collections.abc import Callable

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Connection
from sqlalchemy.orm import Session

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 10
REQUEST_TIMEOUT_S = 120
BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def contract_failures(
    app: FastAPI, headers: dict[str, str], session: Session, connection: Connection
) -> list[str]:
    """Run every operation of ``/api`` in both generation modes; one entry per operation and
    mode whose answers broke a check, with schemathesis's account (and a curl to replay)."""
    schema = schemathesis.openapi.from_asgi("/api", app)
    failures: list[str] = []

    def call(case: schemathesis.Case) -> None:
        # End the session's own transaction first (the key fixture, or an earlier request, may
        # have begun it): its savepoint must nest inside this one, not enclose it.
        session.commit()
        savepoint = connection.begin_nested()
        try:
            # a package or an export is built on its first request: more than the 10 s default
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=REQUEST_TIMEOUT_S)
        finally:
            session.rollback()
            if savepoint.is_active:
                savepoint.rollback()

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = BOUNDED(given(case=operation.as_strategy(generation_mode=mode))(call))
            try:
                run()
            except Unsatisfiable:
                pass  # nothing to break: the operation takes no input
            except (Exception, FailureGroup) as error:  # every operation's failures are reported
                failures.append(f"{operation.label} ({mode.value}): {error}")
    return failures


def test_anonymous_callers_get_what_the_api_promises(
    app: FastAPI, session: Session, connection: Connection
) -> None:
    failures = contract_failures(app, {}, session, connection)
    assert not failures, "\n\n".join(failures)


def test_researchers_get_what_the_api_promises(
    app: FastAPI,
    api_key: Callable[..., dict[str, str]],
    session: Session,
    connection: Connection,
) -> None:
    failures = contract_failures(app, api_key("researcher"), session, connection)
    assert not failures, "\n\n".join(failures)
