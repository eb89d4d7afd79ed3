"""foundation: boundaries, countries, borders, sites, api keys

Revision ID: 0001
Revises:
Create Date: 2026-11-22 16:01:54.154836
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Needs a role allowed to create the extension (the embedded cluster's owner is); on a
    # managed server where it already exists this is a no-op.
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column(
            "countries",
            postgresql.ARRAY(sa.String(length=3)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'researcher', 'authority')", name=op.f("ck_api_keys_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_table(
        "boundary_sources",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("licence", sa.Text(), nullable=False),
        sa.Column("licence_url", sa.Text(), nullable=True),
        sa.Column("attribution", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("positional_uncertainty_m", sa.Double(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boundary_sources")),
    )
    op.create_index(
        "uq_boundary_sources_one_active",
        "boundary_sources",
        ["active"],
        unique=True,
        postgresql_where=sa.text("active"),
    )
    op.create_geospatial_table(
        "borders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("pair_code", sa.String(length=7), nullable=False),
        sa.Column("country_a", sa.String(length=3), nullable=False),
        sa.Column("country_b", sa.String(length=3), nullable=False),
        sa.Column("length_km", sa.Double(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTILINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "pair_code = country_a || '-' || country_b", name=op.f("ck_borders_pair_code")
        ),
        sa.CheckConstraint("country_a < country_b", name=op.f("ck_borders_sorted_pair")),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["boundary_sources.id"],
            name=op.f("fk_borders_source_id_boundary_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_borders")),
        sa.UniqueConstraint("source_id", "pair_code", name="uq_borders_source_pair"),
    )
    op.create_geospatial_index(
        "idx_borders_geom",
        "borders",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "boundary_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column(
            "detail",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "event IN ('loaded', 'activated')", name=op.f("ck_boundary_events_event")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["boundary_sources.id"],
            name=op.f("fk_boundary_events_source_id_boundary_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boundary_events")),
    )
    op.create_geospatial_table(
        "countries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("iso3", sa.String(length=3), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("name_fr", sa.Text(), nullable=False),
        sa.Column("name_pt", sa.Text(), nullable=False),
        sa.Column("area_km2", sa.Double(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["boundary_sources.id"],
            name=op.f("fk_countries_source_id_boundary_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_countries")),
        sa.UniqueConstraint("source_id", "iso3", name="uq_countries_source_iso3"),
    )
    op.create_geospatial_index(
        "idx_countries_geom",
        "countries",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "disputed_areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("claimants", postgresql.ARRAY(sa.String(length=3)), nullable=False),
        sa.Column("area_km2", sa.Double(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["boundary_sources.id"],
            name=op.f("fk_disputed_areas_source_id_boundary_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputed_areas")),
    )
    op.create_geospatial_index(
        "idx_disputed_areas_geom",
        "disputed_areas",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "sites",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "aliases", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column(
            "minerals", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'unknown'"), nullable=False
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("country_iso3", sa.String(length=3), nullable=True),
        sa.Column("location_status", sa.String(length=16), nullable=False),
        sa.Column(
            "claimants",
            postgresql.ARRAY(sa.String(length=3)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("accuracy_m", sa.Double(), nullable=True),
        sa.Column("location_origin", sa.Text(), nullable=True),
        sa.Column(
            "admin",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "properties",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "restricted",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("first_observed", sa.Date(), nullable=True),
        sa.Column("last_observed", sa.Date(), nullable=True),
        sa.Column("boundary_source_id", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("kind IN ('mine', 'sales_point')", name=op.f("ck_sites_kind")),
        sa.CheckConstraint(
            "location_status IN ('country', 'sea', 'disputed')",
            name=op.f("ck_sites_location_status"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'inactive', 'abandoned', 'unknown')", name=op.f("ck_sites_status")
        ),
        sa.CheckConstraint(
            "ST_X(geom) BETWEEN -180 AND 180 AND ST_Y(geom) BETWEEN -90 AND 90",
            name=op.f("ck_sites_lonlat_range"),
        ),
        sa.CheckConstraint("accuracy_m IS NULL OR accuracy_m >= 0", name=op.f("ck_sites_accuracy")),
        sa.CheckConstraint(
            "first_observed IS NULL OR last_observed IS NULL OR first_observed <= last_observed",
            name=op.f("ck_sites_observed_order"),
        ),
        sa.CheckConstraint("length(trim(name)) > 0", name=op.f("ck_sites_name_not_blank")),
        sa.ForeignKeyConstraint(
            ["boundary_source_id"],
            ["boundary_sources.id"],
            name=op.f("fk_sites_boundary_source_id_boundary_sources"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("public_id", name=op.f("uq_sites_public_id")),
    )
    op.create_geospatial_index(
        "idx_sites_geom",
        "sites",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_sites_country_iso3", "sites", ["country_iso3"], unique=False)
    op.create_index("ix_sites_kind", "sites", ["kind"], unique=False)
    op.create_index(
        "ix_sites_minerals", "sites", ["minerals"], unique=False, postgresql_using="gin"
    )
    op.create_index("ix_sites_observed", "sites", ["first_observed", "last_observed"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sites_observed", table_name="sites")
    op.drop_index("ix_sites_minerals", table_name="sites", postgresql_using="gin")
    op.drop_index("ix_sites_kind", table_name="sites")
    op.drop_index("ix_sites_country_iso3", table_name="sites")
    op.drop_geospatial_index(
        "idx_sites_geom", table_name="sites", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("sites")
    op.drop_geospatial_index(
        "idx_disputed_areas_geom",
        table_name="disputed_areas",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("disputed_areas")
    op.drop_geospatial_index(
        "idx_countries_geom", table_name="countries", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("countries")
    op.drop_table("boundary_events")
    op.drop_geospatial_index(
        "idx_borders_geom", table_name="borders", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("borders")
    op.drop_index(
        "uq_boundary_sources_one_active",
        table_name="boundary_sources",
        postgresql_where=sa.text("active"),
    )
    op.drop_table("boundary_sources")
    op.drop_table("api_keys")
