"""Driver errors become domain errors here, at the repository boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc

from app.errors import Conflict, DatabaseError, PayloadTooLarge, Unprocessable

# SQLSTATE class 54 (program_limit_exceeded: a jsonb over 256 MB, an array too large) is an
# OperationalError to the driver, but the request is at fault, not the database: retrying the
# same request repeats the whole cost (field case rel-08 was answered "unavailable, retry").
_PROGRAM_LIMIT_CLASS = "54"


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
        if str(getattr(error.orig, "sqlstate", "") or "").startswith(_PROGRAM_LIMIT_CLASS):
            raise PayloadTooLarge(
                "the upload is too large for the database to store; send fewer rows or columns",
                code="too_large_to_store",
            ) from error
        raise DatabaseError("the database is unavailable; try again shortly") from error
