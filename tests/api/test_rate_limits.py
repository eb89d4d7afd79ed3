"""Rate limits per key and per anonymous address (in-process, memory storage): 429 with
``Retry-After`` as problem+json; each key has its own budget."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.main import create_app
from app.settings import Settings
from tests.conftest import TEST_CLIENT_HOST

Headers = Callable[..., dict[str, str]]


def limited_client(
    settings: Settings, session: Session, client: TestClient, per_key: str, anonymous: str
) -> TestClient:
    app = create_app(
        settings.model_copy(
            update={"rate_limit_per_key": per_key, "rate_limit_anonymous": anonymous}
        )
    )
    app.dependency_overrides = client.app.dependency_overrides  # type: ignore[attr-defined]
    return TestClient(app, base_url=f"http://{TEST_CLIENT_HOST}")


def test_over_the_limit_is_429_with_retry_after(
    settings: Settings, session: Session, client: TestClient, api_key: Headers
) -> None:
    limited = limited_client(settings, session, client, "4/minute", "2/minute")
    assert [limited.get("/conformance").status_code for _ in range(3)] == [200, 200, 429]
    refused = limited.get("/conformance")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["code"] == "rate_limited" and "client address" in problem["detail"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert problem["retry_after_s"] == int(refused.headers["retry-after"])

    first, second = api_key("researcher"), api_key("authority")
    assert [limited.get("/conformance", headers=first).status_code for _ in range(5)] == [
        200,
        200,
        200,
        200,
        429,
    ]
    assert "this key" in limited.get("/conformance", headers=first).json()["detail"]
    assert limited.get("/conformance", headers=second).status_code == 200  # its own budget


def test_limits_can_be_turned_off_and_bad_ones_are_refused_at_start(
    settings: Settings, session: Session, client: TestClient
) -> None:
    unlimited = limited_client(settings, session, client, "none", "none")
    assert unlimited.app.state.rate_limiter is None  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="rate_limit_anonymous"):
        Settings(rate_limit_anonymous="lots per minute")
