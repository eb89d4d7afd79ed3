"""clusters: stored cluster runs, members, and a sites version counter

A statement-level trigger gives dataset_state.sites_version a new number (from a sequence)
whenever sites are written, so a stored clustering knows it is stale without comparing sites.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dataset_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sites_version", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_dataset_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_state")),
    )
    op.execute("INSERT INTO dataset_state (id, sites_version) VALUES (1, 0)")
    # Versions come from a sequence, not a +1: a sequence never hands out a number twice,
    # even when the transaction that took it rolls back, so a version names one state only.
    op.execute("CREATE SEQUENCE sites_version_seq")
    op.execute(
        """
        CREATE FUNCTION borderlens_sites_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE dataset_state SET sites_version = nextval('sites_version_seq') WHERE id = 1;
            RETURN NULL;
        END
        $$;
        """
    )
    op.execute(
        "CREATE TRIGGER sites_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sites "
        "FOR EACH STATEMENT EXECUTE FUNCTION borderlens_sites_changed()"
    )
    op.create_table(
        "cluster_runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("eps_m", sa.Double(), nullable=False),
        sa.Column("min_sites", sa.Integer(), nullable=False),
        sa.Column("adapt", sa.Boolean(), nullable=False),
        sa.Column("eps_used_m", sa.Double(), nullable=False),
        sa.Column("eps_tried_m", postgresql.ARRAY(sa.Double()), nullable=False),
        sa.Column("percolation", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("sites_version", sa.BigInteger(), nullable=False),
        sa.Column("site_count", sa.Integer(), nullable=False),
        sa.Column("boundary_source_id", sa.String(length=64), nullable=True),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["boundary_source_id"],
            ["boundary_sources.id"],
            name=op.f("fk_cluster_runs_boundary_source_id_boundary_sources"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_runs")),
    )
    op.create_geospatial_table(
        "clusters",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("cluster_id", sa.String(length=32), nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("countries", postgresql.ARRAY(sa.String(length=3)), nullable=False),
        sa.Column("kinds", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("minerals", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("span_km", sa.Double(), nullable=False),
        sa.Column("cross_border", sa.Boolean(), nullable=False),
        sa.Column("geom", Geometry(srid=4326, spatial_index=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["cluster_runs.id"],
            name=op.f("fk_clusters_run_id_cluster_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "cluster_id", name=op.f("pk_clusters")),
    )
    op.create_table(
        "cluster_members",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("cluster_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["cluster_runs.id"],
            name=op.f("fk_cluster_members_run_id_cluster_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_cluster_members_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "site_id", name=op.f("pk_cluster_members")),
    )
    op.create_index("ix_cluster_members_cluster", "cluster_members", ["run_id", "cluster_id"])


def downgrade() -> None:
    op.drop_index("ix_cluster_members_cluster", table_name="cluster_members")
    op.drop_table("cluster_members")
    op.drop_geospatial_table("clusters")
    op.drop_table("cluster_runs")
    op.execute("DROP TRIGGER sites_version ON sites")
    op.execute("DROP FUNCTION borderlens_sites_changed()")
    op.execute("DROP SEQUENCE sites_version_seq")
    op.drop_table("dataset_state")
