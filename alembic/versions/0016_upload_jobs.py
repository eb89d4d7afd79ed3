"""upload jobs (uploads processed off the request) and upload corrections (fix and resend)

Revision ID: 0016_upload_jobs
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016_upload_jobs"
down_revision: str | None = "0015_ingest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, now: bool = False) -> sa.Column:  # type: ignore[type-arg]
    if now:
        return sa.Column(
            name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        )
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.create_table(
        "upload_jobs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=8), server_default=sa.text("'queued'"), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column(
            "options",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("corrects", sa.String(length=32), nullable=True),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("uploader", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=True),
        sa.Column("fraction", sa.Double(), server_default=sa.text("0"), nullable=False),
        sa.Column("rows_read", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rows_estimate", sa.Integer(), nullable=True),
        sa.Column("worker", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _time("lease_until"),
        _time("created_at", now=True),
        _time("started_at"),
        _time("heartbeat_at"),
        _time("finished_at"),
        sa.Column("upload_public_id", sa.String(length=32), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("problem", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_upload_jobs_state")
        ),
        sa.CheckConstraint("fraction >= 0 AND fraction <= 1", name=op.f("ck_upload_jobs_fraction")),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_upload_jobs_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_jobs")),
        sa.UniqueConstraint("public_id", name=op.f("uq_upload_jobs_public_id")),
    )
    op.create_index("ix_upload_jobs_state", "upload_jobs", ["state", "id"])
    op.create_index("ix_upload_jobs_api_key_id", "upload_jobs", ["api_key_id", "id"])
    op.create_table(
        "upload_corrections",
        sa.Column("upload_public_id", sa.String(length=32), nullable=False),
        sa.Column("corrects", sa.String(length=32), nullable=False),
        _time("created_at", now=True),
        sa.ForeignKeyConstraint(
            ["upload_public_id"],
            ["uploads.public_id"],
            name=op.f("fk_upload_corrections_upload_public_id_uploads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["corrects"],
            ["uploads.public_id"],
            name=op.f("fk_upload_corrections_corrects_uploads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("upload_public_id", name=op.f("pk_upload_corrections")),
    )
    op.create_index("ix_upload_corrections_corrects", "upload_corrections", ["corrects"])


def downgrade() -> None:
    op.drop_table("upload_corrections")
    op.drop_table("upload_jobs")
