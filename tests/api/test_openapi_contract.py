"""The API keeps what ``/api`` promises: schemathesis generates requests from the OpenAPI
document (valid and invalid ones) and checks every answer against it, on the real app and a
real PostGIS, once anonymously and once with a researcher key.

Checks: no server error, every status, content type and JSON body as declared. Bounded and
derandomised, so a run is reproducible and short.
"""

from __future__ import annotations

from collections.abc import Callable

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 15
BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def contract_failures(app: FastAPI, headers: dict[str, str]) -> list[str]:
    """Run every operation of ``/api``; one line per operation whose answers broke a check."""
    schema = schemathesis.openapi.from_asgi("/api", app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = st.one_of(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )

        @BOUNDED
        @given(case=strategy)
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except (Exception, FailureGroup) as error:  # every operation's failures are reported
            failures.append(f"{operation.label}: {error}")
    return failures


def test_anonymous_callers_get_what_the_api_promises(app: FastAPI) -> None:
    failures = contract_failures(app, {})
    assert not failures, "\n\n".join(failures)


def test_researchers_get_what_the_api_promises(
    app: FastAPI, api_key: Callable[..., dict[str, str]]
) -> None:
    failures = contract_failures(app, api_key("researcher"))
    assert not failures, "\n\n".join(failures)
