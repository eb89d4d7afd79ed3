"""Driver errors become domain errors here, at the repository boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc

from app.errors import Conflict, DatabaseError, Unprocessable


def _constraint_name(error: exc.DBAPIError) -> str | None:
    diag = getattr(error.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


@contextmanager
def translate_db_errors() -> Iterator[None]:
    """Re-raise integrity and connection failures as ``Conflict`` / ``Unprocessable`` / 503."""
    try:
        yield
    except exc.IntegrityError as error:
        constraint = _constraint_name(error) or "a constraint"
        sqlstate = getattr(error.orig, "sqlstate", "")
        if sqlstate == "23505":
            raise Conflict(f"already exists (violates {constraint})", code="duplicate") from error
        raise Unprocessable(
            f"the data breaks a database rule ({constraint})", code="constraint_violation"
        ) from error
    except exc.OperationalError as error:
        raise DatabaseError("the database is unavailable; try again shortly") from error
