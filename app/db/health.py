"""Database and PostGIS status for ``/health``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db.errors import translate_db_errors


def database_status(session: Session) -> dict[str, Any]:
    with translate_db_errors():
        row = session.execute(
            text(
                "SELECT current_setting('server_version') AS postgres, "
                "postgis_lib_version() AS postgis, postgis_geos_version() AS geos, "
                "postgis_proj_version() AS proj, "
                "(SELECT version_num FROM alembic_version LIMIT 1) AS schema_revision"
            )
        ).one()
    return dict(row._mapping)
