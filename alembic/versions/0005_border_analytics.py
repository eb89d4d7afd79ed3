"""border analytics: nearest border per site, distances to every border nearby, in the feature

Sites get the geodesic distance to their nearest international border, its pair code, the
country across it and a side-of-border confidence; site_border_distances holds the distance
to every border within the stored radius, so "within N km of the CAF-CMR border" is an index
range scan. The public feature text gains the border properties.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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
            'accuracy_m', NEW.accuracy_m,
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


def upgrade() -> None:
    op.create_table(
        "site_border_distances",
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("pair_code", sa.String(length=7), nullable=False),
        sa.Column("distance_m", sa.Double(), nullable=False),
        sa.CheckConstraint("distance_m >= 0", name=op.f("ck_site_border_distances_distance")),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_site_border_distances_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("site_id", "pair_code", name=op.f("pk_site_border_distances")),
    )
    op.create_index(
        "ix_site_border_distances_pair_distance",
        "site_border_distances",
        ["pair_code", "distance_m"],
    )
    op.add_column("sites", sa.Column("border_distance_m", sa.Double(), nullable=True))
    op.add_column("sites", sa.Column("border_pair", sa.String(length=7), nullable=True))
    op.add_column("sites", sa.Column("neighbour_iso3", sa.String(length=3), nullable=True))
    op.add_column("sites", sa.Column("side_probability", sa.Double(), nullable=True))
    op.add_column("sites", sa.Column("side_confidence", sa.String(length=16), nullable=True))
    op.create_check_constraint(
        op.f("ck_sites_distance"), "sites", "border_distance_m IS NULL OR border_distance_m >= 0"
    )
    op.create_index("ix_sites_border_distance_m", "sites", ["border_distance_m"])
    op.create_index("ix_sites_border_pair_distance", "sites", ["border_pair", "border_distance_m"])
    # "Nearest to a border first" pages by this index (sites without a distance last).
    op.create_index(
        "ix_sites_border_sort", "sites", [sa.text("coalesce(border_distance_m, 1e300)"), "id"]
    )
    op.execute(FEATURE_FUNCTION)
    # Existing sites get their figures from `borderlens borders recompute` (the service
    # measures in Python); the feature text is rewritten then.


def _feature_function_0003() -> str:
    """The previous trigger function, read from its own migration (not copied here)."""
    import runpy
    from pathlib import Path

    path = Path(__file__).with_name("0003_site_feature_json.py")
    return str(runpy.run_path(str(path))["FEATURE_FUNCTION"])


def downgrade() -> None:
    op.execute(_feature_function_0003())
    op.drop_index("ix_sites_border_sort", table_name="sites")
    op.drop_index("ix_sites_border_pair_distance", table_name="sites")
    op.drop_index("ix_sites_border_distance_m", table_name="sites")
    op.drop_constraint(op.f("ck_sites_distance"), "sites", type_="check")
    for column in (
        "side_confidence",
        "side_probability",
        "neighbour_iso3",
        "border_pair",
        "border_distance_m",
    ):
        op.drop_column("sites", column)
    op.drop_index("ix_site_border_distances_pair_distance", table_name="site_border_distances")
    op.drop_table("site_border_distances")
    op.execute("UPDATE sites SET id = id")
