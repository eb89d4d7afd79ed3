"""Fixtures of the database tests."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from app.services.boundary_state import BoundaryCache, BoundarySet


@pytest.fixture
def boundaries(session: Session, boundary_cache: BoundaryCache) -> BoundarySet:
    """The loaded boundaries, read in the test's session."""
    state = boundary_cache.current(session)
    assert state is not None
    return state
