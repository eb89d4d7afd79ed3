"""typed properties: a real number is written as JSON with a fraction, on every page

PostgreSQL writes ``to_json(15.0::float8)`` as ``15``: a client that types its fields from
the first page it reads (QGIS 3.22 and GDAL without a schema) then makes ``accuracy_m`` an
integer field and stores a later ``6.5`` as ``6`` or NULL. ``borderlens_json_real`` writes
every finite whole value with a fraction (``15.0``) and every other value as PostgreSQL's
shortest exact text (``6.5``); the site feature function uses it for ``accuracy_m`` (the
other real properties were already rounded ``numeric`` values, which keep their scale), and
the read-time features of borders and disputed areas use it too.

Revision ID: 0009
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_REAL_FUNCTION = r"""
CREATE OR REPLACE FUNCTION borderlens_json_real(value double precision) RETURNS json
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN value = 'NaN'::float8 OR value IN ('Infinity'::float8, '-Infinity'::float8)
            THEN 'null'::json
        -- numeric keeps the scale it was given: 15 -> 15.0 (float8 text would be 15, and
        -- 1e+15 and beyond are written with an exponent, which is real to every parser).
        WHEN value = trunc(value) AND abs(value) < 1e15 THEN to_json(round(value::numeric, 1))
        ELSE to_json(value)
    END
$$;
"""

FEATURE_FUNCTION = r"""
CREATE OR REPLACE FUNCTION borderlens_site_feature() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.feature_json :=
        '{"type":"Feature","id":' || to_json(NEW.public_id)::text
        || ',"geometry":' || ST_AsGeoJSON(NEW.geom, 7)
        || ',"properties":' || json_build_object(
            'kind', NEW.kind,
            'name', NEW.name,
            'aliases', NEW.aliases,
            'minerals', NEW.minerals,
            'status', NEW.status,
            'country', NEW.country_iso3,
            'location_status', NEW.location_status,
            'claimants', NEW.claimants,
            'accuracy_m', borderlens_json_real(NEW.accuracy_m),
            'location_origin', NEW.location_origin,
            'first_observed', NEW.first_observed,
            'last_observed', NEW.last_observed,
            'source', NEW.source,
            'attributes', NEW.properties,
            'border_distance_m', round(NEW.border_distance_m::numeric, 1),
            'border_distance_km', round((NEW.border_distance_m / 1000)::numeric, 3),
            'border_pair', NEW.border_pair,
            'neighbour_country', NEW.neighbour_iso3,
            'side_confidence', NEW.side_confidence,
            'side_probability', round(NEW.side_probability::numeric, 4),
            'boundary_source', NEW.boundary_source_id,
            'created_at', to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
            'updated_at', to_char(NEW.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        )::text
        || '}';
    RETURN NEW;
END
$$;
"""

# Only the sites whose stored text changes: a whole accuracy.
REWRITE = "UPDATE sites SET id = id WHERE accuracy_m = trunc(accuracy_m)"


def _feature_function_0005() -> str:
    """The previous trigger function, read from its own migration (not copied here)."""
    import runpy
    from pathlib import Path

    path = Path(__file__).with_name("0005_border_analytics.py")
    return str(runpy.run_path(str(path))["FEATURE_FUNCTION"])


def upgrade() -> None:
    op.execute(JSON_REAL_FUNCTION)
    op.execute(FEATURE_FUNCTION)
    op.execute(REWRITE)


def downgrade() -> None:
    op.execute(_feature_function_0005())
    op.execute(REWRITE)
    op.execute("DROP FUNCTION borderlens_json_real(double precision)")
