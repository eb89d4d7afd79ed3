"""access: the audit log (append-only), key expiry, restricted columns declared per upload

``audit_log`` is written in bulk by the service's background flusher (``app.audit``); a
trigger refuses every UPDATE, and every DELETE except the retention purge, which announces
itself with ``SET LOCAL borderlens.audit_purge = 'on'`` in its own transaction (so a stray
``DELETE FROM audit_log`` fails loudly instead of erasing who read what).

``api_keys.expires_at``: a key past it answers 401 ``expired_key``. ``uploads.restricted_columns``
names the attribute columns an upload declared restricted (NULL: it declared nothing, and
every attribute of its rows stays restricted, as before); their values are moved from
``observations.attributes`` to ``observations.restricted`` when the upload is stored.

Revision ID: 0012_access
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "0012_access"
down_revision: str | None = "0011_stewardship"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = r"""
CREATE FUNCTION borderlens_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('borderlens.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False, server_default=sa.text("''")),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("features", sa.Integer(), nullable=True),
        sa.Column("revealed", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column(
            "revealed_countries",
            ARRAY(sa.String(3)),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
        sa.Column("bytes", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("duration_ms", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_key_id", "audit_log", ["key_id", "id"])
    op.create_index(
        "ix_audit_log_revealed_countries",
        "audit_log",
        ["revealed_countries"],
        postgresql_using="gin",
    )
    op.execute(APPEND_ONLY)
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION borderlens_audit_append_only()"
    )
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("uploads", sa.Column("restricted_columns", ARRAY(sa.Text()), nullable=True))
    op.add_column(
        "observations",
        sa.Column("restricted", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    )


def downgrade() -> None:
    op.drop_column("observations", "restricted")
    op.drop_column("uploads", "restricted_columns")
    op.drop_column("api_keys", "expires_at")
    op.execute("DROP TABLE audit_log")
    op.execute("DROP FUNCTION borderlens_audit_append_only()")
