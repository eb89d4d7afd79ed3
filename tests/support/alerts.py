"""The alerts end-to-end tests' node: a committed database copy, its settings, sessions, and
the environment a real ``borderlens worker`` process runs with."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from app.queries import Caller
from app.services import keys as key_service
from app.services import subscriptions
from app.services.boundary_state import BoundaryCache, BoundarySet
from app.services.sites import SiteDraft
from app.settings import Settings

BORDERLENS = str(Path(sys.executable).parent / "borderlens")


@dataclass
class Node:
    url: str
    settings: Settings
    sessions: sessionmaker[Session]
    env: dict[str, str]

    def boundaries(self, session: Session) -> BoundarySet:
        state = BoundaryCache().current(session)
        assert state is not None
        return state

    def caller(self, role: str = "authority") -> Caller:
        with self.sessions() as session:
            created = key_service.create_key(
                session, name=f"alerts {role}", role=role, countries=[]
            )
            return key_service.authenticate(session, created.key)

    def subscribe(
        self,
        caller: Caller,
        criteria: dict[str, Any],
        events: list[str],
        url: str | None,
        batch_max_events: int = 1,
    ) -> tuple[str, str]:
        """(subscription id, signing secret)."""
        with self.sessions() as session:
            record, _ = subscriptions.create(
                session,
                self.settings,
                caller,
                subscriptions.NewSubscription("e2e", criteria, events, url, batch_max_events),
            )
            return record.public_id, record.secret

    def worker(self, **env: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [BORDERLENS, "worker"],
            env={**self.env, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def statuses(self, subscription: str) -> dict[str, int]:
        """How many of the subscription's events are in each state (deleted or not)."""
        from app.db import alert_events

        with self.sessions() as session:
            found = session.execute(
                text("SELECT id FROM subscriptions WHERE public_id = :p"), {"p": subscription}
            ).scalar()
            return {} if found is None else alert_events.delivery_counts(session, int(found))


def key_caller(
    session: Session, role: str = "authority", countries: list[str] | None = None
) -> Caller:
    """The caller of a new key of ``role`` (scoped to ``countries``)."""
    created = key_service.create_key(
        session, name=f"t {role}", role=role, countries=countries or []
    )
    return key_service.authenticate(session, created.key)


def site_draft(lon: float, lat: float, **kw: Any) -> SiteDraft:
    """A mine named Test at ``lon``, ``lat`` (EPSG:4326), with ``kw`` over those values."""
    values: dict[str, Any] = {"kind": "mine", "name": "Test", "lon": lon, "lat": lat}
    values.update(kw)
    return SiteDraft(**values)
