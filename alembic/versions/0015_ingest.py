"""ingest at bulk-loader speed: the stored feature text built by one set-based statement

The site's stored GeoJSON (``feature_json``) was written by a plpgsql row trigger: fine for one
edit, but an upload of 100 000 sites paid a trigger call per row (a plpgsql frame, a non-inlined
SQL function call for ``accuracy_m``, and the JSON). Now:

* ``borderlens_site_feature_text(sites)`` is the one definition of the stored text (the same
  members as 0008's trigger function, member for member). It is a plain SQL function, so a
  bulk ``INSERT ... SELECT`` or ``UPDATE ... FROM`` inlines it into one statement per upload.
* The trigger ``sites_feature_json`` calls it for every other write, and is skipped while the
  transaction-local setting ``borderlens.bulk_store`` is ``on`` (the upload store path sets it
  around its own statements, which write ``feature_json`` themselves; ``app.db.ingest_store``).
* ``borderlens_json_real`` loses STRICT (it already answers NULL for NULL): PostgreSQL inlines a
  SQL function only when it is not STRICT or its body is strict, and CASE is not.

To add a property to the stored feature, redefine ``borderlens_site_feature_text``, never the
trigger function.

Revision ID: 0015_ingest
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015_ingest"
down_revision: str | None = "0014_regional"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0009's definition without STRICT (NULL still gives NULL: every branch is NULL on NULL).
JSON_REAL_FUNCTION = r"""
CREATE OR REPLACE FUNCTION borderlens_json_real(value double precision) RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN value IS NULL THEN NULL::json
        WHEN value = 'NaN'::float8 OR value IN ('Infinity'::float8, '-Infinity'::float8)
            THEN 'null'::json
        -- numeric keeps the scale it was given: 15 -> 15.0 (float8 text would be 15, and
        -- 1e+15 and beyond are written with an exponent, which is real to every parser).
        WHEN value = trunc(value) AND abs(value) < 1e15 THEN to_json(round(value::numeric, 1))
        ELSE to_json(value)
    END
$$;
"""

# 0008's trigger body, member for member, as a function of the row.
FEATURE_TEXT_FUNCTION = r"""
CREATE FUNCTION borderlens_site_feature_text(s sites) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT '{"type":"Feature","id":' || to_json(s.public_id)::text
        || ',"geometry":' || ST_AsGeoJSON(s.geom, 7)
        || ',"properties":' || json_build_object(
            'kind', s.kind,
            'name', s.name,
            'aliases', s.aliases,
            'minerals', s.minerals,
            'status', s.status,
            'country', s.country_iso3,
            'location_status', s.location_status,
            'claimants', s.claimants,
            'accuracy_m', borderlens_json_real(s.accuracy_m),
            'location_origin', s.location_origin,
            'first_observed', s.first_observed,
            'last_observed', s.last_observed,
            'source', s.source,
            'attributes', s.properties,
            'border_distance_m', round(s.border_distance_m::numeric, 1),
            'border_distance_km', round((s.border_distance_m / 1000)::numeric, 3),
            'border_pair', s.border_pair,
            'neighbour_country', s.neighbour_iso3,
            'side_confidence', s.side_confidence,
            'side_probability', round(s.side_probability::numeric, 4),
            'boundary_source', s.boundary_source_id,
            'created_at', to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
            'updated_at', to_char(s.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
            'retired_at', to_char(s.retired_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
            'retired_reason', s.retired_reason
        )::text
        || '}'
$$;
"""

TRIGGER_FUNCTION = r"""
CREATE OR REPLACE FUNCTION borderlens_site_feature() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.feature_json := borderlens_site_feature_text(NEW);
    RETURN NEW;
END
$$;
"""

TRIGGER = (
    "CREATE TRIGGER sites_feature_json BEFORE INSERT OR UPDATE ON sites FOR EACH ROW "
    "WHEN (current_setting('borderlens.bulk_store', true) IS DISTINCT FROM 'on') "
    "EXECUTE FUNCTION borderlens_site_feature()"
)


def _previous(migration: str, name: str) -> str:
    """A definition from an earlier migration (read from it, not copied here)."""
    import runpy
    from pathlib import Path

    path = Path(__file__).with_name(migration)
    return str(runpy.run_path(str(path))[name])


def upgrade() -> None:
    op.execute(JSON_REAL_FUNCTION)
    op.execute(FEATURE_TEXT_FUNCTION)
    op.execute(TRIGGER_FUNCTION)
    op.execute("DROP TRIGGER sites_feature_json ON sites")
    op.execute(TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER sites_feature_json ON sites")
    op.execute(
        "CREATE TRIGGER sites_feature_json BEFORE INSERT OR UPDATE ON sites "
        "FOR EACH ROW EXECUTE FUNCTION borderlens_site_feature()"
    )
    op.execute(_previous("0008_site_transactions.py", "FEATURE_FUNCTION"))
    op.execute("DROP FUNCTION borderlens_site_feature_text(sites)")
    op.execute(_previous("0009_typed_properties.py", "JSON_REAL_FUNCTION"))
