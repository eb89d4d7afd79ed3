"""land mask, and an "outside" location status

A point in no loaded country was reported "at sea", even in Europe. A world land mask (Natural
Earth's land layer, stored with each boundary source) tells land outside the loaded countries
("outside") from the sea. Sources loaded before this revision have no mask until reloaded.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "location_status IN ('country', 'sea', 'disputed')"
NEW_STATUSES = "location_status IN ('country', 'sea', 'disputed', 'outside')"


def upgrade() -> None:
    op.create_geospatial_table(
        "land_masks",
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(geometry_type="MULTIPOLYGON", srid=4326, spatial_index=False),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["boundary_sources.id"],
            name=op.f("fk_land_masks_source_id_boundary_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_land_masks")),
    )
    op.drop_constraint(op.f("ck_sites_location_status"), "sites", type_="check")
    op.create_check_constraint(op.f("ck_sites_location_status"), "sites", NEW_STATUSES)


def downgrade() -> None:
    op.execute("UPDATE sites SET location_status = 'sea' WHERE location_status = 'outside'")
    op.drop_constraint(op.f("ck_sites_location_status"), "sites", type_="check")
    op.create_check_constraint(op.f("ck_sites_location_status"), "sites", OLD_STATUSES)
    op.drop_geospatial_table("land_masks")
